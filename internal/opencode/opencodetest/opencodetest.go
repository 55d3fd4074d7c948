// Package opencodetest runs the real OpenCode binary (the pinned version from
// hack/opencode.sh) on 127.0.0.1 for tests, with HOME and the XDG dirs in a
// temp dir so nothing touches the user's own OpenCode.
package opencodetest

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/opencode-workspaces/ocw/internal/testenv"
)

// Server is a running `opencode serve`.
type Server struct {
	URL      string
	Username string
	Password string
	// DataDir is $XDG_DATA_HOME/opencode (auth.json lives there).
	DataDir string
}

// Providers lists the ids of the providers the server has loaded (GET
// /config/providers), with the server's password.
func (s *Server) Providers(t testing.TB) []string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, strings.TrimSuffix(s.URL, "/")+"/config/providers", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(s.Username, s.Password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Providers []struct {
			ID string `json:"id"`
		} `json:"providers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /config/providers: HTTP %d, %v", resp.StatusCode, err)
	}
	ids := make([]string, 0, len(body.Providers))
	for _, p := range body.Providers {
		ids = append(ids, p.ID)
	}
	return ids
}

// AuthPath is the server's auth.json.
func (s *Server) AuthPath() string { return filepath.Join(s.DataDir, "auth.json") }

// binary returns the OpenCode binary: $OCW_OPENCODE, else what
// hack/opencode.sh prints (it installs the pinned version when missing).
func binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("OCW_OPENCODE"); p != "" {
		return p
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("bash", filepath.Join(root, "hack", "opencode.sh")).Output()
	if err != nil {
		t.Fatalf("OCW_OPENCODE is unset and hack/opencode.sh failed: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// Start runs `opencode serve` with password and waits until it answers
// /global/health. The process is killed when the test ends.
func Start(t testing.TB, password string) *Server {
	t.Helper()
	bin := binary(t)
	home := t.TempDir()
	work := filepath.Join(home, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	s := &Server{
		URL:      "http://127.0.0.1:" + strconv.Itoa(port) + "/",
		Username: "opencode",
		Password: password,
		DataDir:  filepath.Join(home, ".local", "share", "opencode"),
	}
	cmd := exec.Command(bin, "serve", "--hostname", "127.0.0.1", "--port", strconv.Itoa(port))
	cmd.Dir = work
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"XDG_DATA_HOME=" + filepath.Join(home, ".local", "share"),
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_STATE_HOME=" + filepath.Join(home, ".local", "state"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
		"OPENCODE_SERVER_PASSWORD=" + password,
	}
	// The server's output, for failure reports: a file the process writes
	// itself, so reading it needs no lock.
	logPath := filepath.Join(home, "opencode.log")
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	// Own process group, so the kill reaches anything it spawns.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})

	// A request made while OpenCode starts can hang: bound each one.
	client := &http.Client{Timeout: 2 * time.Second}
	err = wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		select {
		case <-exited:
			return false, errors.New("opencode serve exited early")
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"global/health", nil)
		req.SetBasicAuth(s.Username, password)
		resp, err := client.Do(req)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		out, _ := os.ReadFile(logPath)
		t.Fatalf("opencode serve did not become healthy: %v\n%s", err, out)
	}
	return s
}

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
