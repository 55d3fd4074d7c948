package status_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	volsyncv1alpha1 "github.com/backube/volsync/api/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opencode-workspaces/ocw/internal/build"
	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/status"
	"github.com/opencode-workspaces/ocw/internal/status/statustest"
)

// backupSpec gives every workspace an inline backup, hourly, except those
// named "off*".
func backupSpec(ns string, names ...string) string {
	var b strings.Builder
	b.WriteString("apiVersion: ocw.dev/v1alpha1\nkind: Workspaces\nnamespace: " + ns + "\ndomain: example.test\nworkspaces:\n")
	for _, n := range names {
		b.WriteString("  - name: " + n + "\n    repo: https://github.com/o/" + n + "\n")
		if !strings.HasPrefix(n, "off") {
			b.WriteString("    backup: {mode: inline, copyMethod: Direct, schedule: \"0 * * * *\"}\n")
		}
	}
	return b.String()
}

// source is the workspace's ReplicationSource as ocw renders it, with a
// status.
func source(ws model.Workspace, st volsyncv1alpha1.ReplicationSourceStatus) volsyncv1alpha1.ReplicationSource {
	rs := build.ReplicationSource(ws)
	rs.Status = &st
	return *rs
}

func at(t time.Time) *metav1.Time { return &metav1.Time{Time: t} }

// Each backup state from the ReplicationSource VolSync leaves, in memory.
func TestBackupStates(t *testing.T) {
	const ns = "backups"
	sys := statustest.System(t, backupSpec(ns, "ok", "off", "missing", "first", "nosecret", "badpass", "component"))
	ws := map[string]model.Workspace{}
	for _, w := range sys.Workspaces {
		ws[w.Name] = w
	}
	now := time.Date(2026, 11, 30, 10, 42, 0, 0, time.UTC)
	snap := &status.Snapshot{Namespace: ns}
	for _, w := range sys.Workspaces {
		snap.Deployments = append(snap.Deployments, appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: w.Name, Namespace: ns,
			Labels: map[string]string{model.LabelWorkspace: w.Name}}})
	}
	comp := source(ws["component"], volsyncv1alpha1.ReplicationSourceStatus{LastSyncTime: at(now.Add(-3 * time.Hour))})
	comp.Spec.Trigger.Schedule = new("0 */6 * * *")
	comp.Spec.Restic.Repository = "component-restic"
	snap.ReplicationSources = []volsyncv1alpha1.ReplicationSource{
		source(ws["ok"], volsyncv1alpha1.ReplicationSourceStatus{LastSyncTime: at(now.Add(-42 * time.Minute)),
			LastSyncDuration: &metav1.Duration{Duration: 63400 * time.Millisecond}, NextSyncTime: at(now.Add(18 * time.Minute)),
			Conditions: []metav1.Condition{statustest.Scheduled}, LatestMoverStatus: statustest.Succeeded}),
		source(ws["first"], volsyncv1alpha1.ReplicationSourceStatus{Conditions: []metav1.Condition{statustest.Syncing}}),
		source(ws["nosecret"], volsyncv1alpha1.ReplicationSourceStatus{Conditions: []metav1.Condition{statustest.ControllerError(`Secret "app-volsync-secret" not found`)}}),
		// A backup two hours ago, failing since; VolSync's state machine
		// keeps Synchronizing True while the Job is recreated.
		source(ws["badpass"], volsyncv1alpha1.ReplicationSourceStatus{LastSyncTime: at(now.Add(-2 * time.Hour)),
			Conditions: []metav1.Condition{statustest.Syncing}, LatestMoverStatus: statustest.MoverFailed(statustest.WrongPassword)}),
		comp,
		// Found in the cluster, not in the spec.
		{ObjectMeta: metav1.ObjectMeta{Name: "orphan", Namespace: ns}},
	}
	snap.Deployments = append(snap.Deployments, appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "orphan", Namespace: ns,
		Labels: map[string]string{model.LabelWorkspace: "orphan"}}})

	rep := status.Build(sys, snap, now)
	type row struct{ state, err string }
	want := map[string]row{
		"ok":        {"42m", ""},
		"off":       {"none", ""},
		"missing":   {"missing", ""},
		"first":     {"never", ""},
		"nosecret":  {"failing", `VolSync: Secret "app-volsync-secret" not found`},
		"badpass":   {"failing", "mover failed: Fatal: wrong password or no key found (ERROR: failure connecting to repository, incorrect password)"},
		"component": {"3h", ""},
		"orphan":    {"never", ""},
	}
	byName := map[string]status.Workspace{}
	for _, w := range rep.Workspaces {
		byName[w.Name] = w
		if got := (row{w.Backup.State(), w.Backup.Error}); got != want[w.Name] {
			t.Errorf("%s: got %+v, want %+v", w.Name, got, want[w.Name])
		}
	}
	if len(byName) != len(want) {
		t.Fatalf("%d rows, want %d", len(byName), len(want))
	}
	ok := byName["ok"].Backup
	if ok.Duration != "1m3s" || ok.NextSync == nil || !ok.NextSync.Equal(now.Add(18*time.Minute)) || ok.Running ||
		ok.Repository != "ok-volsync-secret" || ok.Schedule != "0 * * * *" {
		t.Errorf("ok: %+v", ok)
	}
	if b := byName["first"].Backup; !b.Running || b.LastSync != nil {
		t.Errorf("first: %+v", b)
	}
	if b := byName["badpass"].Backup; b.LastSyncAge != "2h" {
		t.Errorf("badpass keeps its last success: %+v", b)
	}
	// What the cluster runs wins over the spec.
	if b := byName["component"].Backup; b.Schedule != "0 */6 * * *" || b.Repository != "component-restic" {
		t.Errorf("component: %+v", b)
	}

	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	out := table.String()
	for _, s := range []string{"BACKUP", `note: backup of nosecret fails: VolSync: Secret "app-volsync-secret" not found`,
		"note: backup of badpass fails: mover failed: Fatal: wrong password"} {
		if !strings.Contains(out, s) {
			t.Errorf("table lacks %q:\n%s", s, out)
		}
	}

	// No VolSync in the cluster: one note, and only when a backup is asked for.
	snap.ReplicationSources, snap.BackupsMissing = nil, true
	if notes := status.Build(sys, snap, now).Notes; len(notes) != 1 || !strings.Contains(notes[0], "ReplicationSource CRD is not installed") {
		t.Errorf("notes: %q", notes)
	}
	off := statustest.System(t, backupSpec(ns, "off"))
	if notes := status.Build(off, snap, now).Notes; len(notes) != 0 {
		t.Errorf("notes without backups: %q", notes)
	}
}

