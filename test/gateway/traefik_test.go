//go:build gateway

package gateway

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/opencode-workspaces/ocw/internal/build"
	"github.com/opencode-workspaces/ocw/internal/doctor"
	"github.com/opencode-workspaces/ocw/internal/kube"
	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/status"
	"github.com/opencode-workspaces/ocw/internal/status/statustest"
	"github.com/opencode-workspaces/ocw/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

// className is the GatewayClass Traefik handles (its controllerName).
const className = "ocw-traefik"

// TestTraefikRoutes starts one Traefik for all situations; each has its own
// namespaces, Gateway and domain, so they do not meet on its entryPoints.
func TestTraefikRoutes(t *testing.T) {
	tr := startTraefik(t)
	// Kept across -count runs in one API server.
	err := env.Client.Create(t.Context(), &gatewayv1.GatewayClass{
		ObjectMeta: metav1.ObjectMeta{Name: className},
		Spec:       gatewayv1.GatewayClassSpec{ControllerName: "traefik.io/gateway-controller"},
	})
	if !apierrors.IsAlreadyExists(err) {
		must(t, err)
	}

	t.Run("accepted", func(t *testing.T) {
		w := newWorld(t, tr, worldOpts{})
		w.waitRoute(accepted)
		w.waitGateway(programmed)
		rep := w.doctor()
		expect(t, rep, doctor.ScopeCluster, "gateway", doctor.OK, "Gateway "+w.gwNS+"/envoy-internal is Programmed")
		expect(t, rep, "app", "route", doctor.OK, "is accepted by Gateway "+w.gwNS+"/envoy-internal and resolves; https://app."+w.domain+"/")
		w.expectRoute("accepted")
	})

	t.Run("wrong section name", func(t *testing.T) {
		// websecure is Traefik's entryPoint, not the Gateway's listener.
		w := newWorld(t, tr, worldOpts{section: "websecure"})
		w.waitRoute(refused(gatewayv1.RouteReasonNoMatchingParent))
		rep := w.doctor()
		expect(t, rep, doctor.ScopeCluster, "gateway", doctor.Fail, "set gateway.sectionName to one of: https")
		c := expect(t, rep, "app", "route", doctor.Fail, "set gateway.sectionName to one of: https")
		contains(t, c.Message, `Accepted=False: NoMatchingParent; no listener named "websecure" (listeners: https)`)
		w.expectRoute("refused: NoMatchingParent")

		// The fix: the spec's sectionName, rendered again.
		w.setSection("https")
		w.waitRoute(accepted)
		expect(t, w.doctor(), "app", "route", doctor.OK, "is accepted")
		w.expectRoute("accepted")
	})

	t.Run("missing listener", func(t *testing.T) {
		// Only a plain-HTTP listener: nothing for an HTTPS workspace.
		w := newWorld(t, tr, worldOpts{httpOnly: true})
		w.waitRoute(refused(gatewayv1.RouteReasonNoMatchingParent))
		rep := w.doctor()
		want := "add an HTTPS listener named https with hostname *." + w.domain + " and a certificate for it to Gateway " + w.gwNS + "/envoy-internal"
		expect(t, rep, doctor.ScopeCluster, "gateway", doctor.Fail, want)
		c := expect(t, rep, "app", "route", doctor.Fail, want)
		contains(t, c.Message, "no HTTPS listener for app."+w.domain)
		w.expectRoute("refused: NoMatchingParent")
	})

	t.Run("hostname mismatch", func(t *testing.T) {
		w := newWorld(t, tr, worldOpts{listenerHost: "*.elsewhere.test"})
		w.waitRoute(refused(gatewayv1.RouteReasonNoMatchingListenerHostname))
		rep := w.doctor()
		expect(t, rep, doctor.ScopeCluster, "gateway", doctor.Fail, "use a host under elsewhere.test")
		expect(t, rep, "app", "route", doctor.Fail, "host app."+w.domain+" is outside listener https's hostname *.elsewhere.test")
		w.expectRoute("refused: NoMatchingListenerHostname")
	})

	t.Run("routes from other namespaces refused", func(t *testing.T) {
		w := newWorld(t, tr, worldOpts{sameNamespaceOnly: true})
		w.waitRoute(refused(gatewayv1.RouteReasonNotAllowedByListeners))
		rep := w.doctor()
		expect(t, rep, doctor.ScopeCluster, "gateway", doctor.Fail, "set allowedRoutes.namespaces.from: All (or a Selector matching "+w.ns+") on listener https")
		expect(t, rep, "app", "route", doctor.Fail, "set its allowedRoutes.namespaces.from to All")
		w.expectRoute("refused: NotAllowedByListeners")
	})

	t.Run("listener port without an entryPoint", func(t *testing.T) {
		// Traefik serves a listener only on the port of one of its
		// entryPoints (its Helm chart: 8000 and 8443, not 80 and 443), and
		// refuses the route as NotAllowedByListeners: doctor must not
		// send the user to allowedRoutes.
		port := freePort(t)
		w := newWorld(t, tr, worldOpts{port: port})
		w.waitRoute(refused(gatewayv1.RouteReasonNotAllowedByListeners))
		w.waitGateway(func(gw *gatewayv1.Gateway) bool { return len(gw.Status.Listeners) > 0 })
		want := fmt.Sprintf("the Gateway's controller cannot serve port %d (Traefik: it needs an entryPoint on that port)", port)
		rep := w.doctor()
		c := expect(t, rep, doctor.ScopeCluster, "gateway", doctor.Fail, want)
		contains(t, c.Message, "listener https: Accepted=False: PortUnavailable")
		expect(t, rep, "app", "route", doctor.Fail, want)
		w.expectRoute("refused: NotAllowedByListeners")
	})

	t.Run("certificate in another namespace without ReferenceGrant", func(t *testing.T) {
		w := newWorld(t, tr, worldOpts{certElsewhere: true})
		// Traefik cannot program the listener, so it takes no route on it.
		w.waitRoute(refused(gatewayv1.RouteReasonNoMatchingParent))
		w.waitGateway(func(gw *gatewayv1.Gateway) bool { return len(gw.Status.Listeners) > 0 })
		rep := w.doctor()
		want := "create a ReferenceGrant in namespace " + w.certNS + " with from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: " +
			w.gwNS + "}] and to: [{group: \"\", kind: Secret, name: wildcard-tls}]"
		c := expect(t, rep, doctor.ScopeCluster, "gateway", doctor.Fail, want)
		contains(t, c.Message, "listener https: ResolvedRefs=False: RefNotPermitted")
		c = expect(t, rep, "app", "route", doctor.Fail, want)
		contains(t, c.Message, "Accepted=False: NoMatchingParent; listener https: ResolvedRefs=False: RefNotPermitted")
		w.expectRoute("refused: NoMatchingParent")

		// The fix as doctor words it.
		w.grant(w.certNS, "Gateway", w.gwNS, "Secret", "wildcard-tls")
		w.waitRoute(accepted)
		// Traefik writes the routes' status first, then the Gateway's.
		w.waitGateway(programmed)
		rep = w.doctor()
		expect(t, rep, doctor.ScopeCluster, "gateway", doctor.OK, "is Programmed")
		expect(t, rep, "app", "route", doctor.OK, "is accepted")
		w.expectRoute("accepted")
	})

	t.Run("backend in another namespace without ReferenceGrant", func(t *testing.T) {
		w := newWorld(t, tr, worldOpts{})
		w.waitRoute(accepted)
		// A patch (a kustomize overlay, say) sends the route to a Service
		// in another namespace.
		other := w.namespace("backend-")
		w.service(other)
		r := &gatewayv1.HTTPRoute{}
		statustest.Get(t, env.Client, w.ns, "app", r)
		r.Spec.Rules[0].BackendRefs[0].Namespace = new(gatewayv1.Namespace(other))
		must(t, env.Client.Update(t.Context(), r))
		w.waitRoute(unresolved(gatewayv1.RouteReasonRefNotPermitted))
		c := expect(t, w.doctor(), "app", "route", doctor.Fail, "create a ReferenceGrant in namespace "+other+
			" with from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: "+w.ns+"}] and to: [{group: \"\", kind: Service, name: app}]")
		contains(t, c.Fix, "or point the route back at Service app in "+w.ns)
		contains(t, c.Message, "ResolvedRefs=False: RefNotPermitted")
		w.expectRoute("unresolved: RefNotPermitted")

		w.grant(other, "HTTPRoute", w.ns, "Service", "app")
		w.waitRoute(accepted)
		expect(t, w.doctor(), "app", "route", doctor.OK, "is accepted")
		w.expectRoute("accepted")
	})

	t.Run("no ready endpoints", func(t *testing.T) {
		// No EndpointSlice: the pod is not Ready. Traefik calls that
		// BackendNotFound although the Service exists.
		w := newWorld(t, tr, worldOpts{noEndpoints: true})
		w.waitRoute(unresolved(gatewayv1.RouteReasonBackendNotFound))
		expect(t, w.doctor(), "app", "route", doctor.Fail, "Service app has no ready endpoints while the workspace is Starting")
		w.expectRoute("unresolved: BackendNotFound")
	})
}

