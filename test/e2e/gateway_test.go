//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/security"
	"github.com/chromedp/chromedp"

	"github.com/opencode-workspaces/ocw/internal/tlstest"
)

const (
	// gatewayIP is where Traefik's HTTPS entrypoint listens: a loopback
	// address of its own, so port 443 (the seed's listener port, which
	// must equal the entrypoint's) collides with nothing on the host.
	gatewayIP   = "127.0.0.2"
	gatewayPort = 443
	e2eDomain   = "e2e.test"
	// streamHold is how long the event streams must stay open through the
	// Gateway (Envoy's default route timeout would cut them at 15 s).
	streamHold = 90 * time.Second
)

// gateway is Traefik running on the host as the Gateway API implementation
// of a GatewayClass, serving the seed-shaped Gateway envoy-internal in
// namespace network: one HTTPS listener "https" for *.e2e.test with a
// wildcard certificate from a CA the test made.
type gateway struct {
	caFile string
	// client reaches https://<ws>.e2e.test/ through the Gateway, trusting
	// the test CA (the name resolves to gatewayIP, as DNS would).
	client *http.Client
}

// startGateway installs the GatewayClass, Gateway and certificate, and
// starts Traefik (built by hack/e2e/controllers.sh) against the API server;
// the node has no kube-proxy, so Traefik runs on the host and reaches the
// pods by their addresses on the bridge.
func (n *node) startGateway(dir string) *gateway {
	n.t.Helper()
	ca := tlstest.NewCA(n.t, "ocw e2e internal CA")
	leaf := ca.Issue(n.t, "*."+e2eDomain)
	g := &gateway{caFile: ca.WriteCA(n.t, dir)}
	g.client = &http.Client{Transport: &http.Transport{
		DialContext:     dialGateway,
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12},
	}}

	n.kubectlIn(fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: network}
---
apiVersion: v1
kind: Secret
metadata: {name: e2e-wildcard-tls, namespace: network}
type: kubernetes.io/tls
data: {tls.crt: %s, tls.key: %s}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: traefik}
spec: {controllerName: traefik.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: envoy-internal, namespace: network}
spec:
  gatewayClassName: traefik
  listeners:
    - name: https
      protocol: HTTPS
      port: %d
      hostname: "*.%s"
      allowedRoutes: {namespaces: {from: All}}
      tls:
        mode: Terminate
        certificateRefs: [{kind: Secret, name: e2e-wildcard-tls}]
