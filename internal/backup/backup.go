// Package backup is ocw backup (a manual trigger on the workspace's
// ReplicationSource) and ocw restore (a ReplicationDestination into the
// stopped workspace's PVC); see docs/architecture.md.
package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	volsyncv1alpha1 "github.com/backube/volsync/api/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"

	"github.com/opencode-workspaces/ocw/internal/kube"
	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/safetext"
)

// Field managers of the temporary changes: their own, so that giving a
// change back (an apply without the field) removes exactly that field and
// never what ocw apply or Flux own.
const (
	ManagerBackup  = "ocw-backup"
	ManagerRestore = "ocw-restore"
)

// Options are what both commands share.
type Options struct {
	// Progress gets one line per step, for people (stderr).
	Progress io.Writer
	// Poll is how often the cluster is read while waiting (default 2s).
	Poll time.Duration
}

func (o *Options) defaults() {
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Poll == 0 {
		o.Poll = 2 * time.Second
	}
}

func (o *Options) say(format string, a ...any) {
	fmt.Fprintf(o.Progress, format+"\n", a...)
}

// Snapshot is one restic snapshot a sync wrote or read.
type Snapshot struct {
	Workspace string        `json:"workspace"`
	ID        string        `json:"snapshot"`
	Time      time.Time     `json:"time"`
	Duration  time.Duration `json:"duration"`
}

// Workspace finds name in sys, or says which names there are.
func Workspace(sys *model.System, name string) (model.Workspace, error) {
	var names []string
	for _, ws := range sys.Workspaces {
		if ws.Name == name {
			if ws.Backup.Mode == model.BackupNone {
				return ws, fmt.Errorf("workspace %q has no backup: set backup.mode (inline or component) in the spec", name)
			}
			return ws, nil
		}
		names = append(names, ws.Name)
	}
	return model.Workspace{}, fmt.Errorf("no workspace %q in the spec (it has: %s)", name, strings.Join(names, ", "))
}

// Backup triggers a sync, waits for it and returns the snapshot it saved;
// the trigger is given back whatever happened, so the schedule runs again.
// VolSync records the manual trigger as done when any sync ends, so a
// sync that was already running would be credited with it and its older
// snapshot returned: Backup lets a running sync end first, and triggers
// again when the sync credited still began before the trigger (a
// scheduled one starting in between).
func Backup(ctx context.Context, c *kube.Clients, ws model.Workspace, o Options) (*Snapshot, error) {
	o.defaults()
	if err := getRS(ctx, c, ws, &syncObject{}); err != nil {
		return nil, err
	}
	rs := rsTarget(c, ws)
	defer rs.giveBack(ctx, ManagerBackup, o)
	max := 30 * time.Minute
	if d, ok := ctx.Deadline(); ok {
		max = time.Until(d)
	}
	for attempt := 1; ; attempt++ {
		if err := waitIdle(ctx, c, ws, o); err != nil {
			return nil, fmt.Errorf("backup of %s: %w", ws.Name, err)
		}
		token := fmt.Sprintf("ocw-backup-%s-%d", time.Now().UTC().Format("20060102T150405Z"), attempt)
		release := hold(ctx, c, ws, token, max, o)
		applied, err := rs.apply(ctx, ManagerBackup, map[string]any{"trigger": map[string]any{"manual": token}})
		if err != nil {
			release()
			return nil, fmt.Errorf("triggering ReplicationSource %s/%s: %w", ws.Namespace, ws.Name, err)
		}
		at := writtenAt(applied, ManagerBackup, time.Now())
		o.say("backup of %s triggered (%s), waiting for the mover", ws.Name, token)
		snap, logs, err := waitManual(ctx, o, ws.Name, token, at, func(ctx context.Context, obj any) error { return getRS(ctx, c, ws, obj) })
		release()
		if err != nil {
			return nil, fmt.Errorf("backup of %s: %w", ws.Name, waitErr(ctx, err))
		}
		snap.ID = SavedSnapshot(logs)
		// VolSync's times are whole seconds, and its clock may differ a
		// little from the API server's: a sync counts as started after the
		// trigger unless it began clearly before it.
		if !snap.Time.Add(-snap.Duration).Before(at.Add(-2 * time.Second)) {
			return snap, nil
		}
		if attempt == maxAttempts {
			return nil, fmt.Errorf("backup of %s: %d syncs in a row began before ocw's trigger (is the schedule more frequent than a backup takes?)", ws.Name, attempt)
		}
		o.say("the sync that ended (snapshot %s) began before the trigger; triggering again", snap.ID)
	}
}

