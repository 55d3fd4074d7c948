package doctor

import (
	"strings"
	"testing"
	"time"

	volsyncv1alpha1 "github.com/backube/volsync/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opencode-workspaces/ocw/internal/build"
	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/status/statustest"
)

// backupCase is one situation of a workspace's backups, in memory.
type backupCase struct {
	name string
	// backup is the workspace's backup setting in the spec ("" for the
	// defaults': inline, copyMethod Direct).
	backup string
	// source is the ReplicationSource's status; nil for no source.
	source *volsyncv1alpha1.ReplicationSourceStatus
	// created is how long ago the source was created (default 30 days).
	created time.Duration
	// schedule overrides the source's trigger.
	schedule string
	// manual replaces the schedule with a manual trigger.
	manual bool
	// noRepo leaves the repository Secret out; noCRD: VolSync not installed.
	noRepo, noCRD bool
	// want: the backup check's verdict and a part of its fix (of its
	// message when ok); repo: the backup-repository verdict ("" for none).
	want     Verdict
	wantText string
	wantMsg  string
	repo     Verdict
	repoFix  string
}

const (
	inline    = "{mode: inline, copyMethod: Direct}"
	component = "{mode: component}"
)

var backupNow = time.Date(2026, 11, 30, 10, 42, 0, 0, time.UTC)

func ago(d time.Duration) *metav1.Time { return &metav1.Time{Time: backupNow.Add(-d)} }

// backupRules runs the backup checks of one workspace over an in-memory
// snapshot: the rules are pure.
func backupRules(t *testing.T, tc backupCase) *Report {
	t.Helper()
	sys := testSystem(t, func(doc string) string {
		if tc.backup != "" {
			doc += "    backup: " + tc.backup + "\n"
		}
		return doc
	})
	ws := sys.Workspaces[0]
	snap := memSnapshot(sys, corev1.ClaimBound, nil)
	snap.BackupsMissing = tc.noCRD
	if tc.source != nil {
		rs := build.ReplicationSource(ws)
		rs.Namespace, rs.Status = "ns", tc.source
		created := tc.created
		if created == 0 {
			created = 30 * 24 * time.Hour
		}
		rs.CreationTimestamp = *ago(created)
		if tc.schedule != "" {
			rs.Spec.Trigger.Schedule = new(tc.schedule)
		}
		if tc.manual {
			rs.Spec.Trigger = &volsyncv1alpha1.ReplicationSourceTriggerSpec{Manual: "before-upgrade"}
		}
		snap.ReplicationSources = append(snap.ReplicationSources, *rs)
	}
	if !tc.noRepo {
		snap.Secrets = []metav1.PartialObjectMetadata{{ObjectMeta: metav1.ObjectMeta{Name: "app-volsync-secret", Namespace: "ns"}}}
	}
	r := memRun(sys, snap, backupNow)
	if ws.Backup.Mode != model.BackupNone {
		r.add("app", "backup-repository", r.checkBackupRepository(&ws))
	}
	r.add("app", "backup", r.checkBackups(&ws))
	return r.report
}

func st(c metav1.Condition, last *metav1.Time, mover *volsyncv1alpha1.MoverStatus) *volsyncv1alpha1.ReplicationSourceStatus {
	return &volsyncv1alpha1.ReplicationSourceStatus{Conditions: []metav1.Condition{c}, LastSyncTime: last, LatestMoverStatus: mover,
		LastSyncDuration: &metav1.Duration{Duration: 63 * time.Second}}
}

