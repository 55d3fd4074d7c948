package backup_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	volsyncv1alpha1 "github.com/backube/volsync/api/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/opencode-workspaces/ocw/internal/backup"
	"github.com/opencode-workspaces/ocw/internal/build"
	"github.com/opencode-workspaces/ocw/internal/kube"
	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

func TestSnapshotIDsFromMoverLogs(t *testing.T) {
	backupLogs := "Repository opened\nUsing parent snapshot 0a1b2c3d\nAdded to the repository: 1.2 KiB\nprocessed 12 files, 3.4 KiB in 0:01\nsnapshot 5e6f7a8b saved\nRestic completed in 3s\n"
	if got := backup.SavedSnapshot(backupLogs); got != "5e6f7a8b" {
		t.Errorf("SavedSnapshot = %q, want 5e6f7a8b (not the parent 0a1b2c3d)", got)
	}
	for _, tc := range []struct {
		logs string
		id   string
		none bool
	}{
		{"restoring snapshot 5e6f7a8b of [/data] at 2026-11-30 05:00:01 by @host to .\nSummary: Restored 12 files\n", "5e6f7a8b", false},
		{"restoring <Snapshot 5e6f7a8b of [/data] at 2026-11-30 05:00:01 by @host> to .\n", "5e6f7a8b", false},
		{"No eligible snapshots found\n", "", true},
		{"ERROR: something else\n", "", false},
	} {
		id, none := backup.RestoredSnapshot(tc.logs)
		if id != tc.id || none != tc.none {
			t.Errorf("RestoredSnapshot(%q) = %q, %v; want %q, %v", tc.logs, id, none, tc.id, tc.none)
		}
	}
}

func TestParseAsOf(t *testing.T) {
	if got, err := backup.ParseAsOf("2026-11-30T05:10:00+01:00"); err != nil || !got.Equal(time.Date(2026, 11, 30, 4, 10, 0, 0, time.UTC)) {
		t.Errorf("ParseAsOf = %v, %v", got, err)
	}
	for _, bad := range []string{"yesterday", "2026-11-30", "2026-11-30 05:10:00"} {
		if _, err := backup.ParseAsOf(bad); err == nil || !strings.Contains(err.Error(), "RFC 3339") {
			t.Errorf("ParseAsOf(%q) = %v, want an error naming the format", bad, err)
		}
	}
}

func TestDestinationRestoresIntoTheWorkspacePVC(t *testing.T) {
	ws := model.Workspace{Name: "alpha", Namespace: "ns"}
	rs := &volsyncv1alpha1.ReplicationSource{Spec: volsyncv1alpha1.ReplicationSourceSpec{
		Restic: &volsyncv1alpha1.ReplicationSourceResticSpec{
			Repository: "alpha-volsync-secret",
			MoverConfig: volsyncv1alpha1.MoverConfig{MoverSecurityContext: &corev1.PodSecurityContext{
				RunAsUser: new(int64(1000)), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			}},
		},
	}}
	at := time.Date(2026, 11, 30, 5, 0, 0, 0, time.FixedZone("x", 3600))
	rd := backup.Destination(ws, rs, "tok", &at)
	r := rd.Spec.Restic
	switch {
	case rd.Name != "alpha-restore" || rd.Namespace != "ns":
		t.Errorf("name %s/%s", rd.Namespace, rd.Name)
	case rd.Spec.Trigger == nil || rd.Spec.Trigger.Manual != "tok":
		t.Errorf("trigger %+v, want manual tok", rd.Spec.Trigger)
	case r.CopyMethod != volsyncv1alpha1.CopyMethodDirect || r.DestinationPVC == nil || *r.DestinationPVC != "alpha":
		t.Errorf("copy method %s into %v, want Direct into alpha", r.CopyMethod, r.DestinationPVC)
	case r.Repository != "alpha-volsync-secret":
		t.Errorf("repository %q", r.Repository)
	case r.RestoreAsOf == nil || *r.RestoreAsOf != "2026-11-30T04:00:00Z":
		t.Errorf("restoreAsOf %v, want 2026-11-30T04:00:00Z", r.RestoreAsOf)
	case !r.EnableFileDeletion:
		t.Errorf("file deletion off: files written after the snapshot would survive the restore")
	case r.MoverSecurityContext == nil || r.MoverSecurityContext.SeccompProfile == nil || *r.MoverSecurityContext.RunAsUser != 1000:
		t.Errorf("mover security context %+v, want the ReplicationSource's", r.MoverSecurityContext)
	}
	if rd := backup.Destination(ws, rs, "tok", nil); rd.Spec.Restic.RestoreAsOf != nil {
		t.Errorf("restoreAsOf %v without --as-of", *rd.Spec.Restic.RestoreAsOf)
	}
}

