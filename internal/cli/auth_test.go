package cli

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opencode-workspaces/ocw/internal/opencode/opencodetest"
	"github.com/opencode-workspaces/ocw/internal/status"
	"github.com/opencode-workspaces/ocw/internal/status/statustest"
	"github.com/opencode-workspaces/ocw/internal/tlstest"
)

const (
	localRefresh = "gho_LOCALREFRESHTOKEN0001"
	localAPIKey  = "sk-LOCALOPENAIKEY0002"
)

// writeLocalAuth writes an OpenCode auth.json (Copilot + OpenAI logins)
// under a fresh XDG_DATA_HOME, which the test then points at.
func writeLocalAuth(t *testing.T, refresh string) string {
	t.Helper()
	data := t.TempDir()
	t.Setenv("XDG_DATA_HOME", data)
	p := filepath.Join(data, "opencode", "auth.json")
	writeFile(t, p, `{
  "openai": {"type": "api", "key": "`+localAPIKey+`"},
  "github-copilot": {"type": "oauth", "refresh": "`+refresh+`", "access": "`+refresh+`", "expires": 0}
}`)
	return p
}

func TestAuthSeed(t *testing.T) {
	ns := opsNamespace(t, "cli-seed-")
	file := opsSpec(t, ns, "manual", "defaults: {reloader: false}\n")
	writeLocalAuth(t, localRefresh)
	args := kubeArgs("auth", "seed", "-f", file)
	var all []result

	r := run(t, "", append(args, "--dry-run")...)
	all = append(all, r)
	if r.code != 0 || !strings.Contains(r.out, "kind: Secret") || !strings.Contains(r.out, "name: opencode-copilot-auth") ||
		!strings.Contains(r.out, "auth.json: '<redacted: ") || !strings.Contains(r.err, "left out openai (--all-providers copies them)") {
		t.Fatalf("dry run: %+v", r)
	}
	if !strings.Contains(r.err, "Secret "+ns+"/opencode-copilot-auth key auth.json created (server dry run; nothing was written)") {
		t.Fatalf("dry run: the API server was not asked: %+v", r)
	}
	if getSecret(t, ns, "opencode-copilot-auth") != nil {
		t.Fatal("--dry-run wrote the Secret")
	}
	// The same values as apply's --dry-run.
	for flag, want := range map[string]string{
		"--dry-run=client": "--dry-run=client is not supported",
		"--dry-run=maybe":  `--dry-run must be "server" or "none", not "maybe"`,
	} {
		if r := run(t, "", append(args, flag)...); r.code != ExitFailure || !strings.Contains(r.err, want) {
			t.Errorf("%s: %+v", flag, r)
		}
	}

	r = run(t, "", args...)
	all = append(all, r)
	if r.code != 0 || !strings.Contains(r.err, "Secret "+ns+"/opencode-copilot-auth key auth.json created") ||
		!strings.Contains(r.err, "Restart app to apply it: kubectl -n "+ns+" rollout restart deployment/app (or without a restart: ocw auth push app -f "+file+")") {
		t.Fatalf("seed: %+v", r)
	}
	sec := getSecret(t, ns, "opencode-copilot-auth")
	content := string(sec.Data["auth.json"])
	if !strings.Contains(content, localRefresh) || strings.Contains(content, localAPIKey) || strings.Contains(content, "openai") {
		t.Fatalf("stored content holds the wrong providers")
	}

	// Unchanged login: no write.
	r = run(t, "", args...)
	all = append(all, r)
	if r.code != 0 || !strings.Contains(r.err, "key auth.json unchanged") || strings.Contains(r.err, "Restart") {
		t.Fatalf("second seed: %+v", r)
	}
	if rv := getSecret(t, ns, "opencode-copilot-auth").ResourceVersion; rv != sec.ResourceVersion {
		t.Fatalf("unchanged seed wrote: %s -> %s", sec.ResourceVersion, rv)
	}

	r = run(t, "", append(args, "--all-providers")...)
	all = append(all, r)
	if r.code != 0 || !strings.Contains(r.err, "copying github-copilot, openai") || !strings.Contains(r.err, "updated") {
		t.Fatalf("--all-providers: %+v", r)
	}
	if !strings.Contains(string(getSecret(t, ns, "opencode-copilot-auth").Data["auth.json"]), localAPIKey) {
		t.Fatal("--all-providers did not copy openai")
	}

	// An unusable file: the error names the file, not its content.
	bad := filepath.Join(t.TempDir(), "auth.json")
	writeFile(t, bad, `{"github-copilot": {"type": "api", "key": "`+localAPIKey+`"}}`)
	r = run(t, "", append(args, "--from", bad)...)
	all = append(all, r)
	if r.code != ExitFailure || !strings.Contains(r.err, bad+`: github-copilot entry has type "api", want oauth`) {
		t.Fatalf("invalid file: %+v", r)
	}
	noLeak(t, all, localRefresh, localAPIKey)

	// Reloader on: the advice says it restarts the workspace.
	auto := opsSpec(t, ns, "manual", "")
	writeLocalAuth(t, "gho_ANOTHERLOGIN0003")
	r = run(t, "", kubeArgs("auth", "seed", "-f", auto)...)
	if r.code != 0 || !strings.Contains(r.err, "Reloader restarts app now") {
		t.Fatalf("reloader advice: %+v", r)
	}
}

