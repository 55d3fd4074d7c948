package doctor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/opencode-workspaces/ocw/internal/boot"
	"github.com/opencode-workspaces/ocw/internal/build"
	"github.com/opencode-workspaces/ocw/internal/kube"
	"github.com/opencode-workspaces/ocw/internal/printer"
	"github.com/opencode-workspaces/ocw/internal/status/statustest"
)

func TestHappyPathAllGreen(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	rep := f.run()
	t.Logf("\n%s", text(rep))
	if count(rep, Warn) != 0 || count(rep, Fail) != 0 {
		t.Fatalf("not all green:\n%s", text(rep))
	}
	want := []string{"cluster/gateway-api", "cluster/gateway", "cluster/volsync", "cluster/storage-class", "namespace/namespace",
		"namespace/secret-server", "namespace/secret-git", "namespace/secret-copilot", "app/deployment", "app/pvc",
		"app/backup-repository", "app/backup", "app/route", "app/pod", "app/scheduling", "app/images", "app/clone", "app/seed-auth", "app/oom", "app/git"}
	var got []string
	for _, c := range rep.Checks {
		got = append(got, c.Scope+"/"+c.ID)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("checks:\n got %v\nwant %v", got, want)
	}
	expect(t, rep, "app", "git", OK, "git version 2.49.1")
	if len(f.exec.calls) != 1 || f.exec.calls[0] != f.ns+"/app-7d9f-abcde/opencode: git --version" {
		t.Errorf("exec calls: %v", f.exec.calls)
	}
	// The secret values were read (to check them), never printed.
	for _, s := range []string{"s3cret-server-password", "ghp_GITTOKEN", "gho_SEEDEDREFRESH42"} {
		if strings.Contains(text(rep), s) {
			t.Errorf("report contains secret %q", s)
		}
	}
}

func TestWorkspaceFilter(t *testing.T) {
	f := newFixture(t, fixtureOpts{noPod: true})
	c, _ := kube.NewClients(env.Config)
	if _, err := Run(t.Context(), c, f.sys, Options{Workspace: "nope"}); err == nil || !strings.Contains(err.Error(), `no workspace "nope" in the spec (workspaces: app)`) {
		t.Fatalf("unknown workspace: %v", err)
	}
}

func TestGatewayRules(t *testing.T) {
	t.Run("missing", func(t *testing.T) {
		f := newFixture(t, fixtureOpts{edit: func(s string) string { return strings.Replace(s, "name: gw,", "name: nope,", 1) }})
		expect(t, f.run(), ScopeCluster, "gateway", Fail, "set gateway.name/gateway.namespace in the spec to an existing Gateway")
	})
	t.Run("no such listener", func(t *testing.T) {
		f := newFixture(t, fixtureOpts{edit: func(s string) string { return strings.Replace(s, "sectionName: https", "sectionName: web", 1) }})
		c := expect(t, f.run(), ScopeCluster, "gateway", Fail, "set gateway.sectionName to one of: https")
		if !strings.Contains(c.Message, `no listener named "web"`) {
			t.Error(c.Message)
		}
	})
	t.Run("routes from other namespaces refused", func(t *testing.T) {
		f := newFixture(t, fixtureOpts{listener: func(l *gatewayv1.Listener) {
			l.AllowedRoutes.Namespaces.From = new(gatewayv1.NamespacesFromSame)
		}})
		expect(t, f.run(), ScopeCluster, "gateway", Fail, "set allowedRoutes.namespaces.from: All")
	})
	t.Run("host outside the listener", func(t *testing.T) {
		f := newFixture(t, fixtureOpts{listener: func(l *gatewayv1.Listener) {
			l.Hostname = new(gatewayv1.Hostname("*.other.test"))
		}})
		expect(t, f.run(), ScopeCluster, "gateway", Fail, "use a host under other.test")
	})
	t.Run("not programmed", func(t *testing.T) {
		f := newFixture(t, fixtureOpts{})
		f.setGatewayProgrammed(metav1.ConditionFalse)
		expect(t, f.run(), ScopeCluster, "gateway", Fail, "kubectl describe gateway -n "+f.gwNS+" gw")
	})
}

