//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opencode-workspaces/ocw/test/boot/gitserver"
)

const (
	ns        = "ocw-e2e"
	gitUser   = "x-access-token"
	ocUser    = "opencode"
	authPath  = "/home/opencode/.local/share/opencode/auth.json"
	storageSC = "ocw-e2e-local"
)

type node struct {
	t          *testing.T
	repo       string // repository root
	work       string // harness working root
	kubeconfig string
	gateway    string
	bin        string // kubernetes binaries
	ocw        string // ocw binary
}

func repoRoot(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

func workRoot() string {
	if w := os.Getenv("OCW_E2E_ROOT"); w != "" {
		return w
	}
	c := os.Getenv("OCW_CACHE")
	if c == "" {
		h, _ := os.UserHomeDir()
		c = filepath.Join(h, ".cache", "ocw")
	}
	return filepath.Join(c, "e2e")
}

// startNode runs hack/e2e/up.sh (after a down.sh of any leftover of ours) and
// registers down.sh for the end of the test.
func startNode(t *testing.T) *node {
	n := &node{t: t, repo: repoRoot(t), work: workRoot()}
	down := func() {
		cmd := exec.Command(filepath.Join(n.repo, "hack/e2e/down.sh"), n.work)
		cmd.Env = append(os.Environ(), "WIPE=1")
		out, _ := cmd.CombinedOutput()
		t.Logf("down.sh: %s", strings.TrimSpace(string(out)))
	}
	down()
	start := time.Now()
	cmd := exec.Command(filepath.Join(n.repo, "hack/e2e/up.sh"), n.work)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		down()
		t.Fatalf("hack/e2e/up.sh: %v", err)
	}
	if os.Getenv("OCW_E2E_KEEP") != "1" {
		t.Cleanup(down)
	}
	for _, l := range strings.Split(stdout.String(), "\n") {
		k, v, _ := strings.Cut(l, "=")
		switch k {
		case "KUBECONFIG":
			n.kubeconfig = v
		case "GATEWAY":
			n.gateway = v
		case "BIN":
			n.bin = v
		}
	}
	if n.kubeconfig == "" || n.gateway == "" || n.bin == "" {
		t.Fatalf("up.sh printed no KUBECONFIG/GATEWAY/BIN: %q", stdout.String())
	}
	t.Logf("node up in %s", time.Since(start).Round(time.Second))
	if n.ocw = os.Getenv("OCW_E2E_OCW"); n.ocw == "" { // a prebuilt ocw, else built here
		n.ocw = filepath.Join(t.TempDir(), "ocw")
		n.must("go", "build", "-o", n.ocw, "./cmd/ocw")
	}
	return n
}

func (n *node) env(extra ...string) []string {
	return append(append(os.Environ(), "KUBECONFIG="+n.kubeconfig, "PATH="+n.bin+":"+os.Getenv("PATH")), extra...)
}