// traefikBinary is $OCW_TRAEFIK (hack/test.sh sets it), else, outside CI,
// what hack/e2e/controllers.sh builds. Never a skip: a missing binary fails.
func traefikBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("OCW_TRAEFIK"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("OCW_TRAEFIK=%s: %v (hack/e2e/controllers.sh traefik builds it)", p, err)
		}
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("OCW_TRAEFIK is unset: hack/test.sh sets it after building Traefik with hack/e2e/controllers.sh")
	}
	root, err := testenv.RepoRoot()
	must(t, err)
	cmd := exec.CommandContext(t.Context(), "bash", filepath.Join(root, "hack", "e2e", "controllers.sh"), "traefik")
	cmd.Stderr = os.Stderr // build progress
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("OCW_TRAEFIK is unset and hack/e2e/controllers.sh traefik failed: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "traefik")
}

type traefik struct {
	// https and http are the ports of its two entryPoints on loopback; a
	// listener's port picks the entryPoint.
	https, http gatewayv1.PortNumber
	log         string
}

func startTraefik(t *testing.T) *traefik {
	t.Helper()
	bin := traefikBinary(t)
	dir := t.TempDir()
	tr := &traefik{https: freePort(t), http: freePort(t), log: filepath.Join(dir, "traefik.log")}
	f, err := os.Create(tr.log)
	must(t, err)
	cmd := exec.Command(bin,
		"--global.checkNewVersion=false", "--global.sendAnonymousUsage=false",
		fmt.Sprintf("--entryPoints.websecure.address=127.0.0.1:%d", tr.https),
		fmt.Sprintf("--entryPoints.web.address=127.0.0.1:%d", tr.http),
		"--providers.kubernetesgateway=true", "--log.level=DEBUG")
	// KUBECONFIG selects Traefik's out-of-cluster client.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "KUBECONFIG=" + env.KubeconfigPath}
	cmd.Stdout, cmd.Stderr = f, f
	must(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		_ = f.Close()
		if t.Failed() {
			t.Logf("Traefik's log (last 40 lines):\n%s", tail(tr.log, 40))
		}
	})
	return tr
}

