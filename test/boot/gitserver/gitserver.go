// Package gitserver is a real git smart-HTTP server for tests: git
// http-backend behind net/http/cgi on 127.0.0.1, with basic auth, request
// counters and fault injection (HTTP errors, throttling, hanging).
package gitserver

import (
	"bytes"
	"crypto/subtle"
	"io"
	"log"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Server serves the bare repositories under Root as URL/<name>.
type Server struct {
	URL  string // http://127.0.0.1:<port>
	Root string

	srv  *httptest.Server
	done chan struct{}

	mu       sync.Mutex
	user     string
	password string
	public   map[string]bool
	failN    int
	failCode int
	rate     int // bytes per second; 0: unlimited
	hang     bool

	requests atomic.Int64
	fetches  atomic.Int64
	sent     atomic.Int64
}

// New starts a server serving root (created if missing) and stops it when
// the test ends. Every repository needs user/password unless made public.
func New(t testing.TB, root, user, password string) *Server {
	t.Helper()
	gitBin, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("git not found: run the test setup (apt-get install -y git busybox): %v", err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	s := &Server{Root: root, user: user, password: password, public: map[string]bool{}, done: make(chan struct{})}
	backend := &cgi.Handler{
		Path: gitBin,
		Args: []string{"http-backend"},
		Dir:  root,
		Env: []string{
			"GIT_PROJECT_ROOT=" + root,
			"GIT_HTTP_EXPORT_ALL=1",
			"HOME=" + root,
			"GIT_CONFIG_NOSYSTEM=1",
			// Partial clone needs the server to accept filters and lazy
			// fetches of single blobs.
			"GIT_CONFIG_COUNT=3",
			"GIT_CONFIG_KEY_0=uploadpack.allowFilter", "GIT_CONFIG_VALUE_0=true",
			"GIT_CONFIG_KEY_1=uploadpack.allowAnySHA1InWant", "GIT_CONFIG_VALUE_1=true",
			"GIT_CONFIG_KEY_2=safe.directory", "GIT_CONFIG_VALUE_2=*",
		},
		InheritEnv: []string{"PATH"},
		// Clients killed mid-transfer are the point of some tests.
		Logger: log.New(io.Discard, "", 0),
	}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, backend)
	}))
	s.URL = s.srv.URL
	t.Cleanup(s.Close)
	return s
}

// Close stops the server, releasing hung requests first.
func (s *Server) Close() {
	select {
	case <-s.done:
		return
	default:
	}
	close(s.done)
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// RepoURL is the clone URL of repository name (without ".git").
func (s *Server) RepoURL(name string) string { return s.URL + "/" + name + ".git" }

// SetPassword changes the accepted password (token rotation).
func (s *Server) SetPassword(p string) { s.mu.Lock(); s.password = p; s.mu.Unlock() }

// SetPublic lets anyone read repository name.
func (s *Server) SetPublic(name string, public bool) {
	s.mu.Lock()
	s.public[name] = public
	s.mu.Unlock()
}

// FailNext answers the next n requests with HTTP code.
func (s *Server) FailNext(n, code int) { s.mu.Lock(); s.failN, s.failCode = n, code; s.mu.Unlock() }

// Throttle limits each response to bytesPerSec (0: unlimited).
func (s *Server) Throttle(bytesPerSec int) { s.mu.Lock(); s.rate = bytesPerSec; s.mu.Unlock() }

// Hang makes requests block without an answer until unset or Close.
func (s *Server) Hang(on bool) { s.mu.Lock(); s.hang = on; s.mu.Unlock() }

// Requests counts every request received.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Fetches counts upload-pack requests (ref advertisement and pack).
func (s *Server) Fetches() int64 { return s.fetches.Load() }

// BytesSent counts response body bytes written to clients.
func (s *Server) BytesSent() int64 { return s.sent.Load() }

// ResetCounters zeroes the counters.
func (s *Server) ResetCounters() { s.requests.Store(0); s.fetches.Store(0); s.sent.Store(0) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request, backend http.Handler) {
	s.requests.Add(1)
	if strings.Contains(r.URL.RawQuery, "service=git-upload-pack") || strings.HasSuffix(r.URL.Path, "/git-upload-pack") {
		s.fetches.Add(1)
	}
	s.mu.Lock()
	user, password, hang, rate := s.user, s.password, s.hang, s.rate
	failCode := 0
	if s.failN > 0 {
		s.failN--
		failCode = s.failCode
	}
	name := strings.TrimSuffix(strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)[0], ".git")
	public := s.public[name]
	s.mu.Unlock()

	if hang {
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
		return
	}
	if failCode != 0 {
		http.Error(w, "injected failure", failCode)
		return
	}
	if !public {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(user)) != 1 ||
			subtle.ConstantTimeCompare([]byte(p), []byte(password)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
	}
	backend.ServeHTTP(&countingWriter{ResponseWriter: w, s: s, rate: rate}, r)
}

type countingWriter struct {
	http.ResponseWriter
	s    *Server
	rate int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.rate <= 0 {
		n, err := c.ResponseWriter.Write(p)
		c.s.sent.Add(int64(n))
		return n, err
	}
	// 20 slices a second keeps the stream smooth enough that a kill at a
	// random time lands anywhere in the transfer.
	chunk := max(c.rate/20, 1)
	written := 0
	for len(p) > 0 {
		n := min(chunk, len(p))
		m, err := c.ResponseWriter.Write(p[:n])
		written += m
		c.s.sent.Add(int64(m))
		if err != nil {
			return written, err
		}
		if f, ok := c.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		p = p[n:]
		select {
		case <-c.s.done:
			return written, http.ErrAbortHandler
		case <-time.After(50 * time.Millisecond):
		}
	}
	return written, nil
}

func (c *countingWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Git runs git with an isolated config and fixed identity, failing the test
// on error, and returns its trimmed stdout.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), GitEnv()...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("git %s in %s: %v\n%s", strings.Join(args, " "), dir, err, errb.String())
	}
	return strings.TrimSpace(out.String())
}

// GitEnv isolates git from the machine's config.
func GitEnv() []string {
	return []string{
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=ocw test", "GIT_AUTHOR_EMAIL=test@ocw.invalid",
		"GIT_COMMITTER_NAME=ocw test", "GIT_COMMITTER_EMAIL=test@ocw.invalid",
		"GIT_TERMINAL_PROMPT=0",
	}
}

// CreateRepo makes bare repository <Root>/<name>.git from a work tree in
// which fill writes files; fill is called once per commit (i from 0 to
// commits-1). It returns the HEAD commit id.
func (s *Server) CreateRepo(t testing.TB, name string, commits int, fill func(t testing.TB, work string, i int)) string {
	t.Helper()
	work := t.TempDir()
	Git(t, work, "init", "-q", "-b", "main")
	for i := range commits {
		fill(t, work, i)
		Git(t, work, "add", "-A")
		Git(t, work, "commit", "-q", "--allow-empty", "-m", "commit "+strings.Repeat("x", i%3))
	}
	bare := filepath.Join(s.Root, name+".git")
	Git(t, work, "clone", "-q", "--bare", work, bare)
	return Git(t, bare, "rev-parse", "HEAD")
}
