package boot

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const busybox = "/bin/busybox"

var scripts = map[string]*string{"clone.sh": &CloneScript, "seed-auth.sh": &SeedAuthScript, "probe.sh": &ProbeScript}

func TestEmbeddedScriptsAreTheFiles(t *testing.T) {
	for name, s := range scripts {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != *s || !strings.HasPrefix(*s, "#!/bin/sh\n") {
			t.Errorf("%s: embedded text differs from the file or lacks #!/bin/sh", name)
		}
	}
}

// TestScriptsLint runs shellcheck in POSIX sh mode and busybox's parser.
func TestScriptsLint(t *testing.T) {
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Fatal("shellcheck missing: install the test tools (apt-get install -y shellcheck busybox git)")
	}
	if _, err := os.Stat(busybox); err != nil {
		t.Fatalf("%s missing: install the test tools (apt-get install -y shellcheck busybox git)", busybox)
	}
	for name := range scripts {
		if out, err := exec.Command(sc, "--shell=sh", "--severity=style", name).CombinedOutput(); err != nil {
			t.Errorf("shellcheck %s: %v\n%s", name, err, out)
		}
		if out, err := exec.Command(busybox, "sh", "-n", name).CombinedOutput(); err != nil {
			t.Errorf("busybox sh -n %s: %v\n%s", name, err, out)
		}
	}
}

// runHelper runs a credential helper value the way git does for "!"
// helpers: sh -c '<helper> "$@"' '<helper>' <action>.
func runHelper(t *testing.T, shell []string, helper, action string) (string, string, error) {
	t.Helper()
	body := strings.TrimPrefix(helper, "!")
	args := append(append([]string(nil), shell[1:]...), "-c", body+` "$@"`, body, action)
	cmd := exec.Command(shell[0], args...)
	cmd.Stdin = strings.NewReader("protocol=https\nhost=github.com\n\n")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

func TestCredentialHelper(t *testing.T) {
	if _, err := os.Stat(busybox); err != nil {
		t.Fatalf("%s missing: install the test tools (apt-get install -y busybox git)", busybox)
	}
	dir := filepath.Join(t.TempDir(), "it's a dir with spaces")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	tok := filepath.Join(dir, "GITHUB_PAT")
	cases := []struct {
		name, content string
		exists        bool
		want          string
	}{
		{"with newline", "ghp_abc123\n", true, "username=o'brien\npassword=ghp_abc123\n"},
		{"without newline", "ghp_abc123", true, "username=o'brien\npassword=ghp_abc123\n"},
		{"surrounding blanks", "  ghp_abc123 \n\n", true, "username=o'brien\npassword=ghp_abc123\n"},
		{"empty", "", true, ""},
		{"only newline", "\n", true, ""},
		{"missing", "", false, ""},
	}
	helper := CredentialHelper(tok, "o'brien")
	if !strings.HasPrefix(helper, "!") {
		t.Fatalf("helper %q is not a shell helper", helper)
	}
	shells := map[string][]string{"busybox": {busybox, "sh"}, "/bin/sh": {"/bin/sh"}}
	for _, c := range cases {
		_ = os.Remove(tok)
		if c.exists {
			if err := os.WriteFile(tok, []byte(c.content), 0o400); err != nil {
				t.Fatal(err)
			}
		}
		for sname, sh := range shells {
			out, errOut, err := runHelper(t, sh, helper, "get")
			if err != nil || out != c.want || errOut != "" {
				t.Errorf("%s under %s: out %q err %q (%v), want %q", c.name, sname, out, errOut, err, c.want)
			}
			for _, action := range []string{"store", "erase"} {
				if out, _, err := runHelper(t, sh, helper, action); out != "" || err != nil {
					t.Errorf("%s %s under %s: %q %v", c.name, action, sname, out, err)
				}
			}
		}
	}
	if strings.Contains(helper, "ghp_abc123") {
		t.Error("helper text contains the token")
	}
}

// TestCredentialHelperWithGit: real git resolves credentials through the
// helper configured by env only, scoped to the repository's host.
func TestCredentialHelperWithGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git missing: install the test tools (apt-get install -y git busybox)")
	}
	tok := filepath.Join(t.TempDir(), "GITHUB_PAT")
	if err := os.WriteFile(tok, []byte("ghp_secret\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	fill := func(host string) string {
		cmd := exec.Command("git", "credential", "fill")
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
			"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=credential.https://github.com.helper",
			"GIT_CONFIG_VALUE_0="+CredentialHelper(tok, "x-access-token"))
		cmd.Stdin = strings.NewReader("protocol=https\nhost=" + host + "\n\n")
		out, _ := cmd.Output()
		return string(out)
	}
	if got := fill("github.com"); !strings.Contains(got, "username=x-access-token\npassword=ghp_secret\n") {
		t.Errorf("github.com: %q", got)
	}
	if got := fill("evil.example"); strings.Contains(got, "ghp_secret") {
		t.Errorf("token handed to another host: %q", got)
	}
}

func TestParseTerminationMessage(t *testing.T) {
	code, msg := ParseTerminationMessage("not-found: repository x not found: check y\n")
	if code != ResultNotFound || msg != "repository x not found: check y" {
		t.Errorf("%q %q", code, msg)
	}
}
