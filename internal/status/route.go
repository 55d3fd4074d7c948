package status

import (
	"cmp"
	"slices"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/opencode-workspaces/ocw/internal/model"
)

// RouteStatus is the HTTPRoute's acceptance by its Gateway.
type RouteStatus struct {
	Exists bool `json:"exists"`
	// Accepted/ResolvedRefs are nil until a Gateway controller reports.
	Accepted     *bool `json:"accepted,omitempty"`
	ResolvedRefs *bool `json:"resolvedRefs,omitempty"`
	// Reason is that of the first of Accepted and ResolvedRefs not True
	// (NoMatchingParent, RefNotPermitted...).
	Reason string `json:"reason,omitempty"`
}

// Cell is the ROUTE column: accepted, refused (not Accepted), unresolved
// (ResolvedRefs not True), pending (no controller report) or missing.
func (rs RouteStatus) Cell() string {
	switch {
	case !rs.Exists:
		return "missing"
	case rs.Accepted == nil:
		return "pending"
	case !*rs.Accepted:
		return "refused: " + cmp.Or(rs.Reason, "-")
	case rs.ResolvedRefs != nil && !*rs.ResolvedRefs:
		return "unresolved: " + cmp.Or(rs.Reason, "-")
	}
	return "accepted"
}

func routeStatus(r *gatewayv1.HTTPRoute, ws *model.Workspace) RouteStatus {
	rs := RouteStatus{Exists: true}
	p := RouteParent(r, ws)
	if p == nil {
		return rs
	}
	if c := meta.FindStatusCondition(p.Conditions, string(gatewayv1.RouteConditionAccepted)); c != nil {
		rs.Accepted = new(c.Status == metav1.ConditionTrue)
		if !*rs.Accepted {
			rs.Reason = c.Reason
		}
	}
	if c := meta.FindStatusCondition(p.Conditions, string(gatewayv1.RouteConditionResolvedRefs)); c != nil {
		rs.ResolvedRefs = new(c.Status == metav1.ConditionTrue)
		if !*rs.ResolvedRefs && rs.Reason == "" {
			rs.Reason = c.Reason
		}
	}
	return rs
}

// RouteParent is the route's status from the spec's Gateway (for a
// workspace not in the spec, ws nil: the first), or nil.
func RouteParent(r *gatewayv1.HTTPRoute, ws *model.Workspace) *gatewayv1.RouteParentStatus {
	i := slices.IndexFunc(r.Status.Parents, func(p gatewayv1.RouteParentStatus) bool {
		if ws == nil {
			return true
		}
		ref, g := p.ParentRef, ws.Gateway
		return string(ref.Name) == g.Name && string(ptr.Deref(ref.Namespace, gatewayv1.Namespace(r.Namespace))) == g.Namespace &&
			(g.SectionName == "" || ref.SectionName == nil || string(*ref.SectionName) == g.SectionName)
	})
	if i < 0 {
		return nil
	}
	return &r.Status.Parents[i]
}
