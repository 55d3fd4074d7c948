package apply_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/opencode-workspaces/ocw/internal/apply"
	"github.com/opencode-workspaces/ocw/internal/apply/applytest"
	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/status/statustest"
	"github.com/opencode-workspaces/ocw/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

var nsCounter atomic.Int32

// uniqueNS names a namespace no other test of this run uses (namespaces
// are never finalized on envtest, so they can't be reused).
func uniqueNS(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, nsCounter.Add(1))
}

// twoWorkspaces exercises most kinds: alpha is minimal; beta has a
// ServiceAccount, a ClusterRoleBinding and an inline VolSync backup.
const twoWorkspaces = `apiVersion: ocw.dev/v1alpha1
kind: Workspaces
namespace: %s
domain: example.test
secrets: {mode: manual}
workspaces:
  - name: alpha
    repo: https://github.com/o/alpha
  - name: beta
    repo: https://github.com/o/beta
    clusterAccess: cluster
    backup: {mode: inline}
`

func system(t testing.TB, text string) *model.System {
	t.Helper()
	sys, err := model.Load("test.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return sys
}

func desired(t testing.TB, sys *model.System) *apply.Desired {
	t.Helper()
	d, err := apply.Build(sys)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func engine(t testing.TB) (*apply.Engine, *bytes.Buffer) {
	t.Helper()
	var log bytes.Buffer
	e, err := apply.New(env.Config, &log)
	if err != nil {
		t.Fatal(err)
	}
	return e, &log
}

func mustApply(t testing.TB, e *apply.Engine, d *apply.Desired, opts apply.Options) *apply.Result {
	t.Helper()
	res, err := e.Apply(context.Background(), d, opts)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return res
}

// actions maps object IDs to actions.
func actions(res *apply.Result) map[string]apply.Action {
	m := map[string]apply.Action{}
	for _, c := range res.Changes {
		m[c.ID] = c.Action
	}
	return m
}

func onlyAction(t *testing.T, res *apply.Result, want apply.Action) {
	t.Helper()
	for _, c := range res.Changes {
		if c.Action != want {
			t.Errorf("%s: %s, want %s", c.ID, c.Action, want)
		}
	}
}

func TestApplyTwiceWritesNothing(t *testing.T) {
	ns := uniqueNS("twice")
	d := desired(t, system(t, fmt.Sprintf(twoWorkspaces, ns)))
	e, _ := engine(t)

	first := mustApply(t, e, d, apply.Options{})
	onlyAction(t, first, apply.Created)
	// Namespace + inventory + 4 alpha + 7 beta objects.
	if len(first.Changes) != len(d.Objects)+1 || len(d.Objects) != 12 {
		t.Fatalf("%d changes for %d objects: %v", len(first.Changes), len(d.Objects), first.Changes)
	}
	if first.Writes != int64(len(first.Changes)) {
		t.Errorf("first apply: %d writes for %d created objects", first.Writes, len(first.Changes))
	}
	for _, id := range []string{"Namespace/" + ns, "ConfigMap/" + ns + "/ocw-inventory", "ClusterRoleBinding/" + model.ClusterNamePrefix(ns) + "beta:view",
		"ReplicationSource/" + ns + "/beta", "Deployment/" + ns + "/alpha", "PersistentVolumeClaim/" + ns + "/beta"} {
		if actions(first)[id] != apply.Created {
			t.Errorf("%s not created: %v", id, first.Changes)
		}
	}
	before := applytest.Snapshot(t, env.Config, ns)

	second := mustApply(t, e, d, apply.Options{})
	onlyAction(t, second, apply.Unchanged)
	if len(second.Changes) != len(first.Changes) {
		t.Errorf("second apply lists %d objects, first %d", len(second.Changes), len(first.Changes))
	}
	if second.Writes != 0 {
		t.Errorf("second apply sent %d writes, want 0", second.Writes)
	}
	applytest.Equal(t, "an unchanged re-apply", before, applytest.Snapshot(t, env.Config, ns))

	// A fresh engine (a new ocw process) agrees.
	e2, _ := engine(t)
	onlyAction(t, mustApply(t, e2, d, apply.Options{}), apply.Unchanged)

	// The fields are ocw's.
	var dep appsv1.Deployment
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "alpha"}, &dep); err != nil {
		t.Fatal(err)
	}
	var managers []string
	for _, mf := range dep.ManagedFields {
		managers = append(managers, mf.Manager+"/"+string(mf.Operation))
	}
	if len(managers) != 1 || managers[0] != "ocw/Apply" {
		t.Errorf("Deployment field managers %v, want only ocw/Apply", managers)
	}
}