func freePort(t *testing.T) gatewayv1.PortNumber {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer l.Close()
	return gatewayv1.PortNumber(l.Addr().(*net.TCPAddr).Port)
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

type worldOpts struct {
	// section is the spec's gateway.sectionName (default https).
	section string
	// listenerHost is the listener's hostname (default *.DOMAIN).
	listenerHost string
	// httpOnly gives the Gateway a plain-HTTP listener only.
	httpOnly bool
	// certElsewhere keeps the certificate in another namespace, without a
	// ReferenceGrant.
	certElsewhere bool
	// noEndpoints leaves the Service without an EndpointSlice.
	noEndpoints bool
	// sameNamespaceOnly leaves the listener's allowedRoutes at its
	// default: routes from the Gateway's namespace only.
	sameNamespaceOnly bool
	// port is the HTTPS listener's port (default: Traefik's websecure).
	port gatewayv1.PortNumber
}

// world is one workspace "app" in its own namespace, attached to Gateway
// envoy-internal in its own namespace (the seed's shape), with a domain of
// its own.
type world struct {
	t                 *testing.T
	tr                *traefik
	ns, gwNS, certNS  string
	domain            string
	sys               *model.System
	ws                model.Workspace
	clients           *kube.Clients
	lastRoute, lastGW string
}

const specDoc = `apiVersion: ocw.dev/v1alpha1
kind: Workspaces
namespace: NS
domain: DOMAIN
secrets:
  mode: manual
defaults:
  gateway: {name: envoy-internal, namespace: GWNS, sectionName: SECTION}
  reloader: false
workspaces:
  - name: app
    repo: https://github.com/o/app
`

func newWorld(t *testing.T, tr *traefik, o worldOpts) *world {
	t.Helper()
	w := &world{t: t, tr: tr}
	w.ns = w.namespace("ws-")
	w.gwNS = w.namespace("network-")
	w.certNS = w.gwNS
	if o.certElsewhere {
		w.certNS = w.namespace("certs-")
	}
	w.domain = w.ns + ".test"
	if o.section == "" {
		o.section = "https"
	}
	var err error
	w.clients, err = kube.NewClients(env.Config)
	must(t, err)
	w.load(o.section)

	host := gatewayv1.Hostname("*." + w.domain)
	if o.listenerHost != "" {
		host = gatewayv1.Hostname(o.listenerHost)
	}
	l := gatewayv1.Listener{
		Name: "https", Protocol: gatewayv1.HTTPSProtocolType, Port: tr.https, Hostname: &host,
		TLS: &gatewayv1.ListenerTLSConfig{Mode: new(gatewayv1.TLSModeTerminate), CertificateRefs: []gatewayv1.SecretObjectReference{{
			Group: new(gatewayv1.Group("")), Kind: new(gatewayv1.Kind("Secret")), Name: "wildcard-tls",
			Namespace: new(gatewayv1.Namespace(w.certNS)),
		}}},
		AllowedRoutes: &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: new(gatewayv1.NamespacesFromAll)}},
	}
	if o.port != 0 {
		l.Port = o.port
	}
	if o.sameNamespaceOnly {
		l.AllowedRoutes = nil
	}
	if o.httpOnly {
		l = gatewayv1.Listener{Name: "http", Protocol: gatewayv1.HTTPProtocolType, Port: tr.http, Hostname: &host, AllowedRoutes: l.AllowedRoutes}
	}
	w.tlsSecret(string(host))
	must(t, env.Client.Create(t.Context(), &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Name: "envoy-internal", Namespace: w.gwNS},
		Spec:       gatewayv1.GatewaySpec{GatewayClassName: className, Listeners: []gatewayv1.Listener{l}},
	}))
	statustest.CreateWorkspace(t, env.Client, w.ws)
	if !o.noEndpoints {
		w.endpoints(w.ns)
	}
	return w
}

