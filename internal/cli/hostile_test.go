package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencode-workspaces/ocw/internal/status/statustest"
)

// hostile is text ocw prints but did not write: a git server's error
// (through the clone's termination message) or a server's reply. It
// colours, clears the screen, sets the window title, moves the cursor up
// and reverses what follows.
const hostile = "\x1b[31mfatal\x1b[0m\x1b[2J\x1b]0;pwned\x07\x1b[1A\r\n\u202e"

// noControls fails when the output holds an escape or a control character
// other than line breaks.
func noControls(t *testing.T, what, out string) {
	t.Helper()
	for _, r := range out {
		if r != '\n' && (r < 0x20 || r >= 0x7f && r <= 0x9f || r == 0x202e) {
			t.Errorf("%s holds %U:\n%q", what, r, out)
			return
		}
	}
}

// apply --wait prints the init containers' termination messages as they
// change, and the failure at the end: both without escapes.
func TestApplyWaitPrintsNoEscapes(t *testing.T) {
	ns := "cli-hostile-wait"
	file := filepath.Join(t.TempDir(), "ws.yaml")
	text := fmt.Sprintf(applySpec, ns)
	writeFile(t, file, text[:strings.Index(text, "  - name: beta")])
	if r := run(t, "", applyArgs(file)...); r.code != 0 {
		t.Fatalf("apply: %+v", r)
	}
	ws := statustest.System(t, readFile(t, file)).Workspaces[0]
	st := statustest.CloneCrashLooping(ws, 2, "auth-failed: "+hostile+"remote: denied", time.Now())
	statustest.CreatePod(t, kubeEnv.Client, ws, "alpha-1", st)

	r := run(t, "", applyArgs(file, "--wait", "--timeout", "3s")...)
	if r.code != ExitFailure || !strings.Contains(r.err, "fatal remote: denied") {
		t.Fatalf("apply --wait: %+v", r)
	}
	noControls(t, "stderr", r.err)
}

// auth push names the OpenCode version the server reports, without the
// escapes a hostile server puts in it.
func TestAuthPushPrintsNoEscapes(t *testing.T) {
	ns := opsNamespace(t, "cli-hostile-push-")
	file := opsSpec(t, ns, "manual", "")
	if r := run(t, "", kubeArgs("secrets", "password", "-f", file)...); r.code != 0 {
		t.Fatal(r)
	}
	writeLocalAuth(t, localRefresh)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/global/health":
			_ = json.NewEncoder(w).Encode(map[string]any{"healthy": true, "version": "1.18.33" + hostile})
		default:
			fmt.Fprint(w, "true")
		}
	}))
	defer srv.Close()
	r := run(t, "", kubeArgs("auth", "push", "app", "-f", file, "--url", srv.URL)...)
	if r.code != 0 || !strings.Contains(r.err, "(OpenCode 1.18.33fatal  ) and reloaded it") {
		t.Fatalf("auth push: %+v", r)
	}
	noControls(t, "stderr", r.err)
}