func TestSpecChangeConfiguresOnlyChangedObjects(t *testing.T) {
	ns := uniqueNS("change")
	text := fmt.Sprintf(twoWorkspaces, ns)
	e, _ := engine(t)
	mustApply(t, e, desired(t, system(t, text)), apply.Options{})
	before := applytest.Snapshot(t, env.Config, ns)

	changed := strings.Replace(text, "  - name: alpha\n", "  - name: alpha\n    images: {opencode: ghcr.io/anomalyco/opencode:9.9.9}\n", 1)
	res := mustApply(t, e, desired(t, system(t, changed)), apply.Options{})
	for id, a := range actions(res) {
		want := apply.Unchanged
		if id == "Deployment/"+ns+"/alpha" {
			want = apply.Configured
		}
		if a != want {
			t.Errorf("%s: %s, want %s", id, a, want)
		}
	}
	if res.Writes != 1 {
		t.Errorf("%d writes, want 1", res.Writes)
	}
	diff := applytest.Diff(before, applytest.Snapshot(t, env.Config, ns))
	if len(diff) != 1 || !strings.HasPrefix(diff[0], "changed Deployment.apps/"+ns+"/alpha ") {
		t.Errorf("cluster changes: %v, want only Deployment alpha", diff)
	}
}

func TestPruneNeedsFlagAndKeepsData(t *testing.T) {
	ns := uniqueNS("prune")
	text := fmt.Sprintf(twoWorkspaces, ns)
	e, log := engine(t)
	mustApply(t, e, desired(t, system(t, text)), apply.Options{})

	// Labelled as ocw's but never applied by ocw: pruning must not guess.
	stray := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "beta-notes", Namespace: ns,
		Labels: map[string]string{model.LabelManagedBy: model.ManagedBy, model.LabelWorkspace: "beta"}}}
	if err := env.Client.Create(t.Context(), stray); err != nil {
		t.Fatal(err)
	}

	alphaOnly := text[:strings.Index(text, "  - name: beta")]
	d := desired(t, system(t, alphaOnly))
	betaIDs := []string{"Deployment/" + ns + "/beta", "Service/" + ns + "/beta", "HTTPRoute/" + ns + "/beta",
		"ServiceAccount/" + ns + "/beta", "ClusterRoleBinding/" + model.ClusterNamePrefix(ns) + "beta:view", "ReplicationSource/" + ns + "/beta"}
	pvc := "PersistentVolumeClaim/" + ns + "/beta"

	// Without --prune: listed, nothing deleted, nothing written.
	before := applytest.Snapshot(t, env.Config, ns)
	res := mustApply(t, e, d, apply.Options{})
	got := actions(res)
	for _, id := range betaIDs {
		if got[id] != apply.Stale {
			t.Errorf("%s: %q, want stale", id, got[id])
		}
	}
	if got[pvc] != apply.KeptData {
		t.Errorf("%s: %q, want kept", pvc, got[pvc])
	}
	if res.Writes != 0 {
		t.Errorf("%d writes without --prune", res.Writes)
	}
	applytest.Equal(t, "apply without --prune", before, applytest.Snapshot(t, env.Config, ns))
	for _, c := range res.Changes {
		if c.ID == pvc && !strings.Contains(c.String(), "--prune --purge-data") {
			t.Errorf("PVC line does not say how to delete it: %q", c.String())
		}
	}

	// --prune: everything of beta's but its claim goes.
	res = mustApply(t, e, d, apply.Options{Prune: true})
	got = actions(res)
	for _, id := range betaIDs {
		if got[id] != apply.Pruned {
			t.Errorf("--prune: %s: %q, want pruned", id, got[id])
		}
	}
	if got[pvc] != apply.KeptData {
		t.Errorf("--prune: %s: %q, want kept", pvc, got[pvc])
	}
	if !exists(t, &corev1.PersistentVolumeClaim{}, ns, "beta") {
		t.Error("--prune deleted the PVC without --purge-data")
	}
	if exists(t, &appsv1.Deployment{}, ns, "beta") {
		t.Error("--prune left Deployment beta")
	}
	if !exists(t, &corev1.ConfigMap{}, ns, "beta-notes") {
		t.Error("--prune deleted a ConfigMap ocw never applied (labels alone must not count)")
	}
	if strings.Contains(log.String(), "purge-data: deleting") {
		t.Errorf("--prune announced a data deletion: %s", log)
	}
	inv := inventory(t, ns)
	if !strings.Contains(inv, "v1 PersistentVolumeClaim "+ns+" beta\n") || strings.Contains(inv, "Deployment "+ns+" beta") {
		t.Errorf("inventory after --prune:\n%s", inv)
	}

	// --prune --purge-data: the claim goes too, announced first.
	res = mustApply(t, e, d, apply.Options{Prune: true, PurgeData: true})
	if a := actions(res)[pvc]; a != apply.Pruned {
		t.Errorf("--purge-data: %s: %q, want pruned", pvc, a)
	}
	if !strings.Contains(log.String(), "--purge-data: deleting 1 object(s) and the data they hold:\n  "+pvc) {
		t.Errorf("data deletion not announced:\n%s", log)
	}
	var claim corev1.PersistentVolumeClaim
	err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "beta"}, &claim)
	// No controller removes the pvc-protection finalizer here: deleting is
	// as far as it gets.
	if err == nil && claim.DeletionTimestamp == nil {
		t.Error("--purge-data did not delete the PVC")
	}
	if strings.Contains(inventory(t, ns), " beta\n") {
		t.Errorf("inventory still lists beta:\n%s", inventory(t, ns))
	}

	// Forgotten for good: the next apply is quiet and writes nothing.
	res = mustApply(t, e, d, apply.Options{Prune: true})
	onlyAction(t, res, apply.Unchanged)
	if res.Writes != 0 {
		t.Errorf("%d writes after pruning", res.Writes)
	}
}

