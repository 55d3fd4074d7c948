package doctor

import (
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/opencode-workspaces/ocw/internal/build"
	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/secrets"
	"github.com/opencode-workspaces/ocw/internal/status"
	"github.com/opencode-workspaces/ocw/internal/status/statustest"
)

// testSystem is baseSpec in namespace ns, gateway gw/gw, class sc, after
// edit (nil: none).
func testSystem(t *testing.T, edit func(string) string) *model.System {
	t.Helper()
	doc := strings.NewReplacer("GWNS", "gw", "NS", "ns", "SC", "sc").Replace(baseSpec)
	if edit != nil {
		doc = edit(doc)
	}
	return statustest.System(t, doc)
}

// memSnapshot holds the first workspace's Deployment, its PVC (phase
// given) and, unless st is nil, one pod with status st.
func memSnapshot(sys *model.System, pvcPhase corev1.PersistentVolumeClaimPhase, st *corev1.PodStatus) *status.Snapshot {
	ws := sys.Workspaces[0]
	dep := build.Deployment(ws)
	dep.Namespace = "ns"
	meta := metav1.ObjectMeta{Name: ws.Name, Namespace: "ns", Labels: map[string]string{model.LabelWorkspace: ws.Name}}
	pvc := build.PVC(ws)
	pvc.Namespace, pvc.Status.Phase = "ns", pvcPhase
	snap := &status.Snapshot{Namespace: "ns", Deployments: []appsv1.Deployment{*dep}, PVCs: []corev1.PersistentVolumeClaim{*pvc}}
	if st != nil {
		meta.Name = "app-7d9f-abcde"
		snap.Pods = []corev1.Pod{{ObjectMeta: meta, Spec: dep.Spec.Template.Spec, Status: *st}}
	}
	return snap
}

// memRun is a doctor run over an in-memory snapshot and no cluster: the
// rules read only memory. Tests set the facts (StorageClasses, Secrets,
// Flux) they need.
func memRun(sys *model.System, snap *status.Snapshot, now time.Time) *run {
	rows := map[string]status.Workspace{}
	for _, w := range status.Build(sys, snap, now).Workspaces {
		rows[w.Name] = w
	}
	return &run{sys: sys, ws: sys.Workspaces, opts: Options{SpecFile: "ws.yaml"}, now: now, snap: snap,
		report: &Report{Namespace: snap.Namespace}, rows: rows, secrets: map[string]secretRead{}}
}

// wsRules runs every check of the first workspace over memory, git
// --version through exec (nil: not checked).
func wsRules(t *testing.T, sys *model.System, snap *status.Snapshot, exec Execer) *Report {
	t.Helper()
	r := memRun(sys, snap, time.Now())
	r.opts.Exec = exec
	r.workspaceChecks(t.Context(), &r.ws[0])
	return r.report
}

// podRules runs the workspace checks over the workspace's Deployment, its
// Bound PVC and one pod with status st.
func podRules(t *testing.T, st corev1.PodStatus) *Report {
	t.Helper()
	sys := testSystem(t, nil)
	return wsRules(t, sys, memSnapshot(sys, corev1.ClaimBound, &st), nil)
}

func TestCloneFailures(t *testing.T) {
	ws := testSystem(t, nil).Workspaces[0]
	restart := "then kubectl -n ns rollout restart deployment/app"
	for _, tc := range []struct{ code, msg, fix string }{
		{"auth-failed", "authentication failed for https://github.com/o/app: check Secret opencode-git-credentials key GITHUB_PAT",
			"store a token that can read https://github.com/o/app (ocw secrets git-token -f ws.yaml), " + restart},
		{"not-found", "repository https://github.com/o/app not found", "check the repo URL in the spec (https://github.com/o/app)"},
		{"not-a-repo", "/workspace/app exists but is not a git repository", "/workspace/app on the volume is not a git repository: move it aside"},
		{"origin-mismatch", "/workspace/app is a clone of https://github.com/o/other", "git remote set-url origin https://github.com/o/app"},
		{"network", "could not fetch https://github.com/o/app after 4 attempts", "the cluster could not reach github.com"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			rep := podRules(t, statustest.CloneCrashLooping(ws, 2, tc.code+": "+tc.msg+"\n", time.Now()))
			c := expect(t, rep, "app", "clone", Fail, tc.fix)
			if !strings.HasPrefix(c.Message, "clone failed: "+tc.code+": "+tc.msg) {
				t.Error(c.Message)
			}
			// The pod check is status's phase, pointing at the clone check.
			c = expect(t, rep, "app", "pod", Fail, "see the clone check")
			if !strings.Contains(c.Message, "clone: "+tc.code+" (CrashLoopBackOff)") {
				t.Error(c.Message)
			}
			expect(t, rep, "app", "seed-auth", Warn, "see the clone check")
		})
	}
}