// The CRD rule against CRDs that are absent or too old. The Gateway API,
// external-secrets and VolSync CRDs are installed in the shared API server
// (the happy paths use them), so the failing cases use other CRDs through
// the same rule.
func TestCRDRule(t *testing.T) {
	ctx := t.Context()
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "widgets.doctor.example.com"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "doctor.example.com", Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "widgets", Singular: "widget", Kind: "Widget", ListKind: "WidgetList"},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Name: "v1beta1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: new(true)}}}},
		},
	}
	must(t, env.Client.Create(ctx, crd))
	waitEstablished(t, crd.Name)
	c, _ := kube.NewClients(env.Config)
	r := &run{c: c, report: &Report{}}
	r.add(ScopeCluster, "missing", r.checkCRDs(ctx, "Example", []crdWant{{"things.doctor.example.com", "v1"}}, "install it"))
	r.add(ScopeCluster, "old", r.checkCRDs(ctx, "Example", []crdWant{{"widgets.doctor.example.com", "v1"}}, "upgrade it"))
	r.add(ScopeCluster, "ok", r.checkCRDs(ctx, "Example", []crdWant{{"widgets.doctor.example.com", "v1beta1"}}, ""))
	if c := expect(t, r.report, ScopeCluster, "missing", Fail, "install it"); !strings.Contains(c.Message, "things.doctor.example.com is not installed") {
		t.Error(c.Message)
	}
	if c := expect(t, r.report, ScopeCluster, "old", Fail, "upgrade it"); !strings.Contains(c.Message, "does not serve v1") {
		t.Error(c.Message)
	}
	expect(t, r.report, ScopeCluster, "ok", OK, "widgets.doctor.example.com")
}

func waitEstablished(t *testing.T, name string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
			return false, nil
		}
		for _, c := range crd.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	must(t, err)
}

func TestDopplerMode(t *testing.T) {
	var store string
	f := newFixture(t, fixtureOpts{edit: func(s string) string {
		store = "store-" + strings.Split(strings.Split(s, "namespace: ")[1], "\n")[0]
		return strings.Replace(s, "mode: manual", "mode: doppler\n  store: {kind: ClusterSecretStore, name: "+store+"}", 1)
	}})
	rep := f.run()
	expect(t, rep, ScopeCluster, "external-secrets", OK, "externalsecrets.external-secrets.io")
	expect(t, rep, ScopeCluster, "secret-store", Fail, "set secrets.store in the spec")
	expect(t, rep, ScopeNamespace, "externalsecret-copilot", Fail, "ocw apply")
	// Doppler fixes name the Doppler key, not ocw secrets.
	expect(t, rep, ScopeNamespace, "secret-server", OK, "is set")

	ctx := t.Context()
	cs := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore",
		"metadata": map[string]any{"name": store},
		"spec":     map[string]any{"provider": map[string]any{"fake": map[string]any{"data": []any{}}}},
	}}
	must(t, env.Client.Create(ctx, cs))
	setReady(t, cs, "False", "InvalidProviderConfig", "unable to validate store")
	for _, es := range build.ExternalSecrets(f.sys) {
		obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(es)
		must(t, err)
		u := &unstructured.Unstructured{Object: obj}
		must(t, env.Client.Create(ctx, u))
		if es.Name == f.sys.Secrets.Copilot.Name {
			setReady(t, u, "False", "SecretSyncedError", "could not get secret data from provider")
		} else {
			setReady(t, u, "True", "SecretSynced", "secret synced")
		}
	}
	rep = f.run()
	expect(t, rep, ScopeCluster, "secret-store", Fail, "kubectl describe clustersecretstore "+store)
	c := expect(t, rep, ScopeNamespace, "externalsecret-copilot", Fail, "check that key OPENCODE_COPILOT_AUTH_JSON exists in the store ClusterSecretStore "+store)
	if !strings.Contains(c.Message, "SecretSyncedError: could not get secret data from provider") {
		t.Error(c.Message)
	}
	expect(t, rep, ScopeNamespace, "externalsecret-git", OK, "is synced")

	setReady(t, cs, "True", "Valid", "store validated")
	expect(t, f.run(), ScopeCluster, "secret-store", OK, "is Ready")

	// An empty value synced from the store is flagged as empty, with the
	// store's key to fix.
	f.putSecret(f.sys.Secrets.Server, "")
	c = expect(t, f.run(), ScopeNamespace, "secret-server", Fail, "set key OPENCODE_SERVER_PASSWORD in ClusterSecretStore "+store)
	if !strings.Contains(c.Message, "is empty: the workspaces refuse to start") {
		t.Error(c.Message)
	}

	// A missing Secret in doppler mode points at the spec's store.
	must(t, env.Client.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: f.sys.Secrets.Server.Name, Namespace: f.ns}}))
	expect(t, f.run(), ScopeNamespace, "secret-server", Fail, "set key OPENCODE_SERVER_PASSWORD in ClusterSecretStore "+store)
}