// maxAttempts bounds the triggers of one ocw backup.
const maxAttempts = 5

// waitIdle waits until no sync of the ReplicationSource is running.
func waitIdle(ctx context.Context, c *kube.Clients, ws model.Workspace, o Options) error {
	said := false
	err := wait.PollUntilContextCancel(ctx, o.Poll, true, func(ctx context.Context) (bool, error) {
		var rs syncObject
		if err := getRS(ctx, c, ws, &rs); err != nil {
			return false, err
		}
		st := rs.Status
		if st.LastSyncStartTime == nil {
			return true, nil
		}
		if err := moverFailed(st.LatestMoverStatus, st.LastSyncStartTime, time.Time{}); err != nil {
			return false, fmt.Errorf("a sync is running and %w", err)
		}
		if !said {
			o.say("a sync of %s is running (since %s); waiting for it to end", ws.Name, st.LastSyncStartTime.UTC().Format(time.RFC3339))
			said = true
		}
		return false, nil
	})
	return waitErr(ctx, err)
}

// syncObject is the part of the status ReplicationSources and
// ReplicationDestinations share that ocw reads.
type syncObject struct {
	Status struct {
		LastManualSync    string                      `json:"lastManualSync"`
		LastSyncStartTime *metav1.Time                `json:"lastSyncStartTime"`
		LastSyncTime      metav1.Time                 `json:"lastSyncTime"`
		LastSyncDuration  metav1.Duration             `json:"lastSyncDuration"`
		LatestMoverStatus volsyncv1alpha1.MoverStatus `json:"latestMoverStatus"`
	} `json:"status"`
}

// waitManual waits for the sync that records token as done, reading the
// object with get, and returns its snapshot (without ID) and the mover's
// logs; a mover that failed in a sync begun since start ends the wait.
func waitManual(ctx context.Context, o Options, ws, token string, start time.Time, get func(context.Context, any) error) (*Snapshot, string, error) {
	var obj syncObject
	err := wait.PollUntilContextCancel(ctx, o.Poll, true, func(ctx context.Context) (bool, error) {
		obj = syncObject{}
		if err := get(ctx, &obj); err != nil {
			return false, err
		}
		st := obj.Status
		if st.LastManualSync != token {
			return false, moverFailed(st.LatestMoverStatus, st.LastSyncStartTime, start)
		}
		return true, nil
	})
	if err != nil {
		return nil, "", err
	}
	st := obj.Status
	return &Snapshot{Workspace: ws, Time: st.LastSyncTime.Time, Duration: st.LastSyncDuration.Duration}, st.LatestMoverStatus.Logs, nil
}

// writtenAt is the API server's time of manager's last write to u (whole
// seconds, rounded down), or fallback: the clock VolSync's times compare to.
func writtenAt(u *unstructured.Unstructured, manager string, fallback time.Time) time.Time {
	for _, mf := range u.GetManagedFields() {
		if mf.Manager == manager && mf.Time != nil {
			return mf.Time.Time
		}
	}
	return fallback.Truncate(time.Second)
}

// get reads an object into obj (typed, or a syncObject); what names it in
// errors.
func get(ctx context.Context, ri dynamic.ResourceInterface, name, what string, obj any) error {
	u, err := ri.Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		err = runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj)
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", what, err)
	}
	return nil
}

