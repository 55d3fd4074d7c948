package doctor

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/status"
)

// checkGateway checks the Gateway's listeners against the workspaces
// attached to it, then what its controller reports. The rules key on the
// standard reasons, which Traefik and Envoy Gateway both write with their
// own messages. A route on a listener the controller could not program is
// refused as NoMatchingParent by Traefik (which then marks the Gateway
// Accepted=False, ListenersNotValid), NoReadyListeners by Envoy Gateway:
// the listener's own status says why.
func checkGateway(ref string, gw *gatewayv1.Gateway, wss []model.Workspace) Check {
	var problems, fixes []string
	for i := range wss {
		w := &wss[i]
		ls, ps, fs := listenerTrouble(gw, w)
		if len(ls) > 0 {
			l := ls[0]
			if ns := l.AllowedRoutes; ns != nil && ns.Namespaces != nil && ns.Namespaces.From != nil &&
				*ns.Namespaces.From == gatewayv1.NamespacesFromSame && gw.Namespace != w.Namespace {
				problems = append(problems, fmt.Sprintf("listener %s only admits routes from namespace %s, the workspaces are in %s", l.Name, gw.Namespace, w.Namespace))
				fixes = append(fixes, "set allowedRoutes.namespaces.from: All (or a Selector matching "+w.Namespace+") on listener "+string(l.Name))
			}
			if l.Hostname != nil && !hostMatches(string(*l.Hostname), w.Host) {
				problems = append(problems, fmt.Sprintf("workspace %s host %s is outside listener %s hostname %s", w.Name, w.Host, l.Name, *l.Hostname))
				fixes = append(fixes, "use a host under "+strings.TrimPrefix(string(*l.Hostname), "*.")+" (spec domain or host)")
			}
		}
		problems, fixes = append(problems, ps...), append(fixes, fs...)
	}
	if len(problems) > 0 {
		return fail("Gateway "+ref+": "+strings.Join(dedupe(problems), "; "), strings.Join(dedupe(fixes), "; "))
	}
	describe := "kubectl describe gateway -n " + gw.Namespace + " " + gw.Name
	if c := meta.FindStatusCondition(gw.Status.Conditions, string(gatewayv1.GatewayConditionAccepted)); c != nil && c.Status != metav1.ConditionTrue {
		return fail("Gateway "+ref+" is not Accepted: "+conditionText(c),
			"check that GatewayClass "+string(gw.Spec.GatewayClassName)+" is accepted and the controller's logs; "+describe)
	}
	c := meta.FindStatusCondition(gw.Status.Conditions, string(gatewayv1.GatewayConditionProgrammed))
	switch {
	case c == nil:
		return warn("Gateway "+ref+" exists but no controller has reported on it (no Programmed condition)",
			"check that a Gateway controller runs and handles gatewayClassName "+string(gw.Spec.GatewayClassName))
	case c.Status != metav1.ConditionTrue:
		return fail("Gateway "+ref+" is not Programmed: "+conditionText(c), "check the Gateway controller's logs and "+describe)
	}
	var sections []string
	for _, w := range wss {
		sections = append(sections, cmp.Or(w.Gateway.SectionName, "(any)"))
	}
	return ok(fmt.Sprintf("Gateway %s is Programmed; listener(s) %s", ref, strings.Join(dedupe(sections), ", ")))
}

// checkRoute judges the route's Accepted and ResolvedRefs from the spec's
// Gateway. gw (nil if unread) tells which listener problem keeps it out.
func (r *run) checkRoute(ws *model.Workspace, route *gatewayv1.HTTPRoute, gw *gatewayv1.Gateway) Check {
	if r.snap.RoutesMissing {
		return fail("the HTTPRoute CRD is not installed", "see the gateway-api check")
	}
	if route == nil {
		return fail("HTTPRoute "+ws.Name+" not found: the workspace is not reachable", "ocw apply -f "+r.opts.SpecFile+", or let Flux reconcile")
	}
	ref := ws.Gateway.Namespace + "/" + ws.Gateway.Name
	parent := status.RouteParent(route, ws)
	if parent == nil {
		return fail("HTTPRoute "+ws.Name+" has no status from Gateway "+ref+": no Gateway controller has accepted it",
			"check the gateway check above and that the Gateway's controller runs; "+r.kubectl("describe httproute "+ws.Name))
	}
	if c := meta.FindStatusCondition(parent.Conditions, string(gatewayv1.RouteConditionAccepted)); c == nil || c.Status != metav1.ConditionTrue {
		msg, fix := r.notAccepted(ws, c, gw)
		return fail("HTTPRoute "+ws.Name+" is not accepted by Gateway "+ref+": "+msg, fix)
	}
	c := meta.FindStatusCondition(parent.Conditions, string(gatewayv1.RouteConditionResolvedRefs))
	if c == nil || c.Status == metav1.ConditionTrue {
		return ok("HTTPRoute " + ws.Name + " is accepted by Gateway " + ref + " and resolves; " + ws.URL())
	}
	fix := r.kubectl("describe httproute " + ws.Name)
	switch gatewayv1.RouteConditionReason(c.Reason) {
	case gatewayv1.RouteReasonBackendNotFound:
		fix = "Service " + ws.Name + " is missing: ocw apply -f " + r.opts.SpecFile + ", or let Flux reconcile"
		// Traefik also says BackendNotFound for a Service without
		// endpoints, i.e. until the pod is Ready.
		if row := r.rows[ws.Name]; row.Phase != status.Missing && row.Phase != status.Ready {
			fix = "Service " + ws.Name + " has no ready endpoints while the workspace is " + string(row.Phase) +
				" (some Gateways, Traefik among them, report that as BackendNotFound): see the pod check; if the Service itself is missing, ocw apply -f " + r.opts.SpecFile
		}
	case gatewayv1.RouteReasonRefNotPermitted:
		fix = r.backendGrantFix(ws, route)
	}
	return fail("HTTPRoute "+ws.Name+" is accepted but its backend does not resolve: "+conditionText(c), fix)
}