`, base64.StdEncoding.EncodeToString(leaf.CertPEM), base64.StdEncoding.EncodeToString(leaf.KeyPEM), gatewayPort, e2eDomain),
		"apply", "--server-side", "-f", "-")

	bin := strings.TrimSpace(n.must(filepath.Join(n.repo, "hack/e2e/controllers.sh")))
	logf, err := os.Create(filepath.Join(n.work, "log", "traefik.log"))
	if err != nil {
		n.t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(bin, "traefik"),
		"--global.checkNewVersion=false", "--global.sendAnonymousUsage=false",
		"--log.level=INFO",
		fmt.Sprintf("--entryPoints.websecure.address=%s:%d", gatewayIP, gatewayPort),
		"--providers.kubernetesGateway=true",
		"--providers.kubernetesGateway.statusAddress.ip="+gatewayIP,
	)
	cmd.Env = n.env() // KUBECONFIG: the admin kubeconfig
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	// down.sh stops it too if the test binary dies.
	pidFile := filepath.Join(n.work, "run", "traefik.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() {
		if n.t.Failed() {
			n.logTail("traefik", 60)
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		logf.Close()
		os.Remove(pidFile)
		// The next tests share the node: no Gateway without its controller.
		k := filepath.Join(n.bin, "kubectl")
		_, _ = n.run("", nil, k, "delete", "namespace", "network", "--wait=false")
		_, _ = n.run("", nil, k, "delete", "gatewayclass", "traefik", "--wait=false")
	})
	n.kubectl("wait", "-n", "network", "--for=condition=Programmed", "gateway/envoy-internal", "--timeout=90s")
	return g
}

// dialGateway sends every connection to the Gateway's address, as a DNS
// record for *.e2e.test would.
func dialGateway(ctx context.Context, network, _ string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, net.JoinHostPort(gatewayIP, strconv.Itoa(gatewayPort)))
}

func wsURL(name string) string { return "https://" + name + "." + e2eDomain }

// do sends one request through the Gateway; password "" sends none.
func (g *gateway) do(ctx context.Context, method, url, password, body string) (int, string, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, "", err
	}
	if password != "" {
		req.SetBasicAuth(ocUser, password)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// routeAccepted waits until the workspace's HTTPRoute reports Accepted and
// ResolvedRefs True from the Gateway (Traefik writes them once it has the
// route and the Service's endpoints).
func (n *node) routeAccepted(name string) {
	n.t.Helper()
	n.waitRoute(name, "Accepted=True/", "ResolvedRefs=True/")
}

// routeRefused waits until the Gateway reports the route not Accepted for
// reason.
func (n *node) routeRefused(name, reason string) {
	n.t.Helper()
	n.waitRoute(name, "Accepted=False/"+reason)
}

// waitRoute waits until the route's conditions, as type=status/reason,
// hold every one of want.
func (n *node) waitRoute(name string, want ...string) {
	n.t.Helper()
	var got string
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Second) {
		got, _ = n.stdout(filepath.Join(n.bin, "kubectl"), "get", "httproute", "-n", n.ns, name, "-o",
			`jsonpath={range .status.parents[*].conditions[*]}{.type}={.status}/{.reason} {end}`)
		all := true
		for _, w := range want {
			all = all && strings.Contains(got, w)
		}
		if all {
			return
		}
	}
	n.t.Fatalf("HTTPRoute %s: conditions %q, want %q", name, got, want)
}

// eventStream is an SSE stream through the Gateway, read in the background.
type eventStream struct {
	opened time.Time
	mu     sync.Mutex
	data   strings.Builder
	err    error // why the stream ended (nil while open)
	done   chan struct{}
}

func (g *gateway) openEvents(ctx context.Context, url, password string) (*eventStream, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(ocUser, password)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := g.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	s := &eventStream{opened: time.Now(), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			s.mu.Lock()
			s.data.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
		}
		s.mu.Lock()
		s.err = sc.Err()
		if s.err == nil {
			s.err = io.EOF
		}
		s.mu.Unlock()
	}()
	return s, nil
}

// state is what the stream carried so far and why it ended, if it did.
func (s *eventStream) state() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data.String(), s.err
}

// browser is headless Chromium from Debian, resolving *.e2e.test to the
// Gateway and trusting the test CA through an NSS database of its own.
func (n *node) browser(g *gateway, dir string) context.Context {
	n.t.Helper()
	home := filepath.Join(dir, "browser-home")
	nssdb := filepath.Join(home, ".pki", "nssdb")
	if err := os.MkdirAll(nssdb, 0o700); err != nil {
		n.t.Fatal(err)
	}
	n.must("certutil", "-d", "sql:"+nssdb, "-N", "--empty-password")
	n.must("certutil", "-d", "sql:"+nssdb, "-A", "-t", "C,,", "-n", "ocw-e2e-ca", "-i", g.caFile)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath("chromium"),
		chromedp.NoSandbox, // root on the CI machine
		chromedp.WindowSize(1400, 900),
		chromedp.UserDataDir(filepath.Join(dir, "browser-profile")),
		chromedp.Flag("host-resolver-rules", fmt.Sprintf("MAP *.%s %s", e2eDomain, gatewayIP)),
		chromedp.Env("HOME="+home),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	n.t.Cleanup(func() { cancel(); cancelAlloc() })
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.userAgent`)); err != nil {
		n.t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// tab is a new tab in a browser context of its own (no shared credentials
// or cookies), sending the password as basic auth when not "".
func (n *node) tab(browser context.Context, password string) (context.Context, context.CancelFunc) {
	n.t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	if password != "" {
		auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(ocUser+":"+password))
		if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": auth}}); err != nil {
			cancel()
			n.t.Fatal(err)
		}
	}
	return ctx, cancel
}

// artifacts is where the test leaves what a person looks at afterwards.
func (n *node) artifacts() string {
	d := os.Getenv("OCW_E2E_ARTIFACTS")
	if d == "" {
		d = filepath.Join(n.work, "artifacts")
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		n.t.Fatal(err)
	}
	return d
}

