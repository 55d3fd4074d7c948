package boottest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opencode-workspaces/ocw/internal/boot"
	"github.com/opencode-workspaces/ocw/internal/model"
)

// runMatch runs the guard's own cron matcher (boot.DBHoldJS) in OpenCode's
// Bun runtime: one digit per time, or ok=false when it refuses schedule.
func runMatch(t *testing.T, bin, schedule string, times []string) (got string, ok bool) {
	t.Helper()
	cmd := exec.Command(bin, "-e", boot.DBHoldJS)
	cmd.Env = append(os.Environ(), "BUN_BE_BUN=1", "OCW_MODE=match",
		"OCW_SCHEDULE="+schedule, "OCW_TIMES="+strings.Join(times, ","))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, isExit := err.(*exec.ExitError); isExit && ee.ExitCode() == 2 {
		return errb.String(), false
	}
	if err != nil {
		t.Fatalf("matcher on %q: %v: %s", schedule, err, errb.String())
	}
	return strings.TrimSpace(out.String()), true
}

// The guard's matcher, run in the real Bun runtime, against a table; and
// spec validation (model.ValidCron) accepts exactly what it can match.
func TestGuardCronMatcher(t *testing.T) {
	t.Parallel()
	bin := openCodeBinary(t)
	// 2026-11-30 is a Monday (day of week 1).
	times := []string{
		"2026-11-30T00:00:00Z", // Mon 00:00
		"2026-11-30T01:15:00Z", // Mon 01:15
		"2026-11-29T01:15:00Z", // Sun 01:15
		"2026-12-01T13:30:00Z", // Tue 13:30, 1st of the month
		"2026-12-15T05:45:00Z", // Tue 05:45, 15th
		"2026-06-13T23:59:00Z", // Sat 23:59 in June
	}
	for _, c := range []struct {
		schedule, want string // want "" = refused
	}{
		{"0 * * * *", "100000"},
		{"* * * * *", "111111"},
		{"*/15 * * * *", "111110"},
		{"15 1 * * *", "011000"},
		{"15 1-3,5 * * 1-5", "010000"},
		{"0-59/15 */4 * * *", "100000"},
		{"30 13 1 * *", "000100"},
		{"45 5 15 12 *", "000010"},
		{"59 23 * 6 6", "000001"},
		// Both days restricted: either matches (Sunday, or the 1st).
		{"* * 1 * 0", "001100"},
		// Day of month restricted, day of week *: both must match.
		{"* * 1 * *", "000100"},
		{"*/1 * 1 * *", "000100"},
		// "n/s" runs from n to the maximum.
		{"15/30 * * * *", "011010"},
		{"05 01 * * *", "000000"},
		{"0 0 * * 1", "100000"},
		{"0 * * JAN *", ""},
		{"0 * * * MON", ""},
		{"@hourly", ""},
		{"0 * ? * *", ""},
		{"0 * * * 7", ""},
		{"60 * * * *", ""},
		{"0 24 * * *", ""},
		{"0 0 0 * *", ""},
		{"0 0 * 13 *", ""},
		{"*/0 * * * *", ""},
		{"5-1 * * * *", ""},
		{"1,,2 * * * *", ""},
		{"0 * * *", ""},
		{"0 * * * * *", ""},
		{"-1 * * * *", ""},
		{"0 0 L * *", ""},
	} {
		got, ok := runMatch(t, bin, c.schedule, times)
		verr := model.ValidCron(c.schedule)
		if ok != (verr == nil) {
			t.Errorf("%q: guard accepts %v, spec validation %v: they must agree", c.schedule, ok, verr)
		}
		switch {
		case c.want == "" && ok:
			t.Errorf("%q: guard matched %s, want refused", c.schedule, got)
		case c.want != "" && !ok:
			t.Errorf("%q: guard refused (%s), want %s", c.schedule, strings.TrimSpace(got), c.want)
		case c.want != "" && got != c.want:
			t.Errorf("%q: guard matched %s, want %s", c.schedule, got, c.want)
		}
	}
}

// lines collects a process's stderr and tells when a line containing s
// appeared.
type lines struct {
	mu  sync.Mutex
	buf bytes.Buffer
	ch  chan struct{}
}

func newLines() *lines { return &lines{ch: make(chan struct{}, 1)} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case l.ch <- struct{}{}:
	default:
	}
	return l.buf.Write(p)
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// await blocks until s was written or ctx ends.
func (l *lines) await(t *testing.T, ctx context.Context, s string) {
	t.Helper()
	for !strings.Contains(l.String(), s) {
		select {
		case <-l.ch:
		case <-ctx.Done():
			t.Fatalf("never saw %q; output:\n%s", s, l.String())
		}
	}
}