// fixture is one workspace in a real API server: its spec, the objects
// ocw apply (or Flux) would have made, and clients. Nothing runs VolSync
// or the Deployment controller: the test writes their statuses.
type fixture struct {
	t   *testing.T
	ctx context.Context
	c   *kube.Clients
	cl  client.Client
	ws  model.Workspace
}

func newFixture(t *testing.T, fluxLabels bool) *fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	ns, err := env.CreateNamespace(ctx, "backup", nil)
	if err != nil {
		t.Fatal(err)
	}
	sys, err := model.Load("t.yaml", []byte(fmt.Sprintf("apiVersion: ocw.dev/v1alpha1\nkind: Workspaces\nnamespace: %s\ndomain: example.test\n"+
		"defaults: {backup: {mode: inline, copyMethod: Direct}}\nworkspaces:\n  - name: alpha\n    repo: https://github.com/o/alpha\n", ns)))
	if err != nil {
		t.Fatal(err)
	}
	ws, err := backup.Workspace(sys, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	c, err := kube.NewClients(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, ctx: ctx, c: c, cl: env.Client, ws: ws}
	rs := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "volsync.backube/v1alpha1", "kind": "ReplicationSource",
		"metadata": map[string]any{"name": "alpha", "namespace": ns},
		"spec": map[string]any{
			"sourcePVC": "alpha",
			"trigger":   map[string]any{"schedule": "0 * * * *"},
			"restic": map[string]any{
				"repository": "alpha-volsync-secret", "copyMethod": "Direct",
				"moverSecurityContext": map[string]any{"runAsUser": int64(1000), "seccompProfile": map[string]any{"type": "RuntimeDefault"}},
			},
		},
	}}
	if err := f.cl.Patch(ctx, rs, client.Apply, client.FieldOwner(model.FieldManager)); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{model.LabelWorkspace: "alpha"}
	if fluxLabels {
		labels["kustomize.toolkit.fluxcd.io/name"] = "alpha"
		labels["kustomize.toolkit.fluxcd.io/namespace"] = "flux-system"
	}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "alpha", Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: new(int32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{model.LabelWorkspace: "alpha"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{model.LabelWorkspace: "alpha"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "opencode", Image: "x"}}},
			},
		},
	}
	if err := f.cl.Create(ctx, dep); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) rs() *volsyncv1alpha1.ReplicationSource {
	f.t.Helper()
	rs := &volsyncv1alpha1.ReplicationSource{}
	if err := f.cl.Get(f.ctx, client.ObjectKey{Namespace: f.ws.Namespace, Name: "alpha"}, rs); err != nil {
		f.t.Fatal(err)
	}
	return rs
}

