package opencode

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/opencode-workspaces/ocw/internal/kube"
	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/safetext"
	"github.com/opencode-workspaces/ocw/internal/secrets"
	"github.com/opencode-workspaces/ocw/internal/status"
)

// Push sends a Copilot login to a running workspace (ocw auth push).
type Push struct {
	Clients   *kube.Clients
	Store     *secrets.Store
	System    *model.System
	Workspace model.Workspace
	// Auth holds the login; its Copilot entry must have passed PushBody.
	Auth *secrets.Auth
	// SpecFile names the spec in hints.
	SpecFile string
	// URL reaches OpenCode there instead of the workspace's URL.
	URL string
	// PortForward reaches OpenCode through a port-forward to its pod.
	PortForward bool
	// UpdateSecret also merges the login into the Copilot Secret.
	UpdateSecret bool
	// Options are New's.
	Options Options
	// Progress gets a line per step done, for people (stderr); nil
	// discards them.
	Progress io.Writer
}

// Run pushes the login, reloads OpenCode, updates the Secret and marks the
// pod. The password is the server password Secret's.
func (p *Push) Run(ctx context.Context) error {
	ns, name := p.System.Namespace, p.Workspace.Name
	if p.Progress == nil {
		p.Progress = io.Discard
	}
	password, err := p.Store.Get(ctx, p.System.Secrets.Server)
	if err != nil {
		return err
	}
	if len(password) == 0 {
		return fmt.Errorf("%s is not set, so the workspace has no password to log in with: ocw secrets password -f %s", p.System.Secrets.Server.Hint(), p.SpecFile)
	}

	// The port-forward target, and the pod marked as having the login.
	pods, err := p.Clients.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(p.Workspace.SelectorLabels()).String(),
	})
	if err != nil {
		return fmt.Errorf("listing the pods of %s: %w", name, err)
	}
	pod, podErr := pickPod(pods.Items)

	target := p.Workspace.URL()
	switch {
	case p.URL != "":
		target = p.URL
	case p.PortForward:
		if podErr != nil {
			return fmt.Errorf("workspace %s: %w", name, podErr)
		}
		fwd, err := p.Clients.PortForward(ctx, ns, pod.Name, model.Port)
		if err != nil {
			return err
		}
		defer fwd.Close()
		target = fwd.URL
		fmt.Fprintf(p.Progress, "port-forward to pod %s/%s on %s\n", ns, pod.Name, fwd.URL)
	}

	if err := p.send(ctx, target, string(password)); err != nil {
		return err
	}
	pushedAt, err := p.storeLogin(ctx, time.Now().UTC())
	if err != nil {
		return err
	}
	// Not fatal: only status's COPILOT column needs the mark.
	if podErr == nil {
		if err := p.markPushed(ctx, pod.Name, pushedAt); err != nil {
			fmt.Fprintf(p.Progress, "warning: %v\n", err)
		}
	}
	return nil
}

// send gives OpenCode at target the login and makes it load it again.
func (p *Push) send(ctx context.Context, target, password string) error {
	name := p.Workspace.Name
	oc, err := New(target, p.Workspace.ServerUsername, password, p.Options)
	if err != nil {
		return err
	}
	h, err := oc.Health(ctx)
	if err != nil {
		return fmt.Errorf("workspace %s at %s: %w", name, oc.URL(), err)
	}
	if err := oc.SetAuth(ctx, secrets.CopilotProvider, p.Auth.Copilot); err != nil {
		return fmt.Errorf("workspace %s: %w", name, err)
	}
	if err := oc.Dispose(ctx); err != nil {
		return fmt.Errorf("workspace %s: the login was stored but OpenCode was not reloaded: %w", name, err)
	}
	fmt.Fprintf(p.Progress, "pushed the github-copilot login to %s at %s (OpenCode %s) and reloaded it\n", name, oc.URL(), safetext.Line(h.Version))
	return nil
}

// markPushed annotates the pod with the push time: ocw status then knows
// the pod has the login although the Secret changed after it started.
func (p *Push) markPushed(ctx context.Context, pod string, at time.Time) error {
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, status.AnnotationCopilotPushed, at.Format(time.RFC3339))
	_, err := p.Clients.Kube.CoreV1().Pods(p.System.Namespace).Patch(ctx, pod, types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: model.FieldManager})
	if err != nil {
		return fmt.Errorf("could not annotate pod %s: %w", pod, err)
	}
	return nil
}

// storeLogin merges the Copilot entry into the Secret's auth.json, when
// asked and ocw writes the Secrets, and returns the later of pushedAt and
// the write's time: the API server's clock decides "changed after push"
// in status.
func (p *Push) storeLogin(ctx context.Context, pushedAt time.Time) (time.Time, error) {
	ref, sys := p.System.Secrets.Copilot, p.System
	if !p.UpdateSecret {
		return pushedAt, nil
	}
	if sys.Secrets.External {
		fmt.Fprintf(p.Progress, "the Secrets come from %s: update %s there too (ocw auth seed --print-value -f %s prints it), or the next restart brings the old login back\n",
			sys.Secrets.Store(), ref.Remote(), p.SpecFile)
		return pushedAt, nil
	}
	cur, err := p.Store.Get(ctx, ref)
	if err != nil {
		return pushedAt, err
	}
	merged, err := secrets.MergeCopilot(cur, p.Auth.Copilot)
	if err != nil {
		return pushedAt, err
	}
	out, err := p.Store.Apply(ctx, ref, merged)
	if err != nil {
		return pushedAt, err
	}
	fmt.Fprintf(p.Progress, "Secret %s/%s key %s %s (%s)\n", sys.Namespace, ref.Name, ref.Key, out, secrets.Fingerprint(merged))
	if out == secrets.Unchanged {
		return pushedAt, nil
	}
	if slices.ContainsFunc(sys.Workspaces, func(w model.Workspace) bool { return w.Reloader }) {
		fmt.Fprintln(p.Progress, "Reloader restarts the workspaces with reloader enabled because the Secret changed; they seed the same login.")
	}
	sec, err := p.Clients.Kube.CoreV1().Secrets(sys.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if err == nil {
		if t := status.LastChange(&metav1.PartialObjectMetadata{ObjectMeta: sec.ObjectMeta}); t.After(pushedAt) {
			return t, nil
		}
	}
	return pushedAt, nil
}

// pickPod chooses the pod to talk to among a workspace's pods: running,
// Ready and not being deleted; the newest wins (during a rollout the old pod
// is on its way out). The error says why none qualifies.
func pickPod(pods []corev1.Pod) (*corev1.Pod, error) {
	var ready []*corev1.Pod
	var why []string
	for i := range pods {
		p := &pods[i]
		switch {
		case p.DeletionTimestamp != nil:
			why = append(why, p.Name+" is terminating")
		case p.Status.Phase != corev1.PodRunning:
			why = append(why, fmt.Sprintf("%s is %s", p.Name, p.Status.Phase))
		case !status.PodReady(p):
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
		return cmp.Or(b.CreationTimestamp.Compare(a.CreationTimestamp.Time), strings.Compare(a.Name, b.Name))
	})
	return ready[0], nil
}