func TestImagePull(t *testing.T) {
	ws := testSystem(t, nil).Workspaces[0]
	st := statustest.HealthyStatus(ws, time.Now())
	st.Phase = corev1.PodPending
	st.Conditions = st.Conditions[:1]
	st.ContainerStatuses[0].Ready = false
	st.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
		Reason: "ImagePullBackOff", Message: `Back-off pulling image "ghcr.io/anomalyco/opencode:1.18.33"`}}
	rep := podRules(t, st)
	c := expect(t, rep, "app", "images", Fail, "check images.opencode in the spec")
	if !strings.Contains(c.Message, "opencode image ghcr.io/anomalyco/opencode:1.18.33: ImagePullBackOff") {
		t.Error(c.Message)
	}
	expect(t, rep, "app", "pod", Fail, "see the images check")
	expect(t, rep, "app", "git", Warn, "once the workspace is Ready")
}

func warning(kind, name, reason, msg string) corev1.Event {
	return corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: name + ".1", Namespace: "ns"}, Type: corev1.EventTypeWarning,
		InvolvedObject: corev1.ObjectReference{Kind: kind, Name: name, Namespace: "ns"}, Reason: reason, Message: msg,
		LastTimestamp: metav1.Now()}
}

func storageClass(name string, wffc, isDefault bool) storagev1.StorageClass {
	sc := storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: "example.com/csi"}
	if wffc {
		sc.VolumeBindingMode = new(storagev1.VolumeBindingWaitForFirstConsumer)
	}
	if isDefault {
		sc.Annotations = map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}
	}
	return sc
}