// until polls cond (which may fail the test) every 50 ms until it holds.
func (f *fixture) until(what string, cond func() bool) {
	f.t.Helper()
	for !cond() {
		select {
		case <-f.ctx.Done():
			f.t.Fatalf("waiting for %s: %v", what, f.ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func opts() backup.Options { return backup.Options{Poll: 50 * time.Millisecond} }

// ocw backup sets a manual trigger next to the schedule (its own field
// manager), returns the snapshot the mover saved, then gives the trigger
// back: the schedule is in force again and ocw apply's fields untouched.
func TestBackupTriggersWaitsAndGivesTheTriggerBack(t *testing.T) {
	f := newFixture(t, false)
	type result struct {
		snap *backup.Snapshot
		err  error
	}
	done := make(chan result, 1)
	go func() {
		s, err := backup.Backup(f.ctx, f.c, f.ws, opts())
		done <- result{s, err}
	}()
	var token string
	f.until("the manual trigger", func() bool {
		tr := f.rs().Spec.Trigger
		token = tr.Manual
		return token != ""
	})
	rs := f.rs()
	if rs.Spec.Trigger.Schedule == nil || *rs.Spec.Trigger.Schedule != "0 * * * *" {
		t.Fatalf("schedule %v lost while triggering", rs.Spec.Trigger.Schedule)
	}
	// What VolSync writes when the manual sync is done: one that began in
	// the second of the trigger (whose stored end time, rounded down, then
	// makes it look as if it began before).
	var at time.Time
	for _, mf := range rs.ManagedFields {
		if mf.Manager == backup.ManagerBackup {
			at = mf.Time.Time
		}
	}
	f.synced(token, at, "snapshot 5e6f7a8b saved\n")
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.snap.ID != "5e6f7a8b" || r.snap.Duration != 12900*time.Millisecond {
		t.Errorf("snapshot %+v", r.snap)
	}
	after := f.rs()
	if after.Spec.Trigger.Manual != "" {
		t.Errorf("manual trigger %q left behind: scheduled backups would never run again", after.Spec.Trigger.Manual)
	}
	if after.Spec.Trigger.Schedule == nil || after.Spec.Restic.Repository != "alpha-volsync-secret" {
		t.Errorf("ocw apply's fields changed: %+v", after.Spec)
	}
}

// synced plays VolSync ending a 12.9 s sync that began at began and
// recording token as the manual trigger it served. Like VolSync's, the
// times are whole seconds once stored; the duration is not.
func (f *fixture) synced(token string, began time.Time, logs string) {
	f.t.Helper()
	rs := f.rs()
	rs.Status = &volsyncv1alpha1.ReplicationSourceStatus{
		LastManualSync:    token,
		LastSyncTime:      &metav1.Time{Time: began.Add(12900 * time.Millisecond)},
		LastSyncDuration:  &metav1.Duration{Duration: 12900 * time.Millisecond},
		LatestMoverStatus: &volsyncv1alpha1.MoverStatus{Result: volsyncv1alpha1.MoverResultSuccessful, Logs: logs},
	}
	if err := f.cl.Status().Update(f.ctx, rs); err != nil {
		f.t.Fatal(err)
	}
}

// VolSync credits the manual trigger to whatever sync ends next: a sync
// that was already running when ocw backup triggered (seen on the real
// node: the first sync after ocw apply) must not pass for the backup
// asked for. ocw backup triggers again and returns the later snapshot.
func TestBackupIgnoresASyncThatBeganBeforeTheTrigger(t *testing.T) {
	f := newFixture(t, false)
	done := make(chan *backup.Snapshot, 1)
	go func() {
		s, err := backup.Backup(f.ctx, f.c, f.ws, opts())
		if err != nil {
			t.Error(err)
		}
		done <- s
	}()
	var first string
	f.until("the manual trigger", func() bool { first = f.rs().Spec.Trigger.Manual; return first != "" })
	f.synced(first, time.Now().Add(-time.Hour), "snapshot 0ld0ld00 saved\n")
	var second string
	f.until("a second trigger", func() bool { second = f.rs().Spec.Trigger.Manual; return second != "" && second != first })
	f.synced(second, time.Now().Add(time.Second), "snapshot 5e6f7a8b saved\n")
	if s := <-done; s == nil || s.ID != "5e6f7a8b" {
		t.Fatalf("snapshot %+v, want 5e6f7a8b (the sync that began after the trigger)", s)
	}
}

// A mover that fails in the triggered sync ends the wait with its logs; a
// failure from before the trigger does not.
func TestBackupReportsAFailingMover(t *testing.T) {
	f := newFixture(t, false)
	rs := f.rs()
	rs.Status = &volsyncv1alpha1.ReplicationSourceStatus{
		LatestMoverStatus: &volsyncv1alpha1.MoverStatus{Result: volsyncv1alpha1.MoverResultFailed, Logs: "old failure\n"},
	}
	if err := f.cl.Status().Update(f.ctx, rs); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := backup.Backup(f.ctx, f.c, f.ws, opts())
		done <- err
	}()
	f.until("the manual trigger", func() bool { return f.rs().Spec.Trigger.Manual != "" })
	select {
	case err := <-done:
		t.Fatalf("backup ended on the old failure: %v", err)
	case <-time.After(300 * time.Millisecond): // several polls
	}
	rs = f.rs()
	rs.Status.LastSyncStartTime = &metav1.Time{Time: time.Now().Add(time.Second)}
	rs.Status.LatestMoverStatus.Logs = "Fatal: unable to open config file: Stat: 401 Unauthorized\n\x1b[31mERROR\x1b[0m: restic failed\n"
	if err := f.cl.Status().Update(f.ctx, rs); err != nil {
		t.Fatal(err)
	}
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "401 Unauthorized") || strings.Contains(err.Error(), "\x1b") {
		t.Fatalf("error %q, want the mover's logs, without escape sequences", err)
	}
	if f.rs().Spec.Trigger.Manual != "" {
		t.Errorf("manual trigger left behind after a failure")
	}
}

func (f *fixture) kustomization(suspended bool) {
	f.t.Helper()
	ks := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
		"metadata": map[string]any{"name": "alpha", "namespace": "flux-system"},
		"spec":     map[string]any{"interval": "1h", "path": "./x", "prune": true, "sourceRef": map[string]any{"kind": "GitRepository", "name": "flux-system"}},
	}}
	if suspended {
		ks.Object["spec"].(map[string]any)["suspend"] = true
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "flux-system"}}
	if err := f.cl.Create(f.ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		f.t.Fatal(err)
	}
	_ = f.cl.Delete(f.ctx, ks)
	if err := f.cl.Patch(f.ctx, ks, client.Apply, client.FieldOwner("kustomize-controller"), client.ForceOwnership); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) suspended() bool {
	f.t.Helper()
	ks := &unstructured.Unstructured{}
	ks.SetAPIVersion("kustomize.toolkit.fluxcd.io/v1")
	ks.SetKind("Kustomization")
	if err := f.cl.Get(f.ctx, client.ObjectKey{Namespace: "flux-system", Name: "alpha"}, ks); err != nil {
		f.t.Fatal(err)
	}
	s, _, _ := unstructured.NestedBool(ks.Object, "spec", "suspend")
	return s
}