func setReady(t *testing.T, u *unstructured.Unstructured, st, reason, msg string) {
	t.Helper()
	setStatus(t, u, st, reason, msg, nil)
}

// setStatus writes the Ready condition and any other status fields through
// the status subresource, as the object's controller would.
func setStatus(t *testing.T, u *unstructured.Unstructured, st, reason, msg string, fields map[string]any) {
	t.Helper()
	must(t, env.Client.Get(t.Context(), client.ObjectKeyFromObject(u), u))
	must(t, unstructured.SetNestedSlice(u.Object, []any{map[string]any{
		"type": "Ready", "status": st, "reason": reason, "message": msg,
		"lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
	}}, "status", "conditions"))
	for k, v := range fields {
		must(t, unstructured.SetNestedField(u.Object, v, "status", k))
	}
	must(t, env.Client.Status().Update(t.Context(), u))
}

func TestReloader(t *testing.T) {
	f := newFixture(t, fixtureOpts{noPod: true, edit: func(s string) string { return strings.Replace(s, "reloader: false", "reloader: true", 1) }})
	expect(t, f.run(), ScopeCluster, "reloader", Warn, "install stakater Reloader, or set reloader: false")

	ns, err := env.CreateNamespace(t.Context(), "reloader-", nil)
	must(t, err)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "reloader", Namespace: ns, Labels: map[string]string{"app.kubernetes.io/name": "reloader"}},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "reloader"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "reloader"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "reloader", Image: "ghcr.io/stakater/reloader"}}},
			},
		},
	}
	must(t, env.Client.Create(t.Context(), d))
	t.Cleanup(func() { _ = env.Client.Delete(t.Context(), d) })
	expect(t, f.run(), ScopeCluster, "reloader", OK, "Deployment "+ns+"/reloader")
}

func TestBackups(t *testing.T) {
	var snapClass string
	f := newFixture(t, fixtureOpts{noPod: true, edit: func(s string) string {
		snapClass = "snap-" + strings.Split(strings.Split(s, "namespace: ")[1], "\n")[0]
		return strings.Replace(s, "backup: {mode: inline, copyMethod: Direct}", "backup: {mode: inline, volumeSnapshotClass: "+snapClass+"}", 1)
	}})
	rep := f.run()
	expect(t, rep, ScopeCluster, "volsync", OK, "replicationsources.volsync.backube")
	expect(t, rep, ScopeCluster, "snapshot-class", Fail, "install the CSI external-snapshotter CRDs")

	// Install the snapshot CRD (a minimal schema: only its presence and the
	// class name matter to the rule), then the class itself.
	ctx := t.Context()
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "volumesnapshotclasses.snapshot.storage.k8s.io",
			Annotations: map[string]string{"api-approved.kubernetes.io": "https://github.com/kubernetes-csi/external-snapshotter/pull/419"}},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "snapshot.storage.k8s.io", Scope: apiextensionsv1.ClusterScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "volumesnapshotclasses", Singular: "volumesnapshotclass",
				Kind: "VolumeSnapshotClass", ListKind: "VolumeSnapshotClassList"},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: new(true)}}}},
		},
	}
	must(t, env.Client.Create(ctx, crd))
	waitEstablished(t, crd.Name)
	other := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass",
		"metadata": map[string]any{"name": "other-" + snapClass}, "driver": "example.com/csi", "deletionPolicy": "Delete",
	}}
	must(t, env.Client.Create(ctx, other))
	expect(t, f.run(), ScopeCluster, "snapshot-class", Fail, "set backup.volumeSnapshotClass to one of: other-"+snapClass)

	mine := other.DeepCopy()
	mine.SetName(snapClass)
	mine.SetResourceVersion("")
	must(t, env.Client.Create(ctx, mine))
	expect(t, f.run(), ScopeCluster, "snapshot-class", OK, "VolumeSnapshotClass "+snapClass+" exists")
}

