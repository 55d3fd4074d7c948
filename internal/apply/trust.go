package apply

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/opencode-workspaces/ocw/internal/model"
)

// Anyone who may edit ConfigMaps in the namespace may edit the inventory,
// so prune takes no entry on trust (docs/design.md, "Pruning trusts only
// what ocw could have written"): trustEntry, then ownedBy on the live
// object.

// generatedKinds are the kinds ocw's builders produce for ocw apply, and
// whether each is namespaced. A kind missing here is never pruned; the
// tests check every kind the builders emit is listed.
var generatedKinds = map[schema.GroupKind]bool{
	{Group: "", Kind: "Namespace"}:                                   false,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}: false,
	{Group: "", Kind: "PersistentVolumeClaim"}:                       true,
	{Group: "", Kind: "Service"}:                                     true,
	{Group: "", Kind: "ServiceAccount"}:                              true,
	{Group: "apps", Kind: "Deployment"}:                              true,
	{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}:        true,
	{Group: "gateway.networking.k8s.io", Kind: "HTTPRoute"}:          true,
	{Group: "gateway.networking.k8s.io", Kind: "ReferenceGrant"}:     true,
	{Group: "cert-manager.io", Kind: "Certificate"}:                  true,
	{Group: "volsync.backube", Kind: "ReplicationSource"}:            true,
	{Group: "external-secrets.io", Kind: "ExternalSecret"}:           true,
}

// trustEntry says why r cannot be an object ocw apply wrote for
// namespace ns, or "" when it can be: a generated kind, in ns if
// namespaced, and if cluster-scoped the namespace itself or a name ocw
// generates for ns.
func trustEntry(ns string, r ref) string {
	gk := r.GroupKind
	namespaced, known := generatedKinds[gk]
	switch {
	case !known:
		return fmt.Sprintf("ocw apply never creates a %s (group %q)", gk.Kind, gk.Group)
	case namespaced && r.Namespace != ns:
		return "it is not in namespace " + ns
	case !namespaced && r.Namespace != "":
		return "a " + gk.Kind + " has no namespace"
	case gk == schema.GroupKind{Kind: "Namespace"}:
		if r.Name != ns {
			return "it is not namespace " + ns
		}
	case gk.Kind == "ClusterRoleBinding":
		// model.Workspace.ClusterBindingName, inverted; the live object's
		// owner label is checked too (ownedBy).
		ws, prefixed := strings.CutPrefix(r.Name, model.ClusterNamePrefix(ns))
		ws, view := strings.CutSuffix(ws, ":view")
		if !prefixed || !view || len(validation.IsDNS1123Label(ws)) > 0 {
			return "ocw names no ClusterRoleBinding of namespace " + ns + " that way"
		}
	}
	return ""
}

// trustedInventory reads the namespace's inventory and keeps the entries
// prune may consider; each other one becomes a Refused change.
func (e *Engine) trustedInventory(ctx context.Context, ns string, exists, dryRun bool) (inventory, []Change, error) {
	if !exists {
		return inventory{}, nil, nil
	}
	cm, err := e.get(ctx, inventoryObject(ns, nil))
	if err != nil || cm == nil {
		return inventory{}, nil, err
	}
	inv, err := parseInventory(cm)
	if err != nil {
		return nil, nil, err
	}
	var refused []Change
	for r := range inv {
		if why := trustEntry(ns, r); why != "" {
			refused = append(refused, Change{ID: id(r), Action: Refused, DryRun: dryRun, Reason: why})
			delete(inv, r)
		}
	}
	slices.SortFunc(refused, func(a, b Change) int { return strings.Compare(a.ID, b.ID) })
	return inv, refused, nil
}

// ownedBy says why the live cluster-scoped object live is not namespace
// ns's, or "" when it is: its name alone proves nothing (names of
// different namespaces can collide), its owner label does.
func ownedBy(ns string, live *unstructured.Unstructured) string {
	if live.GetNamespace() != "" || live.GetKind() == "Namespace" {
		return ""
	}
	if got := live.GetLabels()[model.LabelNamespace]; got != ns {
		return fmt.Sprintf("its label %s is %q, not %q", model.LabelNamespace, got, ns)
	}
	return ""
}