// ptyScript runs in the page: it opens a terminal the way the UI does
// (POST /pty, a one-time ticket, the websocket), types the command and
// resolves with everything the terminal printed once want matches.
const ptyScript = `(async (command, want) => {
  const pty = await (await fetch('/pty', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({command: '/bin/sh', title: 'e2e'})})).json();
  const tok = await (await fetch('/pty/' + pty.id + '/connect-token', {method: 'POST', headers: {'x-opencode-ticket': '1'}})).json();
  const ws = new WebSocket(location.origin.replace(/^http/, 'ws') + '/pty/' + pty.id + '/connect?ticket=' + encodeURIComponent(tok.ticket));
  ws.binaryType = 'arraybuffer';
  let out = '';
  return await new Promise((resolve) => {
    const done = async (how) => {
      try { ws.close(); } catch (e) {}
      if (how !== 'matched') how += ' (pty ' + JSON.stringify(pty) + ', now ' + await fetch('/pty/' + pty.id).then(r => r.text()) + ')';
      resolve(how + '\n' + out);
    };
    ws.onopen = () => ws.send(command + '\r');
    ws.onmessage = (m) => {
      out += typeof m.data === 'string' ? m.data : new TextDecoder().decode(m.data);
      if (new RegExp(want).test(out)) done('matched');
    };
    ws.onerror = () => done('websocket error');
    ws.onclose = (e) => done('websocket closed ' + e.code);
  });
})`

// inBrowser runs the browser scenario for one workspace: refused without
// the password; with it, the UI of the workspace's own OpenCode shows a
// session created through the route, the repository is the project, the
// file list holds the cloned files (worktree is the repository's folder), the terminal runs git status in the
// repository, and the review panel lists the file the terminal changed.
func (n *node) inBrowser(browser context.Context, name, worktree, password string) {
	n.t.Helper()
	url := wsURL(name) + "/"
	ctx, cancel := n.tab(browser, "")
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	cancel()
	if err == nil || !strings.Contains(err.Error(), "ERR_INVALID_AUTH_CREDENTIALS") {
		status := int64(0)
		if resp != nil {
			status = resp.Status
		}
		n.t.Fatalf("%s without the password: HTTP %d, %v; want the page refused (net::ERR_INVALID_AUTH_CREDENTIALS)", url, status, err)
	}

	ctx, cancel = n.tab(browser, password)
	defer cancel()
	ctx, stop := context.WithTimeout(ctx, 3*time.Minute)
	defer stop()
	if resp, err = chromedp.Run(ctx, chromedp.NavigateResponse(url)); err != nil || resp.Status != 200 {
		n.t.Fatalf("%s with the password: %v %v", url, resp, err)
	}
	if resp.SecurityState != security.StateSecure {
		n.t.Errorf("%s: security state %q, want secure (the test CA trusted)", url, resp.SecurityState)
	}
	title := "e2e through the gateway " + name
	sess, err := chromedp.Run(ctx, chromedp.Evaluate[struct{ ID, Directory string }](
		`fetch('/session', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({title: `+strconv.Quote(title)+`})}).then(r => r.json())`,
		chromedp.EvalAwaitPromise))
	if err != nil || sess.ID == "" {
		n.t.Fatalf("%s: POST /session from the page: %+v %v", name, sess, err)
	}
	if sess.Directory != worktree {
		n.t.Errorf("%s: session directory %q, want %q", name, sess.Directory, worktree)
	}
	// The UI's address of a session: the directory in base64url, then the id.
	dirKey := base64.RawURLEncoding.EncodeToString([]byte(worktree))
	if err := chromedp.Do(ctx, chromedp.Navigate(url+dirKey+"/session/"+sess.ID),
		chromedp.Poll[chromedp.Void](`document.body.innerText.includes(`+strconv.Quote(title)+`)`, chromedp.WithPollingInterval(500*time.Millisecond)),
	); err != nil {
		n.t.Fatalf("%s: the UI does not show session %q: %v", name, title, err)
	}
	// What the UI reads: the project, the session list, the file tree.
	type uiFacts struct {
		Project  struct{ Worktree string }
		Sessions []struct{ ID string }
		Files    []struct{ Name string }
	}
	facts, err := chromedp.Run(ctx, chromedp.Evaluate[uiFacts](`Promise.all(['/project/current', '/session', '/file?path='].map(p => fetch(p).then(r => r.json()))).then(([project, sessions, files]) => ({project, sessions, files}))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		n.t.Fatalf("%s: reading the project from the page: %v", name, err)
	}
	if facts.Project.Worktree != worktree {
		n.t.Errorf("%s: the UI's project is %q, want the repository %s", name, facts.Project.Worktree, worktree)
	}
	listed := false
	for _, s := range facts.Sessions {
		listed = listed || s.ID == sess.ID
	}
	if !listed {
		n.t.Errorf("%s: session %s not listed", name, sess.ID)
	}
	var files []string
	for _, f := range facts.Files {
		files = append(files, f.Name)
	}
	if !strings.Contains(strings.Join(files, " "), "file1.txt") {
		n.t.Errorf("%s: the file list %v lacks the cloned file1.txt", name, files)
	}

	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](ptyScript+`('echo e2e >> file1.txt; git status', 'modified:.*file1\\.txt')`,
		chromedp.EvalAwaitPromise))
	if err != nil || !strings.HasPrefix(out, "matched") || !strings.Contains(out, "On branch") {
		n.t.Fatalf("%s: git status in the terminal through the route: %v\n%s", name, err, out)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[aria-label="Toggle review"]`)),
		chromedp.Poll[chromedp.Void](`document.body.innerText.includes('file1.txt')`, chromedp.WithPollingInterval(500*time.Millisecond)),
	); err != nil {
		n.t.Errorf("%s: the review panel does not list file1.txt: %v", name, err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		n.t.Fatal(err)
	}
	shot := filepath.Join(n.artifacts(), name+".png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		n.t.Fatal(err)
	}
	n.t.Logf("%s: screenshot %s", name, shot)
}

