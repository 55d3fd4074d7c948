package status

import (
	"context"
	"fmt"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opencode-workspaces/ocw/internal/boot"
	"github.com/opencode-workspaces/ocw/internal/kube"
	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/safetext"
)

// AnnotationCopilotPushed is when `ocw auth push` gave the pod the Copilot
// login (RFC 3339): a Secret change before it is already live.
const AnnotationCopilotPushed = "ocw.dev/copilot-pushed-at"

// Phase summarises a workspace, as `ocw status --help` explains.
type Phase string

const (
	Ready    Phase = "Ready"
	Starting Phase = "Starting"
	Failing  Phase = "Failing"
	Stopped  Phase = "Stopped"
	Missing  Phase = "Missing"
)

// Blockers besides container names.
const (
	BlockerImages     = "images"
	BlockerScheduling = "scheduling"
)

// Copilot seeding states.
const (
	CopilotYes     = "yes"     // the login in the Secret is what the workspace uses
	CopilotNo      = "no"      // no usable login was seeded (Secret missing or invalid)
	CopilotChanged = "changed" // the Secret changed after the pod seeded it: restart or ocw auth push
	CopilotUnknown = "-"       // no pod has run seed-auth yet
)

// Workspace is one row of `ocw status`.
type Workspace struct {
	Name   string `json:"name"`
	InSpec bool   `json:"inSpec"` // false: found only in the cluster
	URL    string `json:"url,omitempty"`
	Phase  Phase  `json:"phase"`
	Reason string `json:"reason,omitempty"`
	// Blocker is what holds the pod back (a container, BlockerImages or
	// BlockerScheduling), for doctor to point at the check that explains it.
	Blocker  string       `json:"-"`
	Pod      string       `json:"pod,omitempty"`
	Restarts int32        `json:"restarts"`
	PVC      PVCStatus    `json:"pvc"`
	Clone    *Step        `json:"clone,omitempty"`
	Copilot  Copilot      `json:"copilot"`
	Route    RouteStatus  `json:"route"`
	Backup   BackupStatus `json:"backup"`
	Created  *time.Time   `json:"created,omitempty"`
	Age      string       `json:"age"`
}

// PVCStatus is the workspace volume's state.
type PVCStatus struct {
	Phase    string `json:"phase,omitempty"` // Bound, Pending, Lost; "": no PVC
	Capacity string `json:"capacity,omitempty"`
}

// Copilot is the outcome of auth seeding.
type Copilot struct {
	Seeded   string     `json:"seeded"`
	Step     *Step      `json:"step,omitempty"` // seed-auth's
	PushedAt *time.Time `json:"pushedAt,omitempty"`
}

// Report is the status of every workspace in a namespace.
type Report struct {
	Namespace  string      `json:"namespace"`
	Workspaces []Workspace `json:"workspaces"`
	Notes      []string    `json:"notes,omitempty"`
}

// Collect fetches the namespace and builds the report.
func Collect(ctx context.Context, c *kube.Clients, sys *model.System, now time.Time) (*Report, error) {
	snap, err := Fetch(ctx, c, sys.Namespace)
	if err != nil {
		return nil, err
	}
	return Build(sys, snap, now), nil
}

// Build derives the report from a snapshot: the spec's workspaces in
// order, then those found only in the cluster (by Deployment label).
func Build(sys *model.System, snap *Snapshot, now time.Time) *Report {
	r := &Report{Namespace: sys.Namespace}
	for i := range sys.Workspaces {
		r.Workspaces = append(r.Workspaces, derive(sys.Workspaces[i].Name, &sys.Workspaces[i], sys.Secrets.Copilot.Name, snap, now))
	}
	var others []string
	for _, d := range snap.Deployments {
		n := d.Labels[model.LabelWorkspace]
		if n != "" && !slices.ContainsFunc(sys.Workspaces, func(w model.Workspace) bool { return w.Name == n }) {
			others = append(others, n)
		}
	}
	slices.Sort(others)
	for _, n := range slices.Compact(others) {
		r.Workspaces = append(r.Workspaces, derive(n, nil, sys.Secrets.Copilot.Name, snap, now))
	}
	if snap.RoutesMissing {
		r.Notes = append(r.Notes, "the HTTPRoute CRD is not installed (Gateway API): no workspace is reachable; run ocw doctor")
	}
	r.Notes = append(r.Notes, backupNotes(r.Workspaces, snap.BackupsMissing)...)
	// A git server's error text reaches us through the clone's termination
	// message: no escapes reach the terminal.
	safetext.Lines(r)
	return r
}

func derive(name string, ws *model.Workspace, copilotSecret string, snap *Snapshot, now time.Time) Workspace {
	w := Workspace{Name: name, InSpec: ws != nil}
	dep := snap.Deployment(name)
	pod := snap.CurrentPod(name)
	pvc := snap.PVC(name)
	route := snap.Route(name)

	switch {
	case ws != nil:
		w.URL = ws.URL()
	case route != nil && len(route.Spec.Hostnames) > 0:
		w.URL = "https://" + string(route.Spec.Hostnames[0]) + "/"
	}
	w.Age = "-"
	if dep != nil {
		w.Created = new(dep.CreationTimestamp.UTC())
		w.Age = Age(now.Sub(*w.Created))
	}
	if pod != nil {
		w.Pod = pod.Name
		for _, cs := range Statuses(pod) {
			w.Restarts += cs.RestartCount
		}
		w.Clone = stepOf(pod, model.ContainerClone)
	}
	if pvc != nil {
		w.PVC.Phase = string(pvc.Status.Phase)
		if q, ok := pvc.Status.Capacity[corev1.ResourceStorage]; ok {
			w.PVC.Capacity = q.String()
		}
	}
	if route != nil {
		w.Route = routeStatus(route, ws)
	}
	w.Copilot = copilotOf(pod, snap.Secret(copilotSecret))
	w.Backup = backupOf(ws, snap.ReplicationSource(name), now)
	w.Phase, w.Reason, w.Blocker = phaseOf(dep, pod, pvc)
	return w
}