// The PVC and storage-class rules over memory: the snapshot's PVC, pod
// and Events and the cluster's StorageClasses.
func TestPVCRules(t *testing.T) {
	pending := &corev1.PodStatus{Phase: corev1.PodPending}
	noClass := func(s string) string { return strings.Replace(s, "  storage: {storageClass: sc}\n", "", 1) }
	for _, tc := range []struct {
		name       string
		edit       func(string) string
		phase      corev1.PersistentVolumeClaimPhase
		pod        *corev1.PodStatus
		classes    []storagev1.StorageClass
		classesErr error
		events     []corev1.Event
		pvc        Verdict
		pvcFix     string
		pvcMsg     string
		class      Verdict
		classFix   string
	}{
		{name: "bound", phase: corev1.ClaimBound, classes: []storagev1.StorageClass{storageClass("sc", false, false)},
			pvc: OK, pvcFix: "PVC app is Bound, class sc", class: OK, classFix: "StorageClass sc exists"},
		{name: "provisioning failed", phase: corev1.ClaimPending, classes: []storagev1.StorageClass{storageClass("sc", false, false)},
			events: []corev1.Event{warning("PersistentVolumeClaim", "app", "ProvisioningFailed", "failed to provision volume: quota exceeded")},
			pvc:    Fail, pvcFix: "check the storage provisioner of class sc", pvcMsg: "ProvisioningFailed: failed to provision volume: quota exceeded",
			class: OK, classFix: "StorageClass sc exists"},
		{name: "waits for first consumer", phase: corev1.ClaimPending, pod: pending,
			classes: []storagev1.StorageClass{storageClass("sc", true, false)},
			pvc:     Warn, pvcFix: "see the scheduling check", class: OK, classFix: "sc"},
		{name: "provisioner has not answered", phase: corev1.ClaimPending, classes: []storagev1.StorageClass{storageClass("sc", false, false)},
			pvc: Warn, pvcFix: "kubectl -n ns describe pvc app", class: OK, classFix: "sc"},
		{name: "multi-attach", phase: corev1.ClaimBound, pod: pending, classes: []storagev1.StorageClass{storageClass("sc", false, false)},
			events: []corev1.Event{warning("Pod", "app-7d9f-abcde", "FailedAttachVolume", `Multi-Attach error for volume "pv-1" Volume is already used by pod(s) app-old-123`)},
			pvc:    Fail, pvcFix: "delete its VolumeAttachment", pvcMsg: "Multi-Attach error", class: OK, classFix: "sc"},
		{name: "lost", phase: corev1.ClaimLost, classes: []storagev1.StorageClass{storageClass("sc", false, false)},
			pvc: Fail, pvcFix: "restore it from a backup", class: OK, classFix: "sc"},
		{name: "named class missing", phase: corev1.ClaimPending, classes: []storagev1.StorageClass{storageClass("other", false, false)},
			pvc: Fail, pvcFix: "delete the Pending PVC after fixing the spec", pvcMsg: "StorageClass sc does not exist",
			class: Fail, classFix: "set storage.storageClass in the spec to an existing class (available: other)"},
		{name: "no default class", edit: noClass, phase: corev1.ClaimPending, classes: []storagev1.StorageClass{storageClass("other", false, false)},
			pvc: Fail, pvcFix: "set storage.storageClass in the spec", class: Fail, classFix: "or mark one class default"},
		{name: "default class", edit: noClass, phase: corev1.ClaimBound, classes: []storagev1.StorageClass{storageClass("other", false, true)},
			pvc: OK, pvcFix: "PVC app is Bound", class: OK, classFix: "default StorageClass other is used"},
		{name: "classes unreadable", phase: corev1.ClaimPending, classesErr: errors.New(`storageclasses.storage.k8s.io is forbidden`),
			pvc: Warn, pvcFix: "describe pvc app", class: Warn, classFix: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sys := testSystem(t, tc.edit)
			ws := sys.Workspaces[0]
			snap := memSnapshot(sys, tc.phase, tc.pod)
			snap.Events = tc.events
			r := memRun(sys, snap, time.Now())
			r.classes, r.classesErr = tc.classes, tc.classesErr
			r.add(ScopeCluster, "storage-class", r.checkStorageClass(ws.Storage.StorageClass))
			r.add("app", "pvc", r.checkPVC(&ws, snap.PVC(ws.Name), snap.CurrentPod(ws.Name)))
			if tc.class == Warn {
				if c := find(r.report, ScopeCluster, "storage-class"); c == nil || c.Verdict != Warn || !strings.Contains(c.Message, "cannot list StorageClasses: storageclasses.storage.k8s.io is forbidden") {
					t.Errorf("storage-class: %+v", c)
				}
			} else {
				expect(t, r.report, ScopeCluster, "storage-class", tc.class, tc.classFix)
			}
			c := expect(t, r.report, "app", "pvc", tc.pvc, tc.pvcFix)
			if !strings.Contains(c.Message, tc.pvcMsg) {
				t.Errorf("pvc message %q lacks %q", c.Message, tc.pvcMsg)
			}
		})
	}
}

