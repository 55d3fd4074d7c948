// Package conformance proves that what ocw renders is accepted by a real
// API server with the real CRDs: every example spec, in both layouts and
// every secret mode, and a pairwise sweep of the spec's options, is rendered, built the way its consumer builds it
// (kustomize for the plain tree; kustomize-controller's generator, build
// and post-build substitution for the Flux tree, in a home-ops cluster
// repository whose VolSync component creates the PVC), and every
// resulting object is created for real. The namespace is Pod Security
// "restricted" as rendered, and a Pod made from each Deployment's template
// must be admitted (server dry run). Any rejection fails naming object and
// field.
package conformance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fluxcd/pkg/kustomize"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/resource"

	"github.com/opencode-workspaces/ocw/internal/apply"
	"github.com/opencode-workspaces/ocw/internal/layout"
	"github.com/opencode-workspaces/ocw/internal/layout/layouttest"
	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/spec"
	"github.com/opencode-workspaces/ocw/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

// certManager is the cert-manager release whose Certificate CRD the
// everything example is checked against. testenv does not install it; its
// CRDs live in the module's deploy/crds (Helm-templated only in comments
// and label values, which are dropped here).
const certManager = "github.com/cert-manager/cert-manager@v1.18.2"

func TestExamplesAreAccepted(t *testing.T) {
	installCertManagerCRD(t)
	n := 0
	for _, file := range []string{"../../examples/seed.yaml", "../../examples/everything.yaml"} {
		for _, lay := range layout.Names {
			for _, mode := range secretModes {
				n++
				name := fmt.Sprintf("%s/%s/%s", strings.TrimSuffix(path.Base(file), ".yaml"), lay, mode)
				// Namespaces can't be reused on envtest (nothing finalizes
				// them): each variant gets its own.
				ns := fmt.Sprintf("conf-%d-%s", n, strings.TrimSuffix(path.Base(file), ".yaml"))
				t.Run(name, func(t *testing.T) { checkVariant(t, file, lay, mode, ns) })
			}
		}
	}
}

// secretModes are the values of secrets.mode; the examples name a store.
var secretModes = []string{"doppler", "external-secrets", "manual"}

// variantSystem loads an example with its namespace and secret mode
// replaced; everything else ("every option on" in everything.yaml) stays.
func variantSystem(t *testing.T, file, mode, ns string) *model.System {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := spec.Load(file, data)
	if err != nil {
		t.Fatal(err)
	}
	doc.Spec.Namespace = ns
	doc.Spec.Secrets.Mode = &mode
	sys, err := model.Resolve(doc)
	if err != nil {
		t.Fatal(err)
	}
	return sys
}

func checkVariant(t *testing.T, file, lay, mode, ns string) {
	checkSystem(t, variantSystem(t, file, mode, ns), lay)
}

// checkSystem renders sys in the layout, builds it as its consumer does
// and has the API server accept every object and admit every pod.
func checkSystem(t *testing.T, sys *model.System, lay string) {
	t.Helper()
	root := t.TempDir()
	if lay == layout.Kustomize {
		layouttest.WriteFiles(t, root, layouttest.Render(t, sys, lay))
		res, err := kustomize.SecureBuild(root, root, false)
		if err != nil {
			t.Fatalf("kustomize build: %v", err)
		}
		objs := objects(t, res)
		checkObjectSet(t, sys, lay, objs)
		for _, p := range createAll(t, sys, objs) {
			t.Error(p)
		}
		checkPods(t, sys, objs)
		return
	}
	// The Flux tree goes into a home-ops repository (its components). Flux
	// applies the namespace folder first; the workspace Kustomizations then
	// read substituteFrom from what it applied.
	layouttest.WriteHomeOps(t, root)
	writeBackupOnlyComponent(t, root)
	layouttest.WriteFiles(t, root, layouttest.Render(t, sys, lay))
	top, err := kustomize.SecureBuild(root, filepath.Join(root, sys.Flux.AppsPath, sys.Namespace), false)
	if err != nil {
		t.Fatalf("building the namespace folder: %v", err)
	}
	objs := objects(t, top)
	for _, p := range createAll(t, sys, objs) {
		t.Error(p)
	}
	var built []*unstructured.Unstructured
	for _, ks := range objs {
		if ks.GetKind() == "Kustomization" {
			built = append(built, buildFlux(t, root, ks)...)
		}
	}
	for _, p := range createAll(t, sys, built) {
		t.Error(p)
	}
	objs = append(objs, built...)
	checkObjectSet(t, sys, lay, objs)
	checkPods(t, sys, objs)
}

