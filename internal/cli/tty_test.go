//go:build linux

package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY opens a real pseudo-terminal: the terminal end a command writes
// to, and the controller end that reads what it wrote.
func openPTY(t *testing.T) (controller, terminal *os.File) {
	t.Helper()
	controller, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { controller.Close() })
	fd := int(controller.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlocking the pty: %v", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	terminal, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { terminal.Close() })
	return controller, terminal
}

// written returns what reached the terminal so far: a marker written
// last ends the read, so no timing is involved.
func written(t *testing.T, controller, terminal *os.File) string {
	t.Helper()
	const marker = "--end-of-output--"
	if _, err := terminal.WriteString(marker + "\n"); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	r := bufio.NewReader(controller)
	for !strings.Contains(got.String(), marker) {
		line, err := r.ReadString('\n')
		got.WriteString(line)
		if err != nil {
			t.Fatalf("reading the pty: %v (so far %q)", err, got.String())
		}
	}
	return strings.TrimSuffix(strings.TrimSuffix(got.String(), marker+"\r\n"), marker+"\n")
}

// --print-value writes nothing to a terminal unless --force says so; a
// pipe (an *os.File that is not a terminal) still gets the value.
func TestPrintValueRefusesTerminal(t *testing.T) {
	file := opsSpec(t, "dop-tty", "doppler", "")
	noKube := []string{"--kubeconfig", filepath.Join(t.TempDir(), "none")}
	t.Setenv(defaultTokenEnv, "")
	writeLocalAuth(t, localRefresh)
	const tok = "ghp_TTYTOKEN1234567890"
	controller, terminal := openPTY(t)

	runOn := func(out *os.File, stdin string, args ...string) (int, string) {
		var errb bytes.Buffer
		code := Run(append(args, noKube...), Streams{In: strings.NewReader(stdin), Out: out, Err: &errb})
		return code, errb.String()
	}
	for _, args := range [][]string{
		{"secrets", "git-token", "-f", file, "--print-value"},
		{"secrets", "password", "-f", file, "--print-value"},
		{"auth", "seed", "-f", file, "--print-value"},
	} {
		code, stderr := runOn(terminal, tok+"\n", args...)
		if code != ExitFailure || !strings.Contains(stderr, "refusing to print a secret to a terminal") || !strings.Contains(stderr, "--force") {
			t.Errorf("%v: exit %d, stderr %q", args[:2], code, stderr)
		}
		if got := written(t, controller, terminal); got != "" {
			t.Errorf("%v wrote %q to the terminal", args[:2], got)
		}
	}

	code, stderr := runOn(terminal, tok+"\n", "secrets", "git-token", "-f", file, "--print-value", "--force")
	if got := written(t, controller, terminal); code != 0 || got != tok {
		t.Errorf("--force: exit %d, stderr %q, terminal got %q", code, stderr, got)
	}
	code, stderr = runOn(terminal, "", "auth", "seed", "-f", file, "--print-value", "--force")
	if got := written(t, controller, terminal); code != 0 || !strings.Contains(got, localRefresh) {
		t.Errorf("auth seed --force: exit %d, stderr %q, terminal got %q", code, stderr, got)
	}

	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	code, stderr = runOn(pw, tok+"\n", "secrets", "git-token", "-f", file, "--print-value")
	pw.Close()
	var piped bytes.Buffer
	if _, err := piped.ReadFrom(pr); err != nil || code != 0 || piped.String() != tok {
		t.Errorf("pipe: exit %d, stderr %q, got %q (%v)", code, stderr, piped.String(), err)
	}

	if code, stderr := runOn(pw, "", "secrets", "password", "-f", file, "--force"); code != ExitFailure || !strings.Contains(stderr, "--force only works together with --print-value") {
		t.Errorf("--force alone: exit %d, stderr %q", code, stderr)
	}
}