// The shared Secrets' rules over the values doctor read: a missing
// Secret, key or value, an unusable auth.json, a Secret it may not read.
func TestSecretRules(t *testing.T) {
	secret := func(name, key, value string) secretRead {
		return secretRead{secret: &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}, Data: map[string][]byte{key: []byte(value)}}}
	}
	gone := func(name string) secretRead {
		return secretRead{err: apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, name)}
	}
	const (
		server  = "opencode-server-auth"
		git     = "opencode-git-credentials"
		copilot = "opencode-copilot-auth"
	)
	healthy := map[string]secretRead{
		server:  secret(server, "OPENCODE_SERVER_PASSWORD", "s3cret-server-password"),
		git:     secret(git, "GITHUB_PAT", "ghp_GITTOKEN"),
		copilot: secret(copilot, "auth.json", validAuth),
	}
	for _, tc := range []struct {
		name, mode string
		read       secretRead
		id         string
		want       Verdict
		fix, msg   string
	}{
		{name: "server password missing", read: gone(server), id: "secret-server", want: Fail, fix: "ocw secrets password -f ws.yaml",
			msg: "Secret opencode-server-auth does not exist: OpenCode cannot start without its password (CreateContainerConfigError)"},
		{name: "server password empty", read: secret(server, "OPENCODE_SERVER_PASSWORD", ""), id: "secret-server", want: Fail, fix: "ocw secrets password -f ws.yaml",
			msg: "Secret opencode-server-auth key OPENCODE_SERVER_PASSWORD is empty: the workspaces refuse to start (OpenCode would serve without a login)"},
		{name: "server password blank", read: secret(server, "OPENCODE_SERVER_PASSWORD", "\n"), id: "secret-server", want: Fail, fix: "ocw secrets password",
			msg: "Secret opencode-server-auth key OPENCODE_SERVER_PASSWORD is empty"},
		{name: "git token under another key", read: secret(git, "wrong-key", "ghp_GITTOKEN"), id: "secret-git", want: Warn,
			fix: "ocw secrets git-token -f ws.yaml", msg: "Secret opencode-git-credentials key GITHUB_PAT is missing: clones are anonymous"},
		{name: "copilot login of another type", read: secret(copilot, "auth.json", `{"github-copilot": {"type": "api", "key": "sk-LEAKME"}}`),
			id: "secret-copilot", want: Fail, fix: "ocw auth seed -f ws.yaml", msg: `type "api", want oauth`},
		{name: "copilot login missing", read: gone(copilot), id: "secret-copilot", want: Warn, fix: "ocw auth seed -f ws.yaml",
			msg: "workspaces start without GitHub Copilot"},
		{name: "unreadable", read: secretRead{err: apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, git, errors.New("no"))},
			id: "secret-git", want: Warn, fix: "run doctor with permission to read Secrets in ns", msg: "cannot read Secret opencode-git-credentials"},
		{name: "doppler: store entry missing", mode: "doppler", read: gone(server), id: "secret-server", want: Fail,
			fix: "set key OPENCODE_SERVER_PASSWORD in ClusterSecretStore doppler; ExternalSecret opencode-server-auth copies it into the Secret"},
		{name: "healthy", id: "secret-server", want: OK, fix: "Secret opencode-server-auth key OPENCODE_SERVER_PASSWORD is set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sys := testSystem(t, func(s string) string {
				if tc.mode != "" {
					s = strings.Replace(s, "mode: manual", "mode: "+tc.mode, 1)
				}
				return s
			})
			r := memRun(sys, memSnapshot(sys, corev1.ClaimBound, nil), time.Now())
			maps.Copy(r.secrets, healthy)
			if tc.read.secret != nil || tc.read.err != nil {
				r.secrets[map[string]string{"secret-server": server, "secret-git": git, "secret-copilot": copilot}[tc.id]] = tc.read
			}
			for _, role := range []string{secrets.RoleServer, secrets.RoleGit, secrets.RoleCopilot} {
				r.add(ScopeNamespace, "secret-"+role, r.checkSecret(secrets.RoleNamed(role)))
			}
			c := expect(t, r.report, ScopeNamespace, tc.id, tc.want, tc.fix)
			if !strings.Contains(c.Message, tc.msg) {
				t.Errorf("message %q lacks %q", c.Message, tc.msg)
			}
			if n := count(r.report, OK); n != 2 && tc.want != OK || tc.want == OK && n != 3 {
				t.Errorf("one check should differ from ok:\n%s", text(r.report))
			}
			// Values are read to check them, never printed.
			for _, v := range []string{"s3cret-server-password", "ghp_GITTOKEN", "gho_SEEDEDREFRESH42", "sk-LEAKME"} {
				if strings.Contains(text(r.report), v) {
					t.Errorf("report contains %q", v)
				}
			}
		})
	}
}

