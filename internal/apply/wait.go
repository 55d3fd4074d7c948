package apply

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	kstatus "github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"github.com/fluxcd/cli-utils/pkg/object"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/safetext"
	"github.com/opencode-workspaces/ocw/internal/status"
)

// WaitOptions tune Wait.
type WaitOptions struct {
	// Timeout bounds the whole wait (default 5m).
	Timeout time.Duration
	// Interval between polls (default 2s).
	Interval time.Duration
	// Progress receives a line whenever a workspace's state changes.
	Progress io.Writer
}

// group is what progress is reported by: one workspace, or the
// namespace-level objects (Namespace, ExternalSecrets).
type group struct {
	name string
	// workspace is the spec's workspace name, "" for the namespace group.
	workspace string
	// others are the objects status does not read (not the Deployment,
	// not the PVC): followed by kstatus.
	others []*unstructured.Unstructured
	last   string
}

// Wait follows d's objects until every one is ready: a workspace as
// status.Build reads it (plus its claim's and pod's latest event), the
// other objects by kstatus (plus readyPending).
func (e *Engine) Wait(ctx context.Context, d *Desired, opts WaitOptions) error {
	opts.Timeout = cmp.Or(opts.Timeout, 5*time.Minute)
	opts.Interval = cmp.Or(opts.Interval, 2*time.Second)
	opts.Progress = cmp.Or(opts.Progress, io.Discard)
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	groups := groupsOf(d)
	for {
		lines, failed, err := e.poll(ctx, d, groups)
		if err != nil {
			// client-go's rate limiter refuses a request that would end
			// after the deadline before the context itself is done.
			if dl, ok := ctx.Deadline(); ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || (ok && time.Until(dl) < time.Second) {
				return timeout(opts.Timeout, groups)
			}
			return err
		}
		ready := true
		for i, g := range groups {
			state := "ready"
			if len(lines[i]) > 0 {
				ready = false
				state = strings.Join(strings.Fields(safetext.Line(strings.Join(lines[i], "; "))), " ")
			}
			if state != g.last {
				fmt.Fprintf(opts.Progress, "wait: %s: %s\n", g.name, state)
				g.last = state
			}
		}
		if len(failed) > 0 {
			return fmt.Errorf("not ready, and not going to be without a change:\n  %s", safetext.Line(strings.Join(failed, "\n  ")))
		}
		if ready {
			fmt.Fprintf(opts.Progress, "wait: all ready in %s\n", time.Since(start).Round(100*time.Millisecond))
			return nil
		}
		select {
		case <-ctx.Done():
			return timeout(opts.Timeout, groups)
		case <-time.After(opts.Interval):
		}
	}
}

// groupsOf splits d's objects by workspace, the namespace-level objects
// first.
func groupsOf(d *Desired) []*group {
	ns := &group{name: "namespace " + d.Namespace}
	groups := []*group{ns}
	byName := map[string]*group{}
	for i := range d.system.Workspaces {
		name := d.system.Workspaces[i].Name
		g := &group{name: name, workspace: name}
		byName[name] = g
		groups = append(groups, g)
	}
	for _, o := range d.Objects {
		g := cmp.Or(byName[o.GetLabels()[model.LabelWorkspace]], ns)
		if gk := o.GroupVersionKind().GroupKind(); g != ns && (gk == schema.GroupKind{Kind: "PersistentVolumeClaim"} || gk == schema.GroupKind{Group: "apps", Kind: "Deployment"}) {
			continue // status reads these
		}
		g.others = append(g.others, o)
	}
	return groups
}

// timeout names each group still not ready and why.
func timeout(after time.Duration, groups []*group) error {
	var stuck []string
	for _, g := range groups {
		if g.last != "ready" && g.last != "" {
			stuck = append(stuck, g.name+": "+g.last)
		}
	}
	if len(stuck) == 0 {
		return fmt.Errorf("timed out after %s before the first status check completed", after)
	}
	return fmt.Errorf("timed out after %s waiting for readiness; still not ready:\n  %s", after, strings.Join(stuck, "\n  "))
}

// poll reads the namespace once and returns, per group, a line for each
// thing not ready yet, and the lines of what failed for good.
func (e *Engine) poll(ctx context.Context, d *Desired, groups []*group) (lines [][]string, failed []string, err error) {
	snap, err := status.Fetch(ctx, e.status, d.Namespace)
	if err != nil {
		return nil, nil, err
	}
	if err := snap.LoadEvents(ctx, e.status); err != nil {
		return nil, nil, err
	}
	live, err := e.liveObjects(ctx, d, groups)
	if err != nil {
		return nil, nil, err
	}
	rows := map[string]status.Workspace{}
	for _, w := range status.Build(d.system, snap, time.Now()).Workspaces {
		rows[w.Name] = w
	}
	lines = make([][]string, len(groups))
	for i, g := range groups {
		if g.workspace != "" {
			l, f := workspaceLines(snap, rows[g.workspace])
			lines[i] = l
			if f != "" {
				failed = append(failed, g.name+": "+f)
			}
		}
		for _, o := range g.others {
			r := object.UnstructuredToObjMetadata(o)
			l, f := objectLine(live[r], r)
			if l != "" {
				lines[i] = append(lines[i], l)
			}
			if f {
				failed = append(failed, g.name+": "+l)
			}
		}
	}
	return lines, failed, nil
}