// run runs a command in the repo root with KUBECONFIG set; returns combined output.
func (n *node) run(stdin string, extraEnv []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = n.repo
	cmd.Env = n.env(extraEnv...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (n *node) must(name string, args ...string) string {
	n.t.Helper()
	out, err := n.run("", nil, name, args...)
	if err != nil {
		n.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func (n *node) kubectl(args ...string) string {
	n.t.Helper()
	return n.must(filepath.Join(n.bin, "kubectl"), args...)
}

// diagnose prints what a failure needs: pods, events, init container logs,
// the kubelet log tail.
func (n *node) diagnose() {
	k := filepath.Join(n.bin, "kubectl")
	for _, args := range [][]string{
		{"get", "pods,pvc,pv", "-A", "-o", "wide"},
		{"get", "events", "-n", ns, "--sort-by=.lastTimestamp"},
		{"describe", "pods", "-n", ns},
		{"logs", "-n", ns, "-l", "ocw.dev/workspace", "-c", "clone", "--tail=50", "--prefix"},
		{"logs", "-n", ns, "-l", "ocw.dev/workspace", "-c", "seed-auth", "--tail=50", "--prefix"},
		{"logs", "-n", ns, "-l", "ocw.dev/workspace", "-c", "opencode", "--tail=50", "--prefix"},
	} {
		out, _ := n.run("", nil, k, args...)
		n.t.Logf("--- kubectl %s\n%s", strings.Join(args, " "), out)
	}
	if b, err := os.ReadFile(filepath.Join(n.work, "log", "kubelet.log")); err == nil {
		lines := strings.Split(string(b), "\n")
		if len(lines) > 80 {
			lines = lines[len(lines)-80:]
		}
		n.t.Logf("--- kubelet log tail\n%s", strings.Join(lines, "\n"))
	}
}

// gatewayProxy listens on the bridge gateway address only and forwards to a
// loopback server: pods reach the git server through the harness's bridge,
// nothing else can.
func gatewayProxy(t *testing.T, gw, target string) string {
	l, err := net.Listen("tcp", net.JoinHostPort(gw, "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				u, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer u.Close()
				go func() { io.Copy(u, c); u.(*net.TCPConn).CloseWrite() }()
				io.Copy(c, u)
			}()
		}
	}()
	return "http://" + l.Addr().String()
}

func smallRepo(t testing.TB, work string, i int) {
	if err := os.WriteFile(filepath.Join(work, fmt.Sprintf("file%d.txt", i)), []byte(fmt.Sprintf("content %d\n", i)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeSpec(t *testing.T, path string, ws map[string]string) {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: ocw.dev/v1alpha1
kind: Workspaces
namespace: %s
domain: e2e.test
secrets: {mode: manual}
defaults:
  storage: {size: 1Gi, storageClass: %s}
  git: {allowHTTP: true}
  resources:
    requests: {cpu: 50m, memory: 256Mi}
workspaces:
`, ns, storageSC)
	for _, name := range []string{"alpha", "beta", "gamma"} {
		if url, ok := ws[name]; ok {
			fmt.Fprintf(&b, "  - name: %s\n    repo: %s\n", name, url)
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// forward runs kubectl port-forward to the workspace's Deployment on
// 127.0.0.1 and returns the base URL; stopped at the end of the test.
func (n *node) forward(name string) (string, func()) {
	n.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, filepath.Join(n.bin, "kubectl"), "port-forward", "-n", ns, "--address", "127.0.0.1", "deploy/"+name, ":4096")
	cmd.Env = n.env()
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	stop := func() { cancel(); cmd.Wait(); pw.Close() }
	n.t.Cleanup(stop)
	re := regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+)`)
	found := make(chan string, 1)
	go func() {
		buf := make([]byte, 4096)
		var acc string
		for {
			k, err := pr.Read(buf)
			acc += string(buf[:k])
			if m := re.FindStringSubmatch(acc); m != nil {
				found <- m[1]
				io.Copy(io.Discard, pr)
				return
			}
			if err != nil {
				return
			}
		}
	}()
	select {
	case p := <-found:
		return "http://127.0.0.1:" + p, stop
	case <-time.After(30 * time.Second):
		n.t.Fatalf("port-forward to %s did not start", name)
	}
	return "", stop
}

func httpDo(t *testing.T, method, url, password, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if password != "" {
		req.SetBasicAuth(ocUser, password)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	var resp *http.Response
	for i := 0; i < 20; i++ { // the forward's first connection can race the listener
		resp, err = http.DefaultClient.Do(req)
		if err == nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (n *node) exec(name string, script string) string {
	n.t.Helper()
	return n.kubectl("exec", "-n", ns, "deploy/"+name, "-c", "opencode", "--", "sh", "-c", script)
}

func (n *node) restart(name string, deletePod bool) {
	n.t.Helper()
	if deletePod {
		n.kubectl("delete", "pod", "-n", ns, "-l", "ocw.dev/workspace="+name, "--wait=true")
	} else {
		n.kubectl("rollout", "restart", "-n", ns, "deploy/"+name)
	}
	n.kubectl("rollout", "status", "-n", ns, "deploy/"+name, "--timeout=5m")
	n.kubectl("wait", "-n", ns, "--for=condition=Ready", "pod", "-l", "ocw.dev/workspace="+name, "--timeout=5m")
}

func (n *node) initMessage(name, container string) string {
	n.t.Helper()
	return n.kubectl("get", "pod", "-n", ns, "-l", "ocw.dev/workspace="+name,
		"-o", `jsonpath={.items[0].status.initContainerStatuses[?(@.name=="`+container+`")].state.terminated.message}`)
}

func TestRealNode(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the real-node tier needs root (containerd, kubelet, bridge)")
	}
	n := startNode(t)
	t.Cleanup(func() {
		if t.Failed() {
			n.diagnose()
		}
	})
	start := time.Now()
	dir := t.TempDir()

	// Git servers on loopback, reachable from pods only through the bridge
	// gateway address. The second one has another token: a wrong PAT.
	pat := "ghp_e2etoken0123456789abcdef"
	srv := gitserver.New(t, filepath.Join(dir, "srv"), gitUser, pat)
	srv.CreateRepo(t, "repo-a", 3, smallRepo)
	srv.CreateRepo(t, "repo-b", 2, smallRepo)
	bad := gitserver.New(t, filepath.Join(dir, "bad"), gitUser, "ghp_othertoken")
	bad.CreateRepo(t, "repo-c", 1, smallRepo)
	gw := gatewayProxy(t, n.gateway, strings.TrimPrefix(srv.URL, "http://"))
	gwBad := gatewayProxy(t, n.gateway, strings.TrimPrefix(bad.URL, "http://"))

	// Gateway API CRDs (the HTTPRoutes) from the module cache.
	gwDir := strings.TrimSpace(n.must("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api"))
	n.kubectl("apply", "--server-side", "-f", filepath.Join(gwDir, "config/crd/standard"))
	n.kubectl("wait", "--for=condition=Established", "crd/httproutes.gateway.networking.k8s.io", "--timeout=60s")

	spec := filepath.Join(dir, "workspaces.yaml")
	writeSpec(t, spec, map[string]string{"alpha": gw + "/repo-a.git", "beta": gw + "/repo-b.git"})
	n.must(n.ocw, "apply", "-f", spec)
	if out, err := n.run("", []string{"E2E_PAT=" + pat}, n.ocw, "secrets", "git-token", "-f", spec, "--from-env", "E2E_PAT"); err != nil {
		t.Fatalf("ocw secrets git-token: %v\n%s", err, out)
	}
	n.must(n.ocw, "secrets", "password", "-f", spec)
	password := strings.TrimSpace(n.must(n.ocw, "secrets", "password", "-f", spec, "--show"))
	authFile := filepath.Join(dir, "auth.json")
	writeAuth := func(refresh string) {
		a := `{"github-copilot":{"type":"oauth","refresh":"` + refresh + `","access":"` + refresh + `","expires":0}}`
		if err := os.WriteFile(authFile, []byte(a), 0o600); err != nil {
			t.Fatal(err)
		}
		n.must(n.ocw, "auth", "seed", "-f", spec, "--from", authFile)
	}
	writeAuth("gho_first")
	applyStart := time.Now()
	t.Log(n.must(n.ocw, "apply", "-f", spec, "--wait", "--timeout", "8m"))
	t.Logf("both workspaces Ready %s after apply (%s since node up)", time.Since(applyStart).Round(time.Second), time.Since(start).Round(time.Second))
	if got := n.kubectl("get", "ns", ns, "-o", `jsonpath={.metadata.labels.pod-security\.kubernetes\.io/enforce}`); got != "restricted" {
		t.Fatalf("namespace enforce label = %q, want restricted", got)
	}

	// 3. Through port-forward: auth, worktree, providers, a session.
	base, stopFwd := n.forward("alpha")
	if code, _ := httpDo(t, "GET", base+"/global/health", "", ""); code != 401 {
		t.Fatalf("GET /global/health without password: %d, want 401", code)
	}
	if code, body := httpDo(t, "GET", base+"/global/health", password, ""); code != 200 {
		t.Fatalf("GET /global/health with password: %d %s", code, body)
	}
	_, body := httpDo(t, "GET", base+"/path", password, "")
	var paths struct{ Worktree, Directory string }
	json.Unmarshal([]byte(body), &paths)
	if paths.Worktree != "/workspace/repo-a" {
		t.Fatalf("/path = %s, want worktree /workspace/repo-a", body)
	}
	if _, body := httpDo(t, "GET", base+"/config/providers", password, ""); !strings.Contains(body, "github-copilot") {
		t.Fatalf("/config/providers lacks github-copilot: %.500s", body)
	}
	code, body := httpDo(t, "POST", base+"/session", password, "{}")
	var sess struct{ ID string }
	json.Unmarshal([]byte(body), &sess)
	if code != 200 || sess.ID == "" {
		t.Fatalf("POST /session: %d %.300s", code, body)
	}
	stopFwd()
	if head := n.exec("alpha", "cd /workspace/repo-a && git rev-parse HEAD && ls"); !strings.Contains(head, "file2.txt") {
		t.Fatalf("clone content: %s", head)
	}
	if got := n.initMessage("alpha", "clone"); !strings.HasPrefix(got, "cloned:") {
		t.Fatalf("first clone message %q", got)
	}

	// 4. Persistence across a deleted pod, without a fetch.
	n.exec("alpha", "echo persisted > /workspace/repo-a/e2e-note.txt")
	fetches := srv.Fetches()
	n.restart("alpha", true)
	if got := n.exec("alpha", "cat /workspace/repo-a/e2e-note.txt"); strings.TrimSpace(got) != "persisted" {
		t.Fatalf("file after restart: %q", got)
	}
	if got := n.exec("alpha", "cat "+authPath); !strings.Contains(got, "gho_first") {
		t.Fatalf("auth.json after restart: %q", got)
	}
	if got := n.initMessage("alpha", "clone"); !strings.Contains(got, "already") {
		t.Fatalf("clone after restart: %q, want already cloned", got)
	}
	if srv.Fetches() != fetches {
		t.Fatalf("restart fetched from the git server (%d -> %d)", fetches, srv.Fetches())
	}
	base, stopFwd = n.forward("alpha")
	if _, body := httpDo(t, "GET", base+"/session", password, ""); !strings.Contains(body, sess.ID) {
		t.Fatalf("session %s lost after restart: %.500s", sess.ID, body)
	}
	stopFwd()

	// 5. A changed Copilot Secret reaches the pod at restart; an unchanged
	// one leaves an OpenCode-style rewrite of auth.json alone.
	writeAuth("gho_second")
	n.restart("alpha", false)
	if got := n.exec("alpha", "cat "+authPath); !strings.Contains(got, "gho_second") {
		t.Fatalf("auth.json after Secret change: %q", got)
	}
	n.exec("alpha", `printf '%s' '{"github-copilot":{"type":"oauth","refresh":"gho_second","access":"rewritten-by-opencode","expires":1}}' > `+authPath+`.tmp && mv `+authPath+`.tmp `+authPath)
	n.restart("alpha", false)
	if got := n.exec("alpha", "cat "+authPath); !strings.Contains(got, "rewritten-by-opencode") {
		t.Fatalf("rewrite lost after restart with unchanged Secret: %q", got)
	}

	// ocw auth push through a real port-forward: the new login reaches the
	// running workspace without a restart. ocw doctor execs git in the pod.
	third := `{"github-copilot":{"type":"oauth","refresh":"gho_third","access":"gho_third","expires":0}}`
	if err := os.WriteFile(authFile, []byte(third), 0o600); err != nil {
		t.Fatal(err)
	}
	podBefore := n.kubectl("get", "pods", "-n", ns, "-l", "ocw.dev/workspace=alpha", "-o", "jsonpath={.items[0].metadata.uid}")
	if out, err := n.run("", nil, n.ocw, "auth", "push", "alpha", "-f", spec, "--port-forward", "--from", authFile); err != nil {
		t.Fatalf("ocw auth push --port-forward: %v\n%s", err, out)
	}
	if got := n.exec("alpha", "cat "+authPath); !strings.Contains(got, "gho_third") {
		t.Fatalf("auth.json after auth push: %q", got)
	}
	if after := n.kubectl("get", "pods", "-n", ns, "-l", "ocw.dev/workspace=alpha", "-o", "jsonpath={.items[0].metadata.uid}"); after != podBefore {
		t.Fatalf("auth push restarted the pod (%s -> %s)", podBefore, after)
	}
	if doc, _ := n.run("", nil, n.ocw, "doctor", "-f", spec, "alpha"); !strings.Contains(doc, "git version") {
		t.Fatalf("ocw doctor alpha does not report git in the running image:\n%s", doc)
	}

	// 6. A workspace whose token the server refuses: one-line cause in the
	// clone container's termination message; the others stay Ready.
	writeSpec(t, spec, map[string]string{"alpha": gw + "/repo-a.git", "beta": gw + "/repo-b.git", "gamma": gwBad + "/repo-c.git"})
	n.must(n.ocw, "apply", "-f", spec)
	var msg string
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(2 * time.Second) {
		for _, st := range []string{"state", "lastState"} {
			out, _ := n.run("", nil, filepath.Join(n.bin, "kubectl"), "get", "pod", "-n", ns, "-l", "ocw.dev/workspace=gamma",
				"-o", `jsonpath={.items[0].status.initContainerStatuses[?(@.name=="clone")].`+st+`.terminated.message}`)
			if msg = strings.TrimSpace(out); msg != "" {
				break
			}
		}
		if msg != "" {
			break
		}
	}
	if !strings.HasPrefix(msg, "auth-failed: ") || strings.Contains(msg, "\n") {
		t.Fatalf("gamma clone termination message %q, want one line", msg)
	}
	t.Logf("gamma clone failed with: %s", msg)
	if strings.Contains(msg, "ghp_") {
		t.Fatalf("termination message leaks the token: %q", msg)
	}
	// ocw status and doctor name the cause too (status once the clone is in
	// back-off between retries).
	var st string
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(3 * time.Second) {
		if st, _ = n.run("", nil, n.ocw, "status", "-f", spec); strings.Contains(st, "auth-failed") {
			break
		}
	}
	t.Logf("ocw status:\n%s", st)
	if !strings.Contains(st, "auth-failed") {
		t.Errorf("ocw status does not show gamma's auth-failed clone")
	}
	doc, _ := n.run("", nil, n.ocw, "doctor", "-f", spec, "gamma")
	t.Logf("ocw doctor gamma:\n%s", doc)
	if !strings.Contains(doc, "auth-failed") {
		t.Errorf("ocw doctor gamma does not show the auth-failed clone")
	}
	for _, name := range []string{"alpha", "beta"} {
		n.kubectl("wait", "-n", ns, "--for=condition=Ready", "pod", "-l", "ocw.dev/workspace="+name, "--timeout=10s")
	}
	if got := n.kubectl("get", "ns", ns, "-o", `jsonpath={.metadata.labels.pod-security\.kubernetes\.io/enforce}`); got != "restricted" {
		t.Fatalf("namespace enforce label = %q at the end, want restricted", got)
	}
	t.Logf("scenario done in %s after node up", time.Since(start).Round(time.Second))
}