func (w *world) namespace(prefix string) string {
	w.t.Helper()
	ns, err := env.CreateNamespace(w.t.Context(), prefix, nil)
	must(w.t, err)
	return ns
}

func (w *world) load(section string) {
	w.t.Helper()
	w.sys = statustest.System(w.t, strings.NewReplacer("NS", w.ns, "GWNS", w.gwNS, "DOMAIN", w.domain, "SECTION", section).Replace(specDoc))
	w.ws = w.sys.Workspaces[0]
}

// setSection changes the spec's sectionName and re-applies the route as
// ocw renders it.
func (w *world) setSection(section string) {
	w.t.Helper()
	w.load(section)
	r := &gatewayv1.HTTPRoute{}
	statustest.Get(w.t, env.Client, w.ns, "app", r)
	want := build.HTTPRoute(w.ws)
	r.Spec = want.Spec
	must(w.t, env.Client.Update(w.t.Context(), r))
}

// endpoints writes what the EndpointSlice controller would for a Ready pod
// behind Service app in ns. Traefik takes the address as is and never
// connects here; it must not be loopback, which it refuses.
func (w *world) endpoints(ns string) {
	w.t.Helper()
	must(w.t, env.Client.Create(w.t.Context(), &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "app-x1", Namespace: ns,
			Labels: map[string]string{discoveryv1.LabelServiceName: "app", discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.244.0.10"}, Conditions: discoveryv1.EndpointConditions{Ready: new(true)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: new("http"), Port: new(int32(model.Port)), Protocol: new(corev1.ProtocolTCP)}},
	}))
}

