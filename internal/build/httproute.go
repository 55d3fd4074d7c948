package build

import (
	"maps"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/opencode-workspaces/ocw/internal/model"
)

// HTTPRoute publishes the workspace on its hostname through the Gateway.
// TLS is terminated by the Gateway's listener (the wildcard certificate).
func HTTPRoute(ws model.Workspace) *gatewayv1.HTTPRoute {
	meta := objectMeta(ws, ws.Name)
	if len(ws.ExternalDNS) > 0 {
		meta.Annotations = maps.Clone(ws.ExternalDNS)
	}
	parent := gatewayv1.ParentReference{
		Name:      gatewayv1.ObjectName(ws.Gateway.Name),
		Namespace: new(gatewayv1.Namespace(ws.Gateway.Namespace)),
	}
	if ws.Gateway.SectionName != "" {
		parent.SectionName = new(gatewayv1.SectionName(ws.Gateway.SectionName))
	}
	return &gatewayv1.HTTPRoute{
		TypeMeta:   typeMeta("gateway.networking.k8s.io/v1", "HTTPRoute"),
		ObjectMeta: meta,
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{parent}},
			Hostnames:       []gatewayv1.Hostname{gatewayv1.Hostname(ws.Host)},
			Rules: []gatewayv1.HTTPRouteRule{{
				Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{
					Type: new(gatewayv1.PathMatchPathPrefix), Value: new("/"),
				}}},
				BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
					BackendObjectReference: gatewayv1.BackendObjectReference{
						Name: gatewayv1.ObjectName(ws.Name),
						Port: new(gatewayv1.PortNumber(model.Port)),
					},
				}}},
				// OpenCode streams events over SSE for as long as the UI is
				// open; a finite request timeout (Envoy: 15 s) cuts them.
				Timeouts: &gatewayv1.HTTPRouteTimeouts{Request: new(gatewayv1.Duration("0s"))},
			}},
		},
	}
}