func TestRouteConditions(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	statustest.SetRoute(t, f.c, f.ws, string(gatewayv1.RouteReasonNotAllowedByListeners), "")
	c := expect(t, f.run(), "app", "route", Fail, "set its allowedRoutes.namespaces.from to All")
	if !strings.Contains(c.Message, "Accepted=False: NotAllowedByListeners") {
		t.Error(c.Message)
	}
	statustest.SetRoute(t, f.c, f.ws, "", string(gatewayv1.RouteReasonBackendNotFound))
	expect(t, f.run(), "app", "route", Fail, "Service app is missing")

	r := &gatewayv1.HTTPRoute{}
	statustest.Get(t, f.c, f.ns, "app", r)
	r.Status.Parents = []gatewayv1.RouteParentStatus{}
	statustest.UpdateStatus(t, f.c, r)
	expect(t, f.run(), "app", "route", Fail, "that the Gateway's controller runs")

	must(t, f.c.Delete(t.Context(), r))
	expect(t, f.run(), "app", "route", Fail, "ocw apply -f ws.yaml")
}

// A cluster that does not serve the Kustomization API (no Flux): no flux
// checks at all; a list that failed otherwise: one warning.
func TestNoFluxNoFluxChecks(t *testing.T) {
	sys := statustest.System(t, "apiVersion: ocw.dev/v1alpha1\nkind: Workspaces\nnamespace: ns\ndomain: example.test\n"+
		"secrets: {mode: doppler}\nworkspaces:\n  - name: app\n    repo: https://github.com/o/app\n")
	for _, c := range []struct {
		err  error
		want int
	}{
		{apierrors.NewNotFound(kustomizationGVR.GroupResource(), ""), 0},
		{&meta.NoKindMatchError{GroupKind: schema.GroupKind{Group: kustomizationGVR.Group, Kind: "Kustomization"}}, 0},
		{apierrors.NewForbidden(kustomizationGVR.GroupResource(), "", errors.New("no")), 1},
	} {
		r := &run{sys: sys, report: &Report{}}
		r.flux, r.fluxErr = fluxByName("ns", nil, c.err)
		r.fluxNamespaceChecks(t.Context())
		r.checkFlux(&sys.Workspaces[0])
		if len(r.report.Checks) != c.want {
			t.Errorf("%v: %d checks, want %d: %+v", c.err, len(r.report.Checks), c.want, r.report.Checks)
		}
	}
}