// service copies the workspace's Service, with endpoints, into ns.
func (w *world) service(ns string) {
	w.t.Helper()
	svc := &corev1.Service{}
	statustest.Get(w.t, env.Client, w.ns, "app", svc)
	must(w.t, env.Client.Create(w.t.Context(), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
		Spec:       corev1.ServiceSpec{Ports: svc.Spec.Ports, Selector: svc.Spec.Selector},
	}))
	w.endpoints(ns)
}

// grant creates the ReferenceGrant doctor's fix describes.
func (w *world) grant(ns, fromKind, fromNS, toKind, toName string) {
	w.t.Helper()
	must(w.t, env.Client.Create(w.t.Context(), &gatewayv1.ReferenceGrant{
		ObjectMeta: metav1.ObjectMeta{Name: "allow-" + strings.ToLower(fromKind), Namespace: ns},
		Spec: gatewayv1.ReferenceGrantSpec{
			From: []gatewayv1.ReferenceGrantFrom{{Group: gatewayv1.GroupName, Kind: gatewayv1.Kind(fromKind), Namespace: gatewayv1.Namespace(fromNS)}},
			To:   []gatewayv1.ReferenceGrantTo{{Group: "", Kind: gatewayv1.Kind(toKind), Name: new(gatewayv1.ObjectName(toName))}},
		},
	}))
}