// Anyone who may edit ConfigMaps in a namespace may edit ocw-inventory.
// Entries naming another namespace's objects, a cluster-scoped object ocw
// did not generate for this namespace, or a kind ocw apply never creates
// must not be deleted by the next --prune, which says why.
func TestPruneRefusesEditedInventory(t *testing.T) {
	ns := uniqueNS("trust")
	victimNS := ns + "-x"
	e, _ := engine(t)
	mustApply(t, e, desired(t, system(t, fmt.Sprintf(`apiVersion: ocw.dev/v1alpha1
kind: Workspaces
namespace: %s
domain: victim.test
secrets: {mode: manual}
workspaces:
  - name: y
    repo: https://github.com/o/y
    clusterAccess: cluster
`, victimNS))), apply.Options{})
	d := desired(t, system(t, fmt.Sprintf(twoWorkspaces, ns)))
	mustApply(t, e, d, apply.Options{})

	ctx := t.Context()
	ocwLabels := map[string]string{model.LabelManagedBy: model.ManagedBy}
	foreignBinding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "admins-" + ns, Labels: ocwLabels},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
	}
	// What ocw secrets writes: labelled as ocw's, but not apply's to prune.
	password := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "opencode-server-auth", Namespace: ns, Labels: ocwLabels},
		StringData: map[string]string{"OPENCODE_SERVER_PASSWORD": "pw-in-the-namespace"}}
	// Named as ocw names ns's binding of a workspace x-y, but owned by
	// another namespace: only the owner label tells.
	lookalike := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: model.ClusterNamePrefix(ns) + "x-y:view",
			Labels: map[string]string{model.LabelManagedBy: model.ManagedBy, model.LabelNamespace: victimNS}},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
	}
	for _, o := range []client.Object{foreignBinding, password, lookalike} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	victims := []struct {
		line, id, why string
		obj           client.Object
		namespace     string
	}{
		{"apps/v1 Deployment " + victimNS + " y", "Deployment/" + victimNS + "/y",
			"it is not in namespace " + ns, &appsv1.Deployment{}, victimNS},
		{"v1 PersistentVolumeClaim " + victimNS + " y", "PersistentVolumeClaim/" + victimNS + "/y",
			"it is not in namespace " + ns, &corev1.PersistentVolumeClaim{}, victimNS},
		{"v1 Namespace - " + victimNS, "Namespace/" + victimNS,
			"it is not namespace " + ns, &corev1.Namespace{}, ""},
		{"rbac.authorization.k8s.io/v1 ClusterRoleBinding - " + lookalike.Name, "ClusterRoleBinding/" + lookalike.Name,
			`its label ocw.dev/namespace is "` + victimNS + `", not "` + ns + `"`, &rbacv1.ClusterRoleBinding{}, ""},
		{"rbac.authorization.k8s.io/v1 ClusterRoleBinding - admins-" + ns, "ClusterRoleBinding/admins-" + ns,
			"ocw names no ClusterRoleBinding of namespace " + ns + " that way", &rbacv1.ClusterRoleBinding{}, ""},
		{"v1 Secret " + ns + " opencode-server-auth", "Secret/" + ns + "/opencode-server-auth",
			`ocw apply never creates a Secret (group "")`, &corev1.Secret{}, ns},
	}
	var cm corev1.ConfigMap
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: apply.InventoryName}, &cm); err != nil {
		t.Fatal(err)
	}
	for _, v := range victims {
		cm.Data["objects"] += v.line + "\n"
	}
	if err := env.Client.Update(ctx, &cm); err != nil {
		t.Fatal(err)
	}

	res := mustApply(t, e, d, apply.Options{Prune: true, PurgeData: true})
	got := map[string]apply.Change{}
	for _, c := range res.Changes {
		got[c.ID] = c
	}
	for _, v := range victims {
		name := v.id[strings.LastIndex(v.id, "/")+1:]
		if !exists(t, v.obj, v.namespace, name) {
			t.Errorf("--prune --purge-data deleted %s, listed in an edited inventory", v.id)
		}
		c := got[v.id]
		want := v.id + " is listed in the inventory, but " + v.why + ": not deleted, dropped from the inventory"
		if c.Action != apply.Refused || c.String() != want {
			t.Errorf("%s: %q, want %q", v.id, c.String(), want)
		}
		if inv := inventory(t, ns); strings.Contains(inv, v.line) {
			t.Errorf("inventory still lists %q", v.line)
		}
	}
	// ocw's own objects are untouched, and its binding still prunes.
	for id, c := range got {
		if c.Action != apply.Unchanged && c.Action != apply.Refused && id != "ConfigMap/"+ns+"/ocw-inventory" {
			t.Errorf("%s: %s", id, c.Action)
		}
	}
	alphaOnly := fmt.Sprintf(twoWorkspaces, ns)
	alphaOnly = alphaOnly[:strings.Index(alphaOnly, "  - name: beta")]
	res = mustApply(t, e, desired(t, system(t, alphaOnly)), apply.Options{Prune: true})
	if a := actions(res)["ClusterRoleBinding/"+model.ClusterNamePrefix(ns)+"beta:view"]; a != apply.Pruned {
		t.Errorf("own stale ClusterRoleBinding: %s, want pruned", a)
	}
}