// guardEnv is the env the rendered main container gives the guard, with
// the test's schedule, window and database.
func guardEnv(schedule string, window int, db string) []string {
	return append(os.Environ(),
		boot.EnvGuardJS+"="+boot.DBHoldJS,
		boot.EnvGuardSchedule+"="+schedule,
		boot.EnvGuardWindow+"="+strconv.Itoa(window),
		boot.EnvGuardDB+"="+db,
		boot.EnvServerPassword+"=pw",
	)
}

// thisMinute is a schedule matching the current UTC minute (waiting for the
// next one when less than 20 s are left) and the window, in seconds from
// that minute's start, that ends ~4 s from now.
func thisMinute() (string, int) {
	now := time.Now().UTC()
	if now.Second() > 40 {
		time.Sleep(time.Until(now.Truncate(time.Minute).Add(time.Minute + 100*time.Millisecond)))
		now = time.Now().UTC()
	}
	return strconv.Itoa(now.Minute()) + " " + strconv.Itoa(now.Hour()) + " * * *", now.Second() + 5
}

// startServe runs the serve script as the main container does, with env;
// OpenCode's place is taken by a Bun sleep in its binary, so the script's
// real "$1" -e guard line runs.
func startServe(t *testing.T, ctx context.Context, bin string, env []string) (*exec.Cmd, *lines) {
	t.Helper()
	cmd := exec.CommandContext(ctx, busybox, "sh", "-c", boot.ServeScript, "ocw-serve", bin, "-e", "await Bun.sleep(600000)")
	cmd.Env = append(env, "BUN_BE_BUN=1")
	out := newLines()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, out
}

// The guard, started by the serve script with the real OpenCode binary, on
// a real SQLite WAL database: within the window a scheduled time opens, a
// checkpoint cannot restart the WAL (the step that tears a file copy);
// after the window it can.
func TestGuardPinsTheWALInTheScheduledWindow(t *testing.T) {
	t.Parallel()
	bin, sqlite := openCodeBinary(t), requireSQLite(t)
	sql := func(db, q string) string {
		t.Helper()
		out, err := exec.Command(sqlite, db, q).CombinedOutput()
		if err != nil {
			t.Fatalf("sqlite3 %s: %v: %s", q, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	db := filepath.Join(t.TempDir(), "opencode.db")
	sql(db, "PRAGMA journal_mode=WAL; CREATE TABLE session(id TEXT); INSERT INTO session VALUES('a');")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	schedule, window := thisMinute()
	cmd, out := startServe(t, ctx, bin, guardEnv(schedule, window, db))
	defer func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() }()

	out.await(t, ctx, "ocw backup guard: holding until")
	sql(db, "INSERT INTO session VALUES('b');")
	if got := sql(db, "PRAGMA wal_checkpoint(TRUNCATE);"); !strings.HasPrefix(got, "1|") {
		t.Errorf("checkpoint in the window: %q, want busy (1|…): the WAL could restart under a scheduled copy", got)
	}
	out.await(t, ctx, "ocw backup guard: released")
	if got := sql(db, "PRAGMA wal_checkpoint(TRUNCATE);"); !strings.HasPrefix(got, "0|") {
		t.Errorf("checkpoint after the window: %q, want done (0|…)", got)
	}
	if got := sql(db, "SELECT count(*) FROM session;"); got != "2" {
		t.Errorf("rows: %s", got)
	}
}

// A guard that fails never takes OpenCode down, says so on stderr, and
// SIGTERM to the serve script stops OpenCode and the guard alike.
func TestGuardFailsAloneAndStopsOnSIGTERM(t *testing.T) {
	t.Parallel()
	bin := openCodeBinary(t)
	for _, c := range []struct {
		name, schedule, want string
	}{
		// A schedule it cannot match (validation refuses it, but an edited
		// Deployment could carry one): the guard ends, OpenCode serves on.
		{"fails", "0 * * JAN *", "ocw backup guard: stopped:"},
		// A running guard (no database yet: each hold fails and is retried).
		{"runs", "* * * * *", "ocw backup guard: cannot hold"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			db := filepath.Join(t.TempDir(), "opencode.db")
			marker := randomHex(8)
			cmd, out := startServe(t, ctx, bin, append(guardEnv(c.schedule, 60, db), "OCW_TEST_MARKER="+marker))
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			defer func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }()
			out.await(t, ctx, c.want)
			select {
			case err := <-done:
				t.Fatalf("the serve script ended with its guard (%v):\n%s", err, out.String())
			default:
			}
			if _, err := os.Stat(db); err == nil {
				t.Errorf("the guard created %s: OpenCode must make its own database", db)
			}
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case <-done:
			case <-ctx.Done():
				t.Fatalf("the serve script never exited after SIGTERM:\n%s", out.String())
			}
			if left := procsWithEnv("OCW_TEST_MARKER=" + marker); len(left) > 0 {
				t.Errorf("processes left after SIGTERM: %v", left)
			}
		})
	}
}
