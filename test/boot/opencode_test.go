package boottest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencode-workspaces/ocw/internal/boot"
	"github.com/opencode-workspaces/ocw/internal/opencode/opencodetest"
)

// openCodeBinary returns the pinned OpenCode binary: $OCW_OPENCODE (set by
// hack/test.sh) or what hack/opencode.sh installs (once, then offline).
func openCodeBinary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("OCW_OPENCODE"); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("OCW_OPENCODE=%s: %v (run hack/opencode.sh)", bin, err)
		}
		return bin
	}
	script, err := filepath.Abs("../../hack/opencode.sh")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var errb bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("OpenCode is not installed and hack/opencode.sh failed (it needs npm and the npm registry once): %v\n%s", err, errb.String())
	}
	bin := strings.TrimSpace(string(out))
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("hack/opencode.sh printed %q: %v", bin, err)
	}
	return bin
}

// server is a running main container.
type server struct {
	cmd  *exec.Cmd
	log  *bytes.Buffer
	base string
}

func (sb *sandbox) startMain(t *testing.T) *server {
	t.Helper()
	c := sb.pod.main
	cmd := sb.command(context.Background(), c, append(append([]string(nil), c.Command...), c.Args...))
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start opencode: %v", err)
	}
	s := &server{cmd: cmd, log: &log, base: "http://127.0.0.1:" + strconv.Itoa(sb.port)}
	t.Cleanup(func() { s.stop() })
	return s
}

// stop sends SIGTERM as the kubelet does and waits (bounded) for the exit.
func (s *server) stop() {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

var httpc = &http.Client{Timeout: 15 * time.Second}

func (s *server) do(t *testing.T, method, path, user, pw string, body io.Reader) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.SetBasicAuth(user, pw)
	}
	resp, err := httpc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v\nserver log:\n%s", method, path, err, s.log.String())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// waitHealthy polls /global/health with credentials, bounded.
func (s *server) waitHealthy(t *testing.T, user, pw string, limit time.Duration) time.Duration {
	t.Helper()
	began := time.Now()
	c := &http.Client{Timeout: 2 * time.Second}
	for time.Since(began) < limit {
		if s.cmd.ProcessState != nil {
			t.Fatalf("opencode exited: %v\n%s", s.cmd.ProcessState, s.log.String())
		}
		req, _ := http.NewRequest("GET", s.base+"/global/health", nil)
		req.SetBasicAuth(user, pw)
		if resp, err := c.Do(req); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && bytes.Contains(b, []byte(`"healthy":true`)) {
				return time.Since(began)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("opencode not healthy after %v\n%s", limit, s.log.String())
	return 0
}

func TestOpenCodeEndToEnd(t *testing.T) {
	t.Parallel()
	ocBin := openCodeBinary(t)
	e := newCloneEnv(t, specOpts{}, nil, 2)
	e.ocBin = ocBin
	e.port = opencodetest.FreePort(t)
	a := &authEnv{sandbox: e.sandbox}
	a.src = e.hostPath(e.pod.seedAuth, envOf(e.pod.seedAuth, boot.EnvAuthSource))
	a.dest = e.hostPath(e.pod.seedAuth, envOf(e.pod.seedAuth, boot.EnvAuthDest))
	writeAtomic(t, a.src, []byte(copilotJSON("gho_fake")))

	bootPod := func(wantClone, wantAuth string) {
		e.expect(e.run(e.pod.clone), wantClone)
		a.boot(t, wantAuth)
	}
	bootPod(boot.ResultCloned, boot.AuthSeeded)

	user := envOf(e.pod.main, "OPENCODE_SERVER_USERNAME")
	if user == "" {
		user = "opencode"
	}
	pw := e.serverPassword()
	srv := e.startMain(t)
	took := srv.waitHealthy(t, user, pw, 120*time.Second)
	t.Logf("first start healthy after %v", took)

	for _, p := range []string{"/", "/global/health", "/session"} {
		if code, _ := srv.do(t, "GET", p, "", "", nil); code != http.StatusUnauthorized {
			t.Errorf("GET %s without password: %d, want 401", p, code)
		}
		if code, _ := srv.do(t, "GET", p, user, "wrong", nil); code != http.StatusUnauthorized {
			t.Errorf("GET %s with a wrong password: %d, want 401", p, code)
		}
		if code, _ := srv.do(t, "GET", p, user, pw, nil); code != http.StatusOK {
			t.Errorf("GET %s with the password: %d, want 200", p, code)
		}
	}

	var paths struct{ Home, Worktree, Directory string }
	code, b := srv.do(t, "GET", "/path", user, pw, nil)
	if err := json.Unmarshal(b, &paths); code != 200 || err != nil {
		t.Fatalf("/path: %d %s %v", code, b, err)
	}
	repo, _ := filepath.EvalSymlinks(e.repoDir())
	if paths.Worktree != repo || paths.Directory != repo {
		t.Errorf("/path worktree %q directory %q, want the cloned repo %q", paths.Worktree, paths.Directory, repo)
	}
	if home := e.hostPath(e.pod.main, envOf(e.pod.main, "HOME")); paths.Home != home {
		t.Errorf("/path home %q, want %q", paths.Home, home)
	}

	code, b = srv.do(t, "GET", "/config/providers", user, pw, nil)
	if code != 200 || !bytes.Contains(b, []byte(`"github-copilot"`)) {
		t.Errorf("/config/providers does not list github-copilot after seeding (%d): %.300s", code, b)
	}

	// The rendered probes pass, and fail with a wrong password.
	cmds := probeCommands(t, e.pod.main)
	for name, argv := range cmds {
		if r := runProbe(t, e.sandbox, argv); r.code != 0 {
			t.Errorf("%s probe against OpenCode failed: %s", name, r)
		}
	}
	good := e.pod.main
	e.pod.main = withEnv(good, "OPENCODE_SERVER_PASSWORD", "wrong-"+randomHex(4))
	if r := runProbe(t, e.sandbox, cmds["liveness"]); r.code == 0 || !strings.Contains(r.stderr, "401") {
		t.Errorf("probe with a wrong password: %s", r)
	}
	e.pod.main = good

	code, b = srv.do(t, "POST", "/session", user, pw, strings.NewReader(`{"title":"before restart"}`))
	var sess struct{ ID string }
	if err := json.Unmarshal(b, &sess); code != 200 || err != nil || sess.ID == "" {
		t.Fatalf("POST /session: %d %s %v", code, b, err)
	}

	// Restart the pod: boot steps again (nothing to do), then OpenCode.
	srv.stop()
	bootPod(boot.ResultPresent, boot.AuthUnchanged)
	srv = e.startMain(t)
	took = srv.waitHealthy(t, user, pw, 120*time.Second)
	t.Logf("restart healthy after %v", took)
	code, b = srv.do(t, "GET", "/session", user, pw, nil)
	if code != 200 || !bytes.Contains(b, []byte(sess.ID)) {
		t.Errorf("session %s created before the restart is not listed after it (%d): %.500s", sess.ID, code, b)
	}
	if strings.Contains(srv.log.String(), pw) {
		t.Error("OpenCode logged the server password")
	}
}