// copilotOf reads the seed-auth outcome and compares it with the Secret's
// last change (secret may be nil): a login seeded, or pushed, before the
// Secret last changed is stale.
func copilotOf(pod *corev1.Pod, secret *metav1.PartialObjectMetadata) Copilot {
	c := Copilot{Seeded: CopilotUnknown}
	if pod == nil {
		return c
	}
	var pushed time.Time
	if t, err := time.Parse(time.RFC3339, pod.Annotations[AnnotationCopilotPushed]); err == nil {
		pushed, c.PushedAt = t, &t
	}
	c.Step = stepOf(pod, model.ContainerSeedAuth)
	finished := c.Step != nil && c.Step.Finished
	switch {
	case finished && c.Step.Code == boot.AuthKept:
		// The previous login is in use; the Secret's newer one could not
		// be written (full volume).
		c.Seeded = CopilotChanged
	case !pushed.IsZero() || finished && (c.Step.Code == boot.AuthSeeded || c.Step.Code == boot.AuthUnchanged):
		c.Seeded = CopilotYes
	case finished:
		c.Seeded = CopilotNo
	}
	if c.Seeded != CopilotYes || !finished || secret == nil {
		return c
	}
	// A finished step has a termination.
	seededAt := LastTermination(ContainerStatus(pod, model.ContainerSeedAuth)).FinishedAt.Time
	if pushed.After(seededAt) {
		seededAt = pushed
	}
	// Timestamps have one-second resolution: equal counts as in step.
	if LastChange(secret).After(seededAt) {
		c.Seeded = CopilotChanged
	}
	return c
}

// phaseOf derives the phase, a short reason and what holds the pod back
// (Workspace.Blocker). Failures are looked for before readiness so a
// crash-looping container is not hidden by an old Ready condition.
func phaseOf(dep *appsv1.Deployment, pod *corev1.Pod, pvc *corev1.PersistentVolumeClaim) (Phase, string, string) {
	if dep == nil {
		return Missing, "no Deployment", ""
	}
	if dep.Spec.Replicas != nil && *dep.Spec.Replicas == 0 {
		if pod != nil && pod.DeletionTimestamp == nil {
			return Stopped, "stopping", ""
		}
		return Stopped, "scaled to 0", ""
	}
	if pvc != nil && pvc.Status.Phase == corev1.ClaimLost {
		return Failing, "PVC lost", ""
	}
	if pod == nil {
		for _, c := range dep.Status.Conditions {
			if c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue {
				return Failing, "ReplicaFailure: " + c.Reason, ""
			}
			if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse {
				return Failing, c.Reason, ""
			}
		}
		return Starting, "no pod yet", ""
	}
	if pod.DeletionTimestamp != nil {
		return Starting, "previous pod stopping", ""
	}
	if pod.Status.Phase == corev1.PodFailed {
		return Failing, "pod failed: " + pod.Status.Reason, ""
	}
	if c := PodCondition(pod, corev1.PodScheduled); c != nil && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
		return Failing, "Unschedulable", BlockerScheduling
	}
	for _, name := range []string{model.ContainerClone, model.ContainerSeedAuth, model.ContainerOpenCode} {
		cs := ContainerStatus(pod, name)
		if cs == nil {
			continue
		}
		cause := ""
		if step := stepOf(pod, name); step.Failed() {
			cause = step.Code
		}
		switch w, t := cs.State.Waiting, cs.State.Terminated; {
		case w != nil && ImagePullReason(w.Reason):
			return Failing, name + ": " + w.Reason, BlockerImages
		case w != nil && cause != "" && w.Reason == "CrashLoopBackOff":
			return Failing, fmt.Sprintf("%s: %s (CrashLoopBackOff)", name, cause), name
		case w != nil && slices.Contains(stuckReasons, w.Reason):
			return Failing, name + ": " + w.Reason, name
		case t != nil && t.ExitCode != 0:
			return Failing, name + ": " + cause, name
		}
	}
	if PodReady(pod) {
		return Ready, "", ""
	}
	switch {
	case pod.Status.Phase == corev1.PodPending && PodCondition(pod, corev1.PodScheduled) == nil:
		return Starting, "waiting for a node", BlockerScheduling
	case pod.Status.Phase == corev1.PodPending:
		if cs := ContainerStatus(pod, model.ContainerClone); cs != nil && cs.State.Running != nil {
			return Starting, "cloning", model.ContainerClone
		}
		for _, cs := range pod.Status.InitContainerStatuses {
			if t := cs.State.Terminated; t == nil || t.ExitCode != 0 {
				return Starting, "initializing", cs.Name
			}
		}
		return Starting, "initializing", ""
	}
	return Starting, "waiting for OpenCode to be ready", ""
}

// Age is kubectl's AGE style: 45s, 12m, 5h, 3d, 2y.
func Age(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < 2*time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	case d < 2*365*24*time.Hour:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
	return fmt.Sprintf("%dy", int(d.Hours()/24/365))
}