// The oom rule from the container statuses: OpenCode killed and down,
// killed and running again, the clone killed by its fixed limit.
func TestOOMKilled(t *testing.T) {
	ws := testSystem(t, nil).Workspaces[0]
	oom := corev1.ContainerState{Terminated: statustest.Terminated(137, "OOMKilled", "", time.Now())}
	down := statustest.HealthyStatus(ws, time.Now())
	down.Conditions = down.Conditions[:1]
	cs := &down.ContainerStatuses[0]
	cs.Ready, cs.RestartCount = false, 5
	cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
	cs.LastTerminationState = oom
	rep := podRules(t, down)
	c := expect(t, rep, "app", "oom", Fail, "raise resources.limits.memory in the spec (now 2Gi)")
	if c.Message != "opencode was OOMKilled at its memory limit of 2Gi (restarts: 5)" {
		t.Error(c.Message)
	}
	expect(t, rep, "app", "pod", Fail, "see the oom check")

	again := statustest.HealthyStatus(ws, time.Now())
	again.ContainerStatuses[0].RestartCount = 1
	again.ContainerStatuses[0].LastTerminationState = oom
	c = expect(t, podRules(t, again), "app", "oom", Warn, "now 2Gi")
	if !strings.HasSuffix(c.Message, "; it runs again now") {
		t.Error(c.Message)
	}

	clone := statustest.HealthyStatus(ws, time.Now())
	clone.Phase = corev1.PodPending
	clone.Conditions = clone.Conditions[:1]
	clone.InitContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
	clone.InitContainerStatuses[0].LastTerminationState = oom
	clone.InitContainerStatuses = clone.InitContainerStatuses[:1]
	clone.ContainerStatuses = nil
	rep = podRules(t, clone)
	expect(t, rep, "app", "oom", Fail, "set git.filter: blob:none")
	if c := expect(t, rep, "app", "clone", Fail, "git.filter: blob:none"); !strings.Contains(c.Message, "memory limit 1Gi") {
		t.Error(c.Message)
	}

	expect(t, podRules(t, statustest.HealthyStatus(ws, time.Now())), "app", "oom", OK, "no container was OOMKilled")
}

// kustomization is the workspace's Kustomization as ocw renders it, with
// the Ready condition and revision kustomize-controller writes (st ""
// for none yet).
func kustomization(t *testing.T, ks any, st, reason, msg, revision string) unstructured.Unstructured {
	t.Helper()
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ks)
	must(t, err)
	u := unstructured.Unstructured{Object: obj}
	if st != "" {
		must(t, unstructured.SetNestedField(u.Object, map[string]any{
			"conditions": []any{map[string]any{"type": "Ready", "status": st, "reason": reason, "message": msg,
				"lastTransitionTime": "2026-11-30T10:00:00Z"}},
			"lastAppliedRevision": revision,
		}, "status"))
	}
	return u
}

