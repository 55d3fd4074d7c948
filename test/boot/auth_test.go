package boottest

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencode-workspaces/ocw/internal/boot"
)

type authEnv struct {
	*sandbox
	src, dest, record string
}

func newAuthEnv(t *testing.T) *authEnv {
	sb := newSandbox(t, bootContainers(t, specOpts{}))
	c := sb.pod.seedAuth
	dest := sb.hostPath(c, envOf(c, boot.EnvAuthDest))
	return &authEnv{
		sandbox: sb,
		src:     sb.hostPath(c, envOf(c, boot.EnvAuthSource)),
		dest:    dest,
		record:  dest + ".ocw-seeded",
	}
}

func copilotJSON(refresh string) string {
	return `{"github-copilot":{"type":"oauth","refresh":"` + refresh + `","access":"fake","expires":0}}` + "\n"
}

func sha(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

// boot runs seed-auth and checks the result code, exit status and the one
// line termination message.
func (a *authEnv) boot(t *testing.T, want string) string {
	t.Helper()
	r := a.run(a.pod.seedAuth)
	wantExit := 0
	if want == boot.AuthFailed {
		wantExit = 1
	}
	if r.code != wantExit {
		t.Fatalf("want %s, got %s", want, r)
	}
	code, msg := boot.ParseTerminationMessage(r.termination)
	if code != want || strings.Count(r.termination, "\n") != 1 {
		t.Fatalf("termination %q, want code %s\n%s", r.termination, want, r)
	}
	if !strings.Contains(r.stdout, want+": "+msg) {
		t.Errorf("stdout %q does not carry the message", r.stdout)
	}
	return msg
}

func (a *authEnv) destContent(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(a.dest)
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (a *authEnv) recorded(t *testing.T) string {
	b, _ := os.ReadFile(a.record)
	return strings.TrimSpace(string(b))
}

func (a *authEnv) digest(t *testing.T) string {
	return treeDigest(t, filepath.Dir(a.dest))
}

// TestSeedAuthStateMachine walks {absent, same, rewritten by OpenCode, Secret
// changed, Secret missing} and reboots after each state: every second boot
// must leave the files exactly as they are.
func TestSeedAuthStateMachine(t *testing.T) {
	a := newAuthEnv(t)
	secretA, secretB := copilotJSON("gho_A"+randomHex(8)), copilotJSON("gho_B"+randomHex(8))
	rewritten := `{"github-copilot":{"type":"oauth","refresh":"gho_rotated_by_opencode","access":"new","expires":1}}`

	steps := []struct {
		name     string
		setup    func(t *testing.T)
		want     string // result of the boot after setup
		dest     string // auth.json content after it
		record   string // recorded hash after it
		contains string // in the message
	}{
		{"absent", func(t *testing.T) { writeAtomic(t, a.src, []byte(secretA)) }, boot.AuthSeeded, secretA, sha(secretA), "first seeding"},
		{"same", func(t *testing.T) {}, boot.AuthUnchanged, secretA, sha(secretA), "unchanged"},
		{"rewritten by OpenCode", func(t *testing.T) { writeFile(t, a.dest, rewritten) }, boot.AuthUnchanged, rewritten, sha(secretA), ""},
		{"Secret changed", func(t *testing.T) { writeAtomic(t, a.src, []byte(secretB)) }, boot.AuthSeeded, secretB, sha(secretB), "changed since the last seeding"},
		{"Secret missing", func(t *testing.T) { a.deleteSecret(filepath.Base(filepath.Dir(a.src))) }, boot.AuthMissing, secretB, sha(secretB), "starts without GitHub Copilot"},
		{"Secret back unchanged", func(t *testing.T) { writeAtomic(t, a.src, []byte(secretB)) }, boot.AuthUnchanged, secretB, sha(secretB), ""},
		{"Secret empty", func(t *testing.T) { writeAtomic(t, a.src, []byte(" \n")) }, boot.AuthMissing, secretB, sha(secretB), "is empty"},
		{"Secret not JSON", func(t *testing.T) { writeAtomic(t, a.src, []byte("gho_just_a_token\n")) }, boot.AuthInvalid, secretB, sha(secretB), "not a JSON object"},
		{"auth.json deleted by the user", func(t *testing.T) {
			writeAtomic(t, a.src, []byte(secretB))
			if err := os.Remove(a.dest); err != nil {
				t.Fatal(err)
			}
		}, boot.AuthSeeded, secretB, sha(secretB), "first seeding"},
		{"auth.json not seeded by ocw", func(t *testing.T) {
			writeFile(t, a.dest, rewritten)
			if err := os.Remove(a.record); err != nil {
				t.Fatal(err)
			}
		}, boot.AuthSeeded, secretB, sha(secretB), "not seeded by ocw"},
	}
	for _, s := range steps {
		s.setup(t)
		msg := a.boot(t, s.want)
		if s.contains != "" && !strings.Contains(msg, s.contains) {
			t.Errorf("%s: message %q lacks %q", s.name, msg, s.contains)
		}
		if got := a.destContent(t); got != s.dest {
			t.Errorf("%s: auth.json %q, want %q", s.name, got, s.dest)
		}
		if got := a.recorded(t); got != s.record {
			t.Errorf("%s: record %q, want %q", s.name, got, s.record)
		}
		fi, err := os.Stat(a.dest)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: auth.json mode %v (%v), want 0600", s.name, fi.Mode(), err)
		}
		// Reboot with nothing changed: nothing is written.
		before := a.digest(t)
		steady := s.want
		if s.want == boot.AuthSeeded {
			steady = boot.AuthUnchanged
		}
		a.boot(t, steady)
		if a.digest(t) != before {
			t.Errorf("%s: a reboot without change modified %s", s.name, filepath.Dir(a.dest))
		}
		t.Logf("%-30s → %s, reboot → %s", s.name, s.want, steady)
	}
	// Parents created private; no temp files left.
	for d := filepath.Dir(a.dest); d != a.hostPath(a.pod.seedAuth, "/home/opencode"); d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v (%v), want 0700", d, fi.Mode(), err)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(a.dest), "*tmp*")); len(m) > 0 {
		t.Errorf("temp files left: %v", m)
	}
}

func TestSeedAuthMissingOnFreshVolume(t *testing.T) {
	a := newAuthEnv(t)
	msg := a.boot(t, boot.AuthMissing)
	if !strings.Contains(msg, envOf(a.pod.seedAuth, boot.EnvAuthSecretHint)) {
		t.Errorf("message %q does not name the Secret", msg)
	}
	if _, err := os.Stat(a.dest); !os.IsNotExist(err) {
		t.Errorf("auth.json created without a Secret: %v", err)
	}
}

func TestSeedAuthReadOnlyVolumeFails(t *testing.T) {
	if os.Geteuid() == 0 {
		// root ignores permissions; make the parent a file instead.
		a := newAuthEnv(t)
		writeAtomic(t, a.src, []byte(copilotJSON("gho_x")))
		parent := filepath.Dir(a.dest)
		if err := os.MkdirAll(filepath.Dir(parent), 0o700); err != nil {
			t.Fatal(err)
		}
		writeFile(t, parent, "not a dir")
		msg := a.boot(t, boot.AuthFailed)
		if !strings.Contains(msg, "cannot") {
			t.Errorf("message %q", msg)
		}
		return
	}
	a := newAuthEnv(t)
	writeAtomic(t, a.src, []byte(copilotJSON("gho_x")))
	home := a.hostPath(a.pod.seedAuth, "/home/opencode")
	if err := os.Chmod(home, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(home, 0o700) })
	a.boot(t, boot.AuthFailed)
}