func exists(t *testing.T, o client.Object, ns, name string) bool {
	t.Helper()
	err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, o)
	if apierrors.IsNotFound(err) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return o.GetDeletionTimestamp() == nil
}

func inventory(t *testing.T, ns string) string {
	t.Helper()
	var cm corev1.ConfigMap
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: apply.InventoryName}, &cm); err != nil {
		t.Fatal(err)
	}
	return cm.Data["objects"]
}

func TestDryRunWritesNothing(t *testing.T) {
	ns := uniqueNS("dryrun")
	text := fmt.Sprintf(twoWorkspaces, ns)
	d := desired(t, system(t, text))
	e, log := engine(t)

	// Into a namespace that does not exist yet.
	res := mustApply(t, e, d, apply.Options{DryRun: true})
	onlyAction(t, res, apply.Created)
	if res.Writes != 0 {
		t.Errorf("dry run: %d writes", res.Writes)
	}
	if len(applytest.Snapshot(t, env.Config, ns)) != 0 {
		t.Errorf("dry run created objects: %v", applytest.Snapshot(t, env.Config, ns))
	}
	if !strings.Contains(log.String(), "namespace "+ns+" does not exist yet") {
		t.Errorf("no note about the objects a dry run could not validate:\n%s", log)
	}
	for _, c := range res.Changes {
		if !strings.HasSuffix(c.String(), " created (server dry run)") {
			t.Errorf("line %q", c)
		}
	}

	mustApply(t, e, d, apply.Options{})
	before := applytest.Snapshot(t, env.Config, ns)

	// A change and a removal, with every flag.
	changed := strings.Replace(text, "  - name: alpha\n", "  - name: alpha\n    images: {opencode: ghcr.io/anomalyco/opencode:9.9.9}\n", 1)
	changed = changed[:strings.Index(changed, "  - name: beta")]
	res = mustApply(t, e, desired(t, system(t, changed)), apply.Options{DryRun: true, Prune: true, PurgeData: true})
	got := actions(res)
	if got["Deployment/"+ns+"/alpha"] != apply.Configured || got["Deployment/"+ns+"/beta"] != apply.Pruned ||
		got["PersistentVolumeClaim/"+ns+"/beta"] != apply.Pruned || got["Service/"+ns+"/alpha"] != apply.Unchanged {
		t.Errorf("dry run actions: %v", res.Changes)
	}
	if res.Writes != 0 {
		t.Errorf("dry run: %d writes", res.Writes)
	}
	applytest.Equal(t, "--dry-run=server", before, applytest.Snapshot(t, env.Config, ns))
}