// Each backup rule from the failing situation, with VolSync's own status
// (statustest's values are what VolSync v0.14.0 writes).
func TestBackupRules(t *testing.T) {
	never := func(c metav1.Condition) *volsyncv1alpha1.ReplicationSourceStatus {
		return &volsyncv1alpha1.ReplicationSourceStatus{Conditions: []metav1.Condition{c}}
	}
	for _, tc := range []backupCase{
		{name: "no backup configured", backup: "{mode: none}", want: Warn, wantText: "set backup.mode in the spec",
			wantMsg: "no backup configured (backup.mode: none)"},
		{name: "VolSync not installed", backup: inline, noCRD: true, want: Fail, wantText: "see the volsync check", repo: OK},
		{name: "inline source missing", backup: inline, want: Fail, wantText: "ocw apply -f ws.yaml, or let Flux reconcile",
			wantMsg: "ReplicationSource app not found: no backup runs", repo: OK},
		{name: "component renders no source", backup: component, want: Fail, wantText: "must render a ReplicationSource named ${APP}", repo: OK},
		{name: "repository Secret missing", backup: inline, noRepo: true,
			source: never(statustest.ControllerError(`Secret "app-volsync-secret" not found`)),
			want:   Fail, wantText: "see the backup-repository check",
			wantMsg: `backups fail: VolSync: Secret "app-volsync-secret" not found (no backup has ever completed)`,
			repo:    Fail, repoFix: "create Secret app-volsync-secret with RESTIC_REPOSITORY, RESTIC_PASSWORD"},
		{name: "component's repository Secret missing", backup: component, noRepo: true,
			source: never(statustest.ControllerError(`Secret "app-volsync-secret" not found`)),
			want:   Fail, wantText: "see the backup-repository check", repo: Fail, repoFix: "an ExternalSecret from your store"},
		{name: "repository Secret without the password", backup: inline,
			source: never(statustest.ControllerError("secret is missing field: RESTIC_PASSWORD")),
			want:   Fail, wantText: "must hold RESTIC_REPOSITORY and RESTIC_PASSWORD", repo: OK},
		{name: "mover fails: wrong password", backup: inline,
			source: st(statustest.Syncing, ago(2*time.Hour), statustest.MoverFailed(statustest.WrongPassword)),
			want:   Fail, wantText: "put back the password the repository was made with",
			wantMsg: "backups fail: mover failed: Fatal: wrong password or no key found (ERROR: failure connecting to repository, incorrect password) (last success 2h ago)",
			repo:    OK},
		{name: "mover fails: stale lock", backup: inline,
			source: st(statustest.Syncing, ago(2*time.Hour), statustest.MoverFailed(statustest.Locked)),
			want:   Fail, wantText: `patch replicationsource app --type merge -p '{"spec":{"restic":{"unlock":"20261130T104200"}}}'`, repo: OK},
		{name: "mover fails: repository unreachable", backup: inline,
			source: st(statustest.Syncing, ago(2*time.Hour), statustest.MoverFailed(statustest.Unreachable)),
			want:   Fail, wantText: "status.latestMoverStatus.logs (kubectl -n ns describe replicationsource app)",
			wantMsg: "connect: connection refused", repo: OK},
		{name: "last sync older than twice the schedule", backup: inline,
			source: st(statustest.Scheduled, ago(3*time.Hour), statustest.Succeeded),
			want:   Fail, wantText: "check that the VolSync controller runs",
			wantMsg: "the last successful backup is 3h old: VolSync missed two runs of its schedule 0 * * * *", repo: OK},
		{name: "the source's own schedule counts", backup: inline, schedule: "0 0 * * *",
			source: st(statustest.Scheduled, ago(3*time.Hour), statustest.Succeeded),
			want:   OK, wantText: "last backup 3h ago (took 1m3s)", repo: OK},
		{name: "never backed up, long overdue", backup: inline, created: 5 * time.Hour, source: never(statustest.Scheduled),
			want: Fail, wantText: "get jobs,pods -l app.kubernetes.io/created-by=volsync",
			wantMsg: "no backup has completed since ReplicationSource app was created 5h ago", repo: OK},
		{name: "first backup not due yet", backup: inline, created: 10 * time.Minute, source: never(statustest.Scheduled),
			want: Warn, wantText: "wait for the first one", wantMsg: "the first one is due at 2026-11-30T11:00:00Z", repo: OK},
		{name: "first backup running", backup: inline, created: 10 * time.Minute, source: never(statustest.Syncing),
			want: Warn, wantText: "wait for the first one", wantMsg: "the first one is running", repo: OK},
		{name: "manual trigger, not run yet", backup: inline, manual: true,
			source: &volsyncv1alpha1.ReplicationSourceStatus{Conditions: []metav1.Condition{{Type: volsyncv1alpha1.ConditionSynchronizing,
				Status: metav1.ConditionFalse, Reason: volsyncv1alpha1.SynchronizingReasonManual, Message: "Waiting for manual trigger"}}},
			want: Warn, wantText: "trigger one: ocw backup app", repo: OK},
		{name: "manual trigger, never overdue", backup: inline, manual: true, source: st(statustest.Scheduled, ago(900*time.Hour), statustest.Succeeded),
			want: OK, wantText: "last backup 37d ago", repo: OK},
		{name: "bad schedule", backup: inline, schedule: "hourly", source: st(statustest.Scheduled, ago(time.Hour), statustest.Succeeded),
			want: Warn, wantText: "fix spec.trigger.schedule", repo: OK},
		{name: "healthy", backup: inline, source: st(statustest.Scheduled, ago(42*time.Minute), statustest.Succeeded),
			want: OK, wantText: "last backup 42m ago (took 1m3s)", repo: OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := backupRules(t, tc)
			c := expect(t, rep, "app", "backup", tc.want, tc.wantText)
			if !strings.Contains(c.Message, tc.wantMsg) {
				t.Errorf("message %q lacks %q", c.Message, tc.wantMsg)
			}
			if tc.repo == "" {
				if c := find(rep, "app", "backup-repository"); c != nil {
					t.Errorf("repository check without a backup: %+v", c)
				}
				return
			}
			want := tc.repoFix
			if tc.repo == OK {
				want = "restic repository Secret app-volsync-secret exists"
			}
			expect(t, rep, "app", "backup-repository", tc.repo, want)
		})
	}
}
