package apply

import (
	"maps"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestInventoryRoundTrip(t *testing.T) {
	inv := inventory{}
	inv[ref{GroupKind: schema.GroupKind{Group: "apps", Kind: "Deployment"}, Namespace: "dev", Name: "tools"}] = "apps/v1"
	inv[ref{GroupKind: schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}, Name: "ocw:dev:monorepo:view"}] = "rbac.authorization.k8s.io/v1"
	inv[ref{GroupKind: schema.GroupKind{Kind: "Namespace"}, Name: "dev"}] = "v1"
	cm := inventoryObject("dev", inv)
	want := "apps/v1 Deployment dev tools\nrbac.authorization.k8s.io/v1 ClusterRoleBinding - ocw:dev:monorepo:view\nv1 Namespace - dev\n"
	if got, _, _ := unstructured.NestedString(cm.Object, "data", "objects"); got != want {
		t.Errorf("inventory data:\n%s\nwant:\n%s", got, want)
	}
	back, err := parseInventory(cm)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(back, inv) {
		t.Errorf("round trip: %v != %v", back, inv)
	}
}

func TestDamagedInventoryIsAnError(t *testing.T) {
	cm := inventoryObject("dev", inventory{})
	if err := unstructured.SetNestedField(cm.Object, "apps/v1 Deployment dev\n", "data", "objects"); err != nil {
		t.Fatal(err)
	}
	_, err := parseInventory(cm)
	if err == nil || !strings.Contains(err.Error(), "line 1") || !strings.Contains(err.Error(), "fix or delete the ConfigMap") {
		t.Errorf("got %v", err)
	}
}

// Entries end up in apply's output: a terminal escape in one is damage,
// not something to print.
func TestInventoryRefusesControlCharacters(t *testing.T) {
	cm := inventoryObject("dev", inventory{})
	if err := unstructured.SetNestedField(cm.Object, "apps/v1 Deployment dev \x1b]0;owned\a\n", "data", "objects"); err != nil {
		t.Fatal(err)
	}
	_, err := parseInventory(cm)
	if err == nil || !strings.Contains(err.Error(), `\x1b]0;owned\a`) {
		t.Errorf("got %v", err)
	}
}

func TestChangeLines(t *testing.T) {
	for _, c := range []struct {
		c    Change
		want string
	}{
		{Change{ID: "Deployment/opencode/flux", Action: Configured}, "Deployment/opencode/flux configured"},
		{Change{ID: "Deployment/opencode/flux", Action: Created, DryRun: true}, "Deployment/opencode/flux created (server dry run)"},
		{Change{ID: "Service/opencode/ha", Action: Stale}, "Service/opencode/ha is no longer in the spec: rerun with --prune to delete it"},
		{Change{ID: "PersistentVolumeClaim/opencode/ha", Action: KeptData}, "PersistentVolumeClaim/opencode/ha is no longer in the spec and holds data: kept (--prune --purge-data deletes it)"},
	} {
		if got := c.c.String(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}