// A change the API server refuses (a PVC's spec is immutable), in the same
// run as a change it accepts: the run fails naming the object and field,
// and neither change is made.
func TestRejectedObjectLeavesClusterAsItWas(t *testing.T) {
	ns := uniqueNS("reject")
	text := strings.Replace(fmt.Sprintf(twoWorkspaces, ns), "  - name: beta\n", "  - name: beta\n    storage: {storageClass: fast}\n", 1)
	e, _ := engine(t)
	mustApply(t, e, desired(t, system(t, text)), apply.Options{})
	before := applytest.Snapshot(t, env.Config, ns)

	changed := strings.Replace(text, "  - name: alpha\n", "  - name: alpha\n    images: {opencode: ghcr.io/anomalyco/opencode:9.9.9}\n", 1)
	changed = strings.Replace(changed, "storageClass: fast", "storageClass: slow", 1)
	_, err := e.Apply(t.Context(), desired(t, system(t, changed)), apply.Options{})
	var rej *apply.RejectedError
	if !errors.As(err, &rej) {
		t.Fatalf("want a RejectedError, got %v", err)
	}
	if len(rej.Rejected) != 1 || rej.Rejected[0].ID != "PersistentVolumeClaim/"+ns+"/beta" ||
		!strings.Contains(rej.Rejected[0].Reason, "spec: Forbidden: spec is immutable") {
		t.Errorf("rejections: %+v", rej.Rejected)
	}
	if !strings.Contains(err.Error(), "nothing was applied") {
		t.Errorf("message: %v", err)
	}
	applytest.Equal(t, "a rejected apply", before, applytest.Snapshot(t, env.Config, ns))
}

// An admission policy refuses one Deployment of a new workspace: its
// claim, service and route, which come first in a naive apply order, must
// not be created either.
func TestAdmissionRejectionMidSet(t *testing.T) {
	ns := uniqueNS("vap")
	blockImages(t)
	text := fmt.Sprintf(twoWorkspaces, ns)
	e, _ := engine(t)
	mustApply(t, e, desired(t, system(t, text)), apply.Options{})
	before := applytest.Snapshot(t, env.Config, ns)

	more := text + "  - name: gamma\n    repo: https://github.com/o/gamma\n    images: {opencode: blocked.example/opencode:1}\n"
	_, err := e.Apply(t.Context(), desired(t, system(t, more)), apply.Options{})
	var rej *apply.RejectedError
	if !errors.As(err, &rej) || len(rej.Rejected) != 1 || rej.Rejected[0].ID != "Deployment/"+ns+"/gamma" ||
		!strings.Contains(rej.Rejected[0].Reason, "spec.template.spec.containers[0].image") {
		t.Fatalf("want Deployment gamma rejected naming the image field, got %v", err)
	}
	applytest.Equal(t, "a rejected apply", before, applytest.Snapshot(t, env.Config, ns))
}