func (f *fixture) replicas() int32 {
	f.t.Helper()
	d := &appsv1.Deployment{}
	if err := f.cl.Get(f.ctx, client.ObjectKey{Namespace: f.ws.Namespace, Name: "alpha"}, d); err != nil {
		f.t.Fatal(err)
	}
	return *d.Spec.Replicas
}

// finishDestination plays VolSync: marks the restore's manual sync done
// with logs.
func (f *fixture) finishDestination(logs string) *volsyncv1alpha1.ReplicationDestination {
	f.t.Helper()
	rd := &volsyncv1alpha1.ReplicationDestination{}
	f.until("the ReplicationDestination", func() bool {
		return f.cl.Get(f.ctx, client.ObjectKey{Namespace: f.ws.Namespace, Name: "alpha-restore"}, rd) == nil
	})
	seen := rd.DeepCopy()
	rd.Status = &volsyncv1alpha1.ReplicationDestinationStatus{
		LastManualSync:    rd.Spec.Trigger.Manual,
		LastSyncTime:      &metav1.Time{Time: time.Now()},
		LatestMoverStatus: &volsyncv1alpha1.MoverStatus{Result: volsyncv1alpha1.MoverResultSuccessful, Logs: logs},
	}
	if err := f.cl.Status().Update(f.ctx, rd); err != nil {
		f.t.Fatal(err)
	}
	return seen
}

// startDeployment plays the Deployment controller once replicas is back.
func (f *fixture) startDeployment() {
	f.t.Helper()
	d := &appsv1.Deployment{}
	f.until("the scale back to 1", func() bool {
		if err := f.cl.Get(f.ctx, client.ObjectKey{Namespace: f.ws.Namespace, Name: "alpha"}, d); err != nil {
			f.t.Fatal(err)
		}
		return *d.Spec.Replicas == 1
	})
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1, ReadyReplicas: 1}
	if err := f.cl.Status().Update(f.ctx, d); err != nil {
		f.t.Fatal(err)
	}
}

