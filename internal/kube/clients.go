package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
)

// Clients are the API clients ocw reads and writes the cluster with. They
// share Config, so a WrapTransport on it sees every request.
type Clients struct {
	Config   *rest.Config
	Kube     kubernetes.Interface
	Dynamic  dynamic.Interface
	Metadata metadata.Interface
}

// NewClients builds the clients for cfg.
func NewClients(cfg *rest.Config) (*Clients, error) {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	md, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("metadata client: %w", err)
	}
	return &Clients{Config: cfg, Kube: kube, Dynamic: dyn, Metadata: md}, nil
}

// fallBack says when a WebSocket stream should be retried over SPDY, as
// kubectl does: the server (or a proxy before it) refused the upgrade.
func fallBack(err error) bool {
	return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
}

// Exec runs command in a container through the API server's pods/exec and
// returns its stdout and stderr.
func (c *Clients) Exec(ctx context.Context, namespace, pod, container string, command []string) (string, string, error) {
	req := c.Kube.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: command, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	spdyExec, spdyErr := remotecommand.NewSPDYExecutor(c.Config, http.MethodPost, req.URL())
	wsExec, wsErr := remotecommand.NewWebSocketExecutor(c.Config, http.MethodGet, req.URL().String())
	ex, err := remotecommand.NewFallbackExecutor(wsExec, spdyExec, fallBack)
	if err := errors.Join(spdyErr, wsErr, err); err != nil {
		return "", "", fmt.Errorf("exec in pod %s/%s: %w", namespace, pod, err)
	}
	var out, errOut bytes.Buffer
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Stderr: &errOut})
	return out.String(), errOut.String(), err
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

// PortForward forwards a random local port on 127.0.0.1 to port of the pod.
func (c *Clients) PortForward(ctx context.Context, namespace, pod string, port int) (*Forward, error) {
	u := c.Kube.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("portforward").URL()
	transport, upgrader, spdyErr := spdy.RoundTripperFor(c.Config)
	ws, err := portforward.NewSPDYOverWebsocketDialer(u, c.Config)
	if err := errors.Join(spdyErr, err); err != nil {
		return nil, fmt.Errorf("port-forward to pod %s/%s: %w", namespace, pod, err)
	}
	dialer := portforward.NewFallbackDialer(ws, spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u), fallBack)

	fctx, cancel := context.WithCancel(ctx)
	ready := make(chan struct{})
	pf, err := portforward.NewOnAddressesWithContext(fctx, dialer, []string{"127.0.0.1"},
		[]string{fmt.Sprintf("0:%d", port)}, ready, io.Discard, io.Discard)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("port-forward to pod %s/%s: %w", namespace, pod, err)
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
