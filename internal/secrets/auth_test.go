package secrets

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	refresh = "gho_REFRESHSECRETVALUE123456"
	apiKey  = "sk-OPENAIKEYSECRET987654"
)

var fullAuth = `{
  "openai": {"type": "api", "key": "` + apiKey + `"},
  "github-copilot": {"type": "oauth", "refresh": "` + refresh + `", "access": "` + refresh + `", "expires": 0}
}`

func TestParseAuthKeepsOnlyCopilot(t *testing.T) {
	a, err := ParseAuth([]byte(fullAuth), false)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(a.Content), apiKey) || !strings.Contains(string(a.Content), refresh) {
		t.Fatalf("content: %s", a.Content)
	}
	if strings.Join(a.Providers, ",") != "github-copilot" || strings.Join(a.Skipped, ",") != "openai" {
		t.Errorf("providers %v skipped %v", a.Providers, a.Skipped)
	}
	// Deterministic: key order and whitespace of the input do not matter.
	b, err := ParseAuth([]byte(`{"github-copilot":{"type":"oauth","refresh":"`+refresh+`","access":"`+refresh+`","expires":0}}`), false)
	if err != nil || string(b.Content) != string(a.Content) {
		t.Fatalf("not canonical:\n%s\n%s", a.Content, b.Content)
	}
	all, err := ParseAuth([]byte(fullAuth), true)
	if err != nil || !strings.Contains(string(all.Content), apiKey) || len(all.Skipped) != 0 {
		t.Fatalf("all providers: %v %s", err, all.Content)
	}
	if _, err := a.PushBody(); err != nil {
		t.Error(err)
	}
}

func TestParseAuthRejects(t *testing.T) {
	cases := map[string]struct{ in, want string }{
		"empty":      {"", "empty"},
		"not json":   {`{"github-copilot": ` + refresh, "not valid JSON (syntax error at byte"},
		"array":      {`["` + refresh + `"]`, "not a JSON object"},
		"null":       {`null`, "not a JSON object"},
		"no copilot": {`{"openai": {"type": "api", "key": "` + apiKey + `"}}`, "no github-copilot login (providers present: openai)"},
		"api type":   {`{"github-copilot": {"type": "api", "key": "` + apiKey + `"}}`, `type "api", want oauth`},
		"no refresh": {`{"github-copilot": {"type": "oauth", "refresh": "", "access": "x"}}`, "no refresh token"},
		"not object": {`{"github-copilot": "` + refresh + `"}`, "not an object"},
		"negative":   {`{"github-copilot": {"type": "oauth", "refresh": "` + refresh + `", "expires": -1}}`, "negative expires"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParseAuth([]byte(c.in), false)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
			if strings.Contains(err.Error(), refresh) || strings.Contains(err.Error(), apiKey) {
				t.Fatalf("error leaks a secret: %v", err)
			}
		})
	}
}

func TestPushBodyNeedsAccessAndExpires(t *testing.T) {
	a, err := ParseAuth([]byte(`{"github-copilot": {"type": "oauth", "refresh": "`+refresh+`"}}`), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.PushBody(); err == nil || strings.Contains(err.Error(), refresh) {
		t.Fatalf("got %v", err)
	}
}

func TestReadAuthFile(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := ReadAuthFile(filepath.Join(dir, "nope.json"), false); err == nil || !strings.Contains(err.Error(), "opencode auth login") {
		t.Fatalf("missing file: %v", err)
	}
	p := filepath.Join(dir, "auth.json")
	if err := os.WriteFile(p, []byte(`{"github-copilot": {"type": "oauth"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadAuthFile(p, false); err == nil || !strings.HasPrefix(err.Error(), p+": ") {
		t.Fatalf("invalid file: %v", err)
	}
}

func TestDefaultAuthPath(t *testing.T) {
	env := map[string]string{"HOME": "/home/u"}
	get := func(k string) string { return env[k] }
	if p, _ := defaultAuthPath(get); p != "/home/u/.local/share/opencode/auth.json" {
		t.Errorf("HOME: %s", p)
	}
	env["XDG_DATA_HOME"] = "/data"
	if p, _ := defaultAuthPath(get); p != "/data/opencode/auth.json" {
		t.Errorf("XDG: %s", p)
	}
	// The XDG spec ignores relative paths.
	env["XDG_DATA_HOME"] = "rel"
	if p, _ := defaultAuthPath(get); p != "/home/u/.local/share/opencode/auth.json" {
		t.Errorf("relative XDG: %s", p)
	}
}

func TestMergeCopilot(t *testing.T) {
	newEntry := json.RawMessage(`{"type":"oauth","refresh":"gho_new","access":"gho_new","expires":0}`)
	out, err := MergeCopilot([]byte(fullAuth), newEntry)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	if m["github-copilot"]["refresh"] != "gho_new" || m["openai"]["key"] != apiKey {
		t.Fatalf("merged: %s", out)
	}
	out, err = MergeCopilot([]byte("garbage"), newEntry)
	if err != nil || !strings.Contains(string(out), "gho_new") {
		t.Fatalf("from garbage: %s %v", out, err)
	}
}

func TestCleanToken(t *testing.T) {
	if tok, err := CleanToken("ghp_abc123\n"); err != nil || tok != "ghp_abc123" {
		t.Errorf("%q %v", tok, err)
	}
	for _, bad := range []string{"", "\n", "ghp abc", "ghp_abc\nsecond", "ghp_\x01"} {
		if _, err := CleanToken(bad); err == nil {
			t.Errorf("%q accepted", bad)
		} else if strings.Contains(err.Error(), "ghp") {
			t.Errorf("error quotes the token: %v", err)
		}
	}
}

func TestNewPassword(t *testing.T) {
	a, _ := NewPassword()
	b, _ := NewPassword()
	if len(a) < 32 || a == b || strings.ContainsAny(a, "+/=") {
		t.Fatalf("%q %q", a, b)
	}
}