// notAccepted explains an Accepted condition that is missing or not True.
func (r *run) notAccepted(ws *model.Workspace, c *metav1.Condition, gw *gatewayv1.Gateway) (msg, fix string) {
	if c == nil {
		return "no Accepted condition", r.kubectl("describe httproute " + ws.Name)
	}
	msg, fix = conditionText(c), r.kubectl("describe httproute "+ws.Name)
	// A missing or broken listener comes first, whatever the reason:
	// implementations word that refusal differently (Traefik:
	// NoMatchingParent, or NotAllowedByListeners for a port without an
	// entryPoint; Envoy Gateway: a reason of its own).
	var ls []gatewayv1.Listener
	if gw != nil {
		var ps, fs []string
		if ls, ps, fs = listenerTrouble(gw, ws); len(ps) > 0 {
			return msg + "; " + ps[0], fs[0]
		}
	}
	switch gatewayv1.RouteConditionReason(c.Reason) {
	case gatewayv1.RouteReasonNotAllowedByListeners:
		fix = "the listener does not admit routes from namespace " + r.sys.Namespace + ": set its allowedRoutes.namespaces.from to All (or a matching Selector)"
	case gatewayv1.RouteReasonNoMatchingListenerHostname:
		listener := "the listener's hostname"
		if len(ls) > 0 && ls[0].Hostname != nil {
			listener = "listener " + string(ls[0].Name) + "'s hostname " + string(*ls[0].Hostname)
		}
		fix = "host " + ws.Host + " is outside " + listener + ": change the spec's domain/host or the listener"
	case gatewayv1.RouteReasonNoMatchingParent:
		if gw == nil {
			return msg, "see the gateway check above"
		}
		fix = "no listener of Gateway " + gw.Namespace + "/" + gw.Name + " takes the route: " + fix
	}
	return msg, fix
}

// backendGrantFix names the ReferenceGrant a backendRef into another
// namespace (put there by a patch) needs.
func (r *run) backendGrantFix(ws *model.Workspace, route *gatewayv1.HTTPRoute) string {
	var fixes []string
	for _, rule := range route.Spec.Rules {
		for _, b := range rule.BackendRefs {
			if b.Namespace == nil || string(*b.Namespace) == route.Namespace {
				continue
			}
			kind, group := ptr.Deref(b.Kind, "Service"), ptr.Deref(b.Group, "")
			fixes = append(fixes, fmt.Sprintf("create a ReferenceGrant in namespace %s with from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: %s}] and to: [{group: %q, kind: %s, name: %s}]",
				*b.Namespace, route.Namespace, group, kind, b.Name))
		}
	}
	if len(fixes) == 0 {
		return "a cross-namespace reference needs a ReferenceGrant in the target namespace: " + r.kubectl("describe httproute "+ws.Name)
	}
	return strings.Join(dedupe(fixes), "; ") + "; or point the route back at Service " + ws.Name + " in " + route.Namespace +
		" as ocw renders it (ocw apply -f " + r.opts.SpecFile + ")"
}

