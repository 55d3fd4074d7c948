package boottest

import (
	"bytes"
	"context"
	"crypto/subtle"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/opencode-workspaces/ocw/internal/boot"
)

// probeCommands returns the exec commands of the main container's probes;
// they must all be the probe script.
func probeCommands(t testing.TB, c corev1.Container) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.Exec == nil {
			t.Fatalf("%s probe is not an exec probe", name)
		}
		if !slices.Contains(p.Exec.Command, boot.ProbeScript) {
			t.Errorf("%s probe does not run boot.ProbeScript", name)
		}
		out[name] = p.Exec.Command
	}
	return out
}

// runProbe runs one probe command in the main container's env, bounded like
// the kubelet's timeoutSeconds.
func runProbe(t testing.TB, sb *sandbox, argv []string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	began := time.Now()
	cmd := sb.command(ctx, sb.pod.main, argv)
	if err := os.MkdirAll(cmd.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return sb.finish(sb.pod.main, cmd, &out, &errb, began)
}

// healthServer imitates OpenCode's /global/health with basic auth.
type healthServer struct {
	mu             sync.Mutex
	user, password string
	mode           string // healthy, unhealthy, error, hang
	done           chan struct{}
}

func (h *healthServer) set(mode, password string) {
	h.mu.Lock()
	h.mode, h.password = mode, password
	h.mu.Unlock()
}

func (h *healthServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	user, password, mode := h.user, h.password, h.mode
	h.mu.Unlock()
	u, p, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(user)) != 1 || subtle.ConstantTimeCompare([]byte(p), []byte(password)) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="Secure Area"`)
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	if r.URL.Path != "/global/health" {
		http.NotFound(w, r)
		return
	}
	switch mode {
	case "hang":
		// Ignore the request context: nc half-closes after sending, which
		// cancels it, and a hung server would not notice anyway.
		<-h.done
	case "error":
		http.Error(w, "boom", http.StatusInternalServerError)
	case "unhealthy":
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"healthy":false,"version":"1.18.33"}`))
	default:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"healthy":true,"version":"1.18.33"}`))
	}
}

func TestProbeScript(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, bootContainers(t, specOpts{}))
	cmds := probeCommands(t, sb.pod.main)
	pw := sb.serverPassword()
	user := envOf(sb.pod.main, "OPENCODE_SERVER_USERNAME")
	if user == "" {
		user = "opencode"
	}
	h := &healthServer{user: user, password: pw, done: make(chan struct{})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { close(h.done); _ = srv.Close() })
	sb.port = l.Addr().(*net.TCPAddr).Port

	cases := []struct {
		mode, password string
		pass           bool
		stderr         string
	}{
		{"healthy", pw, true, ""},
		{"healthy", "wrong", false, "401"},
		{"unhealthy", pw, false, "did not report healthy"},
		{"error", pw, false, "500"},
		{"hang", pw, false, "no HTTP answer from 127.0.0.1:" + strconv.Itoa(sb.port) + " within 4s"},
	}
	for _, c := range cases {
		h.set(c.mode, c.password)
		for name, argv := range cmds {
			scan := scanProcs(pw)
			r := runProbe(t, sb, argv)
			if hits := scan.finish(); len(hits) > 0 {
				t.Errorf("password in argv during the probe: %q", hits)
			}
			if (r.code == 0) != c.pass || !strings.Contains(r.stderr, c.stderr) {
				t.Errorf("%s probe, server %s, password ok %v: %s", name, c.mode, c.password == pw, r)
			}
			if strings.Contains(r.stdout+r.stderr, pw) {
				t.Error("password in probe output")
			}
			if c.mode == "hang" {
				break // one is enough: each takes the full timeout
			}
		}
	}

	// Nothing listening: fails, saying nothing answered.
	_ = srv.Close()
	r := runProbe(t, sb, cmds["liveness"])
	if r.code == 0 || !strings.Contains(r.stderr, "no HTTP answer") {
		t.Errorf("probe with no server: %s", r)
	}
}