// buildFlux does what kustomize-controller does with a Kustomization:
// generate and build its path and run post-build substitution on each
// object, variables from substituteFrom read from the API server.
func buildFlux(t *testing.T, root string, ks *unstructured.Unstructured) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	// The strict result goes in: a mistyped variable should fail here
	// (BuildKustomization fails the test), not in a cluster.
	for _, o := range layouttest.BuildKustomization(t, root, *ks, env.Client) {
		sub := o.Strict
		if sub == nil { // opted out (kustomize.toolkit.fluxcd.io/substitute: disabled)
			sub = o.Built
		}
		u := layouttest.Unstructured(t, sub)
		// kustomize-controller labels every object it applies with its
		// Kustomization; a label value holds at most 63 characters.
		labels := u.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels["kustomize.toolkit.fluxcd.io/name"] = ks.GetName()
		labels["kustomize.toolkit.fluxcd.io/namespace"] = ks.GetNamespace()
		u.SetLabels(labels)
		out = append(out, u)
	}
	return out
}

// checkObjectSet asserts the build produced each workspace's objects once,
// so that "all created" means all of them: in particular exactly one PVC
// per workspace, ocw's or (Flux, backup through the component) the
// component's, restored from its ReplicationDestination.
func checkObjectSet(t *testing.T, sys *model.System, lay string, objs []*unstructured.Unstructured) {
	t.Helper()
	kinds := map[string]int{}
	pvcs := map[string]int{}
	ocwES := 0
	for _, o := range objs {
		kinds[o.GetKind()]++
		switch o.GetKind() {
		case "PersistentVolumeClaim":
			pvcs[o.GetName()]++
		case "ExternalSecret":
			if o.GetLabels()[model.LabelManagedBy] == model.ManagedBy {
				ocwES++
			}
		}
	}
	n := len(sys.Workspaces)
	for _, k := range []string{"Deployment", "Service", "HTTPRoute"} {
		if kinds[k] != n {
			t.Errorf("%d %s objects for %d workspaces: %v", kinds[k], k, n, kinds)
		}
	}
	backups, fromComponent := 0, 0
	for _, ws := range sys.Workspaces {
		if pvcs[ws.Name] != 1 {
			t.Errorf("workspace %s has %d PVCs named after it (%s layout)", ws.Name, pvcs[ws.Name], lay)
		}
		if ws.Backup.Mode != model.BackupNone {
			backups++
		}
		if lay == layout.Flux && !ws.RendersPVC() {
			fromComponent++
		}
	}
	if len(pvcs) != n {
		t.Errorf("PVCs %v for %d workspaces", pvcs, n)
	}
	if kinds["Namespace"] != 1 {
		t.Errorf("%d Namespaces", kinds["Namespace"])
	}
	wantES := 0
	if sys.Secrets.External {
		wantES = 3
	}
	if ocwES != wantES || kinds["ExternalSecret"]-ocwES != fromComponent {
		t.Errorf("%d ExternalSecrets of ocw's, want %d; %d of the component's, want %d", ocwES, wantES, kinds["ExternalSecret"]-ocwES, fromComponent)
	}
	if kinds["ReplicationSource"] != backups || kinds["ReplicationDestination"] != fromComponent {
		t.Errorf("%d ReplicationSources for %d backed-up workspaces, %d ReplicationDestinations for %d restored by the component (%s layout)",
			kinds["ReplicationSource"], backups, kinds["ReplicationDestination"], fromComponent, lay)
	}
}

// createAll creates every object for real (namespaces first, each with
// the default ServiceAccount the controller would add) and returns a line
// per rejection.
func createAll(t *testing.T, sys *model.System, objs []*unstructured.Unstructured) (problems []string) {
	t.Helper()
	ctx := t.Context()
	sort.SliceStable(objs, func(i, j int) bool { return objs[i].GetKind() == "Namespace" && objs[j].GetKind() != "Namespace" })
	for _, o := range objs {
		if err := env.Client.Create(ctx, o); err != nil {
			problems = append(problems, fmt.Sprintf("%s rejected: %s", id(o), reason(err)))
			continue
		}
		if o.GetKind() == "Namespace" {
			// What the ServiceAccount controller would add; Pod admission
			// needs it.
			sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: o.GetName()}}
			if err := env.Client.Create(ctx, sa); err != nil {
				t.Fatal(err)
			}
		}
	}
	return problems
}

