package doctor

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/opencode-workspaces/ocw/internal/build"
	"github.com/opencode-workspaces/ocw/internal/status"
	"github.com/opencode-workspaces/ocw/internal/status/statustest"
)

// The route and Gateway rules over in-memory objects shaped as Traefik
// v3.6 and Envoy Gateway write them (test/gateway checks the Traefik shapes
// against the real binary).

func cnd(typ, st, reason, msg string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: metav1.ConditionStatus(st), Reason: reason, Message: msg}
}

func httpsListener(host, certNS string) gatewayv1.Listener {
	l := gatewayv1.Listener{
		Name: "https", Protocol: gatewayv1.HTTPSProtocolType, Port: 443, Hostname: new(gatewayv1.Hostname(host)),
		TLS:           &gatewayv1.ListenerTLSConfig{CertificateRefs: []gatewayv1.SecretObjectReference{{Name: "wildcard-tls"}}},
		AllowedRoutes: &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: new(gatewayv1.NamespacesFromAll)}},
	}
	if certNS != "" {
		l.TLS.CertificateRefs[0].Namespace = new(gatewayv1.Namespace(certNS))
	}
	return l
}

var (
	listenerOK = []metav1.Condition{cnd("Accepted", "True", "Accepted", ""), cnd("ResolvedRefs", "True", "ResolvedRefs", ""), cnd("Programmed", "True", "Programmed", "")}
	gatewayOK  = []metav1.Condition{cnd("Accepted", "True", "Accepted", ""), cnd("Programmed", "True", "Programmed", "")}
	refsOK     = cnd("ResolvedRefs", "True", "ResolvedRefs", "")
)