// blockImages installs a ValidatingAdmissionPolicy refusing Deployments
// with images from blocked.example, and waits until it is in force.
func blockImages(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	policy := &admissionv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "ocw-test-block-images"},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: new(admissionv1.Fail),
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
					Rule:       admissionv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments"}},
				},
			}}},
			Validations: []admissionv1.Validation{{
				Expression: "object.spec.template.spec.containers.all(c, !c.image.startsWith('blocked.example/'))",
				Message:    "spec.template.spec.containers[0].image: images from blocked.example are not allowed",
			}},
		},
	}
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "ocw-test-block-images"},
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        policy.Name,
			ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
		},
	}
	for _, o := range []client.Object{policy, binding} {
		if err := env.Client.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	probeNS, err := env.CreateNamespace(ctx, "vap-probe-", nil)
	if err != nil {
		t.Fatal(err)
	}
	probe := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: probeNS},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"a": "b"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "blocked.example/x"}}},
			},
		},
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := env.Client.Create(ctx, probe.DeepCopy(), client.DryRunAll)
		if err != nil && strings.Contains(err.Error(), "blocked.example") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("admission policy not in force after 30s (last: %v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// A Deployment whose pods Pod Security would refuse is refused up front,
// here in a namespace the run had to create to validate: the namespace is
// deleted again.
func TestPodSecurityRejectionRollsBackNewNamespace(t *testing.T) {
	ns := uniqueNS("psa")
	d := desired(t, system(t, fmt.Sprintf(twoWorkspaces, ns)))
	for _, o := range d.Objects {
		if o.GetKind() == "Deployment" && o.GetName() == "alpha" {
			containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			c := containers[0].(map[string]any)
			c["securityContext"] = map[string]any{"privileged": true}
			if err := unstructured.SetNestedSlice(o.Object, containers, "spec", "template", "spec", "containers"); err != nil {
				t.Fatal(err)
			}
		}
	}
	e, _ := engine(t)
	res, err := e.Apply(t.Context(), d, apply.Options{})
	var rej *apply.RejectedError
	if !errors.As(err, &rej) || len(rej.Rejected) != 1 || rej.Rejected[0].ID != "Deployment/"+ns+"/alpha" ||
		!strings.Contains(rej.Rejected[0].Reason, `privileged (container "opencode" must not set securityContext.privileged=true)`) {
		t.Fatalf("want Deployment alpha rejected by Pod Security, got %v", err)
	}
	if !strings.Contains(err.Error(), "namespace "+ns+", created to validate the objects in it, was deleted again") {
		t.Errorf("message does not mention the rollback: %v", err)
	}
	if len(res.Changes) != 0 {
		t.Errorf("changes reported: %v", res.Changes)
	}
	var nsObj corev1.Namespace
	err = env.Client.Get(t.Context(), client.ObjectKey{Name: ns}, &nsObj)
	if err == nil && nsObj.DeletionTimestamp == nil {
		t.Error("the namespace created for validation is still there")
	}
	state := applytest.Snapshot(t, env.Config, ns)
	delete(state, "Namespace/"+ns)
	if len(state) != 0 {
		t.Errorf("objects left behind: %v", state)
	}
}

func TestMissingCRDWritesNothing(t *testing.T) {
	ns := uniqueNS("nocrd")
	text := fmt.Sprintf(twoWorkspaces, ns) + "defaults:\n  certificate: {enabled: true}\n"
	e, _ := engine(t)
	res, err := e.Apply(t.Context(), desired(t, system(t, text)), apply.Options{})
	var rej *apply.RejectedError
	if !errors.As(err, &rej) || len(rej.Rejected) != 2 {
		t.Fatalf("want two Certificates rejected, got %v", err)
	}
	for _, r := range rej.Rejected {
		if !strings.HasPrefix(r.ID, "Certificate/"+ns+"/") || !strings.Contains(r.Reason, "does not serve cert-manager.io/v1 Certificate") {
			t.Errorf("rejection %+v", r)
		}
	}
	if res.Writes != 0 {
		t.Errorf("%d writes", res.Writes)
	}
	if s := applytest.Snapshot(t, env.Config, ns); len(s) != 0 {
		t.Errorf("objects created: %v", s)
	}
}

// A namespace ocw did not create is taken over only when asked: apply
// would enforce Pod Security "restricted" on everything running in it.
func TestNamespaceTakeoverNeedsFlag(t *testing.T) {
	ns := uniqueNS("adopt")
	if err := env.Client.Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "beta", Namespace: ns}}
	if err := env.Client.Create(t.Context(), sa); err != nil {
		t.Fatal(err)
	}
	d := desired(t, system(t, fmt.Sprintf(twoWorkspaces, ns)))
	e, log := engine(t)

	before := applytest.Snapshot(t, env.Config, ns)
	for _, opts := range []apply.Options{{}, {DryRun: true}} {
		res, err := e.Apply(t.Context(), d, opts)
		if err == nil || !strings.Contains(err.Error(), "namespace "+ns+" exists and ocw did not create it") ||
			!strings.Contains(err.Error(), "--adopt-namespace") {
			t.Fatalf("apply %+v into a foreign namespace: %v", opts, err)
		}
		if res.Writes != 0 {
			t.Errorf("%d writes while refusing", res.Writes)
		}
	}
	applytest.Equal(t, "a refused takeover", before, applytest.Snapshot(t, env.Config, ns))

	res := mustApply(t, e, d, apply.Options{AdoptNamespace: true})
	if a := actions(res)["ServiceAccount/"+ns+"/beta"]; a != apply.Configured {
		t.Errorf("existing ServiceAccount: %s", a)
	}
	if a := actions(res)["Namespace/"+ns]; a != apply.Configured {
		t.Errorf("existing Namespace: %s", a)
	}
	if !strings.Contains(log.String(), "note: ServiceAccount/"+ns+"/beta already existed and was not created by ocw") ||
		!strings.Contains(log.String(), "note: Namespace/"+ns+" already existed and was not created by ocw") {
		t.Errorf("adoption not noted:\n%s", log)
	}
	// Taken over: the namespace is ocw's from now on.
	res = mustApply(t, e, d, apply.Options{})
	onlyAction(t, res, apply.Unchanged)
}