// checkPods: the namespace is Pod Security "restricted" as rendered, and
// a Pod from each Deployment's template is admitted (server dry run).
func checkPods(t *testing.T, sys *model.System, objs []*unstructured.Unstructured) {
	t.Helper()
	ctx := t.Context()
	var ns corev1.Namespace
	if err := env.Client.Get(ctx, client.ObjectKey{Name: sys.Namespace}, &ns); err != nil {
		t.Fatal(err)
	}
	if ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Fatalf("namespace %s is not Pod Security restricted as rendered: %v", ns.Name, ns.Labels)
	}
	for _, p := range admitPods(t, objs) {
		t.Error(p)
	}
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.GetKind()]++
	}
	if kinds["Deployment"] != len(sys.Workspaces) {
		t.Errorf("checked %d pods for %d workspaces", kinds["Deployment"], len(sys.Workspaces))
	}
	t.Logf("created %d objects %v", len(objs), kinds)
}

// admitPods creates a Pod from each Deployment's template with a server
// dry run and returns a line per rejection.
func admitPods(t *testing.T, objs []*unstructured.Unstructured) (problems []string) {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		var tmpl corev1.PodTemplateSpec
		m, _, _ := unstructured.NestedMap(o.Object, "spec", "template")
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &tmpl); err != nil {
			t.Fatal(err)
		}
		pod := &corev1.Pod{ObjectMeta: tmpl.ObjectMeta, Spec: tmpl.Spec}
		pod.Name, pod.Namespace = o.GetName()+"-pod", o.GetNamespace()
		if err := env.Client.Create(t.Context(), pod, client.DryRunAll); err != nil {
			problems = append(problems, fmt.Sprintf("a Pod from %s's template is not admitted: %s", id(o), reason(err)))
		}
	}
	return problems
}

// The seed's example dropped into a cluster-template shaped repository
// (layouttest's home-ops fixture), reconciled from its entry point the way
// Flux does (the entry point patches every child Kustomization), with
// substituteFrom read from the cluster-secrets Secret the namespace
// component brought into the real API server. Every object is created:
// the component's PVC, with its dataSourceRef to the ReplicationDestination
// that restores it, is admitted and carries ocw's prune mark.
func TestHomeOpsDropInIsAccepted(t *testing.T) {
	sys := variantSystem(t, "../../examples/seed.yaml", "doppler", "conf-homeops")
	root := t.TempDir()
	layouttest.WriteHomeOps(t, root)
	layouttest.WriteFiles(t, root, layouttest.Render(t, sys, layout.Flux))
	var objs []*unstructured.Unstructured
	rec := layouttest.ReconcileHomeOps(t, root, sys.Namespace, func(top []*resource.Resource) client.Client {
		// Only this namespace's folder: the fixture's other namespace
		// ("default") is not under test.
		for _, r := range top {
			if r.GetNamespace() == sys.Namespace || (r.GetKind() == "Namespace" && r.GetName() == sys.Namespace) {
				objs = append(objs, layouttest.Unstructured(t, r))
			}
		}
		for _, p := range createAll(t, sys, objs) {
			t.Error(p)
		}
		return env.Client
	})
	var built []*unstructured.Unstructured
	for _, name := range slices.Sorted(maps.Keys(rec.Objects)) {
		for _, o := range rec.Objects[name] {
			sub := o.Strict
			if sub == nil {
				sub = o.Built
			}
			built = append(built, layouttest.Unstructured(t, sub))
		}
	}
	for _, p := range createAll(t, sys, built) {
		t.Error(p)
	}
	objs = append(objs, built...)
	checkObjectSet(t, sys, layout.Flux, objs)
	checkPods(t, sys, objs)
	for _, ws := range sys.Workspaces {
		var pvc corev1.PersistentVolumeClaim
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: sys.Namespace, Name: ws.Name}, &pvc); err != nil {
			t.Fatal(err)
		}
		ref := pvc.Spec.DataSourceRef
		if ref == nil || ref.Kind != "ReplicationDestination" || ref.Name != ws.Name+"-dst" || ref.APIGroup == nil || *ref.APIGroup != "volsync.backube" {
			t.Errorf("PVC %s in the API server: dataSourceRef %+v", ws.Name, ref)
		}
		if pvc.Annotations["kustomize.toolkit.fluxcd.io/prune"] != "disabled" || pvc.Annotations["ocw.dev/keep-data"] != "true" {
			t.Errorf("PVC %s in the API server: annotations %v", ws.Name, pvc.Annotations)
		}
		if got := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; got.Cmp(ws.Storage.Size) != 0 {
			t.Errorf("PVC %s requests %s, want %s", ws.Name, got.String(), ws.Storage.Size.String())
		}
	}
}