func TestRouteRules(t *testing.T) {
	const certGrant = `create a ReferenceGrant in namespace certs with from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: gw}] and to: [{group: "", kind: Secret, name: wildcard-tls}]`
	for _, tc := range []struct {
		name string
		// section is the spec's gateway.sectionName.
		section   string
		listeners []gatewayv1.Listener
		// gwConds and listenerConds are the Gateway's status (listenerConds
		// for its first listener).
		gwConds, listenerConds []metav1.Condition
		routeConds             []metav1.Condition
		// backendNS moves the route's backend; noDeployment drops it from
		// the snapshot.
		backendNS    string
		noDeployment bool
		// want: verdict and a part of fix (of message for ok) for the
		// gateway and route checks; wantMsg: a part of the route's message.
		gateway, route       Verdict
		gatewayFix, routeFix string
		wantMsg              string
	}{{
		name: "accepted", listeners: []gatewayv1.Listener{httpsListener("*.example.test", "")},
		gwConds: gatewayOK, listenerConds: listenerOK,
		routeConds: []metav1.Condition{cnd("Accepted", "True", "Accepted", ""), refsOK},
		gateway:    OK, gatewayFix: "Gateway gw/gw is Programmed; listener(s) https",
		route: OK, routeFix: "is accepted by Gateway gw/gw and resolves; https://app.example.test/",
	}, {
		name: "wrong section name", section: "websecure", listeners: []gatewayv1.Listener{httpsListener("*.example.test", "")},
		gwConds: gatewayOK, listenerConds: listenerOK,
		routeConds: []metav1.Condition{cnd("Accepted", "False", "NoMatchingParent", ""), refsOK},
		gateway:    Fail, gatewayFix: "set gateway.sectionName to one of: https",
		route: Fail, routeFix: "set gateway.sectionName to one of: https",
		wantMsg: `Accepted=False: NoMatchingParent; no listener named "websecure" (listeners: https)`,
	}, {
		name: "missing listener",
		listeners: []gatewayv1.Listener{{Name: "http", Protocol: gatewayv1.HTTPProtocolType, Port: 80,
			Hostname: new(gatewayv1.Hostname("*.example.test"))}},
		gwConds: gatewayOK, listenerConds: listenerOK,
		routeConds: []metav1.Condition{cnd("Accepted", "False", "NoMatchingParent", ""), refsOK},
		gateway:    Fail, gatewayFix: "add an HTTPS listener named https with hostname *.example.test and a certificate for it to Gateway gw/gw",
		route: Fail, routeFix: "add an HTTPS listener named https with hostname *.example.test",
		wantMsg: "no HTTPS listener for app.example.test",
	}, {
		name: "hostname mismatch", listeners: []gatewayv1.Listener{httpsListener("*.elsewhere.test", "")},
		gwConds: gatewayOK, listenerConds: listenerOK,
		routeConds: []metav1.Condition{cnd("Accepted", "False", "NoMatchingListenerHostname", ""), refsOK},
		gateway:    Fail, gatewayFix: "use a host under elsewhere.test",
		route: Fail, routeFix: "host app.example.test is outside listener https's hostname *.elsewhere.test",
	}, {
		// Traefik: the listener's ResolvedRefs, the Gateway Accepted=False
		// without Programmed, the route NoMatchingParent.
		name: "certificate without ReferenceGrant, Traefik", listeners: []gatewayv1.Listener{httpsListener("*.example.test", "certs")},
		gwConds:       []metav1.Condition{cnd("Accepted", "False", "ListenersNotValid", "All Listeners must be valid")},
		listenerConds: []metav1.Condition{cnd("ResolvedRefs", "False", "RefNotPermitted", "Cannot load CertificateRef certs/wildcard-tls: missing ReferenceGrant")},
		routeConds:    []metav1.Condition{cnd("Accepted", "False", "NoMatchingParent", ""), refsOK},
		gateway:       Fail, gatewayFix: certGrant,
		route: Fail, routeFix: certGrant,
		wantMsg: "NoMatchingParent; listener https: ResolvedRefs=False: RefNotPermitted: Cannot load CertificateRef certs/wildcard-tls",
	}, {
		// Envoy Gateway: Programmed=False first, the cause in
		// ResolvedRefs; a route reason of its own.
		name: "certificate without ReferenceGrant, Envoy Gateway", listeners: []gatewayv1.Listener{httpsListener("*.example.test", "certs")},
		gwConds: gatewayOK,
		listenerConds: []metav1.Condition{cnd("Programmed", "False", "Invalid", "Listener is invalid, see other Conditions for details."),
			cnd("Accepted", "True", "Accepted", ""), cnd("ResolvedRefs", "False", "RefNotPermitted", "Certificate ref to secret certs/wildcard-tls not permitted by any ReferenceGrant.")},
		routeConds: []metav1.Condition{cnd("Accepted", "False", "NoReadyListeners", "There are no ready listeners for this parent ref"), refsOK},
		gateway:    Fail, gatewayFix: certGrant,
		route: Fail, routeFix: certGrant,
		wantMsg: "listener https: ResolvedRefs=False: RefNotPermitted",
	}, {
		// Traefik: a listener port without an entryPoint; the route's
		// reason would point at allowedRoutes.
		name: "listener port unavailable, Traefik", listeners: []gatewayv1.Listener{httpsListener("*.example.test", "")},
		gwConds:       []metav1.Condition{cnd("Accepted", "False", "ListenersNotValid", "All Listeners must be valid")},
		listenerConds: []metav1.Condition{cnd("Accepted", "False", "PortUnavailable", "Cannot find entryPoint for Gateway: no matching entryPoint for port 443 and protocol \"HTTPS\"")},
		routeConds:    []metav1.Condition{cnd("Accepted", "False", "NotAllowedByListeners", ""), refsOK},
		gateway:       Fail, gatewayFix: "the Gateway's controller cannot serve port 443 (Traefik: it needs an entryPoint on that port)",
		route: Fail, routeFix: "cannot serve port 443",
		wantMsg: "NotAllowedByListeners; listener https: Accepted=False: PortUnavailable",
	}, {
		name: "routes from other namespaces refused", listeners: []gatewayv1.Listener{httpsListener("*.example.test", "")},
		gwConds: gatewayOK, listenerConds: listenerOK,
		routeConds: []metav1.Condition{cnd("Accepted", "False", "NotAllowedByListeners", ""), refsOK},
		gateway:    OK, gatewayFix: "is Programmed",
		route: Fail, routeFix: "set its allowedRoutes.namespaces.from to All",
	}, {
		name: "certificate missing", listeners: []gatewayv1.Listener{httpsListener("*.example.test", "")},
		gwConds: []metav1.Condition{cnd("Accepted", "False", "ListenersNotValid", "All Listeners must be valid")},
		listenerConds: []metav1.Condition{cnd("ResolvedRefs", "False", "InvalidCertificateRef", "Error while retrieving certificate: secret gw/wildcard-tls does not exist"),
			cnd("Programmed", "False", "Invalid", "Error while retrieving certificate")},
		routeConds: []metav1.Condition{cnd("Accepted", "False", "NoMatchingParent", ""), refsOK},
		gateway:    Fail, gatewayFix: "Secret gw/wildcard-tls must exist and be a kubernetes.io/tls Secret",
		route: Fail, routeFix: "Secret gw/wildcard-tls must exist",
	}, {
		name: "backend without ReferenceGrant", listeners: []gatewayv1.Listener{httpsListener("*.example.test", "")},
		gwConds: gatewayOK, listenerConds: listenerOK, backendNS: "backends",
		routeConds: []metav1.Condition{cnd("Accepted", "True", "Accepted", ""),
			cnd("ResolvedRefs", "False", "RefNotPermitted", "Cannot load HTTPBackendRef core/Service/backends/app: missing ReferenceGrant")},
		gateway: OK, gatewayFix: "is Programmed",
		route: Fail, routeFix: `create a ReferenceGrant in namespace backends with from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: ns}] and to: [{group: "", kind: Service, name: app}]; or point the route back at Service app in ns`,
		wantMsg: "ResolvedRefs=False: RefNotPermitted",
	}, {
		name: "no endpoints while starting", listeners: []gatewayv1.Listener{httpsListener("*.example.test", "")},
		gwConds: gatewayOK, listenerConds: listenerOK,
		routeConds: []metav1.Condition{cnd("Accepted", "True", "Accepted", ""),
			cnd("ResolvedRefs", "False", "BackendNotFound", "Cannot load HTTPBackendRef ns/app: endpointslices not found")},
		gateway: OK, gatewayFix: "is Programmed",
		route: Fail, routeFix: "Service app has no ready endpoints while the workspace is Starting",
	}, {
		name: "backend Service missing", listeners: []gatewayv1.Listener{httpsListener("*.example.test", "")},
		gwConds: gatewayOK, listenerConds: listenerOK, noDeployment: true,
		routeConds: []metav1.Condition{cnd("Accepted", "True", "Accepted", ""),
			cnd("ResolvedRefs", "False", "BackendNotFound", "getting service: not found")},
		gateway: OK, gatewayFix: "is Programmed",
		route: Fail, routeFix: "Service app is missing: ocw apply -f ws.yaml",
	}, {
		name: "Gateway not accepted", listeners: []gatewayv1.Listener{httpsListener("*.example.test", "")},
		gwConds:    []metav1.Condition{cnd("Accepted", "False", "InvalidParameters", "parametersRef not found")},
		routeConds: []metav1.Condition{cnd("Accepted", "False", "NoMatchingParent", ""), refsOK},
		gateway:    Fail, gatewayFix: "check that GatewayClass test is accepted",
		route: Fail, routeFix: "no listener of Gateway gw/gw takes the route",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			section := tc.section
			if section == "" {
				section = "https"
			}
			doc := strings.NewReplacer("GWNS", "gw", "NS", "ns", "SC", "sc", "sectionName: https", "sectionName: "+section).Replace(baseSpec)
			sys := statustest.System(t, doc)
			ws := sys.Workspaces[0]
			gw := &gatewayv1.Gateway{
				ObjectMeta: metav1.ObjectMeta{Name: "gw", Namespace: "gw"},
				Spec:       gatewayv1.GatewaySpec{GatewayClassName: "test", Listeners: tc.listeners},
				Status:     gatewayv1.GatewayStatus{Conditions: tc.gwConds},
			}
			if tc.listenerConds != nil {
				gw.Status.Listeners = []gatewayv1.ListenerStatus{{Name: tc.listeners[0].Name, Conditions: tc.listenerConds}}
			}
			route := build.HTTPRoute(ws)
			if tc.backendNS != "" {
				route.Spec.Rules[0].BackendRefs[0].Namespace = new(gatewayv1.Namespace(tc.backendNS))
			}
			route.Status.Parents = []gatewayv1.RouteParentStatus{{ParentRef: route.Spec.ParentRefs[0], Conditions: tc.routeConds}}
			snap := &status.Snapshot{Namespace: "ns", Routes: []gatewayv1.HTTPRoute{*route}}
			if !tc.noDeployment {
				snap.Deployments = []appsv1.Deployment{*build.Deployment(ws)}
			}
			now := time.Now()
			r := &run{sys: sys, ws: sys.Workspaces, opts: Options{SpecFile: "ws.yaml"}, now: now, snap: snap,
				report: &Report{Namespace: "ns"}, rows: map[string]status.Workspace{ws.Name: status.Build(sys, snap, now).Workspaces[0]}}
			r.add(ScopeCluster, "gateway", checkGateway("gw/gw", gw, sys.Workspaces))
			r.add("app", "route", r.checkRoute(&ws, snap.Route(ws.Name), gw))
			expect(t, r.report, ScopeCluster, "gateway", tc.gateway, tc.gatewayFix)
			c := expect(t, r.report, "app", "route", tc.route, tc.routeFix)
			if !strings.Contains(c.Message, tc.wantMsg) {
				t.Errorf("route message %q lacks %q", c.Message, tc.wantMsg)
			}
		})
	}
}
