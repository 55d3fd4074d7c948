package apply

import (
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/opencode-workspaces/ocw/internal/build"
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
		if _, ok := build.ClusterRoleBindingWorkspace(ns, r.Name); !ok {
			return "ocw names no ClusterRoleBinding of namespace " + ns + " that way"
		}
	}
	return ""
}

// trusted splits inv into the entries prune may consider and a Refused
// change for each other one.
func trusted(ns string, inv inventory, dryRun bool) (inventory, []Change) {
	ok := inventory{}
	var refused []Change
	for r, apiVersion := range inv {
		if why := trustEntry(ns, r); why != "" {
			refused = append(refused, Change{ID: id(r), Action: Refused, DryRun: dryRun, Reason: why})
			continue
		}
		ok[r] = apiVersion
	}
	sort.Slice(refused, func(i, j int) bool { return refused[i].ID < refused[j].ID })
	return ok, refused
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