// throughGateway is the user's path: a browser over HTTPS through a real
// Gateway into each workspace (repos maps workspace to repository name),
// the event streams held open through it, ocw auth push by URL with the
// test CA, and doctor and status reading the route from the Gateway's
// report, including two routes it refuses.
func (n *node) throughGateway(spec, password string, repos map[string]string) {
	n.t.Helper()
	dir := n.t.TempDir()
	g := n.startGateway(dir)
	names := []string{"alpha", "beta"}
	ctx := n.t.Context()
	for _, name := range names {
		n.routeAccepted(name)
		// Traefik reports the route Accepted before its router and the
		// listener's certificate are live; until then it answers with its
		// default certificate, which the client rightly refuses.
		var code int
		var err error
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
			if code, _, err = g.do(ctx, "GET", wsURL(name)+"/global/health", "", ""); err == nil && code != http.StatusNotFound {
				break
			}
		}
		if err != nil || code != 401 {
			n.t.Fatalf("%s through the Gateway without the password: %d %v, want 401", name, code, err)
		}
	}
	st := n.must(n.ocw, "status", "-f", spec)
	n.t.Logf("ocw status:\n%s", st)
	for _, name := range names {
		if !tableRow(st, name, "accepted") {
			n.t.Errorf("ocw status does not show %s's route as accepted", name)
		}
	}
	if doc, err := n.run("", nil, n.ocw, "doctor", "-f", spec, "alpha"); !strings.Contains(doc, "is accepted by Gateway network/envoy-internal and resolves") {
		n.t.Errorf("ocw doctor alpha (%v) does not report the accepted route:\n%s", err, doc)
	}

	// The streams open first and stay open while the browser works.
	streams := map[string]*eventStream{}
	for _, name := range names {
		s, err := g.openEvents(ctx, wsURL(name)+"/global/event", password)
		if err != nil {
			n.t.Fatalf("%s: event stream through the Gateway: %v", name, err)
		}
		streams[name] = s
	}
	browser := n.browser(g, dir)
	for _, name := range names {
		n.inBrowser(browser, name, "/workspace/"+repos[name], password)
	}

	// At 90 s, an action in each workspace must still reach its stream.
	for _, name := range names {
		s := streams[name]
		time.Sleep(time.Until(s.opened.Add(streamHold)))
		if _, err := s.state(); err != nil {
			n.t.Fatalf("%s: the event stream through the Gateway ended after %s: %v", name, time.Since(s.opened).Round(time.Second), err)
		}
		code, body, err := g.do(ctx, "POST", wsURL(name)+"/session", password, `{"title":"after the hold"}`)
		var sess struct{ ID string }
		if err != nil || code != 200 || json.Unmarshal([]byte(body), &sess) != nil || sess.ID == "" {
			n.t.Fatalf("%s: POST /session through the Gateway: %d %v %.200s", name, code, err, body)
		}
		var data string
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
			if data, err = s.state(); strings.Contains(data, sess.ID) || err != nil {
				break
			}
		}
		if !strings.Contains(data, sess.ID) {
			n.t.Fatalf("%s: the stream open for %s did not deliver the event of session %s (ended: %v)", name, time.Since(s.opened).Round(time.Second), sess.ID, err)
		}
		n.t.Logf("%s: event stream open %s through the Gateway delivered the new session's event", name, time.Since(s.opened).Round(time.Second))
	}

	// ocw auth push by URL, the default path, trusting the test CA. The
	// workspace's name resolves to the Gateway in ocw's own mount
	// namespace (a private /etc/hosts), nowhere else.
	auth := filepath.Join(dir, "auth.json")
	login := `{"github-copilot":{"type":"oauth","refresh":"gho_gateway","access":"gho_gateway","expires":0}}`
	if err := os.WriteFile(auth, []byte(login), 0o600); err != nil {
		n.t.Fatal(err)
	}
	hosts := filepath.Join(dir, "hosts")
	if err := os.WriteFile(hosts, []byte("127.0.0.1 localhost\n"+gatewayIP+" alpha."+e2eDomain+"\n"), 0o644); err != nil {
		n.t.Fatal(err)
	}
	withHosts := []string{"--mount", "--propagation", "private", "sh", "-c", `mount --bind "$0" /etc/hosts && exec "$@"`, hosts}
	push := append(withHosts, n.ocw, "auth", "push", "alpha", "-f", spec, "--from", auth)
	if out, err := n.run("", nil, "unshare", push...); err == nil || !strings.Contains(out, "pass it with --ca-file") {
		n.t.Errorf("auth push without the CA: %v, want the unknown-authority error and its hint\n%s", err, out)
	}
	if out, err := n.run("", nil, "unshare", append(push, "--ca-file", g.caFile)...); err != nil ||
		!strings.Contains(out, "pushed the github-copilot login to alpha at https://alpha."+e2eDomain+"/") {
		n.t.Fatalf("ocw auth push alpha --ca-file through the Gateway: %v\n%s", err, out)
	}
	if got := n.exec("alpha", "cat "+authPath); !strings.Contains(got, "gho_gateway") {
		n.t.Fatalf("auth.json after auth push through the Gateway: %q", got)
	}

	n.refusedRoutes(spec)
}