// listenerTrouble returns the listeners a workspace's route asks for (by
// sectionName, or all) and what is wrong: none, or the controller's report.
func listenerTrouble(gw *gatewayv1.Gateway, ws *model.Workspace) (ls []gatewayv1.Listener, problems, fixes []string) {
	for _, l := range gw.Spec.Listeners {
		if ws.Gateway.SectionName == "" || string(l.Name) == ws.Gateway.SectionName {
			ls = append(ls, l)
		}
	}
	if len(ls) == 0 {
		p, f := missingListener(gw, ws)
		return nil, []string{p}, []string{f}
	}
	for _, l := range ls {
		if p, f := listenerProblem(gw, &l); p != "" {
			problems, fixes = append(problems, p), append(fixes, f)
		}
	}
	return ls, problems, fixes
}

// missingListener explains a sectionName naming no listener: a wrong name
// when an HTTPS listener covers the host, else a missing listener.
func missingListener(gw *gatewayv1.Gateway, ws *model.Workspace) (problem, fix string) {
	var names, fits []string
	for _, l := range gw.Spec.Listeners {
		names = append(names, string(l.Name))
		if l.Protocol == gatewayv1.HTTPSProtocolType && (l.Hostname == nil || hostMatches(string(*l.Hostname), ws.Host)) {
			fits = append(fits, string(l.Name))
		}
	}
	problem = fmt.Sprintf("no listener named %q (listeners: %s)", ws.Gateway.SectionName, strings.Join(names, ", "))
	if len(fits) > 0 {
		return problem, "set gateway.sectionName to one of: " + strings.Join(fits, ", ")
	}
	host := ws.Host
	if _, rest, ok := strings.Cut(host, "."); ok {
		host = "*." + rest
	}
	return problem + " and no HTTPS listener for " + ws.Host,
		fmt.Sprintf("add an HTTPS listener named %s with hostname %s and a certificate for it to Gateway %s/%s, or set gateway.name, gateway.namespace and gateway.sectionName in the spec to a Gateway that has one",
			ws.Gateway.SectionName, host, gw.Namespace, gw.Name)
}

// listenerProblem is what the controller reports wrong with listener l, or
// "". ResolvedRefs and Accepted name the cause; Programmed=False often only
// points at them, so it comes last.
func listenerProblem(gw *gatewayv1.Gateway, l *gatewayv1.Listener) (problem, fix string) {
	i := slices.IndexFunc(gw.Status.Listeners, func(s gatewayv1.ListenerStatus) bool { return s.Name == l.Name })
	if i < 0 {
		return "", ""
	}
	conds := gw.Status.Listeners[i].Conditions
	for _, t := range []gatewayv1.ListenerConditionType{gatewayv1.ListenerConditionResolvedRefs, gatewayv1.ListenerConditionAccepted,
		gatewayv1.ListenerConditionConflicted, gatewayv1.ListenerConditionProgrammed} {
		c := meta.FindStatusCondition(conds, string(t))
		bad := metav1.ConditionFalse
		if t == gatewayv1.ListenerConditionConflicted {
			bad = metav1.ConditionTrue
		}
		if c == nil || c.Status != bad {
			continue
		}
		return fmt.Sprintf("listener %s: %s", l.Name, conditionText(c)), listenerFix(gw, l, c.Reason)
	}
	return "", ""
}

func listenerFix(gw *gatewayv1.Gateway, l *gatewayv1.Listener, reason string) string {
	certNS, certName := gw.Namespace, ""
	if l.TLS != nil && len(l.TLS.CertificateRefs) > 0 {
		ref := l.TLS.CertificateRefs[0]
		certName = string(ref.Name)
		certNS = string(ptr.Deref(ref.Namespace, gatewayv1.Namespace(gw.Namespace)))
	}
	switch gatewayv1.ListenerConditionReason(reason) {
	case gatewayv1.ListenerReasonRefNotPermitted:
		if certNS != gw.Namespace {
			return fmt.Sprintf("create a ReferenceGrant in namespace %s with from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: %s}] and to: [{group: \"\", kind: Secret, name: %s}], or keep the certificate in namespace %s",
				certNS, gw.Namespace, certName, gw.Namespace)
		}
	case gatewayv1.ListenerReasonInvalidCertificateRef:
		if certName != "" {
			return fmt.Sprintf("Secret %s/%s must exist and be a kubernetes.io/tls Secret with tls.crt and tls.key (from cert-manager: kubectl describe certificate -n %s)",
				certNS, certName, certNS)
		}
	case gatewayv1.ListenerReasonPortUnavailable:
		return fmt.Sprintf("the Gateway's controller cannot serve port %d (Traefik: it needs an entryPoint on that port)", l.Port)
	}
	return "kubectl describe gateway -n " + gw.Namespace + " " + gw.Name
}

// conditionText is "Type=Status: Reason[: Message]".
func conditionText(c *metav1.Condition) string {
	s := fmt.Sprintf("%s=%s: %s", c.Type, c.Status, c.Reason)
	if c.Message != "" {
		s += ": " + c.Message
	}
	return s
}
