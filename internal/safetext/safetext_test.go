package safetext

import (
	"strings"
	"testing"
	"unicode"
)

func TestLineAndText(t *testing.T) {
	cases := []struct{ name, in, line, text string }{
		{"plain", "clone failed: auth-failed", "clone failed: auth-failed", "clone failed: auth-failed"},
		{"colour", "\x1b[31mfatal\x1b[0m: no", "fatal: no", "fatal: no"},
		{"cursor up and erase line", "ok\x1b[1A\x1b[2Kcloned", "okcloned", "okcloned"},
		{"title (OSC, BEL)", "a\x1b]0;pwned\x07b", "ab", "ab"},
		{"hyperlink (OSC 8, ST)", "\x1b]8;;https://evil.test\x1b\\click\x1b]8;;\x1b\\", "click", "click"},
		{"unterminated OSC", "a\x1b]0;title forever", "a", "a"},
		{"DCS", "a\x1bPq#0;2;0;0;0\x1b\\b", "ab", "ab"},
		{"charset (ESC ( B)", "a\x1b(Bb", "ab", "ab"},
		{"reset (ESC c)", "a\x1bcb", "ab", "ab"},
		{"lone ESC at the end", "a\x1b", "a", "a"},
		{"C1 CSI", "a\u009b31mb", "ab", "ab"},
		{"C1 OSC with C1 ST", "a\u009d0;t\u009cb", "ab", "ab"},
		{"carriage return overwrite", "secret\rpublic", "secret public", "secretpublic"},
		{"line breaks and tabs", "one\ntwo\r\n\tthree", "one two   three", "one\ntwo\n\tthree"},
		{"other controls", "a\x00b\x07c\x08d\x7fe", "abcde", "abcde"},
		{"bidi override", "file\u202egpj.exe", "filegpj.exe", "filegpj.exe"},
		{"invalid UTF-8", "a\xffb", "a\ufffdb", "a\ufffdb"},
		{"unicode kept", "grüße — 日本", "grüße — 日本", "grüße — 日本"},
	}
	for _, c := range cases {
		if got := Line(c.in); got != c.line {
			t.Errorf("%s: Line(%q) = %q, want %q", c.name, c.in, got, c.line)
		}
		if got := Text(c.in); got != c.text {
			t.Errorf("%s: Text(%q) = %q, want %q", c.name, c.in, got, c.text)
		}
	}
}

type report struct {
	Name    string
	Phase   phase
	Step    *step
	Steps   []step
	Notes   []string
	Labels  map[string]string
	Count   int
	private string
}

type phase string

type step struct{ Message string }

func TestLinesWalksReports(t *testing.T) {
	const bad = "x\x1b[2J\ny"
	r := &report{Name: bad, Phase: bad, Step: &step{bad}, Steps: []step{{bad}}, Notes: []string{bad},
		Labels: map[string]string{"k": bad}, Count: 3, private: bad}
	Lines(r)
	for _, got := range []string{r.Name, string(r.Phase), r.Step.Message, r.Steps[0].Message, r.Notes[0], r.Labels["k"]} {
		if got != "x y" {
			t.Errorf("got %q, want %q", got, "x y")
		}
	}
	if r.Count != 3 || r.private != bad {
		t.Error("Lines changed what it must not touch")
	}
}

// FuzzLine: whatever the input, the output has no control character and
// no bidirectional override, and Line of it changes nothing.
func FuzzLine(f *testing.F) {
	for _, s := range []string{"\x1b[31ma", "\u009b1;2m", "\x1b]0;t\x07", "a\rb", "\xff\xfe", "\u202e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, out := range []string{Line(s), Text(s)} {
			for _, r := range out {
				if r != '\n' && r != '\t' && unicode.IsControl(r) || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 {
					t.Fatalf("%q -> %q holds %U", s, out, r)
				}
			}
		}
		if l := Line(s); Line(l) != l || strings.ContainsAny(l, "\n\t") {
			t.Fatalf("Line(%q) = %q is not one stable line", s, l)
		}
	})
}