// The workspace's Flux Kustomization, from absent to each Ready state,
// over the listed Kustomizations.
func TestFluxKustomizations(t *testing.T) {
	sys := testSystem(t, nil)
	ws := sys.Workspaces[0]
	ks := build.WorkspaceKustomization(sys, ws, "./kubernetes/apps/ns/app/app")
	const reconcile = "flux reconcile kustomization app -n ns --with-source (details: kubectl -n ns describe kustomization app)"
	suspended := kustomization(t, ks, "True", "ReconciliationSucceeded", "Applied revision: main@sha1:0123abcd", "main@sha1:0123abcd")
	must(t, unstructured.SetNestedField(suspended.Object, true, "spec", "suspend"))
	type tc struct {
		name string
		// ks is the listed Kustomization; nil for none.
		ks *unstructured.Unstructured
		// byFlux labels the Deployment as applied by Flux.
		byFlux    bool
		want      Verdict
		fix, msg  string
		fixLacksR bool
	}
	cases := []tc{
		{name: "missing, Deployment applied by Flux", byFlux: true, want: Warn,
			fix: "commit and push it; the Flux Kustomization that applies kubernetes/apps must reach the namespace folder (if kubernetes/apps/kustomization.yaml exists, list ./ns in it)",
			msg: "Kustomization ns/app not found (Deployment app was applied by Flux Kustomization ns/app)"},
		{name: "not reconciled yet", ks: new(kustomization(t, ks, "", "", "", "")), want: Warn,
			fix: "check that kustomize-controller runs (flux check)", msg: "Kustomization ns/app is reconciling (no Ready condition yet)"},
		{name: "ready", ks: new(kustomization(t, ks, "True", "ReconciliationSucceeded", "Applied revision: main@sha1:0123abcd", "main@sha1:0123abcd")),
			want: OK, fix: "Kustomization ns/app is Ready, applied revision main@sha1:0123abcd"},
		{name: "progressing", ks: new(kustomization(t, ks, "Unknown", "Progressing", "Reconciliation in progress", "")), want: Warn,
			fix: "wait for Flux to apply it and for the objects to become ready (it waits up to 5m0s)",
			msg: "Kustomization ns/app is reconciling: Progressing: Reconciliation in progress"},
		{name: "suspended", ks: &suspended, want: Warn, fix: "flux resume kustomization app -n ns", msg: "is suspended"},
	}
	for _, f := range []struct{ reason, msg, fix string }{
		{"DependencyNotReady", "dependency 'flux-system/infra' is not ready",
			"Flux waits for dependency flux-system/infra: flux get kustomizations -A shows why it is not Ready; fix it, or flux.dependsOn in the spec"},
		{"DependencyNotReady", `dependency 'flux-system/nope' not found: kustomizations.kustomize.toolkit.fluxcd.io "nope" not found`,
			"dependency flux-system/nope does not exist: fix flux.dependsOn in the spec"},
		{"BuildFailed", `kustomize build failed: accumulating components: accumulateDirectory: "../../../../components/volsync" does not exist`,
			"the committed files do not build (kustomize build or postBuild substitution)"},
		{"BuildFailed", `envsubst: variable not set (strict mode): "VOLSYNC_CAPACITY"`, reconcile},
		{"ReconciliationFailed", `Deployment/ns/app dry-run failed (Invalid): spec.template.spec.containers[0].image: Required value`,
			"the API server rejected an object (a schema error, or a CRD that is not installed)"},
		{"HealthCheckFailed", "timeout waiting for: [Deployment/ns/app status: 'InProgress']",
			"did not become ready in time: the other checks of this workspace say why; then " + reconcile},
		{"ArtifactFailed", "Source is not ready, artifact not found, retrying in 30s",
			"check flux.sourceRef in the spec (now GitRepository flux-system/flux-system)"},
	} {
		cases = append(cases, tc{name: f.reason + ": " + f.msg, ks: new(kustomization(t, ks, "False", f.reason, f.msg, "main@sha1:0123abcd")),
			want: Fail, fix: f.fix, msg: "Kustomization ns/app is not Ready: " + f.reason + ": " + f.msg, fixLacksR: f.reason == "DependencyNotReady"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			snap := memSnapshot(sys, corev1.ClaimBound, nil)
			if c.byFlux {
				snap.Deployments[0].Labels[fluxNameLabel], snap.Deployments[0].Labels[fluxNamespaceLabel] = "app", "ns"
			}
			list := &unstructured.UnstructuredList{}
			if c.ks != nil {
				list.Items = append(list.Items, *c.ks)
			}
			r := memRun(sys, snap, time.Now())
			r.flux, _ = fluxByName("ns", list, nil)
			r.workspaceChecks(t.Context(), &ws)
			got := expect(t, r.report, "app", "flux", c.want, c.fix)
			if c.want != OK && !strings.Contains(got.Message, c.msg) {
				t.Errorf("message %q lacks %q", got.Message, c.msg)
			}
			if c.want == Fail && !c.fixLacksR && !strings.Contains(got.Fix, reconcile) {
				t.Errorf("fix %q lacks %q", got.Fix, reconcile)
			}
			// It comes first: a Flux failure explains the checks below it.
			if r.report.Checks[0].ID != "flux" {
				t.Errorf("first check is %s, want flux", r.report.Checks[0].ID)
			}
		})
	}

	// Applied without Flux (ocw apply): no Kustomization is expected.
	r := memRun(sys, memSnapshot(sys, corev1.ClaimBound, nil), time.Now())
	r.flux, _ = fluxByName("ns", &unstructured.UnstructuredList{}, nil)
	r.checkFlux(&ws)
	if len(r.report.Checks) != 0 {
		t.Errorf("flux check on a workspace applied without Flux: %+v", r.report.Checks)
	}
}

