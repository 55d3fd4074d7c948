package boottest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/opencode-workspaces/ocw/internal/boot"
)

// smallVolume mounts a 1 MiB tmpfs as the sandbox's PVC. Mounting needs
// root, which the test command has (CI runs as root).
func smallVolume(t *testing.T, sb *sandbox) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test mounts a tmpfs and needs root (the test command runs as root)")
	}
	pvc := sb.pvc()
	if err := os.MkdirAll(pvc, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", pvc, "tmpfs", 0, "size=1m,mode=0755"); err != nil {
		t.Fatalf("mount tmpfs on %s: %v", pvc, err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(pvc, syscall.MNT_DETACH) })
}

// fill writes to the sandbox's small volume until it is full (ENOSPC) and
// returns a function that frees the space again.
func fill(t *testing.T, sb *sandbox) (free func()) {
	t.Helper()
	filler := filepath.Join(sb.pvc(), "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the volume: %v", err)
			}
			break
		}
	}
	_ = f.Close()
	return func() {
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCloneFullVolume: git's stderr goes to the emptyDir, so a clone onto a
// full volume says "no space left" (with git's own words) instead of an
// empty message, and leaves no temp dir behind.
func TestCloneFullVolume(t *testing.T) {
	e := newCloneEnv(t, specOpts{}, nil, 2)
	smallVolume(t, e.sandbox)
	// Directories cost no data pages on tmpfs, so the state dir could be
	// made on a full volume too; create it first anyway, as a used PVC has.
	if err := os.MkdirAll(e.stateDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	fill(t, e.sandbox)
	r := e.run(e.pod.clone)
	code, msg := boot.ParseTerminationMessage(r.termination)
	if r.code == 0 || code != boot.ResultFailed {
		t.Fatalf("clone onto a full volume: %s", r)
	}
	if !strings.Contains(msg, "no space left on the volume") || !strings.Contains(msg, "No space left on device") {
		t.Errorf("message %q does not say the volume is full in git's words", msg)
	}
	e.noTempDirs()
	if _, err := os.Stat(e.repoDir()); !os.IsNotExist(err) {
		t.Errorf("a partial repo was left at %s: %v", e.repoDir(), err)
	}
}

// TestSeedAuthFullVolume: a rotated login and a full volume must not
// crash-loop the pod. The previous auth.json is kept (or the workspace starts
// without one), the message says why, and once space is freed the next start
// seeds the new login.
func TestSeedAuthFullVolume(t *testing.T) {
	t.Run("previous login kept", func(t *testing.T) {
		a := newAuthEnv(t)
		smallVolume(t, a.sandbox)
		writeAtomic(t, a.src, []byte(copilotJSON("gho_old")))
		a.boot(t, boot.AuthSeeded)
		free := fill(t, a.sandbox)
		writeAtomic(t, a.src, []byte(copilotJSON("gho_new")))
		msg := a.boot(t, boot.AuthKept)
		if !strings.Contains(msg, "no space left") || !strings.Contains(msg, "kept the previous auth.json") {
			t.Errorf("message %q", msg)
		}
		if got := a.destContent(t); got != copilotJSON("gho_old") {
			t.Errorf("auth.json changed to %q, want the previous login kept", got)
		}
		if m, _ := filepath.Glob(filepath.Join(filepath.Dir(a.dest), "*tmp*")); len(m) > 0 {
			t.Errorf("temp files left: %v", m)
		}
		free()
		a.boot(t, boot.AuthSeeded)
		if got := a.destContent(t); got != copilotJSON("gho_new") {
			t.Errorf("after freeing space auth.json is %q, want the new login", got)
		}
	})
	t.Run("no previous login", func(t *testing.T) {
		a := newAuthEnv(t)
		smallVolume(t, a.sandbox)
		fill(t, a.sandbox)
		writeAtomic(t, a.src, []byte(copilotJSON("gho_new")))
		msg := a.boot(t, boot.AuthNoSpace)
		if !strings.Contains(msg, "no space left") || !strings.Contains(msg, "without GitHub Copilot") {
			t.Errorf("message %q", msg)
		}
		if _, err := os.Stat(a.dest); !os.IsNotExist(err) {
			t.Errorf("auth.json exists after a failed write: %v", err)
		}
	})
}