// Doppler mode: the Kustomization of the shared ExternalSecrets, which the
// workspace Kustomizations depend on.
func TestFluxSecretsKustomization(t *testing.T) {
	f := newFixture(t, fixtureOpts{edit: func(s string) string {
		return strings.Replace(s, "mode: manual", "mode: doppler", 1)
	}})
	ctx := t.Context()
	secretsKS := f.ns + "-secrets"

	c := expect(t, f.run(), ScopeNamespace, "flux-secrets", Warn, "must reach the namespace folder (if kubernetes/apps/kustomization.yaml exists, list ./"+f.ns+" in it)")
	if c.Message != "Kustomization "+f.ns+"/"+secretsKS+" not found" {
		t.Error(c.Message)
	}

	// ExternalSecrets applied without Flux (ocw apply): nothing to say.
	for _, es := range build.ExternalSecrets(f.sys) {
		obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(es)
		must(t, err)
		must(t, env.Client.Create(ctx, &unstructured.Unstructured{Object: obj}))
	}
	if c := find(f.run(), ScopeNamespace, "flux-secrets"); c != nil {
		t.Fatalf("flux-secrets check for ExternalSecrets applied without Flux: %+v", c)
	}

	sks := createKustomization(t, build.SecretsKustomization(f.sys, "./kubernetes/apps/"+f.ns+"/secrets/app"))
	setFluxStatus(t, sks, "False", "DependencyNotReady", "dependency 'external-secrets/external-secrets-stores' is not ready", "")
	wks := createKustomization(t, build.WorkspaceKustomization(f.sys, f.ws, "./kubernetes/apps/"+f.ns+"/app/app"))
	setFluxStatus(t, wks, "False", "DependencyNotReady", "dependency '"+f.ns+"/"+secretsKS+"' is not ready", "")
	rep := f.run()
	expect(t, rep, ScopeNamespace, "flux-secrets", Fail, "Flux waits for dependency external-secrets/external-secrets-stores: flux get kustomizations -A")
	expect(t, rep, "app", "flux", Fail, "Flux waits for dependency "+f.ns+"/"+secretsKS+": see the flux-secrets check")
	// Right after the namespace: it explains the Secrets checks below it.
	var ids []string
	for _, c := range rep.Checks {
		if c.Scope == ScopeNamespace {
			ids = append(ids, c.ID)
		}
	}
	if len(ids) < 2 || ids[0] != "namespace" || ids[1] != "flux-secrets" {
		t.Errorf("namespace checks: %v", ids)
	}

	setFluxStatus(t, sks, "False", "HealthCheckFailed", "timeout waiting for: [ExternalSecret/"+f.ns+"/opencode-copilot-auth status: 'InProgress']", "main@sha1:0123abcd")
	expect(t, f.run(), ScopeNamespace, "flux-secrets", Fail, "the externalsecret checks say why; then flux reconcile kustomization "+secretsKS+" -n "+f.ns+" --with-source")

	setFluxStatus(t, sks, "True", "ReconciliationSucceeded", "Applied revision: main@sha1:0123abcd", "main@sha1:0123abcd")
	expect(t, f.run(), ScopeNamespace, "flux-secrets", OK, "Kustomization "+f.ns+"/"+secretsKS+" is Ready, applied revision main@sha1:0123abcd")
}

// createKustomization creates a Kustomization as ocw renders it.
func createKustomization(t *testing.T, ks any) *unstructured.Unstructured {
	t.Helper()
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ks)
	must(t, err)
	u := &unstructured.Unstructured{Object: obj}
	must(t, env.Client.Create(t.Context(), u))
	return u
}

// setFluxStatus writes the Ready condition and the last applied revision as
// kustomize-controller does.
func setFluxStatus(t *testing.T, u *unstructured.Unstructured, st, reason, msg, revision string) {
	t.Helper()
	setStatus(t, u, st, reason, msg, map[string]any{"lastAppliedRevision": revision})
}

// Text doctor quotes from the cluster, from git (through the clone's
// termination message) and from commands run in the pod reaches the
// terminal without escapes or control characters, in every format.
func TestHostileTextIsSanitized(t *testing.T) {
	const hostile = "\x1b[31mbad\x1b[0m \x1b]0;pwned\x07\x1b[1A\x1b[2Kok\r\nnext\u202e"
	f := newFixture(t, fixtureOpts{})
	f.setPod(func(st *corev1.PodStatus) {
		st.Phase = corev1.PodPending
		st.Conditions = st.Conditions[:1]
		cs := &st.InitContainerStatuses[0]
		cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
		cs.LastTerminationState = corev1.ContainerState{Terminated: statustest.Terminated(1, "Error", boot.ResultAuthFailed+": "+hostile, time.Now())}
		st.InitContainerStatuses = st.InitContainerStatuses[:1]
		st.ContainerStatuses = nil
	})
	rep := f.run()
	if c := expect(t, rep, "app", "clone", Fail, "ocw secrets git-token"); c.Message != "clone failed: auth-failed: bad ok  next" {
		t.Errorf("clone message %q", c.Message)
	}

	f.setPod(func(*corev1.PodStatus) {})
	f.exec.out = "git version 2.49.1" + hostile
	rep = f.run()
	if c := expect(t, rep, "app", "git", OK, "git version 2.49.1"); strings.ContainsAny(c.Message, "\x1b\r\n\u202e") {
		t.Errorf("git message %q", c.Message)
	}
	for _, format := range printer.Formats() {
		var b strings.Builder
		if err := printer.Print(&b, format, rep); err != nil {
			t.Fatal(err)
		}
		for _, r := range b.String() {
			if r != '\n' && (r < 0x20 || r >= 0x7f && r <= 0x9f || r == 0x202e) {
				t.Fatalf("%s output holds %U:\n%q", format, r, b.String())
			}
		}
	}
}