// refusedRoutes makes the Gateway refuse alpha's route twice, as a user's
// mistakes would, and checks that status and doctor say why and how to fix
// it: a sectionName naming no listener, then a listener whose hostname does
// not cover the workspace's host.
func (n *node) refusedRoutes(spec string) {
	n.t.Helper()
	wrong := strings.Replace(readSpec(n.t, spec), "defaults:\n", "defaults:\n  gateway: {sectionName: websecure}\n", 1)
	wrongSpec := filepath.Join(n.t.TempDir(), "workspaces.yaml")
	if err := os.WriteFile(wrongSpec, []byte(wrong), 0o644); err != nil {
		n.t.Fatal(err)
	}
	n.must(n.ocw, "apply", "-f", wrongSpec)
	n.routeRefused("alpha", "NoMatchingParent")
	if doc, _ := n.run("", nil, n.ocw, "doctor", "-f", wrongSpec, "alpha"); !strings.Contains(doc, "set gateway.sectionName to one of: https") {
		n.t.Errorf("ocw doctor with a wrong sectionName does not name the listener:\n%s", doc)
	} else {
		n.t.Logf("wrong sectionName, ocw doctor alpha:\n%s", doc)
	}
	if st, _ := n.run("", nil, n.ocw, "status", "-f", wrongSpec); !tableRow(st, "alpha", "refused: NoMatchingParent") {
		n.t.Errorf("ocw status does not show the refused route:\n%s", st)
	}
	n.must(n.ocw, "apply", "-f", spec)
	n.routeAccepted("alpha")

	n.kubectl("patch", "gateway", "-n", "network", "envoy-internal", "--type=json",
		"-p", `[{"op":"replace","path":"/spec/listeners/0/hostname","value":"*.elsewhere.test"}]`)
	n.routeRefused("alpha", "NoMatchingListenerHostname")
	if doc, _ := n.run("", nil, n.ocw, "doctor", "-f", spec, "alpha"); !strings.Contains(doc, "host alpha."+e2eDomain+" is outside listener https's hostname *.elsewhere.test") {
		n.t.Errorf("ocw doctor with a hostname mismatch does not say so:\n%s", doc)
	} else {
		n.t.Logf("hostname mismatch, ocw doctor alpha:\n%s", doc)
	}
	n.kubectl("patch", "gateway", "-n", "network", "envoy-internal", "--type=json",
		"-p", `[{"op":"replace","path":"/spec/listeners/0/hostname","value":"*.`+e2eDomain+`"}]`)
	n.routeAccepted("alpha")
}

// tableRow says whether a row of a table starts with first and holds want.
func tableRow(table, first, want string) bool {
	for _, l := range strings.Split(table, "\n") {
		if strings.HasPrefix(l, first+" ") && strings.Contains(l, want) {
			return true
		}
	}
	return false
}

func readSpec(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