// tlsSecret writes a self-signed certificate for host into
// certNS/wildcard-tls.
func (w *world) tlsSecret(host string) {
	w.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(w.t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(w.t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	must(w.t, err)
	must(w.t, env.Client.Create(w.t.Context(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "wildcard-tls", Namespace: w.certNS},
		Type:       corev1.SecretTypeTLS,
		Data: map[string][]byte{
			corev1.TLSCertKey:       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			corev1.TLSPrivateKeyKey: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
		},
	}))
}

// A routeState says whether Traefik's status for the route's parent is the
// one a situation expects.
type routeState func(accepted, resolved *metav1.Condition) bool

func accepted(a, r *metav1.Condition) bool {
	return a != nil && a.Status == metav1.ConditionTrue && r != nil && r.Status == metav1.ConditionTrue
}

func refused(reason gatewayv1.RouteConditionReason) routeState {
	return func(a, _ *metav1.Condition) bool {
		return a != nil && a.Status == metav1.ConditionFalse && a.Reason == string(reason)
	}
}

func unresolved(reason gatewayv1.RouteConditionReason) routeState {
	return func(a, r *metav1.Condition) bool {
		return a != nil && a.Status == metav1.ConditionTrue && r != nil && r.Status == metav1.ConditionFalse && r.Reason == string(reason)
	}
}

// waitRoute waits for Traefik to write the expected status on the route's
// parent at the route's current generation. The bound is generous: it only
// turns "never" into a failure, it measures nothing.
func (w *world) waitRoute(want routeState) {
	w.t.Helper()
	w.wait("HTTPRoute "+w.ns+"/app", func() bool {
		r := &gatewayv1.HTTPRoute{}
		statustest.Get(w.t, env.Client, w.ns, "app", r)
		w.lastRoute = fmt.Sprintf("%+v", r.Status.Parents)
		p := status.RouteParent(r, &w.ws)
		if p == nil {
			return false
		}
		a, rr := cond(p.Conditions, "Accepted"), cond(p.Conditions, "ResolvedRefs")
		return a != nil && a.ObservedGeneration == r.Generation && want(a, rr)
	})
}

func programmed(gw *gatewayv1.Gateway) bool {
	c := cond(gw.Status.Conditions, string(gatewayv1.GatewayConditionProgrammed))
	return c != nil && c.Status == metav1.ConditionTrue
}

func (w *world) waitGateway(want func(*gatewayv1.Gateway) bool) {
	w.t.Helper()
	w.wait("Gateway "+w.gwNS+"/envoy-internal", func() bool {
		gw := &gatewayv1.Gateway{}
		statustest.Get(w.t, env.Client, w.gwNS, "envoy-internal", gw)
		w.lastGW = fmt.Sprintf("%+v", gw.Status)
		return want(gw)
	})
}

func (w *world) wait(what string, done func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !done() {
		if time.Now().After(deadline) {
			w.t.Fatalf("%s: Traefik never wrote the expected status; route parents: %s; gateway: %s", what, w.lastRoute, w.lastGW)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func cond(conds []metav1.Condition, typ string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == typ {
			return &conds[i]
		}
	}
	return nil
}

func (w *world) doctor() *doctor.Report {
	w.t.Helper()
	rep, err := doctor.Run(w.t.Context(), w.clients, w.sys, doctor.Options{SpecFile: "ws.yaml", Timeout: time.Minute})
	must(w.t, err)
	return rep
}

// expectRoute checks status's ROUTE column for app, in the report and in
// the table a person reads.
func (w *world) expectRoute(cell string) {
	w.t.Helper()
	rep, err := status.Collect(w.t.Context(), w.clients, w.sys, time.Now())
	must(w.t, err)
	if got := rep.Workspaces[0].Route.Cell(); got != cell {
		w.t.Fatalf("status ROUTE: got %q, want %q (%+v)", got, cell, rep.Workspaces[0].Route)
	}
	var b bytes.Buffer
	must(w.t, rep.WriteTable(&b))
	lines := strings.Split(b.String(), "\n")
	header := lines[0]
	col := strings.Index(header, "ROUTE")
	if col < 0 || len(lines) < 2 || len(lines[1]) < col || !strings.HasPrefix(lines[1][col:], cell+" ") {
		w.t.Fatalf("status table has no ROUTE %q under its header:\n%s", cell, b.String())
	}
}

func expect(t *testing.T, rep *doctor.Report, scope, id string, v doctor.Verdict, want string) *doctor.Check {
	t.Helper()
	i := slices.IndexFunc(rep.Checks, func(c doctor.Check) bool { return c.Scope == scope && c.ID == id })
	if i < 0 {
		t.Fatalf("no check %s/%s in:\n%s", scope, id, table(rep))
	}
	c := &rep.Checks[i]
	got := c.Fix
	if v == doctor.OK {
		got = c.Message
	}
	if c.Verdict != v || !strings.Contains(got, want) {
		t.Fatalf("check %s/%s: got %s %q (fix %q), want %s with %q", scope, id, c.Verdict, c.Message, c.Fix, v, want)
	}
	return c
}

func table(rep *doctor.Report) string {
	var b strings.Builder
	_ = rep.WriteTable(&b)
	return b.String()
}

func contains(t *testing.T, s, want string) {
	t.Helper()
	if !strings.Contains(s, want) {
		t.Fatalf("%q does not contain %q", s, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
