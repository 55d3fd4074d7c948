package apply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/safetext"
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

// TimeoutError is a wait that ran out of time; Stuck names each object
// still not ready and why.
type TimeoutError struct {
	After time.Duration
	Stuck []string
}

func (e *TimeoutError) Error() string {
	if len(e.Stuck) == 0 {
		return fmt.Sprintf("timed out after %s before the first status check completed", e.After)
	}
	return fmt.Sprintf("timed out after %s waiting for readiness; still not ready:\n  %s",
		e.After, strings.Join(e.Stuck, "\n  "))
}

// group is what progress is reported by: one workspace, or the
// namespace-level objects (Namespace, ExternalSecrets).
type group struct {
	name string
	objs []*unstructured.Unstructured
	last string
}

// Wait follows d's objects until every one is ready, by kstatus (plus a
// Ready condition for ExternalSecrets and Certificates, which kstatus
// would call ready before their controller has looked at them). While
// waiting it prints, per workspace, what it waits on: the claim binding,
// the init containers (clone, auth seeding) with their termination
// messages, the rollout.
func (e *Engine) Wait(ctx context.Context, d *Desired, opts WaitOptions) error {
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Minute
	}
	if opts.Interval <= 0 {
		opts.Interval = 2 * time.Second
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	var groups []*group
	byName := map[string]*group{}
	for _, o := range d.Objects {
		name := o.GetLabels()[model.LabelWorkspace]
		if name == "" {
			name = "namespace " + d.Namespace
		}
		g := byName[name]
		if g == nil {
			g = &group{name: name}
			byName[name] = g
			groups = append(groups, g)
		}
		g.objs = append(g.objs, o)
	}
	// What blocks comes first: the claim, then the rest, the rollout last.
	rank := func(o *unstructured.Unstructured) int {
		switch o.GetKind() {
		case "PersistentVolumeClaim":
			return 0
		case "Deployment":
			return 2
		}
		return 1
	}
	for _, g := range groups {
		sort.SliceStable(g.objs, func(i, j int) bool { return rank(g.objs[i]) < rank(g.objs[j]) })
	}

	for {
		snap, err := e.snapshot(ctx, d)
		if err != nil {
			// client-go's rate limiter refuses a request that would end
			// after the deadline before the context itself is done.
			if dl, ok := ctx.Deadline(); ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || (ok && time.Until(dl) < time.Second) {
				return e.timeout(opts.Timeout, groups)
			}
			return err
		}
		ready := true
		var failed []string
		for _, g := range groups {
			lines, fails := snap.describe(g)
			failed = append(failed, fails...)
			state := "ready"
			if len(lines) > 0 {
				ready = false
				state = strings.Join(lines, "; ")
			}
			if state != g.last {
				fmt.Fprintf(opts.Progress, "wait: %s: %s\n", g.name, safetext.Line(state))
				g.last = state
			}
		}
		if len(failed) > 0 {
			return fmt.Errorf("not ready, and not going to be without a change:\n  %s", strings.Join(failed, "\n  "))
		}
		if ready {
			fmt.Fprintf(opts.Progress, "wait: all ready in %s\n", time.Since(start).Round(100*time.Millisecond))
			return nil
		}
		if err := sleepCtx(ctx, opts.Interval); err != nil {
			return e.timeout(opts.Timeout, groups)
		}
	}
}

func (e *Engine) timeout(after time.Duration, groups []*group) error {
	err := &TimeoutError{After: after}
	for _, g := range groups {
		if g.last != "ready" && g.last != "" {
			err.Stuck = append(err.Stuck, g.name+": "+g.last)
		}
	}
	return err
}

// snapshot is one poll: the live objects, the pods and the events of the
// namespace.
type snapshot struct {
	live   map[ref]*unstructured.Unstructured
	pods   map[string][]corev1.Pod // by workspace
	events map[string][]corev1.Event
}

func (e *Engine) snapshot(ctx context.Context, d *Desired) (*snapshot, error) {
	s := &snapshot{live: map[ref]*unstructured.Unstructured{}, pods: map[string][]corev1.Pod{}, events: map[string][]corev1.Event{}}
	// One list per kind in the namespace, not one get per object.
	kinds := map[schema.GroupVersionKind]bool{}
	for _, o := range d.Objects {
		gvk := o.GroupVersionKind()
		if o.GetNamespace() == "" {
			live := &unstructured.Unstructured{}
			live.SetGroupVersionKind(gvk)
			err := e.client.Get(ctx, client.ObjectKeyFromObject(o), live)
			if err == nil {
				s.live[refOf(live)] = live
			} else if !apierrors.IsNotFound(err) {
				return nil, err
			}
			continue
		}
		kinds[gvk] = true
	}
	for gvk := range kinds {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := e.client.List(ctx, list, client.InNamespace(d.Namespace)); err != nil {
			return nil, fmt.Errorf("listing %s: %w", gvk.Kind, err)
		}
		for i := range list.Items {
			o := &list.Items[i]
			o.SetGroupVersionKind(gvk)
			s.live[refOf(o)] = o
		}
	}
	var pods corev1.PodList
	if err := e.client.List(ctx, &pods, client.InNamespace(d.Namespace), client.HasLabels{model.LabelWorkspace}); err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	for _, p := range pods.Items {
		ws := p.Labels[model.LabelWorkspace]
		s.pods[ws] = append(s.pods[ws], p)
	}
	for ws := range s.pods {
		ps := s.pods[ws]
		sort.Slice(ps, func(i, j int) bool { return ps[j].CreationTimestamp.Before(&ps[i].CreationTimestamp) })
	}
	var events corev1.EventList
	if err := e.client.List(ctx, &events, client.InNamespace(d.Namespace)); err != nil {
		return nil, fmt.Errorf("listing events: %w", err)
	}
	for _, ev := range events.Items {
		k := ev.InvolvedObject.Kind + "/" + ev.InvolvedObject.Name
		s.events[k] = append(s.events[k], ev)
	}
	return s, nil
}

