//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
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

func writeSpec(t *testing.T, path, ns string, ws map[string]string) {
	var b strings.Builder
	b.WriteString(specHeader(ns, storageSC, ""))
	for _, name := range []string{"alpha", "beta", "gamma"} {
		if url, ok := ws[name]; ok {
			fmt.Fprintf(&b, "  - name: %s\n    repo: %s\n", name, url)
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// specHeader is the spec up to its workspaces: manual secrets, small
// requests, volumes of storage class sc; extra goes under defaults.
func specHeader(ns, sc, extra string) string {
	return fmt.Sprintf(`apiVersion: ocw.dev/v1alpha1
kind: Workspaces
namespace: %s
domain: e2e.test
secrets: {mode: manual}
defaults:
  storage: {size: 1Gi, storageClass: %s}
  git: {allowHTTP: true}
  resources:
    requests: {cpu: 50m, memory: 256Mi}
%sworkspaces:
`, ns, sc, extra)
}

func TestRealNode(t *testing.T) {
	n := nodeFor(t, "ocw-e2e")
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
	writeSpec(t, spec, n.ns, map[string]string{"alpha": gw + "/repo-a.git", "beta": gw + "/repo-b.git"})
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
	t.Logf("both workspaces Ready %s after apply (%s since the test began)", time.Since(applyStart).Round(time.Second), time.Since(start).Round(time.Second))
	if got := n.kubectl("get", "ns", n.ns, "-o", `jsonpath={.metadata.labels.pod-security\.kubernetes\.io/enforce}`); got != "restricted" {
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

	// 4b. A stop takes seconds, not the 30 s grace period (OpenCode under
	// the serve script, not PID 1, handles SIGTERM), and leaves the
	// session database intact.
	n.stopAndCheckDB("alpha", sess.ID)

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
	podBefore := n.podUID("alpha")
	if out, err := n.run("", nil, n.ocw, "auth", "push", "alpha", "-f", spec, "--port-forward", "--from", authFile); err != nil {
		t.Fatalf("ocw auth push --port-forward: %v\n%s", err, out)
	}
	if got := n.exec("alpha", "cat "+authPath); !strings.Contains(got, "gho_third") {
		t.Fatalf("auth.json after auth push: %q", got)
	}
	if after := n.podUID("alpha"); after != podBefore {
		t.Fatalf("auth push restarted the pod (%s -> %s)", podBefore, after)
	}
	if doc, _ := n.run("", nil, n.ocw, "doctor", "-f", spec, "alpha"); !strings.Contains(doc, "git version") {
		t.Fatalf("ocw doctor alpha does not report git in the running image:\n%s", doc)
	}

	// 5b. The user's path: a browser over HTTPS through a real Gateway.
	n.throughGateway(spec, password, map[string]string{"alpha": "repo-a", "beta": "repo-b"})

	// 6. A workspace whose token the server refuses: one-line cause in the
	// clone container's termination message; the others stay Ready.
	writeSpec(t, spec, n.ns, map[string]string{"alpha": gw + "/repo-a.git", "beta": gw + "/repo-b.git", "gamma": gwBad + "/repo-c.git"})
	n.must(n.ocw, "apply", "-f", spec)
	var msg string
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(2 * time.Second) {
		for _, st := range []string{"state", "lastState"} {
			out, _ := n.run("", nil, filepath.Join(n.bin, "kubectl"), "get", "pod", "-n", n.ns, "-l", "ocw.dev/workspace=gamma",
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
		n.kubectl("wait", "-n", n.ns, "--for=condition=Ready", "pod", "-l", "ocw.dev/workspace="+name, "--timeout=10s")
	}
	if got := n.kubectl("get", "ns", n.ns, "-o", `jsonpath={.metadata.labels.pod-security\.kubernetes\.io/enforce}`); got != "restricted" {
		t.Fatalf("namespace enforce label = %q at the end, want restricted", got)
	}
	n.emptyPasswordNeverServes(gw+"/repo-a.git", pat)
	t.Logf("scenario done in %s", time.Since(start).Round(time.Second))
	// The next tests share the node: free its CPU (the PVs stay Released).
	n.kubectl("delete", "namespace", n.ns, "--wait=false")
}

// stopAndCheckDB scales the workspace to 0 and logs the time from the
// request to the pod's end; its OpenCode container must have ended on
// SIGTERM, not on the kubelet's SIGKILL at the end of the grace period. The
// session database, copied from the local PV as a backup would, must pass
// SQLite's integrity check and hold session id. Then the workspace starts
// again.
func (n *node) stopAndCheckDB(name, id string) {
	n.t.Helper()
	pod := n.kubectl("get", "pods", "-n", n.ns, "-l", "ocw.dev/workspace="+name, "-o", "jsonpath={.items[0].metadata.name}")
	// A watch sees every status the kubelet reports, the last one (in the
	// DELETED event) included, so the container's exit code is never
	// missed. The context only ends a hang.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	watch := exec.CommandContext(ctx, filepath.Join(n.bin, "kubectl"), "get", "pod", "-n", n.ns, pod, "--watch", "--output-watch-events",
		"-o", `jsonpath={.type} {.object.status.containerStatuses[?(@.name=="opencode")].state.terminated.exitCode}{"\n"}`)
	watch.Env = n.env()
	events, err := watch.StdoutPipe()
	if err != nil {
		n.t.Fatal(err)
	}
	if err := watch.Start(); err != nil {
		n.t.Fatal(err)
	}
	defer func() { cancel(); _ = watch.Wait() }()
	began := time.Now()
	n.kubectl("scale", "-n", n.ns, "deploy/"+name, "--replicas=0")
	exit := ""
	lines := bufio.NewScanner(events)
	for lines.Scan() {
		typ, code, _ := strings.Cut(strings.TrimSpace(lines.Text()), " ")
		if code != "" {
			exit = code
		}
		if typ == "DELETED" {
			break
		}
	}
	n.t.Logf("scale to 0: pod %s gone %s after the request (OpenCode container exit code %q)", pod, time.Since(began).Round(100*time.Millisecond), exit)
	// 143 is OpenCode ended by the SIGTERM the serve script forwarded; a
	// container that ignores SIGTERM ends at the grace period's SIGKILL
	// (137), and one that never reported its end leaves the code empty.
	if exit != "143" {
		n.t.Errorf("OpenCode container exit code %q, want 143 (stopped by SIGTERM)", exit)
	}

	n.checkVolumeDB(name, id, "after the stop")
	n.kubectl("scale", "-n", n.ns, "deploy/"+name, "--replicas=1")
	n.waitReady(name)
}

// checkVolumeDB copies the workspace's session database from its local
// PV, as a backup would (the workspace stopped or idle, so the files are
// still), and checks that it passes SQLite's integrity check and holds
// session id.
func (n *node) checkVolumeDB(name, id, when string) {
	n.t.Helper()
	pv := n.kubectl("get", "pvc", "-n", n.ns, name, "-o", "jsonpath={.spec.volumeName}")
	root := n.kubectl("get", "pv", pv, "-o", "jsonpath={.spec.local.path}")
	src := filepath.Join(root, "home/.local/share/opencode")
	dst := n.t.TempDir()
	for _, f := range []string{"opencode.db", "opencode.db-wal", "opencode.db-shm"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if os.IsNotExist(err) && f != "opencode.db" {
			continue
		}
		if err != nil {
			n.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, f), b, 0o600); err != nil {
			n.t.Fatal(err)
		}
	}
	db := filepath.Join(dst, "opencode.db")
	if out := strings.TrimSpace(n.must("sqlite3", db, "PRAGMA integrity_check;")); out != "ok" {
		n.t.Errorf("integrity_check %s: %s", when, out)
	}
	if out := n.must("sqlite3", db, "SELECT id FROM session;"); !strings.Contains(out, id) {
		n.t.Errorf("session %s missing from the database %s: %s", id, when, out)
	}
}

// emptyPasswordNeverServes: in a namespace whose password Secret holds an
// empty value, the workspace never becomes Ready and no unauthenticated
// request through a port-forward ever gets a 200; status and doctor say why.
func (n *node) emptyPasswordNeverServes(repo, pat string) {
	n.t.Helper()
	e := &node{cluster: n.cluster, t: n.t, ns: n.ns + "-nopw"}
	dir := n.t.TempDir()
	spec := filepath.Join(dir, "workspaces.yaml")
	writeSpec(n.t, spec, e.ns, map[string]string{"alpha": repo})
	e.must(e.ocw, "apply", "-f", spec)
	if out, err := e.run("", []string{"E2E_PAT=" + pat}, e.ocw, "secrets", "git-token", "-f", spec, "--from-env", "E2E_PAT"); err != nil {
		n.t.Fatalf("ocw secrets git-token: %v\n%s", err, out)
	}
	// Made by hand, as a blank store entry or a careless kubectl would.
	e.kubectlIn(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"opencode-server-auth","namespace":"`+e.ns+`"},"data":{"OPENCODE_SERVER_PASSWORD":""}}`,
		"apply", "-f", "-")
	// ocw apply refuses from now on.
	if out, err := e.run("", nil, e.ocw, "apply", "-f", spec); err == nil || !strings.Contains(out, "is empty") {
		n.t.Errorf("ocw apply with an empty password Secret: %v\n%s", err, out)
	}
	var msg string
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline) && msg == ""; time.Sleep(2 * time.Second) {
		for _, st := range []string{"state", "lastState"} {
			out, _ := e.run("", nil, filepath.Join(e.bin, "kubectl"), "get", "pod", "-n", e.ns, "-l", "ocw.dev/workspace=alpha",
				"-o", `jsonpath={.items[0].status.containerStatuses[?(@.name=="opencode")].`+st+`.terminated.message}`)
			if m := strings.TrimSpace(out); m != "" {
				msg = m
				break
			}
		}
	}
	if !strings.HasPrefix(msg, "refused: OPENCODE_SERVER_PASSWORD is empty") {
		e.diagnose()
		n.t.Fatalf("opencode container termination message %q, want the serve script's refusal", msg)
	}
	// Whatever the port-forward reaches (nothing, most of the time), it is
	// never a 200 without credentials.
	for i := 0; i < 5; i++ {
		if code := unauthenticatedStatus(e, "alpha"); code == 200 {
			n.t.Fatalf("a workspace with an empty password answered 200 without credentials")
		}
		time.Sleep(2 * time.Second)
	}
	if ready := e.kubectl("get", "pod", "-n", e.ns, "-l", "ocw.dev/workspace=alpha", "-o", `jsonpath={.items[0].status.conditions[?(@.type=="Ready")].status}`); ready == "True" {
		n.t.Fatal("a workspace with an empty password became Ready")
	}
	st, _ := e.run("", nil, e.ocw, "status", "-f", spec)
	doc, _ := e.run("", nil, e.ocw, "doctor", "-f", spec)
	n.t.Logf("empty password: ocw status:\n%s\nocw doctor:\n%s", st, doc)
	if !strings.Contains(st, "refused") {
		n.t.Errorf("ocw status does not show the refusal")
	}
	if !strings.Contains(doc, "OPENCODE_SERVER_PASSWORD is empty") {
		n.t.Errorf("ocw doctor does not flag the empty password")
	}
	e.kubectl("delete", "namespace", e.ns, "--wait=false")
}

// unauthenticatedStatus starts a port-forward to the workspace and sends
// one request without credentials: the HTTP status, or 0 when nothing
// answers (the forward cannot start, or the connection is refused).
func unauthenticatedStatus(n *node, name string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(n.bin, "kubectl"), "port-forward", "-n", n.ns, "--address", "127.0.0.1", "deploy/"+name, ":4096")
	cmd.Env = n.env()
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0
	}
	if err := cmd.Start(); err != nil {
		return 0
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	buf := make([]byte, 256)
	k, _ := out.Read(buf)
	m := regexp.MustCompile(`127\.0\.0\.1:(\d+)`).FindStringSubmatch(string(buf[:k]))
	if m == nil {
		return 0
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://127.0.0.1:" + m[1] + "/global/health")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