// workspaceLines says what a workspace waits on, from its status row: the
// claim, then the phase and its reason with the boot script's message. A
// rollout the Deployment gave up on fails the wait.
func workspaceLines(snap *status.Snapshot, w status.Workspace) (lines []string, failed string) {
	if w.PVC.Phase != string(corev1.ClaimBound) {
		l := "PVC " + w.Name + " "
		if w.PVC.Phase == "" {
			l += "not found"
		} else {
			l += w.PVC.Phase + latestEvent(snap, "PersistentVolumeClaim", w.Name)
		}
		lines = append(lines, l)
	}
	if w.Phase == status.Ready {
		return lines, ""
	}
	l := string(w.Phase)
	if w.Reason != "" {
		l += ": " + w.Reason
	}
	for _, st := range []*status.Step{w.Clone, w.Copilot.Step} {
		if st != nil && st.Message != "" && (st.Failed() || st.Code == "running") {
			l += ": " + st.Message
			break
		}
	}
	if w.Pod != "" && w.Phase == status.Starting {
		l += latestEvent(snap, "Pod", w.Pod)
	}
	lines = append(lines, l)
	if dep := snap.Deployment(w.Name); dep != nil {
		for _, c := range dep.Status.Conditions {
			if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse {
				return lines, l + " (Deployment " + w.Name + ": " + c.Reason + ")"
			}
		}
	}
	return lines, ""
}

// latestEvent is " (reason: message)" of the newest event about
// kind/name, "" if none.
func latestEvent(snap *status.Snapshot, kind, name string) string {
	evs := snap.EventsOf(kind, name, "")
	if len(evs) == 0 {
		return ""
	}
	last := evs[len(evs)-1]
	return " (" + last.Reason + ": " + last.Message + ")"
}

// liveObjects reads the objects status does not: one list per namespaced
// kind, a get per cluster-scoped object.
func (e *Engine) liveObjects(ctx context.Context, d *Desired, groups []*group) (map[ref]*unstructured.Unstructured, error) {
	live := map[ref]*unstructured.Unstructured{}
	kinds := map[schema.GroupVersionKind]bool{}
	for _, g := range groups {
		for _, o := range g.others {
			if o.GetNamespace() != "" {
				kinds[o.GroupVersionKind()] = true
				continue
			}
			u, err := e.get(ctx, o)
			if err != nil {
				return nil, err
			}
			if u != nil {
				live[object.UnstructuredToObjMetadata(u)] = u
			}
		}
	}
	for gvk := range kinds {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		err := e.client.List(ctx, list, client.InNamespace(d.Namespace))
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("listing %s: %w", gvk.Kind, err)
		}
		for i := range list.Items {
			o := &list.Items[i]
			o.SetGroupVersionKind(gvk)
			live[object.UnstructuredToObjMetadata(o)] = o
		}
	}
	return live, nil
}

// objectLine says why an object is not ready ("" when it is) and whether
// it failed for good.
func objectLine(live *unstructured.Unstructured, r ref) (string, bool) {
	if live == nil {
		return id(r) + ": not found", false
	}
	res, err := kstatus.Compute(live)
	if err != nil {
		return id(r) + ": " + err.Error(), false
	}
	st, msg := res.Status, res.Message
	if st == kstatus.CurrentStatus && readyPending(live, r) {
		st, msg = kstatus.InProgressStatus, "not Ready yet (is its controller running?)"
	}
	if st == kstatus.CurrentStatus {
		return "", false
	}
	return id(r) + ": " + msg, st == kstatus.FailedStatus
}

// readyPending says whether live is of a kind whose controller reports a
// Ready condition and has not reported it true: before it has, kstatus
// can't tell it apart from ready.
func readyPending(live *unstructured.Unstructured, r ref) bool {
	if r.GroupKind != (schema.GroupKind{Group: "external-secrets.io", Kind: "ExternalSecret"}) &&
		r.GroupKind != (schema.GroupKind{Group: "cert-manager.io", Kind: "Certificate"}) {
		return false
	}
	obj, err := kstatus.GetObjectWithConditions(live.Object)
	return err != nil || !slices.ContainsFunc(obj.Status.Conditions, func(c kstatus.BasicCondition) bool {
		return c.Type == "Ready" && c.Status == corev1.ConditionTrue
	})
}
