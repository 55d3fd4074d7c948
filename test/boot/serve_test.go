package boottest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
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

// setServerPassword sets the main container's password Secret to value.
func (sb *sandbox) setServerPassword(value string) {
	for _, e := range sb.pod.main.Env {
		if e.Name == boot.EnvServerPassword && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			sb.setSecret(e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key, value)
			return
		}
	}
	sb.t.Fatal("the main container takes OPENCODE_SERVER_PASSWORD from no Secret")
}

// TestServeRefusesEmptyPassword: OpenCode 1.18 serves everything without a
// login when the password is empty. The main container must refuse to start
// it, with a termination message that names the Secret, and nothing may
// listen on the port.
func TestServeRefusesEmptyPassword(t *testing.T) {
	t.Parallel()
	for name, pw := range map[string]string{"empty": "", "newline": "\n", "blanks": " \t "} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sb := newSandbox(t, bootContainers(t, specOpts{}))
			sb.ocBin = openCodeBinary(t)
			sb.port = opencodetest.FreePort(t)
			sb.setServerPassword(pw)
			r := sb.run(sb.pod.main)
			code, msg := boot.ParseTerminationMessage(r.termination)
			if r.code == 0 || code != boot.ServeRefused {
				t.Fatalf("main container with password %q: %s", pw, r)
			}
			if !strings.Contains(msg, "OPENCODE_SERVER_PASSWORD is empty") || !strings.Contains(msg, envOf(sb.pod.main, boot.EnvServerSecretHint)) {
				t.Errorf("message %q does not say what is empty and where", msg)
			}
			if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(sb.port), time.Second); err == nil {
				c.Close()
				t.Error("something listens on the workspace port although the password is empty")
			}
		})
	}
}

// TestProbeFailsWithoutPassword: an OpenCode that serves without a login (an
// image that ignores the variable, or one started around the serve script)
// must never pass the probe, although an authenticated request gets 200.
func TestProbeFailsWithoutPassword(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, bootContainers(t, specOpts{}))
	sb.ocBin = openCodeBinary(t)
	sb.port = opencodetest.FreePort(t)
	// OpenCode run directly, as an image whose entrypoint ignored the
	// password would: empty OPENCODE_SERVER_PASSWORD.
	c := withEnv(sb.pod.main, boot.EnvServerPassword, "")
	cmd := sb.command(context.Background(), c, c.Args)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := os.MkdirAll(cmd.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	srv := &server{cmd: cmd, log: &log, base: "http://127.0.0.1:" + strconv.Itoa(sb.port)}
	t.Cleanup(srv.stop)
	srv.waitHealthy(t, "opencode", "anything", 120*time.Second)
	if code, _ := srv.do(t, "GET", "/global/health", "", "", nil); code != 200 {
		t.Fatalf("OpenCode without a password answered %d to an unauthenticated request; the premise of this test is gone", code)
	}
	sb.pod.main = c
	for name, argv := range probeCommands(t, c) {
		r := runProbe(t, sb, argv)
		if r.code == 0 || !strings.Contains(r.stderr, "not password-protected") {
			t.Errorf("%s probe against an open server: %s", name, r)
		}
	}
}

// TestServeStopsOnSIGTERMAsPID1 runs the main container as PID 1 of its own
// PID namespace, as a container runtime does, and sends SIGTERM as the
// kubelet does. OpenCode as PID 1 ignores it (the grace period then ends in
// SIGKILL); under the serve script it must stop well within the 30 s grace
// period, and the session database must be intact afterwards.
func TestServeStopsOnSIGTERMAsPID1(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Fatal("this test creates a PID namespace and needs root (the test command runs as root)")
	}
	sqlite := requireSQLite(t)
	e := newCloneEnv(t, specOpts{}, nil, 1)
	e.ocBin = openCodeBinary(t)
	e.port = opencodetest.FreePort(t)
	e.expect(e.run(e.pod.clone), boot.ResultCloned)

	c := e.pod.main
	cmd := e.command(context.Background(), c, append(append([]string(nil), c.Command...), c.Args...))
	cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWPID
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the main container in a PID namespace: %v", err)
	}
	srv := &server{cmd: cmd, log: &log, base: "http://127.0.0.1:" + strconv.Itoa(e.port)}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		e.killAll()
	})
	user, pw := "opencode", e.serverPassword()
	srv.waitHealthy(t, user, pw, 120*time.Second)

	// Write to the session DB right before the stop.
	var ids []string
	for i := range 5 {
		code, b := srv.do(t, "POST", "/session", user, pw, strings.NewReader(`{"title":"s`+strconv.Itoa(i)+`"}`))
		var s struct{ ID string }
		if err := json.Unmarshal(b, &s); code != 200 || err != nil || s.ID == "" {
			t.Fatalf("POST /session: %d %s", code, b)
		}
		ids = append(ids, s.ID)
	}

	if err := syscall.Kill(cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	// The guard only ends a hang (a PID 1 that ignores SIGTERM never
	// exits); what is asserted is how it ended: OpenCode's status after
	// the forwarded SIGTERM, passed on by the script (128 + 15).
	var err error
	select {
	case err = <-done:
		t.Logf("PID 1 exited %v after SIGTERM (%v)", time.Since(sent).Round(10*time.Millisecond), err)
	case <-time.After(90 * time.Second):
		t.Fatalf("the main container never exited after SIGTERM as PID 1\n%s", log.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 143 {
		t.Errorf("PID 1 ended with %v, want exit 143: OpenCode stopped by the forwarded SIGTERM", err)
	}
	if left := e.procs(); len(left) > 0 {
		t.Errorf("processes left after the container's PID 1 exited: %v", left)
	}

	db := filepath.Join(e.hostPath(c, envOf(c, "XDG_DATA_HOME")), "opencode", "opencode.db")
	out, err := exec.Command(sqlite, db, "PRAGMA integrity_check;").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("integrity_check of %s: %v: %s", db, err, out)
	}
	out, err = exec.Command(sqlite, db, "SELECT id FROM session;").CombinedOutput()
	if err != nil {
		t.Fatalf("reading sessions: %v: %s", err, out)
	}
	for _, id := range ids {
		if !strings.Contains(string(out), id) {
			t.Errorf("session %s created before the stop is not in the database", id)
		}
	}
}

// requireSQLite returns the sqlite3 program (Debian's sqlite3, installed by
// the test command); it fails, never skips, when missing.
func requireSQLite(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("sqlite3")
	if err != nil {
		t.Fatal("sqlite3 missing: install the test tools (apt-get install -y sqlite3; hack/test.sh does)")
	}
	return p
}