func TestAuthSeedDoppler(t *testing.T) {
	file := opsSpec(t, "dop", "doppler", "")
	writeLocalAuth(t, localRefresh)
	r := run(t, "", "auth", "seed", "-f", file, "--kubeconfig", filepath.Join(t.TempDir(), "none"))
	if r.code != 0 || r.out != "" || !strings.Contains(r.err, "in ClusterSecretStore doppler under key OPENCODE_COPILOT_AUTH_JSON") {
		t.Fatalf("hint: %+v", r)
	}
	noLeak(t, []result{r}, localRefresh, localAPIKey)
	r = run(t, "", "auth", "seed", "-f", file, "--print-value")
	var m map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.out), &m) != nil || len(m) != 1 || m["github-copilot"] == nil {
		t.Fatalf("--print-value: %+v", r)
	}
}

// auth push against the real OpenCode binary: the login reaches the running
// server (listed by /config/providers, written to its auth.json), the Secret
// is updated without dropping other providers, and the pod is marked so
// status knows it has the login.
func TestAuthPushRealOpenCode(t *testing.T) {
	ns := opsNamespace(t, "cli-push-")
	file := opsSpec(t, ns, "manual", "defaults: {reloader: false}\n")
	ctx := t.Context()
	var all []result

	password := newServerPassword(t, file)
	srv := opencodetest.Start(t, password)

	// The Secret already holds another provider, which push keeps.
	const otherKey = "sk-SECRETOTHERPROVIDER04"
	if err := kubeEnv.Client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "opencode-copilot-auth", Namespace: ns},
		StringData: map[string]string{"auth.json": `{"anthropic": {"type": "api", "key": "` + otherKey + `"}}`},
	}); err != nil {
		t.Fatal(err)
	}
	// A Ready pod of the workspace, seeded an hour ago.
	sys := statustest.System(t, readFile(t, file))
	ws := sys.Workspaces[0]
	statustest.CreateWorkspace(t, kubeEnv.Client, ws)
	pod := statustest.CreatePod(t, kubeEnv.Client, ws, "app-1", statustest.HealthyStatus(ws, time.Now().Add(-time.Hour)))

	authPath := writeLocalAuth(t, localRefresh)
	r := run(t, "", kubeArgs("auth", "push", "app", "-f", file, "--url", srv.URL)...)
	all = append(all, r)
	if r.code != 0 || !strings.Contains(r.err, "pushed the github-copilot login to app at "+srv.URL+" (OpenCode 1.18.33) and reloaded it") ||
		!strings.Contains(r.err, "Secret "+ns+"/opencode-copilot-auth key auth.json updated") {
		t.Fatalf("push: %+v", r)
	}

	if ids := srv.Providers(t); !slices.Contains(ids, "github-copilot") {
		t.Fatalf("providers after push: %v", ids)
	}
	onDisk, err := os.ReadFile(srv.AuthPath())
	if err != nil {
		t.Fatal(err)
	}
	var disk map[string]map[string]any
	if err := json.Unmarshal(onDisk, &disk); err != nil || disk["github-copilot"]["refresh"] != localRefresh || disk["openai"] != nil {
		t.Fatalf("server auth.json: %v", err)
	}
	var stored map[string]map[string]any
	if err := json.Unmarshal(getSecret(t, ns, "opencode-copilot-auth").Data["auth.json"], &stored); err != nil ||
		stored["github-copilot"]["refresh"] != localRefresh || stored["anthropic"]["key"] != otherKey || stored["openai"] != nil {
		t.Fatalf("Secret after push: %v", err)
	}

	// The pod carries the push time; status sees the login as current
	// although the Secret changed after the pod seeded it.
	statustest.Get(t, kubeEnv.Client, ns, pod.Name, pod)
	if pod.Annotations[status.AnnotationCopilotPushed] == "" {
		t.Fatal("pod not annotated")
	}
	r = run(t, "", kubeArgs("status", "-f", file, "-o", "json")...)
	all = append(all, r)
	var rep status.Report
	if r.code != 0 || json.Unmarshal([]byte(r.out), &rep) != nil || rep.Workspaces[0].Copilot.Seeded != status.CopilotYes {
		t.Fatalf("status after push: %+v", r)
	}

	// Pushing the same login again leaves the Secret alone.
	rv := getSecret(t, ns, "opencode-copilot-auth").ResourceVersion
	r = run(t, "", kubeArgs("auth", "push", "app", "-f", file, "--url", srv.URL, "--from", authPath)...)
	all = append(all, r)
	if r.code != 0 || !strings.Contains(r.err, "key auth.json unchanged") || getSecret(t, ns, "opencode-copilot-auth").ResourceVersion != rv {
		t.Fatalf("second push: %+v", r)
	}

	// A wrong password is reported as such, without the password.
	r = run(t, "", kubeArgs("secrets", "password", "-f", file, "--rotate")...)
	rotated := strings.TrimSpace(r.out)
	r = run(t, "", kubeArgs("auth", "push", "app", "-f", file, "--url", srv.URL)...)
	all = append(all, r)
	if r.code != ExitFailure || !strings.Contains(r.err, "HTTP 401 Unauthorized (wrong server user name or password)") {
		t.Fatalf("wrong password: %+v", r)
	}
	noLeak(t, all, localRefresh, otherKey, localAPIKey, password, rotated)
}

