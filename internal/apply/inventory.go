package apply

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/fluxcd/cli-utils/pkg/object"
	ssautil "github.com/fluxcd/pkg/ssa/utils"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/opencode-workspaces/ocw/internal/model"
)

// The inventory is a ConfigMap in the spec's namespace listing every object
// ocw apply has applied there; prune considers only these (see trust.go).
//
//	data:
//	  objects: |
//	    apps/v1 Deployment dev tools
//	    rbac.authorization.k8s.io/v1 ClusterRoleBinding - ocw:dev:monorepo:view
//
// One object per line, "apiVersion kind namespace name", "-" for no
// namespace (never a valid namespace name), sorted: readable with kubectl
// and stable, so an unchanged inventory is never rewritten.
const (
	InventoryName = "ocw-inventory"
	inventoryKey  = "objects"
	inventoryNote = "ocw.dev/inventory"
)

// ref identifies an object independently of its API version, so an
// object whose apiVersion moves on is still the same object. Output names
// it as ssa does: Kind/namespace/name, or Kind/name.
type ref = object.ObjMetadata

func id(r ref) string { return ssautil.FmtObjMetadata(r) }

// inventory maps each object to the apiVersion to reach it by.
type inventory map[ref]string

func (inv inventory) lines() string {
	var ls []string
	for r, apiVersion := range inv {
		ns := cmp.Or(r.Namespace, "-")
		ls = append(ls, strings.Join([]string{apiVersion, r.GroupKind.Kind, ns, r.Name}, " ")+"\n")
	}
	slices.Sort(ls)
	return strings.Join(ls, "")
}

// parseInventory reads the ConfigMap's data. A damaged inventory is an
// error, never guessed around: pruning from a wrong list deletes the
// wrong things.
func parseInventory(cm *unstructured.Unstructured) (inventory, error) {
	inv := inventory{}
	data, _, _ := unstructured.NestedString(cm.Object, "data", inventoryKey)
	for i, l := range strings.Split(data, "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		f := strings.Fields(l)
		// Printable ASCII only: entries end up in apply's output.
		if len(f) != 4 || strings.IndexFunc(l, func(r rune) bool { return r != ' ' && (r < '!' || r > '~') }) >= 0 {
			return nil, fmt.Errorf("inventory ConfigMap %s/%s, key %s, line %d: want \"apiVersion kind namespace name\", got %q (fix or delete the ConfigMap; ocw then prunes nothing it applied before)",
				cm.GetNamespace(), cm.GetName(), inventoryKey, i+1, l)
		}
		gv, err := schema.ParseGroupVersion(f[0])
		if err != nil {
			return nil, fmt.Errorf("inventory ConfigMap %s/%s, line %d: %w", cm.GetNamespace(), cm.GetName(), i+1, err)
		}
		ns := f[2]
		if ns == "-" {
			ns = ""
		}
		inv[ref{GroupKind: gv.WithKind(f[1]).GroupKind(), Namespace: ns, Name: f[3]}] = f[0]
	}
	return inv, nil
}

// inventoryObject is the ConfigMap holding inv.
func inventoryObject(namespace string, inv inventory) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "ConfigMap",
		"metadata": map[string]any{
			"name":      InventoryName,
			"namespace": namespace,
			"labels":    map[string]any{model.LabelManagedBy: model.ManagedBy},
			"annotations": map[string]any{
				inventoryNote: "objects ocw apply manages in this namespace; ocw prunes only these",
			},
		},
		"data": map[string]any{inventoryKey: inv.lines()},
	}}
}