func getRS(ctx context.Context, c *kube.Clients, ws model.Workspace, obj any) error {
	err := get(ctx, c.Dynamic.Resource(volsyncv1alpha1.GroupVersion.WithResource("replicationsources")).Namespace(ws.Namespace), ws.Name, fmt.Sprintf("ReplicationSource %s/%s", ws.Namespace, ws.Name), obj)
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("ReplicationSource %s/%s not found: apply the spec (ocw apply, or let Flux reconcile) so the workspace is backed up", ws.Namespace, ws.Name)
	}
	return err
}

// target is an object whose fields ocw changes for a while, as a field
// manager of its own.
type target struct {
	ri                                dynamic.ResourceInterface
	apiVersion, kind, namespace, name string
}

func rsTarget(c *kube.Clients, ws model.Workspace) target {
	return target{c.Dynamic.Resource(volsyncv1alpha1.GroupVersion.WithResource("replicationsources")).Namespace(ws.Namespace), volsyncv1alpha1.GroupVersion.String(), "ReplicationSource", ws.Namespace, ws.Name}
}

// apply sets spec as manager's fields; a nil spec gives them all back.
func (t target) apply(ctx context.Context, manager string, spec map[string]any) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": t.apiVersion,
		"kind":       t.kind,
		"metadata":   map[string]any{"name": t.name, "namespace": t.namespace},
	}}
	if spec != nil {
		u.Object["spec"] = spec
	}
	return t.ri.Apply(ctx, t.name, u, metav1.ApplyOptions{FieldManager: manager, Force: true})
}

// giveBack removes manager's fields, even when ctx was cancelled (Ctrl-C
// must not leave a workspace's schedule off).
func (t target) giveBack(ctx context.Context, manager string, o Options) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if _, err := t.apply(ctx, manager, nil); err != nil && !apierrors.IsNotFound(err) {
		o.say("warning: could not undo ocw's change to %s %s (field manager %s): %v", t.kind, t.name, manager, err)
	}
}

// moverFailed reports a mover that failed in a sync that began at or
// after start (VolSync keeps the previous sync's status until then).
func moverFailed(m volsyncv1alpha1.MoverStatus, syncStart *metav1.Time, start time.Time) error {
	if m.Result != volsyncv1alpha1.MoverResultFailed || syncStart == nil ||
		syncStart.Time.Before(start.Truncate(time.Second)) {
		return nil
	}
	return fmt.Errorf("the mover failed (VolSync retries it; ocw doctor explains):\n%s", safetext.Text(tail(m.Logs, 15)))
}

func waitErr(ctx context.Context, err error) error {
	if ctx.Err() != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || wait.Interrupted(err)) {
		return fmt.Errorf("gave up waiting: %w", context.Cause(ctx))
	}
	return err
}

func tail(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

var (
	savedRE     = regexp.MustCompile(`(?m)^\s*snapshot ([0-9a-f]{8,64}) saved`)
	restoringRE = regexp.MustCompile(`(?mi)^\s*restoring <?snapshot ([0-9a-f]{8,64})`)
	selectedRE  = regexp.MustCompile(`(?m)Selected restic snapshot with id: ([0-9a-f]{8,64})`)
	noneRE      = regexp.MustCompile(`(?m)No eligible snapshots`)
)

// SavedSnapshot is the ID restic printed for the snapshot a backup saved
// ("" when the logs don't say).
func SavedSnapshot(logs string) string {
	if m := savedRE.FindStringSubmatch(logs); m != nil {
		return m[1]
	}
	return ""
}

// RestoredSnapshot is the ID of the snapshot a restore read; none is true
// when the mover found no snapshot to restore (it then succeeds, having
// written nothing).
func RestoredSnapshot(logs string) (id string, none bool) {
	for _, re := range []*regexp.Regexp{restoringRE, selectedRE} {
		if m := re.FindStringSubmatch(logs); m != nil {
			return m[1], false
		}
	}
	return "", noneRE.MatchString(logs)
}

// ParseAsOf reads --as-of: an RFC 3339 time ("2026-11-30T05:10:00Z"), as
// ocw backup prints it.
func ParseAsOf(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--as-of %q: want an RFC 3339 time such as 2026-11-30T05:10:00Z (ocw backup prints the time of each backup)", s)
	}
	return t, nil
}