// envtest has no kubelet, so a port-forward cannot complete; the pod
// choice is checked here (and in PickPod's unit test), and the request up
// to the API server's attempt to reach the kubelet.
func TestAuthPushPortForwardNeedsReadyPod(t *testing.T) {
	ns := opsNamespace(t, "cli-pf-")
	file := opsSpec(t, ns, "manual", "")
	writeLocalAuth(t, localRefresh)
	if r := run(t, "", kubeArgs("secrets", "password", "-f", file)...); r.code != 0 {
		t.Fatal(r)
	}
	r := run(t, "", kubeArgs("auth", "push", "app", "-f", file, "--port-forward")...)
	if r.code != ExitFailure || !strings.Contains(r.err, "workspace app: no pod found") {
		t.Fatalf("no pod: %+v", r)
	}
	sys := statustest.System(t, readFile(t, file))
	st := statustest.HealthyStatus(sys.Workspaces[0], time.Now())
	st.Conditions = st.Conditions[:1]
	statustest.CreatePod(t, kubeEnv.Client, sys.Workspaces[0], "app-starting", st)
	r = run(t, "", kubeArgs("auth", "push", "app", "-f", file, "--port-forward")...)
	if r.code != ExitFailure || !strings.Contains(r.err, "no Ready pod: app-starting is not Ready") {
		t.Fatalf("starting pod: %+v", r)
	}
	// Ready: the port-forward goes through the API server, which has no
	// kubelet to reach here.
	statustest.SetPodStatus(t, kubeEnv.Client, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "app-starting", Namespace: ns}},
		statustest.HealthyStatus(sys.Workspaces[0], time.Now()))
	r = run(t, "", kubeArgs("auth", "push", "app", "-f", file, "--port-forward")...)
	if r.code != ExitFailure || !strings.Contains(r.err, "port-forward to pod "+ns+"/app-starting: error upgrading connection") {
		t.Fatalf("port-forward: %+v", r)
	}
	if r := run(t, "", kubeArgs("auth", "push", "nope", "-f", file)...); r.code != ExitFailure || !strings.Contains(r.err, `no workspace "nope"`) {
		t.Fatalf("unknown workspace: %+v", r)
	}
}

// newServerPassword creates the server password Secret and returns it.
func newServerPassword(t *testing.T, file string) string {
	t.Helper()
	r := run(t, "", kubeArgs("secrets", "password", "-f", file)...)
	password := strings.TrimSpace(r.out)
	if r.code != 0 || password == "" {
		t.Fatalf("password: %+v", r)
	}
	return password
}

// auth push never follows a redirect: a 307 from the workspace URL would
// re-send the login and the password to wherever it points.
func TestAuthPushDoesNotFollowRedirects(t *testing.T) {
	ns := opsNamespace(t, "cli-redirect-")
	file := opsSpec(t, ns, "manual", "defaults: {reloader: false}\n")
	password := newServerPassword(t, file)
	writeLocalAuth(t, localRefresh)

	var mu sync.Mutex
	var followed []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		followed = append(followed, r.Method+" "+r.URL.Path)
		mu.Unlock()
		_, _ = io.WriteString(w, "true")
	}))
	defer other.Close()
	workspace := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/global/health" {
			_, _ = io.WriteString(w, `{"healthy":true,"version":"1.18.33"}`)
			return
		}
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer workspace.Close()

	r := run(t, "", kubeArgs("auth", "push", "app", "-f", file, "--url", workspace.URL)...)
	if r.code != ExitFailure || !strings.Contains(r.err, "PUT /auth/github-copilot: HTTP 307 Temporary Redirect: redirect to "+other.URL+"/auth/github-copilot not followed") {
		t.Fatalf("push to a redirecting server: %+v", r)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(followed) > 0 {
		t.Errorf("the push followed the redirect: %v", followed)
	}
	noLeak(t, []result{r}, localRefresh, password)
}