func TestScheduling(t *testing.T) {
	rep := podRules(t, corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
		Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
		Message: "0/3 nodes are available: 3 Insufficient memory.", LastTransitionTime: metav1.Now(),
	}}})
	c := expect(t, rep, "app", "scheduling", Fail, "lower resources.requests in the spec (now cpu 100m, memory 768Mi)")
	if !strings.Contains(c.Message, "3 Insufficient memory") {
		t.Error(c.Message)
	}
	expect(t, rep, "app", "clone", Warn, "see the scheduling")
}

func TestSeedAuthRules(t *testing.T) {
	sys := testSystem(t, nil)
	ws := sys.Workspaces[0]
	seeded := func(msg string) corev1.PodStatus {
		st := statustest.HealthyStatus(ws, time.Now())
		st.InitContainerStatuses[1].State.Terminated.Message = msg
		return st
	}
	for _, tc := range []struct {
		name, msg string
		want      Verdict
		fix       string
	}{
		{"invalid", "invalid: Secret opencode-copilot-auth key auth.json is not a JSON object; nothing seeded",
			Fail, "ocw auth seed -f ws.yaml, then kubectl -n ns rollout restart deployment/app"},
		{"missing", "missing: Secret opencode-copilot-auth key auth.json is missing; the workspace starts without GitHub Copilot",
			Warn, "ocw auth seed -f ws.yaml"},
		{"kept", "kept: no space left on the volume: could not write the login from Secret opencode-copilot-auth key auth.json; kept the previous auth.json",
			Warn, "free space on PVC app"},
	} {
		c := expect(t, podRules(t, seeded(tc.msg)), "app", "seed-auth", tc.want, tc.fix)
		if tc.name == "kept" && !strings.Contains(c.Message, "could not be written: no space left on the volume") {
			t.Error(c.Message)
		}
	}

	// Seeded an hour ago; the Secret's data changed since.
	st := statustest.HealthyStatus(ws, time.Now())
	st.InitContainerStatuses[1].State.Terminated.FinishedAt = metav1.NewTime(time.Now().Add(-time.Hour))
	snap := memSnapshot(sys, corev1.ClaimBound, &st)
	written := metav1.Now()
	snap.Secrets = []metav1.PartialObjectMetadata{{ObjectMeta: metav1.ObjectMeta{Name: sys.Secrets.Copilot.Name, Namespace: "ns",
		CreationTimestamp: metav1.NewTime(time.Now().Add(-2 * time.Hour)),
		ManagedFields:     []metav1.ManagedFieldsEntry{{Manager: "ocw", Time: &written, FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:data":{}}`)}}}}}}
	expect(t, wsRules(t, sys, snap, nil), "app", "seed-auth", Warn, "ocw auth push app -f ws.yaml (no restart)")
}

func TestPodRules(t *testing.T) {
	sys := testSystem(t, nil)
	ws := sys.Workspaces[0]
	opencode := func(edit func(*corev1.ContainerStatus)) corev1.PodStatus {
		st := statustest.HealthyStatus(ws, time.Now())
		st.Conditions = st.Conditions[:1]
		st.ContainerStatuses[0].Ready = false
		edit(&st.ContainerStatuses[0])
		return st
	}
	crashed := func(restarts int32, msg string) corev1.PodStatus {
		return opencode(func(cs *corev1.ContainerStatus) {
			cs.RestartCount = restarts
			cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
			cs.LastTerminationState = corev1.ContainerState{Terminated: statustest.Terminated(1, "Error", msg, time.Now())}
		})
	}
	for _, tc := range []struct {
		name     string
		st       corev1.PodStatus
		fix, msg string
	}{
		{"config error", opencode(func(cs *corev1.ContainerStatus) {
			cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
				Reason: "CreateContainerConfigError", Message: `secret "opencode-server-auth" not found`}}
		}), "see the secret checks", `CreateContainerConfigError: secret "opencode-server-auth" not found`},
		{"crash loop", crashed(7, "EACCES: permission denied, mkdir '/home/opencode/.local/state'"),
			"logs app-7d9f-abcde -c opencode --previous", "(exit 1, 7 restarts): EACCES"},
		{"refused without a password", crashed(3, "refused: OPENCODE_SERVER_PASSWORD is empty (Secret opencode-server-auth key OPENCODE_SERVER_PASSWORD): OpenCode would serve without a login, so it was not started"),
			"ocw secrets password -f ws.yaml", "OpenCode refused to start: OPENCODE_SERVER_PASSWORD is empty"},
	} {
		c := expect(t, podRules(t, tc.st), "app", "pod", Fail, tc.fix)
		if !strings.Contains(c.Message, tc.msg) {
			t.Errorf("%s: %q lacks %q", tc.name, c.Message, tc.msg)
		}
	}

	// No pod: the ReplicaSet cannot create one.
	snap := memSnapshot(sys, corev1.ClaimBound, nil)
	snap.Deployments[0].Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentReplicaFailure, Status: corev1.ConditionTrue,
		Reason: "FailedCreate", Message: `pods "app-1" is forbidden: violates PodSecurity "restricted:latest"`}}
	c := expect(t, wsRules(t, sys, snap, nil), "app", "pod", Fail, "Pod Security violation")
	if !strings.Contains(c.Message, "forbidden: violates PodSecurity") {
		t.Error(c.Message)
	}

	// No pod yet, for no reason the Deployment gives: said once; a
	// Progressing=False reason is quoted.
	snap = memSnapshot(sys, corev1.ClaimBound, nil)
	if c := expect(t, wsRules(t, sys, snap, nil), "app", "pod", Warn, "get replicaset,pods"); c.Message != "no pod yet" {
		t.Errorf("message %q", c.Message)
	}
	snap.Deployments[0].Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded"}}
	if c := expect(t, wsRules(t, sys, snap, nil), "app", "pod", Fail, "get replicaset,pods"); c.Message != "no pod yet (ProgressDeadlineExceeded)" {
		t.Errorf("message %q", c.Message)
	}

	// Stopped, then missing.
	snap = memSnapshot(sys, corev1.ClaimBound, nil)
	snap.Deployments[0].Spec.Replicas = new(int32(0))
	rep := wsRules(t, sys, snap, nil)
	expect(t, rep, "app", "deployment", Warn, "scale deployment/app --replicas=1")
	if find(rep, "app", "pod") != nil {
		t.Error("pod checks on a stopped workspace")
	}
	snap.Deployments = nil
	expect(t, wsRules(t, sys, snap, nil), "app", "deployment", Fail, "ocw apply -f ws.yaml")
}

func TestGitInImage(t *testing.T) {
	sys := testSystem(t, nil)
	st := statustest.HealthyStatus(sys.Workspaces[0], time.Now())
	for _, tc := range []struct {
		err  error
		want Verdict
		fix  string
	}{
		{exitErr(127), Fail, "use an OpenCode image that includes git"},
		{errors.New(`OCI runtime exec failed: exec: "git": executable file not found in $PATH`), Fail, "includes git"},
		{errors.New(`pods "app-7d9f-abcde" is forbidden: User "me" cannot create resource "pods/exec"`), Warn, "pods/exec"},
		{nil, OK, "git version 2.49.1 in image ghcr.io/anomalyco/opencode:1.18.33"},
	} {
		exec := &fakeExec{out: "git version 2.49.1\n", err: tc.err}
		expect(t, wsRules(t, sys, memSnapshot(sys, corev1.ClaimBound, &st), exec), "app", "git", tc.want, tc.fix)
		if len(exec.calls) != 1 || exec.calls[0] != "ns/app-7d9f-abcde/opencode: git --version" {
			t.Errorf("exec calls: %v", exec.calls)
		}
	}
}
