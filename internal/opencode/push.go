package opencode

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/opencode-workspaces/ocw/internal/kube"
	"github.com/opencode-workspaces/ocw/internal/model"
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
}

// PushResult is what Push did, for the command to report; with an error,
// what it did before.
type PushResult struct {
	// Forward is the pod port-forwarded to and the local URL, if any.
	ForwardPod, ForwardURL string
	// URL is where OpenCode was reached, Version what it said it is.
	URL, Version string
	// Secret is the Copilot Secret's write ("" when not written) and
	// Fingerprint its new value's.
	Secret      secrets.Outcome
	Fingerprint string
	// AnnotateErr is why the pod could not be marked as having the login
	// (not fatal: only status's COPILOT column needs the mark).
	AnnotateErr error
}

// Run pushes the login, reloads OpenCode, updates the Secret and marks the
// pod. The password is the server password Secret's.
func (p *Push) Run(ctx context.Context) (*PushResult, error) {
	res := &PushResult{}
	ns, name := p.System.Namespace, p.Workspace.Name
	password, found, err := p.Store.Get(ctx, p.System.Secrets.Server)
	if err != nil {
		return res, err
	}
	if !found || len(password) == 0 {
		return res, fmt.Errorf("%s is not set, so the workspace has no password to log in with: ocw secrets password -f %s", p.System.Secrets.Server.Hint(), p.SpecFile)
	}

	// The port-forward target, and the pod marked as having the login.
	pods, err := p.Clients.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(p.Workspace.SelectorLabels()).String(),
	})
	if err != nil {
		return res, fmt.Errorf("listing the pods of %s: %w", name, err)
	}
	pod, podErr := pickPod(pods.Items)

	target := p.Workspace.URL()
	switch {
	case p.URL != "":
		target = p.URL
	case p.PortForward:
		if podErr != nil {
			return res, fmt.Errorf("workspace %s: %w", name, podErr)
		}
		fwd, err := p.Clients.PortForward(ctx, ns, pod.Name, model.Port)
		if err != nil {
			return res, err
		}
		defer fwd.Close()
		target = fwd.URL
		res.ForwardPod, res.ForwardURL = pod.Name, fwd.URL
	}

	if err := p.send(ctx, target, string(password), res); err != nil {
		return res, err
	}

	pushedAt := time.Now().UTC()
	if p.UpdateSecret && !p.System.Secrets.External {
		t, err := p.storeLogin(ctx, res)
		if err != nil {
			return res, err
		}
		if t.After(pushedAt) {
			// The API server's clock decides "changed after push" in status.
			pushedAt = t
		}
	}
	if podErr == nil {
		res.AnnotateErr = p.markPushed(ctx, pod.Name, pushedAt)
	}
	return res, nil
}

// send gives OpenCode at target the login and makes it load it again.
func (p *Push) send(ctx context.Context, target, password string, res *PushResult) error {
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
	res.URL, res.Version = oc.URL(), h.Version
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

// storeLogin merges the Copilot entry into the Secret's auth.json and
// returns when the API server recorded the write (zero when unchanged).
func (p *Push) storeLogin(ctx context.Context, res *PushResult) (time.Time, error) {
	ref := p.System.Secrets.Copilot
	cur, _, err := p.Store.Get(ctx, ref)
	if err != nil {
		return time.Time{}, err
	}
	merged, err := secrets.MergeCopilot(cur, p.Auth.Copilot)
	if err != nil {
		return time.Time{}, err
	}
	out, err := p.Store.Apply(ctx, ref, merged)
	if err != nil {
		return time.Time{}, err
	}
	res.Secret, res.Fingerprint = out, secrets.Fingerprint(merged)
	if out == secrets.Unchanged {
		return time.Time{}, nil
	}
	sec, err := p.Clients.Kube.CoreV1().Secrets(p.System.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return time.Time{}, nil
	}
	return status.LastChange(&metav1.PartialObjectMetadata{ObjectMeta: sec.ObjectMeta}), nil
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
		if c := b.CreationTimestamp.Compare(a.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return ready[0], nil
}
