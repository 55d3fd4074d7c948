// Package backup runs a workspace's VolSync backup now (ocw backup) and
// restores a workspace's volume from its restic repository (ocw restore).
// It drives what the rendered ReplicationSource already describes: a
// backup is a manual trigger on it, a restore a ReplicationDestination
// that copies the repository's snapshot into the workspace's own PVC
// while the workspace is stopped.
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
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"

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

func rsGVR() schema.GroupVersionResource {
	return volsyncv1alpha1.GroupVersion.WithResource("replicationsources")
}

func rdGVR() schema.GroupVersionResource {
	return volsyncv1alpha1.GroupVersion.WithResource("replicationdestinations")
}

// Options are what both commands share.
type Options struct {
	// Progress gets one line per step, for people (stderr).
	Progress io.Writer
	// Poll is how often the cluster is read while waiting (default 2s).
	Poll time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (o *Options) defaults() {
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Poll == 0 {
		o.Poll = 2 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
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

// Backup triggers a sync of the workspace's ReplicationSource, waits for
// it and returns the snapshot it saved. The manual trigger is given back
// afterwards, whatever happened, so that the schedule runs again.
//
// VolSync records the manual trigger as done when any sync ends, so a
// sync that was already running would be credited with it and its older
// snapshot returned: Backup lets a running sync end first, and triggers
// again when the sync credited still began before the trigger (a
// scheduled one starting in between).
func Backup(ctx context.Context, c *kube.Clients, ws model.Workspace, o Options) (*Snapshot, error) {
	o.defaults()
	rsc := c.Dynamic.Resource(rsGVR()).Namespace(ws.Namespace)
	if _, err := getRS(ctx, c, ws); err != nil {
		return nil, err
	}
	defer giveBack(ctx, rsc, rsObject(ws, nil), ManagerBackup, o)
	max := 30 * time.Minute
	if d, ok := ctx.Deadline(); ok {
		max = time.Until(d)
	}
	for attempt := 1; ; attempt++ {
		if err := waitIdle(ctx, c, ws, o); err != nil {
			return nil, fmt.Errorf("backup of %s: %w", ws.Name, err)
		}
		token := fmt.Sprintf("ocw-backup-%s-%d", o.Now().UTC().Format("20060102T150405Z"), attempt)
		release := hold(ctx, c, ws, token, max, o)
		u := rsObject(ws, map[string]any{"trigger": map[string]any{"manual": token}})
		applied, err := rsc.Apply(ctx, ws.Name, u, metav1.ApplyOptions{FieldManager: ManagerBackup, Force: true})
		if err != nil {
			release()
			return nil, fmt.Errorf("triggering ReplicationSource %s/%s: %w", ws.Namespace, ws.Name, err)
		}
		at := writtenAt(applied, ManagerBackup, o.Now())
		o.say("backup of %s triggered (%s), waiting for the mover", ws.Name, token)
		snap, began, err := waitSynced(ctx, c, ws, token, at, o)
		release()
		if err != nil {
			return nil, fmt.Errorf("backup of %s: %w", ws.Name, waitErr(ctx, err))
		}
		// VolSync's times are whole seconds, and its clock may differ a
		// little from the API server's: a sync counts as started after the
		// trigger unless it began clearly before it.
		if !began.Before(at.Add(-2 * time.Second)) {
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
		rs, err := getRS(ctx, c, ws)
		if err != nil {
			return false, err
		}
		st := rs.Status
		if st == nil || st.LastSyncStartTime == nil {
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

// waitSynced waits for the sync that records token and returns its
// snapshot and when it began.
func waitSynced(ctx context.Context, c *kube.Clients, ws model.Workspace, token string, at time.Time, o Options) (*Snapshot, time.Time, error) {
	var snap *Snapshot
	var began time.Time
	err := wait.PollUntilContextCancel(ctx, o.Poll, true, func(ctx context.Context) (bool, error) {
		rs, err := getRS(ctx, c, ws)
		if err != nil {
			return false, err
		}
		st := rs.Status
		if st == nil {
			return false, nil
		}
		if st.LastManualSync != token {
			return false, moverFailed(st.LatestMoverStatus, st.LastSyncStartTime, at)
		}
		snap = &Snapshot{Workspace: ws.Name}
		if m := st.LatestMoverStatus; m != nil {
			snap.ID = SavedSnapshot(m.Logs)
		}
		if st.LastSyncTime != nil {
			snap.Time = st.LastSyncTime.Time
			began = snap.Time
		}
		if st.LastSyncDuration != nil {
			snap.Duration = st.LastSyncDuration.Duration
			began = began.Add(-snap.Duration)
		}
		return true, nil
	})
	return snap, began, err
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

func getRS(ctx context.Context, c *kube.Clients, ws model.Workspace) (*volsyncv1alpha1.ReplicationSource, error) {
	u, err := c.Dynamic.Resource(rsGVR()).Namespace(ws.Namespace).Get(ctx, ws.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("ReplicationSource %s/%s not found: apply the spec (ocw apply, or let Flux reconcile) so the workspace is backed up", ws.Namespace, ws.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("reading ReplicationSource %s/%s: %w", ws.Namespace, ws.Name, err)
	}
	rs := &volsyncv1alpha1.ReplicationSource{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, rs); err != nil {
		return nil, fmt.Errorf("reading ReplicationSource %s/%s: %w", ws.Namespace, ws.Name, err)
	}
	return rs, nil
}

// rsObject is the partial ReplicationSource one field manager applies;
// a nil spec gives every field of that manager back.
func rsObject(ws model.Workspace, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": volsyncv1alpha1.GroupVersion.String(),
		"kind":       "ReplicationSource",
		"metadata":   map[string]any{"name": ws.Name, "namespace": ws.Namespace},
	}}
	if spec != nil {
		u.Object["spec"] = spec
	}
	return u
}

type applier interface {
	Apply(ctx context.Context, name string, obj *unstructured.Unstructured, opts metav1.ApplyOptions, subresources ...string) (*unstructured.Unstructured, error)
}

func applyTrigger(ctx context.Context, r applier, u *unstructured.Unstructured, manager string) error {
	_, err := r.Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: manager, Force: true})
	return err
}

// giveBack removes manager's fields, even when ctx was cancelled (Ctrl-C
// must not leave a workspace's schedule off).
func giveBack(ctx context.Context, r applier, u *unstructured.Unstructured, manager string, o Options) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := applyTrigger(ctx, r, u, manager); err != nil && !apierrors.IsNotFound(err) {
		o.say("warning: could not undo ocw's change to %s %s (field manager %s): %v", u.GetKind(), u.GetName(), manager, err)
	}
}

// moverFailed reports a mover that failed in a sync that began at or
// after start (VolSync keeps the previous sync's status until then).
func moverFailed(m *volsyncv1alpha1.MoverStatus, syncStart *metav1.Time, start time.Time) error {
	if m == nil || m.Result != volsyncv1alpha1.MoverResultFailed || syncStart == nil ||
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