// VolSync's rule for a missed interval: two scheduled runs since the last
// success (or since the source was created, when none succeeded).
func TestBackupOverdue(t *testing.T) {
	base := time.Date(2026, 11, 30, 10, 0, 30, 0, time.UTC)
	for _, tc := range []struct {
		name, schedule string
		last, created  time.Time
		now            time.Time
		want           bool
	}{
		{"one run missed", "0 * * * *", base, time.Time{}, base.Add(119 * time.Minute), false},
		{"two runs missed", "0 * * * *", base, time.Time{}, base.Add(121 * time.Minute), true},
		{"never, young", "0 * * * *", time.Time{}, base, base.Add(90 * time.Minute), false},
		{"never, old", "0 * * * *", time.Time{}, base, base.Add(3 * time.Hour), true},
		{"daily", "@daily", base, time.Time{}, base.Add(36 * time.Hour), false},
		{"daily, late", "@daily", base, time.Time{}, base.Add(49 * time.Hour), true},
		{"manual", "", base, time.Time{}, base.Add(1000 * time.Hour), false},
	} {
		got, _, err := status.BackupOverdue(tc.schedule, tc.last, tc.created, tc.now)
		if err != nil || got != tc.want {
			t.Errorf("%s: got %v, %v, want %v", tc.name, got, err, tc.want)
		}
	}
	if _, _, err := status.BackupOverdue("every hour", base, time.Time{}, base); err == nil || !strings.Contains(err.Error(), `schedule "every hour"`) {
		t.Errorf("bad schedule: %v", err)
	}
}

// Status reads the ReplicationSource through the real CRD schema: the
// status VolSync writes (through the status subresource) comes back whole.
func TestBackupFromAPIServer(t *testing.T) {
	ctx := t.Context()
	ns, err := env.CreateNamespace(ctx, "backup-", nil)
	if err != nil {
		t.Fatal(err)
	}
	sys := statustest.System(t, backupSpec(ns, "app"))
	w := sys.Workspaces[0]
	statustest.CreateWorkspace(t, env.Client, w)
	rs := build.ReplicationSource(w)
	if err := env.Client.Create(ctx, rs); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	rs.Status = &volsyncv1alpha1.ReplicationSourceStatus{LastSyncTime: at(now.Add(-2 * time.Hour)),
		LastSyncDuration: &metav1.Duration{Duration: 41 * time.Second}, NextSyncTime: at(now.Add(time.Hour)),
		Conditions: []metav1.Condition{statustest.Syncing}, LatestMoverStatus: statustest.MoverFailed(statustest.WrongPassword)}
	rs.Status.Conditions[0].LastTransitionTime = metav1.NewTime(now)
	statustest.UpdateStatus(t, env.Client, rs)

	c, _ := countingClients(t)
	rep, err := status.Collect(ctx, c, sys, now)
	if err != nil {
		t.Fatal(err)
	}
	b := rep.Workspaces[0].Backup
	if b.Source != "app" || b.LastSyncAge != "2h" || b.Duration != "41s" || !b.Running ||
		!strings.HasPrefix(b.Error, "mover failed: Fatal: wrong password") {
		t.Errorf("backup: %+v", b)
	}
}