// In a Flux cluster: the Kustomization is suspended and the workspace
// stopped before anything is written, scheduled backups paused, the gone
// PVC re-created as ocw renders it, the restore a Direct
// ReplicationDestination into it; afterwards all of it is given back and
// the ReplicationDestination deleted.
func TestRestoreStopsRestoresAndStarts(t *testing.T) {
	f := newFixture(t, true)
	f.kustomization(false)
	asOf := time.Date(2026, 11, 30, 5, 0, 0, 0, time.UTC)
	type result struct {
		snap *backup.Snapshot
		err  error
	}
	done := make(chan result, 1)
	go func() {
		s, err := backup.Restore(f.ctx, f.c, f.ws, &asOf, opts())
		done <- result{s, err}
	}()
	rd := f.finishDestination("restoring snapshot 5e6f7a8b of [/data] at 2026-11-30 04:59:00 by @h to .\n")
	// What held while the ReplicationDestination existed.
	if !f.suspended() {
		t.Errorf("Flux Kustomization not suspended during the restore")
	}
	if !f.rs().Spec.Paused {
		t.Errorf("ReplicationSource not paused during the restore")
	}
	if r := rd.Spec.Restic; *r.DestinationPVC != "alpha" || *r.RestoreAsOf != "2026-11-30T05:00:00Z" || r.Repository != "alpha-volsync-secret" {
		t.Errorf("ReplicationDestination %+v", r)
	}
	pvc := &corev1.PersistentVolumeClaim{}
	if err := f.cl.Get(f.ctx, client.ObjectKey{Namespace: f.ws.Namespace, Name: "alpha"}, pvc); err != nil {
		t.Fatalf("PVC not re-created: %v", err)
	}
	if pvc.Annotations["kustomize.toolkit.fluxcd.io/prune"] != "disabled" {
		t.Errorf("re-created PVC lacks ocw's keep-data marks: %v", pvc.Annotations)
	}
	f.startDeployment()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.snap.ID != "5e6f7a8b" {
		t.Errorf("restored snapshot %q", r.snap.ID)
	}
	if f.suspended() {
		t.Errorf("Flux Kustomization left suspended")
	}
	if f.rs().Spec.Paused {
		t.Errorf("ReplicationSource left paused")
	}
	err := f.cl.Get(f.ctx, client.ObjectKey{Namespace: f.ws.Namespace, Name: "alpha-restore"}, &volsyncv1alpha1.ReplicationDestination{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("ReplicationDestination not deleted: %v", err)
	}
}

// The replicas were 0 while the ReplicationDestination existed.
func TestRestoreScalesToZeroFirst(t *testing.T) {
	f := newFixture(t, false)
	go func() { _, _ = backup.Restore(f.ctx, f.c, f.ws, nil, opts()) }()
	f.until("the ReplicationDestination", func() bool {
		return f.cl.Get(f.ctx, client.ObjectKey{Namespace: f.ws.Namespace, Name: "alpha-restore"}, &volsyncv1alpha1.ReplicationDestination{}) == nil
	})
	if n := f.replicas(); n != 0 {
		t.Fatalf("replicas %d while restoring, want 0", n)
	}
	f.finishDestination("restoring snapshot 5e6f7a8b of [/data]\n")
	f.startDeployment()
}

// A Kustomization suspended before the restore stays suspended after it.
func TestRestoreKeepsASuspendedKustomizationSuspended(t *testing.T) {
	f := newFixture(t, true)
	f.kustomization(true)
	done := f.restore()
	f.finishDestination("restoring snapshot 5e6f7a8b of [/data]\n")
	f.startDeployment()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !f.suspended() {
		t.Errorf("a Kustomization the user suspended was resumed")
	}
}

// No snapshot at or before --as-of: the mover wrote nothing, so the
// restore fails clearly and gives everything back, the workspace started.
func TestRestoreWithoutASnapshotGivesBack(t *testing.T) {
	f := newFixture(t, true)
	f.kustomization(false)
	done := f.restore()
	f.finishDestination("No eligible snapshots found\n=== No data will be restored ===\n")
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "no backup to restore") || !strings.Contains(err.Error(), "nothing was written") {
		t.Fatalf("error %v", err)
	}
	if n := f.replicas(); n != 1 {
		t.Errorf("replicas %d after a restore that wrote nothing, want 1", n)
	}
	if f.suspended() || f.rs().Spec.Paused {
		t.Errorf("Flux or backups left held after a restore that wrote nothing")
	}
}

// A mover failure once writing may have begun leaves the workspace
// stopped and says what is held.
func TestRestoreFailureLeavesTheWorkspaceStopped(t *testing.T) {
	f := newFixture(t, true)
	f.kustomization(false)
	done := f.restore()
	rd := &volsyncv1alpha1.ReplicationDestination{}
	f.until("the ReplicationDestination", func() bool {
		return f.cl.Get(f.ctx, client.ObjectKey{Namespace: f.ws.Namespace, Name: "alpha-restore"}, rd) == nil
	})
	rd.Status = &volsyncv1alpha1.ReplicationDestinationStatus{
		LastSyncStartTime: &metav1.Time{Time: time.Now().Add(time.Second)},
		LatestMoverStatus: &volsyncv1alpha1.MoverStatus{Result: volsyncv1alpha1.MoverResultFailed, Logs: "Fatal: disk full\n"},
	}
	if err := f.cl.Status().Update(f.ctx, rd); err != nil {
		t.Fatal(err)
	}
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), "left stopped") || !strings.Contains(err.Error(), "flux resume kustomization alpha -n flux-system") {
		t.Fatalf("error %v", err)
	}
	if n := f.replicas(); n != 0 {
		t.Errorf("replicas %d after a failed restore, want 0 (the volume may be half-written)", n)
	}
	if !f.suspended() {
		t.Errorf("Flux resumed after a failed restore: it would start the workspace on a half-written volume")
	}
}