// Plain http to another machine is refused before any traffic (the API
// server included) unless --insecure is given.
func TestAuthPushPlainHTTPNeedsInsecure(t *testing.T) {
	kubeconfig, _, requests := stalledAPIServer(t)
	file := opsSpec(t, "plain", "manual", "")
	writeLocalAuth(t, localRefresh)
	remote := "http://192.0.2.10:4096/" // TEST-NET-1: nothing answers there
	r := run(t, "", "auth", "push", "app", "-f", file, "--url", remote, "--kubeconfig", kubeconfig, "--request-timeout", "1s")
	want := "error: --url: opencode: http://192.0.2.10:4096: plain http to a host that is not this machine would send the password and the login unencrypted: use https, or pass --insecure to send them anyway"
	if r.code != ExitFailure || !strings.Contains(r.err, want) {
		t.Fatalf("plain http: want %q, got %+v", want, r)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests to the API server before refusing", n)
	}
	// --insecure lets it through to the next step (reading the password
	// from the cluster, which stalls here): the URL is never reached.
	r = run(t, "", "auth", "push", "app", "-f", file, "--url", remote, "--insecure", "--kubeconfig", kubeconfig, "--request-timeout", "1s")
	if r.code != ExitFailure || !strings.Contains(r.err, "warning: --insecure: the password and the login travel to 192.0.2.10:4096 unencrypted") ||
		!strings.Contains(r.err, "did not answer within 1s") {
		t.Fatalf("--insecure: %+v", r)
	}
}

// A Gateway whose certificate a private CA signed: auth push refuses it as
// unknown, says how to trust it, and goes through with --ca-file.
func TestAuthPushPrivateCA(t *testing.T) {
	ns := opsNamespace(t, "cli-ca-")
	file := opsSpec(t, ns, "manual", "defaults: {reloader: false}\n")
	password := newServerPassword(t, file)
	oc := opencodetest.Start(t, password)
	target, err := url.Parse(oc.URL)
	if err != nil {
		t.Fatal(err)
	}
	// The TLS end of the route, on loopback, in front of the real OpenCode.
	ca := tlstest.NewCA(t, "ocw test internal CA")
	gw := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(target))
	gw.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, "127.0.0.1").TLS}}
	gw.StartTLS()
	defer gw.Close()
	dir := t.TempDir()
	caFile := ca.WriteCA(t, dir)
	otherCA := tlstest.NewCA(t, "another CA").WriteCA(t, t.TempDir())
	notPEM := filepath.Join(dir, "not.pem")
	writeFile(t, notPEM, "not a certificate\n")
	writeLocalAuth(t, localRefresh)
	push := func(extra ...string) result {
		return run(t, "", kubeArgs(append([]string{"auth", "push", "app", "-f", file, "--url", gw.URL}, extra...)...)...)
	}
	var all []result

	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"system roots only", nil, []string{"certificate signed by unknown authority", "pass it with --ca-file"}},
		{"another CA", []string{"--ca-file", otherCA}, []string{"certificate signed by unknown authority"}},
		{"missing file", []string{"--ca-file", filepath.Join(dir, "nope.crt")}, []string{"error: --ca-file: open " + filepath.Join(dir, "nope.crt")}},
		{"no PEM", []string{"--ca-file", notPEM}, []string{"error: --ca-file " + notPEM + ": no PEM certificate in it"}},
	} {
		r := push(c.args...)
		all = append(all, r)
		for _, w := range c.want {
			if r.code != ExitFailure || !strings.Contains(r.err, w) {
				t.Errorf("%s: want exit %d and %q, got %+v", c.name, ExitFailure, w, r)
			}
		}
	}
	if ids := oc.Providers(t); slices.Contains(ids, "github-copilot") {
		t.Fatal("the login reached OpenCode through an untrusted certificate")
	}

	r := push("--ca-file", caFile)
	all = append(all, r)
	if r.code != 0 || !strings.Contains(r.err, "pushed the github-copilot login to app at "+gw.URL+"/ (OpenCode 1.18.33) and reloaded it") {
		t.Fatalf("push with --ca-file: %+v", r)
	}
	if ids := oc.Providers(t); !slices.Contains(ids, "github-copilot") {
		t.Fatalf("providers after push: %v", ids)
	}
	noLeak(t, all, localRefresh, password)
}