// latestEvent is the newest event about kind/name, "" if none.
func (s *snapshot) latestEvent(kind, name string) string {
	evs := s.events[kind+"/"+name]
	var best *corev1.Event
	bestT := time.Time{}
	for i := range evs {
		t := evs[i].LastTimestamp.Time
		if t.IsZero() {
			t = evs[i].EventTime.Time
		}
		if t.IsZero() {
			t = evs[i].CreationTimestamp.Time
		}
		if best == nil || t.After(bestT) {
			best, bestT = &evs[i], t
		}
	}
	if best == nil {
		return ""
	}
	return best.Reason + ": " + oneLine(best.Message)
}

// describe returns, for each object of g not ready yet, a line naming it
// and saying why, and the lines of objects that failed for good.
func (s *snapshot) describe(g *group) (waiting, failed []string) {
	for _, o := range g.objs {
		r := refOf(o)
		live := s.live[r]
		if live == nil {
			waiting = append(waiting, r.ID()+": not found")
			continue
		}
		res, err := status.Compute(live)
		if err != nil {
			waiting = append(waiting, r.ID()+": "+err.Error())
			continue
		}
		st, msg := res.Status, res.Message
		if st == status.CurrentStatus && needsReadyCondition(r) && !readyConditionTrue(live) {
			st, msg = status.InProgressStatus, "not Ready yet (is its controller running?)"
		}
		if st == status.CurrentStatus {
			continue
		}
		line := r.ID() + ": " + msg
		switch {
		case r.Group == "" && r.Kind == "PersistentVolumeClaim":
			phase, _, _ := unstructured.NestedString(live.Object, "status", "phase")
			if phase == "" {
				phase = "Pending"
			}
			line = r.ID() + ": " + phase
			if ev := s.latestEvent("PersistentVolumeClaim", r.Name); ev != "" {
				line += " (" + ev + ")"
			}
		case r.Group == "apps" && r.Kind == "Deployment":
			if pods := s.pods[o.GetLabels()[model.LabelWorkspace]]; len(pods) > 0 {
				if p := s.describePod(&pods[0]); p != "" {
					line += "; " + p
				}
			}
		}
		if st == status.FailedStatus {
			failed = append(failed, g.name+": "+line)
		}
		waiting = append(waiting, line)
	}
	return waiting, failed
}

// needsReadyCondition: kinds whose controller reports a Ready condition;
// before it has, kstatus can't tell them apart from ready.
func needsReadyCondition(r ref) bool {
	return (r.Group == "external-secrets.io" && r.Kind == "ExternalSecret") ||
		(r.Group == "cert-manager.io" && r.Kind == "Certificate")
}

func readyConditionTrue(u *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Ready" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// describePod says what the workspace's newest pod waits on: scheduling,
// then each init container in order (clone, seed-auth), then the main
// container. Init container failures carry their termination message,
// which the boot scripts write for exactly this.
func (s *snapshot) describePod(p *corev1.Pod) string {
	name := "pod " + p.Name
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return fmt.Sprintf("%s not scheduled: %s", name, oneLine(c.Message))
		}
	}
	for _, cs := range p.Status.InitContainerStatuses {
		if t := cs.State.Terminated; t != nil && t.ExitCode == 0 {
			continue
		}
		return name + ": init container " + containerState(cs)
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Ready {
			continue
		}
		return name + ": container " + containerState(cs)
	}
	if p.Status.Phase == corev1.PodPending {
		msg := name + " Pending"
		if ev := s.latestEvent("Pod", p.Name); ev != "" {
			msg += " (" + ev + ")"
		}
		return msg
	}
	return ""
}

func containerState(cs corev1.ContainerStatus) string {
	last := cs.LastTerminationState.Terminated
	switch {
	case cs.State.Running != nil:
		if last != nil && last.ExitCode != 0 {
			return fmt.Sprintf("%s running again after failing (exit %d, %d restarts): %s", cs.Name, last.ExitCode, cs.RestartCount, terminated(last))
		}
		if cs.Started != nil && *cs.Started {
			return cs.Name + " running, not ready yet"
		}
		return cs.Name + " running"
	case cs.State.Terminated != nil:
		t := cs.State.Terminated
		return fmt.Sprintf("%s failed (exit %d): %s", cs.Name, t.ExitCode, terminated(t))
	case cs.State.Waiting != nil:
		w := cs.State.Waiting
		if last != nil && last.ExitCode != 0 {
			return fmt.Sprintf("%s failed (exit %d, %d restarts, %s): %s", cs.Name, last.ExitCode, cs.RestartCount, w.Reason, terminated(last))
		}
		msg := cs.Name + " waiting: " + w.Reason
		if w.Message != "" {
			msg += ": " + oneLine(w.Message)
		}
		return msg
	}
	return cs.Name + " not started"
}

func terminated(t *corev1.ContainerStateTerminated) string {
	if m := oneLine(t.Message); m != "" {
		return m
	}
	if t.Reason != "" {
		return t.Reason
	}
	return "no message"
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// sleepCtx sleeps d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