// ocw apply's object set (the kustomize tree's objects) goes in whole for
// every example and mode, and a second apply writes nothing.
func TestOcwApplyExamples(t *testing.T) {
	installCertManagerCRD(t)
	n := 0
	for _, file := range []string{"../../examples/seed.yaml", "../../examples/everything.yaml"} {
		for _, mode := range secretModes {
			n++
			base := strings.TrimSuffix(path.Base(file), ".yaml")
			t.Run(base+"/"+mode, func(t *testing.T) {
				checkApply(t, variantSystem(t, file, mode, fmt.Sprintf("conf-apply-%d-%s", n, base)))
			})
		}
	}
}

// checkApply puts ocw apply's object set for sys in whole (every object
// created) and applies it again: nothing is written.
func checkApply(t *testing.T, sys *model.System) {
	t.Helper()
	d, err := apply.Build(sys)
	if err != nil {
		t.Fatal(err)
	}
	e, err := apply.New(env.Config, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Apply(t.Context(), d, apply.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Count(apply.Created) != len(d.Objects)+1 {
		t.Errorf("%d of %d objects created: %v", res.Count(apply.Created), len(d.Objects)+1, res.Changes)
	}
	res, err = e.Apply(t.Context(), d, apply.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Count(apply.Unchanged) != len(d.Objects)+1 || res.Writes != 0 {
		t.Errorf("re-apply: %d writes, changes %v", res.Writes, res.Changes)
	}
}

// The harness itself must notice what the API server refuses: a schema
// violation in a CRD object and a pod template Pod Security forbids.
func TestRejectionsAreReported(t *testing.T) {
	sys := variantSystem(t, "../../examples/seed.yaml", "manual", "conf-negative")
	root := t.TempDir()
	layouttest.WriteFiles(t, root, layouttest.Render(t, sys, layout.Kustomize))
	res, err := kustomize.SecureBuild(root, root, false)
	if err != nil {
		t.Fatal(err)
	}
	objs := objects(t, res)
	for _, o := range objs {
		switch {
		case o.GetKind() == "HTTPRoute" && o.GetName() == "flux":
			rules, _, _ := unstructured.NestedSlice(o.Object, "spec", "rules")
			rules[0].(map[string]any)["timeouts"] = map[string]any{"request": "forever"}
			_ = unstructured.SetNestedSlice(o.Object, rules, "spec", "rules")
		case o.GetKind() == "Deployment" && o.GetName() == "ha":
			cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			cs[0].(map[string]any)["securityContext"] = map[string]any{"privileged": true}
			_ = unstructured.SetNestedSlice(o.Object, cs, "spec", "template", "spec", "containers")
		}
	}
	problems := append(createAll(t, sys, objs), admitPods(t, objs)...)
	want := []string{
		"HTTPRoute/conf-negative/flux rejected: spec.rules[0].timeouts.request: Invalid value",
		`a Pod from Deployment/conf-negative/ha's template is not admitted: pods "ha-pod" is forbidden: violates PodSecurity "restricted:latest": privileged`,
	}
	if len(problems) != len(want) {
		t.Fatalf("problems: %q", problems)
	}
	for i, w := range want {
		if !strings.HasPrefix(problems[i], w) {
			t.Errorf("problem %d: %q, want prefix %q", i, problems[i], w)
		}
	}
}

func id(o *unstructured.Unstructured) string {
	if o.GetNamespace() == "" {
		return o.GetKind() + "/" + o.GetName()
	}
	return o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
}

// reason lists the field-level causes the API server gives.
func reason(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Details != nil {
		var parts []string
		for _, c := range status.Status().Details.Causes {
			parts = append(parts, c.Field+": "+c.Message)
		}
		if len(parts) > 0 {
			return strings.Join(parts, "; ")
		}
	}
	return err.Error()
}

func objects(t *testing.T, res resmap.ResMap) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, r := range res.Resources() {
		out = append(out, layouttest.Unstructured(t, r))
	}
	return out
}

var certOnce sync.Once

// installCertManagerCRD installs cert-manager's Certificate CRD from the
// Go module cache (downloading the module if needed) and waits until it
// is served.
func installCertManagerCRD(t *testing.T) {
	t.Helper()
	var err error
	certOnce.Do(func() { err = installCRD(t.Context(), certManager, "deploy/crds/crd-certificates.yaml") })
	if err != nil {
		t.Fatalf("installing the cert-manager Certificate CRD: %v", err)
	}
}

func installCRD(ctx context.Context, module, file string) error {
	// Outside the main module, so go.mod/go.sum stay untouched.
	tmp, err := os.MkdirTemp("", "ocw-conformance-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", module)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("go mod download %s: %w: %s%s", module, err, out, stderr.String())
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return fmt.Errorf("go mod download %s: no folder in %s", module, out)
	}
	f, err := os.Open(filepath.Join(mod.Dir, filepath.FromSlash(file)))
	if err != nil {
		return err
	}
	defer f.Close()
	var crd apiextensionsv1.CustomResourceDefinition
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	if err := dec.Decode(&crd); err != nil && err != io.EOF {
		return err
	}
	// Label values and annotations carry Helm template text.
	crd.Labels, crd.Annotations = nil, nil
	if err := env.Client.Create(ctx, &crd); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var got apiextensionsv1.CustomResourceDefinition
		if err := env.Client.Get(ctx, client.ObjectKey{Name: crd.Name}, &got); err != nil {
			return err
		}
		for _, c := range got.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				// The client's REST mapper learns new kinds on a miss.
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("CRD %s not Established after 30s", crd.Name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Cluster-scoped names are shared by every namespace: the
// ClusterRoleBindings of "dev-x"/"y" and "dev"/"x-y" must be two objects,
// each binding its own ServiceAccount, whichever is applied last.
func TestClusterBindingsOfNamespacesDoNotCollide(t *testing.T) {
	e, err := apply.New(env.Config, nil)
	if err != nil {
		t.Fatal(err)
	}
	var systems []*model.System
	for _, p := range []struct{ ns, ws string }{{"conf-crb-x", "y"}, {"conf-crb", "x-y"}} {
		doc, err := spec.Load("ws.yaml", []byte(fmt.Sprintf(`apiVersion: ocw.dev/v1alpha1
kind: Workspaces
namespace: %s
domain: example.test
workspaces:
  - name: %s
    repo: https://github.com/o/r
    clusterAccess: cluster
`, p.ns, p.ws)))
		if err != nil {
			t.Fatal(err)
		}
		sys, err := model.Resolve(doc)
		if err != nil {
			t.Fatal(err)
		}
		d, err := apply.Build(sys)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Apply(t.Context(), d, apply.Options{}); err != nil {
			t.Fatal(err)
		}
		systems = append(systems, sys)
	}
	if a, b := systems[0].Workspaces[0].ClusterBindingName(), systems[1].Workspaces[0].ClusterBindingName(); a == b {
		t.Fatalf("both workspaces get ClusterRoleBinding %s", a)
	}
	for _, sys := range systems {
		ws := sys.Workspaces[0]
		crb := &unstructured.Unstructured{}
		crb.SetAPIVersion("rbac.authorization.k8s.io/v1")
		crb.SetKind("ClusterRoleBinding")
		if err := env.Client.Get(t.Context(), client.ObjectKey{Name: ws.ClusterBindingName()}, crb); err != nil {
			t.Fatalf("%s/%s: %v", ws.Namespace, ws.Name, err)
		}
		subjects, _, _ := unstructured.NestedSlice(crb.Object, "subjects")
		want := map[string]any{"kind": "ServiceAccount", "name": ws.Name, "namespace": ws.Namespace}
		if len(subjects) != 1 || fmt.Sprint(subjects[0]) != fmt.Sprint(want) {
			t.Errorf("ClusterRoleBinding %s binds %v, want only %v", ws.ClusterBindingName(), subjects, want)
		}
	}
}
