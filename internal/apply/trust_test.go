package apply

import (
	"strings"
	"testing"

	"github.com/fluxcd/cli-utils/pkg/object"
	ssautil "github.com/fluxcd/pkg/ssa/utils"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/opencode-workspaces/ocw/internal/model"
)

// Every kind the builders emit for ocw apply is one prune may consider,
// with the right scope: a kind added to the builders and not here would
// never be pruned.
func TestGeneratedKindsCoverTheBuilders(t *testing.T) {
	seen := map[string]bool{}
	for _, file := range []string{"../../examples/seed.yaml", "../../examples/everything.yaml"} {
		sys, err := model.LoadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Build(sys)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range d.Objects {
			gk := o.GroupVersionKind().GroupKind()
			seen[gk.String()] = true
			namespaced, ok := generatedKinds[gk]
			if !ok {
				t.Errorf("%s: kind %s is not in generatedKinds", ssautil.FmtUnstructured(o), gk)
				continue
			}
			if namespaced != (o.GetNamespace() != "") {
				t.Errorf("%s: generatedKinds says namespaced=%v", ssautil.FmtUnstructured(o), namespaced)
			}
			if why := trustEntry(sys.Namespace, object.UnstructuredToObjMetadata(o)); why != "" {
				t.Errorf("%s: an object ocw generates is not trusted: %s", ssautil.FmtUnstructured(o), why)
			}
		}
	}
	for gk := range generatedKinds {
		if !seen[gk.String()] {
			t.Errorf("generatedKinds lists %s, which no example produces: drop it or cover it", gk)
		}
	}
}

func TestTrustEntry(t *testing.T) {
	crb := func(ns, name string) ref {
		return ref{GroupKind: schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}, Namespace: ns, Name: name}
	}
	for _, c := range []struct {
		en   ref
		want string // "" = trusted
	}{
		{ref{GroupKind: schema.GroupKind{Group: "apps", Kind: "Deployment"}, Namespace: "dev", Name: "tools"}, ""},
		{ref{GroupKind: schema.GroupKind{Group: "apps", Kind: "Deployment"}, Namespace: "prod", Name: "tools"}, "it is not in namespace dev"},
		{ref{GroupKind: schema.GroupKind{Group: "apps", Kind: "Deployment"}, Name: "tools"}, "it is not in namespace dev"},
		{ref{GroupKind: schema.GroupKind{Kind: "Secret"}, Namespace: "dev", Name: "opencode-server-auth"}, `ocw apply never creates a Secret (group "")`},
		{ref{GroupKind: schema.GroupKind{Kind: "ConfigMap"}, Namespace: "dev", Name: "ocw-inventory"}, `ocw apply never creates a ConfigMap (group "")`},
		{ref{GroupKind: schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}, Name: "dev-tools-view"}, "ocw apply never creates a ClusterRole"},
		{ref{GroupKind: schema.GroupKind{Kind: "Namespace"}, Name: "dev"}, ""},
		{ref{GroupKind: schema.GroupKind{Kind: "Namespace"}, Name: "kube-system"}, "it is not namespace dev"},
		{crb("", "ocw:dev:tools:view"), ""},
		// Shaped like a generated name; only the owner label tells.
		{crb("", "ocw:dev:x-tools:view"), ""},
		{crb("", "cluster-admin"), "ocw names no ClusterRoleBinding of namespace dev that way"},
		{crb("", "ocw:dev::view"), "ocw names no ClusterRoleBinding of namespace dev that way"},
		{crb("", "ocw:devx:tools:view"), "ocw names no ClusterRoleBinding of namespace dev that way"},
		{crb("dev", "ocw:dev:tools:view"), "a ClusterRoleBinding has no namespace"},
	} {
		if got := trustEntry("dev", c.en); got != c.want && !(c.want != "" && strings.HasPrefix(got, c.want)) {
			t.Errorf("%s: got %q, want %q", id(c.en), got, c.want)
		}
	}
	// Every name ocw generates for a namespace is trusted, and nothing else.
	for _, c := range []struct{ ns, ws string }{{"dev", "tools"}, {"dev", "x-y"}, {"dev-x", "y"}, {"a", "view"}} {
		name := model.Workspace{Namespace: c.ns, Name: c.ws}.ClusterBindingName()
		if why := trustEntry(c.ns, crb("", name)); why != "" {
			t.Errorf("%s in %s: %s", name, c.ns, why)
		}
	}
	for _, name := range []string{"ocw:dev:view", "ocw:dev::view", "ocw:devx:tools:view", "ocw:dev-x:y:view", "ocw:dev:tools",
		"ocw:dev:Tools:view", "cluster-admin", "dev-tools-view", "ocw:dev:tools:view:view", "ocw:dev:a:b:view"} {
		if trustEntry("dev", crb("", name)) == "" {
			t.Errorf("%s: ocw does not generate it for dev, yet it is trusted", name)
		}
	}
}

func TestOwnedBy(t *testing.T) {
	obj := func(kind, ns string, labels map[string]string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetKind(kind)
		u.SetNamespace(ns)
		u.SetLabels(labels)
		return u
	}
	if why := ownedBy("dev", obj("ClusterRoleBinding", "", map[string]string{model.LabelNamespace: "dev"})); why != "" {
		t.Errorf("own binding refused: %s", why)
	}
	if why := ownedBy("dev", obj("ClusterRoleBinding", "", map[string]string{model.LabelNamespace: "dev-x"})); why != `its label ocw.dev/namespace is "dev-x", not "dev"` {
		t.Errorf("another namespace's binding: %q", why)
	}
	if why := ownedBy("dev", obj("ClusterRoleBinding", "", nil)); why == "" {
		t.Error("a binding without owner label is trusted")
	}
	if why := ownedBy("dev", obj("Deployment", "dev", nil)); why != "" {
		t.Errorf("namespaced object: %s", why)
	}
}