// restore runs a restore in the background; its error comes on the channel.
func (f *fixture) restore() <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := backup.Restore(f.ctx, f.c, f.ws, nil, opts())
		done <- err
	}()
	return done
}

func TestWorkspaceErrors(t *testing.T) {
	sys, err := model.Load("t.yaml", []byte("apiVersion: ocw.dev/v1alpha1\nkind: Workspaces\nnamespace: n\ndomain: example.test\n"+
		"workspaces:\n  - name: a\n    repo: https://github.com/o/a\n  - name: b\n    repo: https://github.com/o/b\n    backup: {mode: inline}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Workspace(sys, "c"); err == nil || !strings.Contains(err.Error(), "a, b") {
		t.Errorf("unknown workspace: %v", err)
	}
	if _, err := backup.Workspace(sys, "a"); err == nil || !strings.Contains(err.Error(), "backup.mode") {
		t.Errorf("workspace without backup: %v", err)
	}
	if _, err := backup.Workspace(sys, "b"); err != nil {
		t.Errorf("workspace with backup: %v", err)
	}
}

// The Pod Security finding, checked by the API server's own admission in a
// namespace that enforces restricted (as ocw's do): a pod shaped like
// VolSync v0.14's restic mover (its container security context, with the
// pod's from moverSecurityContext) is admitted with the context ocw renders,
// and rejected with a home-ops component's (no seccomp profile, no
// runAsNonRoot) or as a privileged mover (the privileged-movers annotation:
// root with added capabilities).
func TestMoverPodSecurity(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns, err := env.CreateNamespace(ctx, "psa", map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
	if err != nil {
		t.Fatal(err)
	}
	sys, err := model.Load("t.yaml", []byte(fmt.Sprintf("apiVersion: ocw.dev/v1alpha1\nkind: Workspaces\nnamespace: %s\ndomain: example.test\n"+
		"defaults: {backup: {mode: inline}}\nworkspaces:\n  - name: alpha\n    repo: https://github.com/o/alpha\n", ns)))
	if err != nil {
		t.Fatal(err)
	}
	rendered := build.ReplicationSource(sys.Workspaces[0]).Spec.Restic.MoverSecurityContext
	mover := func(name string, pod *corev1.PodSecurityContext, privileged bool) error {
		sc := &corev1.SecurityContext{
			AllowPrivilegeEscalation: new(false),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			Privileged:               new(false),
			ReadOnlyRootFilesystem:   new(true),
		}
		if privileged {
			sc.Capabilities.Add = []corev1.Capability{"DAC_OVERRIDE", "CHOWN", "FOWNER"}
			sc.RunAsUser = new(int64(0))
		}
		return env.Client.Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: corev1.PodSpec{
				SecurityContext: pod,
				RestartPolicy:   corev1.RestartPolicyNever,
				Containers:      []corev1.Container{{Name: "restic", Image: "mover", Command: []string{"/mover-restic/entry.sh"}, SecurityContext: sc}},
			},
		})
	}
	if err := mover("ocw", rendered, false); err != nil {
		t.Errorf("mover with ocw's moverSecurityContext rejected: %v", err)
	}
	homeOps := &corev1.PodSecurityContext{RunAsUser: new(int64(1000)), RunAsGroup: new(int64(1000)), FSGroup: new(int64(1000))}
	err = mover("home-ops", homeOps, false)
	if err == nil || !strings.Contains(err.Error(), "seccompProfile") || !strings.Contains(err.Error(), "runAsNonRoot") {
		t.Errorf("mover with a home-ops component's moverSecurityContext: %v, want rejected for seccompProfile and runAsNonRoot", err)
	}
	err = mover("privileged", rendered, true)
	if err == nil || !strings.Contains(err.Error(), "capabilities") {
		t.Errorf("privileged mover: %v, want rejected for its added capabilities", err)
	}
}
