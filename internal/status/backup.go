package status

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	volsyncv1alpha1 "github.com/backube/volsync/api/v1alpha1"
	"github.com/robfig/cron/v3"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opencode-workspaces/ocw/internal/model"
)

// BackupStatus is the workspace's backup as VolSync reports it in the
// ReplicationSource named like the workspace (ocw's inline one and a
// home-ops component's ${APP} alike).
type BackupStatus struct {
	Mode        string     `json:"mode,omitempty"`   // the spec's; "": not in the spec
	Source      string     `json:"source,omitempty"` // the ReplicationSource; "": none
	Schedule    string     `json:"schedule,omitempty"`
	Repository  string     `json:"repository,omitempty"`
	LastSync    *time.Time `json:"lastSync,omitempty"` // the last success
	LastSyncAge string     `json:"lastSyncAge,omitempty"`
	Duration    string     `json:"duration,omitempty"` // of the last success
	NextSync    *time.Time `json:"nextSync,omitempty"`
	Running     bool       `json:"running,omitempty"` // Synchronizing is True
	Error       string     `json:"error,omitempty"`   // why backups fail, in VolSync's words
}

// State is the BACKUP column: the age of the last success, else why none.
func (b BackupStatus) State() string {
	switch {
	case b.Mode == model.BackupNone:
		return "none" // the spec asks for no backup
	case b.Source == "":
		if b.Mode == "" {
			return "-"
		}
		return "missing" // asked for, but no ReplicationSource
	case b.Error != "":
		return "failing" // VolSync's error, or the last mover failed
	case b.LastSync == nil:
		return "never" // no backup has completed yet
	}
	return b.LastSyncAge
}

// backupOf reads rs for ws (either may be nil).
func backupOf(ws *model.Workspace, rs *volsyncv1alpha1.ReplicationSource, now time.Time) BackupStatus {
	var b BackupStatus
	if ws != nil {
		b.Mode, b.Schedule, b.Repository = ws.Backup.Mode, ws.Backup.Schedule, ws.Backup.Repository
		if b.Mode == model.BackupNone {
			return BackupStatus{Mode: b.Mode}
		}
	}
	if rs == nil {
		return b
	}
	// The object VolSync runs wins over the spec: a component may set its
	// own schedule and repository.
	b.Source = rs.Name
	b.Schedule = "" // a manual trigger, or none: VolSync syncs continuously
	if t := rs.Spec.Trigger; t != nil && t.Schedule != nil {
		b.Schedule = *t.Schedule
	}
	if rs.Spec.Restic != nil && rs.Spec.Restic.Repository != "" {
		b.Repository = rs.Spec.Restic.Repository
	}
	st := rs.Status
	if st == nil {
		return b
	}
	if st.LastSyncTime != nil {
		b.LastSync = new(st.LastSyncTime.UTC())
		b.LastSyncAge = Age(now.Sub(*b.LastSync))
	}
	if st.LastSyncDuration != nil {
		b.Duration = st.LastSyncDuration.Round(time.Second).String()
	}
	if st.NextSyncTime != nil {
		b.NextSync = new(st.NextSyncTime.UTC())
	}
	c := apimeta.FindStatusCondition(st.Conditions, volsyncv1alpha1.ConditionSynchronizing)
	b.Running = c != nil && c.Status == metav1.ConditionTrue
	b.Error = backupError(c, st.LatestMoverStatus)
	return b
}

// backupError is why backups fail. VolSync v0.14 says it in two places:
// the Synchronizing condition (reason Error) when the controller cannot
// proceed (a missing repository Secret or key, a bad schedule), and
// latestMoverStatus (result Failed, the mover pod log's tail) when the
// mover Job gave up. A later success replaces the mover status, so Failed
// always means the latest attempt.
func backupError(c *metav1.Condition, mover *volsyncv1alpha1.MoverStatus) string {
	if c != nil && c.Status == metav1.ConditionFalse && c.Reason == volsyncv1alpha1.SynchronizingReasonError {
		return "VolSync: " + c.Message
	}
	if mover != nil && mover.Result == volsyncv1alpha1.MoverResultFailed {
		if why := moverFailure(mover.Logs); why != "" {
			return "mover failed: " + why
		}
		return "mover failed (no log)"
	}
	return ""
}

// moverFailure picks the last "Fatal:" (restic) and "ERROR:" (the mover
// script) lines of a failed mover's log, else its last line.
func moverFailure(logs string) string {
	var fatal, errLine, last string
	for l := range strings.Lines(logs) {
		l = strings.TrimSpace(l)
		switch {
		case l == "":
			continue
		case strings.HasPrefix(l, "Fatal:"):
			fatal = l
		case strings.HasPrefix(l, "ERROR:"):
			errLine = l
		}
		last = l
	}
	if fatal != "" && errLine != "" {
		return fatal + " (" + errLine + ")"
	}
	return cmp.Or(fatal, errLine, last)
}

// BackupOverdue reports whether the last success (none: the source's
// creation) is two scheduled runs old, VolSync's own rule for a missed
// interval, and when the next run was due. Without a schedule, never.
func BackupOverdue(schedule string, last, created, now time.Time) (overdue bool, due time.Time, err error) {
	if schedule == "" {
		return false, time.Time{}, nil
	}
	s, err := cron.ParseStandard(schedule)
	if err != nil {
		return false, time.Time{}, fmt.Errorf("schedule %q: %w", schedule, err)
	}
	due = s.Next(cmp.Or(last, created))
	return s.Next(due).Before(now), due, nil
}

// backupNotes say why backups fail: too long for a column.
func backupNotes(wss []Workspace, crdMissing bool) []string {
	var notes []string
	asked := false
	for _, w := range wss {
		if w.Backup.Mode != "" && w.Backup.Mode != model.BackupNone {
			asked = true
		}
		if w.Backup.Error != "" {
			notes = append(notes, "backup of "+w.Name+" fails: "+w.Backup.Error)
		}
	}
	if crdMissing && asked {
		notes = append(notes, "the VolSync ReplicationSource CRD is not installed: nothing is backed up; run ocw doctor")
	}
	return notes
}
