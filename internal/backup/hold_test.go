package backup_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencode-workspaces/ocw/internal/backup"
	"github.com/opencode-workspaces/ocw/internal/testenv"
)

// The hold ocw backup takes, run with the real OpenCode binary on a real
// SQLite database in WAL mode: while it holds, a writer's commits go on but
// a checkpoint cannot restart the WAL (the step that can tear a file copy);
// once released, it can.
func TestHoldPinsTheWAL(t *testing.T) {
	opencode := os.Getenv("OCW_OPENCODE")
	if opencode == "" {
		root, err := testenv.RepoRoot()
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(filepath.Join(root, "hack/opencode.sh")).Output()
		if err != nil {
			t.Fatalf("hack/opencode.sh: %v", err)
		}
		opencode = strings.TrimSpace(string(out))
	}
	sqlite := func(db, sql string) string {
		t.Helper()
		out, err := exec.Command("sqlite3", db, sql).CombinedOutput()
		if err != nil {
			t.Fatalf("sqlite3 %s: %v: %s", sql, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "opencode.db")
	sqlite(db, "PRAGMA journal_mode=WAL; CREATE TABLE session(id TEXT); INSERT INTO session VALUES('a');")
	held, release := filepath.Join(dir, "held"), filepath.Join(dir, "release")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", backup.HoldCommand(opencode, db, held, release, time.Minute)[1:]...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(held); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the hold never held")
		case <-time.After(100 * time.Millisecond):
		}
	}
	// Writes go on; a TRUNCATE checkpoint reports busy (first column 1)
	// and the WAL keeps its frames.
	sqlite(db, "INSERT INTO session VALUES('b');")
	if got := sqlite(db, "PRAGMA wal_checkpoint(TRUNCATE);"); !strings.HasPrefix(got, "1|") {
		t.Errorf("checkpoint during the hold: %q, want busy (1|…): the WAL could restart under a copy", got)
	}
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("hold: %v", err)
	}
	if got := sqlite(db, "PRAGMA wal_checkpoint(TRUNCATE);"); !strings.HasPrefix(got, "0|") {
		t.Errorf("checkpoint after the hold: %q, want done (0|…)", got)
	}
	if got := sqlite(db, "SELECT count(*) FROM session;"); got != "2" {
		t.Errorf("rows: %s", got)
	}
}
