package opencode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// PickPod chooses the pod to talk to among a workspace's pods: running,
// Ready and not being deleted; the newest wins (during a rollout the old pod
// is on its way out). The error says why none qualifies.
func PickPod(pods []corev1.Pod) (*corev1.Pod, error) {
	var ready []*corev1.Pod
	var why []string
	for i := range pods {
		p := &pods[i]
		switch {
		case p.DeletionTimestamp != nil:
			why = append(why, p.Name+" is terminating")
		case p.Status.Phase != corev1.PodRunning:
			why = append(why, fmt.Sprintf("%s is %s", p.Name, p.Status.Phase))
		case !podReady(p):
			why = append(why, p.Name+" is not Ready")
		default:
			ready = append(ready, p)
		}
	}
	if len(ready) == 0 {
		if len(why) == 0 {
			return nil, errors.New("no pod found (is the workspace deployed and scaled up?)")
		}
		slices.Sort(why)
		return nil, fmt.Errorf("no Ready pod: %s", strings.Join(why, "; "))
	}
	slices.SortFunc(ready, func(a, b *corev1.Pod) int {
		if c := b.CreationTimestamp.Compare(a.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return ready[0], nil
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Forward is a running port-forward to a pod.
type Forward struct {
	// URL is http://127.0.0.1:<local port>/.
	URL  string
	stop context.CancelFunc
	done chan struct{}
}

// Close stops the port-forward and waits for it to end.
func (f *Forward) Close() {
	f.stop()
	<-f.done
}

// PortForward forwards a random local port on 127.0.0.1 to port of the pod,
// as kubectl port-forward does: websocket first, SPDY when the server
// refuses the upgrade (older API servers).
func PortForward(ctx context.Context, cfg *rest.Config, namespace, pod string, port int) (*Forward, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	u := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("portforward").URL()

	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return nil, err
	}
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	ws, err := portforward.NewSPDYOverWebsocketDialer(u, cfg)
	if err != nil {
		return nil, err
	}
	dialer = portforward.NewFallbackDialer(ws, dialer, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})

	fctx, cancel := context.WithCancel(ctx)
	ready := make(chan struct{})
	pf, err := portforward.NewOnAddressesWithContext(fctx, dialer, []string{"127.0.0.1"},
		[]string{fmt.Sprintf("0:%d", port)}, ready, io.Discard, io.Discard)
	if err != nil {
		cancel()
		return nil, err
	}
	f := &Forward{stop: cancel, done: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		defer close(f.done)
		errc <- pf.ForwardPorts()
	}()
	select {
	case <-ready:
	case err := <-errc:
		cancel()
		if err == nil {
			err = errors.New("stopped before it was ready")
		}
		return nil, fmt.Errorf("port-forward to pod %s/%s: %w", namespace, pod, err)
	case <-ctx.Done():
		f.Close()
		return nil, ctx.Err()
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) == 0 {
		f.Close()
		return nil, fmt.Errorf("port-forward to pod %s/%s: no local port", namespace, pod)
	}
	f.URL = fmt.Sprintf("http://127.0.0.1:%d/", ports[0].Local)
	return f, nil
}
