package status

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/opencode-workspaces/ocw/internal/model"
)

// RouteStatus is the HTTPRoute's acceptance by its Gateway.
type RouteStatus struct {
	Exists bool `json:"exists"`
	// Accepted/ResolvedRefs are nil until a Gateway controller reports.
	Accepted     *bool `json:"accepted,omitempty"`
	ResolvedRefs *bool `json:"resolvedRefs,omitempty"`
	// Reason is the controller's reason for the first of Accepted and
	// ResolvedRefs that is not True (a standard Gateway API reason such
	// as NoMatchingParent or RefNotPermitted).
	Reason string `json:"reason,omitempty"`
}

// Cell is the ROUTE column: accepted, refused (not Accepted) or unresolved
// (Accepted, ResolvedRefs not True) with the reason, pending until a
// controller reports, missing without an HTTPRoute.
func (rs RouteStatus) Cell() string {
	switch {
	case !rs.Exists:
		return "missing"
	case rs.Accepted == nil:
		return "pending"
	case !*rs.Accepted:
		return "refused: " + dash(rs.Reason)
	case rs.ResolvedRefs != nil && !*rs.ResolvedRefs:
		return "unresolved: " + dash(rs.Reason)
	}
	return "accepted"
}

func routeStatus(r *gatewayv1.HTTPRoute, ws *model.Workspace) RouteStatus {
	rs := RouteStatus{Exists: true}
	for _, p := range r.Status.Parents {
		if ws != nil && !SameParent(p.ParentRef, r.Namespace, ws.Gateway) {
			continue
		}
		var resolvedReason string
		for _, c := range p.Conditions {
			v := c.Status == metav1.ConditionTrue
			switch gatewayv1.RouteConditionType(c.Type) {
			case gatewayv1.RouteConditionAccepted:
				rs.Accepted = &v
				if !v {
					rs.Reason = c.Reason
				}
			case gatewayv1.RouteConditionResolvedRefs:
				rs.ResolvedRefs = &v
				if !v {
					resolvedReason = c.Reason
				}
			}
		}
		if rs.Reason == "" {
			rs.Reason = resolvedReason
		}
		break
	}
	return rs
}

// SameParent reports whether a route status parent is the spec's Gateway.
func SameParent(p gatewayv1.ParentReference, routeNS string, g model.Gateway) bool {
	ns := routeNS
	if p.Namespace != nil {
		ns = string(*p.Namespace)
	}
	if string(p.Name) != g.Name || ns != g.Namespace {
		return false
	}
	if g.SectionName != "" && p.SectionName != nil && string(*p.SectionName) != g.SectionName {
		return false
	}
	return true
}
