package output

import (
	"bytes"
	"reflect"
	"testing"

	yamlv3 "go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"
)

// tricky strings: each must come back from both YAML decoders ocw's
// output meets (yaml.v3, and sigs.k8s.io/yaml as used by kubectl and
// kustomize) as the same string.
var tricky = []string{
	"", " ", "a", "y", "Y", "yes", "No", "ON", "off", "true", "False", "null", "Null", "~", "=", "<<",
	"0", "1", "-1", "+1", "012", "0x1F", "0o17", "0b101", "1_000", "1.5", ".5", "1e3", "1E-3", ".inf", "-.Inf", ".NaN",
	"1:20", "190:20:30", "2001-12-14", "2001-12-14t21:59:43.10-05:00", "0.0.0.0", "4096", "100m", "2Gi", "5Gi",
	"-c", "--port", "-", "--", "- a", "-1a", "a: b", "a:", ":a", "a:b", "http://x:1/y", "a #b", "a# b", "#a",
	"key with spaces", " lead", "trail ", "a  b", "@a", "`a", "!a", "&a", "*a", "|", ">", "%a", "'a'", `"a"`,
	"{a}", "[a]", "a,b", "a\tb", "tab\t", "\ttab", "line1\nline2", "line1\nline2\n", "line1\nline2\n\n", "\nlead",
	"a\n b\n", " a\nb\n", "a \nb\n", "a\r\nb\n", "x\n\n\ny\n", "#!/bin/sh\nset -eu\n", "ü", "日本", "a\u2028b",
	"\x00", "\x7f", "$(cat /x)", "${VAR}", "{{ .X }}", "0 * * * *", "!f() { test \"$1\" = get; }; f",
	"external-dns.home.arpa/enabled", "app.kubernetes.io/name", "../../../../components/volsync",
}

func roundTrip(t *testing.T, v any) {
	t.Helper()
	var buf bytes.Buffer
	encodeYAML(&buf, v)
	var a any
	if err := yamlv3.Unmarshal(buf.Bytes(), &a); err != nil {
		t.Fatalf("yaml.v3 cannot read:\n%s\n%v", buf.String(), err)
	}
	var b any
	if err := sigsyaml.Unmarshal(buf.Bytes(), &b); err != nil {
		t.Fatalf("sigs.k8s.io/yaml cannot read:\n%s\n%v", buf.String(), err)
	}
	if !reflect.DeepEqual(normalize(a), normalize(v)) {
		t.Fatalf("yaml.v3 read back %#v from\n%s\nwant %#v", a, buf.String(), v)
	}
	if !reflect.DeepEqual(normalize(b), normalize(v)) {
		t.Fatalf("sigs.k8s.io/yaml read back %#v from\n%s\nwant %#v", b, buf.String(), v)
	}
}

// normalize makes decoded numbers comparable (int vs int64 vs float64).
func normalize(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, c := range t {
			out[k] = normalize(c)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, c := range t {
			out[i] = normalize(c)
		}
		return out
	case int:
		return float64(t)
	case int64:
		return float64(t)
	case uint64:
		return float64(t)
	}
	return v
}

func TestYAMLRoundTrip(t *testing.T) {
	for _, s := range tricky {
		roundTrip(t, map[string]any{"k": s})
		roundTrip(t, map[string]any{"list": []any{s, map[string]any{"in": s}}})
		if s != "" {
			roundTrip(t, map[string]any{s: "key"})
		}
	}
	roundTrip(t, map[string]any{
		"empty": map[string]any{}, "none": []any{}, "n": int64(4096), "f": 1.5, "b": true, "z": nil,
		"nested": []any{[]any{"a", int64(1)}, map[string]any{}, []any{}, map[string]any{"x": []any{map[string]any{"y": "z\nw\n"}}}},
	})
}

func FuzzYAMLString(f *testing.F) {
	for _, s := range tricky {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8Valid(s) {
			return // the objects ocw renders hold UTF-8 text only
		}
		roundTrip(t, map[string]any{"k": s, "l": []any{s}})
	})
}

func utf8Valid(s string) bool { return bytes.Equal([]byte(string([]rune(s))), []byte(s)) }