// The engine holds the spec's line on system namespaces, even when asked
// to adopt.
func TestSystemNamespacesRefused(t *testing.T) {
	sys := system(t, fmt.Sprintf(twoWorkspaces, uniqueNS("sys")))
	for _, ns := range []string{"default", "kube-system"} {
		d := desired(t, sys)
		d.Namespace = ns
		for _, o := range d.Objects {
			if o.GetKind() == "Namespace" {
				o.SetName(ns)
			} else if o.GetNamespace() != "" {
				o.SetNamespace(ns)
			}
		}
		e, _ := engine(t)
		res, err := e.Apply(t.Context(), d, apply.Options{AdoptNamespace: true})
		if err == nil || !strings.Contains(err.Error(), "ocw never applies to it") {
			t.Errorf("apply into %s: %v", ns, err)
		}
		if res.Writes != 0 {
			t.Errorf("%s: %d writes", ns, res.Writes)
		}
	}
}

func TestWaitReportsProgressAndTimeout(t *testing.T) {
	ns := uniqueNS("wait")
	text := fmt.Sprintf(twoWorkspaces, ns)
	text = text[:strings.Index(text, "  - name: beta")]
	d := desired(t, system(t, text))
	e, _ := engine(t)
	mustApply(t, e, d, apply.Options{})
	// The timeout is far longer than a poll takes even on a loaded
	// machine; the cases that must time out end the wait themselves once a
	// poll has reported, as the timeout would.
	wait := func(ctx context.Context, progress io.Writer) error {
		return e.Wait(ctx, d, apply.WaitOptions{Timeout: time.Minute, Interval: 100 * time.Millisecond, Progress: progress})
	}

	// Nothing runs on envtest: the claim stays Pending, no pod appears.
	ctx, cancel := context.WithCancel(t.Context())
	var progress bytes.Buffer
	err := wait(ctx, cancelOn{&progress, "wait: alpha: PVC alpha Pending", cancel})
	cancel()
	if err == nil {
		t.Fatal("want a timeout, got none")
	}
	msg := err.Error()
	for _, want := range []string{"timed out after 1m0s", "alpha: PVC alpha Pending; Starting: no pod yet"} {
		if !strings.Contains(msg, want) {
			t.Errorf("timeout message lacks %q:\n%s", want, msg)
		}
	}
	if !strings.Contains(progress.String(), "wait: alpha: PVC alpha Pending") {
		t.Errorf("progress:\n%s", progress.String())
	}

	// The claim binds; the pod's clone step fails with a message.
	setStatus(t, &corev1.PersistentVolumeClaim{}, ns, "alpha", func(o client.Object) {
		o.(*corev1.PersistentVolumeClaim).Status.Phase = corev1.ClaimBound
	})
	pod := podFor(t, ns, "alpha")
	setStatus(t, pod, ns, pod.Name, func(o client.Object) {
		p := o.(*corev1.Pod)
		p.Status.Phase = corev1.PodPending
		p.Status.InitContainerStatuses = []corev1.ContainerStatus{{
			Name: model.ContainerClone, RestartCount: 2, Image: "x",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 3, Message: "clone of https://github.com/o/alpha failed: authentication failed; check Secret git key"}},
		}, {Name: model.ContainerSeedAuth, Image: "x", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}}}
	})
	// A crash loop may still recover: the wait goes on, reporting it.
	progress.Reset()
	want := "alpha: Failing: clone: failed (CrashLoopBackOff): clone of https://github.com/o/alpha failed: authentication failed"
	ctx, cancel = context.WithCancel(t.Context())
	err = wait(ctx, cancelOn{&progress, want, cancel})
	cancel()
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(progress.String(), want) {
		t.Errorf("want %q in progress and error; progress:\n%s\nerror: %v", want, progress.String(), err)
	}
	if strings.Contains(progress.String(), "PVC") {
		t.Errorf("a bound claim is still reported:\n%s", progress.String())
	}

	// The pod starts and the rollout completes.
	setStatus(t, pod, ns, pod.Name, func(o client.Object) {
		p := o.(*corev1.Pod)
		p.Status = statustest.HealthyStatus(system(t, text).Workspaces[0], time.Now())
	})
	setStatus(t, &appsv1.Deployment{}, ns, "alpha", func(o client.Object) {
		dep := o.(*appsv1.Deployment)
		dep.Status = appsv1.DeploymentStatus{ObservedGeneration: dep.Generation, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1,
			Conditions: []appsv1.DeploymentCondition{
				{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"},
				{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"},
			}}
	})
	progress.Reset()
	if err := wait(t.Context(), &progress); err != nil {
		t.Fatalf("wait: %v\n%s", err, progress.String())
	}
	if !strings.Contains(progress.String(), "wait: alpha: ready") || !strings.Contains(progress.String(), "wait: all ready") {
		t.Errorf("progress:\n%s", progress.String())
	}
}

// cancelOn writes to w and cancels once what was written holds s.
type cancelOn struct {
	w      *bytes.Buffer
	s      string
	cancel context.CancelFunc
}

func (c cancelOn) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if strings.Contains(c.w.String(), c.s) {
		c.cancel()
	}
	return n, err
}

// setStatus updates an object's status subresource, as a controller would.
func setStatus(t *testing.T, o client.Object, ns, name string, mutate func(client.Object)) {
	t.Helper()
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, o); err != nil {
		t.Fatal(err)
	}
	mutate(o)
	if err := env.Client.Status().Update(t.Context(), o); err != nil {
		t.Fatal(err)
	}
}

// podFor creates the pod the Deployment's ReplicaSet would (envtest runs
// no controllers), with the default ServiceAccount it needs.
func podFor(t *testing.T, ns, name string) *corev1.Pod {
	t.Helper()
	ctx := t.Context()
	if err := env.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	var dep appsv1.Deployment
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &dep); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-5d8f7c9b4-x2x7q", Namespace: ns, Labels: dep.Spec.Template.Labels},
		Spec:       dep.Spec.Template.Spec,
	}
	if err := env.Client.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	return pod
}
