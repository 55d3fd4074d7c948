package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

type result struct {
	code     int
	out, err string
}

func run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(args, Streams{In: strings.NewReader(stdin), Out: &out, Err: &errb})
	return result{code, out.String(), errb.String()}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestInitValidates(t *testing.T) {
	r := run(t, "", "init")
	if r.code != 0 || !strings.Contains(r.out, "apiVersion: ocw.dev/v1alpha1") {
		t.Fatalf("init: %+v", r)
	}
	v := run(t, r.out, "validate", "-f", "-")
	if v.code != 0 || !strings.Contains(v.err, "valid, 1 workspace(s) in namespace opencode") {
		t.Fatalf("validate starter: %+v", v)
	}
}

func TestValidateReportsPosition(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "ws.yaml")
	writeFile(t, f, "apiVersion: ocw.dev/v1alpha1\nkind: Workspaces\ndomain: d.io\nworkspaces:\n  - name: a\n    repo: https://tok@github.com/o/a\n")
	r := run(t, "", "validate", "-f", f)
	want := f + ":6:11: workspaces[0].repo: must not contain credentials"
	if r.code != ExitFailure || !strings.Contains(r.err, want) {
		t.Fatalf("got %+v, want stderr containing %q", r, want)
	}
	if r.out != "" {
		t.Errorf("errors must go to stderr, stdout got %q", r.out)
	}
	if r := run(t, "", "validate"); r.code != ExitFailure || !strings.Contains(r.err, "no spec: pass -f FILE") {
		t.Errorf("no -f: %+v", r)
	}
}

func TestRenderCycle(t *testing.T) {
	out := t.TempDir()
	specFile := "../../examples/seed.yaml"
	r := run(t, "", "render", "-f", specFile, "-d", out)
	if r.code != 0 || !strings.Contains(r.err, "render: 15 created, 0 updated, 0 removed, 0 unchanged") {
		t.Fatalf("first render: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(out, "kubernetes/apps/opencode/flux/ks.yaml")); err != nil {
		t.Fatal(err)
	}
	r = run(t, "", "render", "-f", specFile, "-d", out)
	if r.code != 0 || !strings.Contains(r.err, "0 created, 0 updated, 0 removed, 15 unchanged") {
		t.Fatalf("second render: %+v", r)
	}
	r = run(t, "", "render", "-f", specFile, "-d", out, "--check")
	if r.code != 0 || r.out != "" {
		t.Fatalf("check on fresh tree: %+v", r)
	}
	// A hand edit makes the tree stale; --check shows it and writes nothing.
	svc := filepath.Join(out, "kubernetes/apps/opencode/ha/app/service.yaml")
	orig, _ := os.ReadFile(svc)
	edited := strings.Replace(string(orig), "port: 4096", "port: 80", 1)
	writeFile(t, svc, edited)
	r = run(t, "", "render", "-f", specFile, "-d", out, "--check")
	if r.code != ExitFindings || !strings.Contains(r.out, "-    - name: http\n-      port: 80") && !strings.Contains(r.out, "+      port: 4096") {
		t.Fatalf("check on stale tree: %+v", r)
	}
	if !strings.Contains(r.err, "is stale (0 created, 1 updated, 0 removed, 14 unchanged)") {
		t.Errorf("check summary: %q", r.err)
	}
	if now, _ := os.ReadFile(svc); string(now) != edited {
		t.Error("--check wrote to the tree")
	}
	// A workspace leaving the spec removes exactly its generated files;
	// a user's own file in that folder keeps the folder alive.
	writeFile(t, filepath.Join(out, "kubernetes/apps/opencode/ha/NOTES.md"), "mine\n")
	one := strings.Replace(readFile(t, specFile), "  - name: ha\n    repo: https://github.com/jbaker/home-assistant.git\n", "", 1)
	r = run(t, one, "render", "-f", "-", "-d", out)
	if r.code != 0 || !strings.Contains(r.err, "1 updated, 5 removed") {
		t.Fatalf("render without ha: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(out, "kubernetes/apps/opencode/ha/ks.yaml")); !os.IsNotExist(err) {
		t.Errorf("ha/ks.yaml should be removed: %v", err)
	}
	if readFile(t, filepath.Join(out, "kubernetes/apps/opencode/ha/NOTES.md")) != "mine\n" {
		t.Error("user file touched")
	}
	if strings.Contains(readFile(t, filepath.Join(out, "kubernetes/apps/opencode/kustomization.yaml")), "ha/ks.yaml") {
		t.Error("namespace kustomization still lists ha")
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestInvalidSpecWritesNothing: every kind of bad spec is reported with
// file:line:column: field: message, exit 2, and nothing is written: no
// output folder, no namespace in the cluster.
func TestInvalidSpecWritesNothing(t *testing.T) {
	const head = "apiVersion: ocw.dev/v1alpha1\nkind: Workspaces\nnamespace: %s\ndomain: d.io\nworkspaces:\n"
	for i, c := range []struct {
		name, body string
		want       []string
	}{
		{"no workspaces", "", []string{"5:12: workspaces: at least one workspace is required"}},
		{"digit name", "  - name: 3dprint\n    repo: https://github.com/o/p\n",
			[]string{`6:11: workspaces[0].name: "3dprint" is not a valid name: use at most 40 lowercase letters`}},
		{"size without unit", "  - name: a\n    repo: https://github.com/o/a\n    storage: {size: 10}\n",
			[]string{`8:21: workspaces[0].storage.size: "10" needs a unit`}},
		{"absurd size", "  - name: a\n    repo: https://github.com/o/a\n    storage: {size: 99999999999999999999999Ei}\n",
			[]string{`8:21: workspaces[0].storage.size: "99999999999999999999999Ei" is out of range: use 1Gi to 64Ti`}},
		{"type error", "  - name: a\n    repo: https://github.com/o/a\n    reloader: maybe\n",
			[]string{`8:15: workspaces[0].reloader: "maybe" is not a boolean: use true or false`}},
		{"not a list", "  name: a\n", []string{"6:3: workspaces: must be a list (- item), got a mapping"}},
		{"syntax", "  - name: a\n    repo: https://x: y\n", []string{"7:5: workspaces[0].repo: mapping values are not allowed in this context"}},
		{"unknown field and more", "  - name: a\n    rep: https://github.com/o/a\n",
			[]string{"7:5: workspaces[0].rep: unknown field", "6:5: workspaces[0].repo: required: the https URL of the git repository"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ns := fmt.Sprintf("cli-bad-%d", i)
			dir := t.TempDir()
			file := filepath.Join(dir, "ws.yaml")
			writeFile(t, file, fmt.Sprintf(head, ns)+c.body)
			out := filepath.Join(dir, "out")
			for _, args := range [][]string{
				{"validate", "-f", file},
				{"render", "-f", file, "-d", out},
				{"render", "-f", file, "-d", out, "--check"},
				{"render", "-f", file},
				applyArgs(file),
			} {
				r := run(t, "", args...)
				if r.code != ExitFailure || r.out != "" {
					t.Errorf("%v: want exit %d and no stdout, got %+v", args, ExitFailure, r)
				}
				for _, w := range c.want {
					if !strings.Contains(r.err, file+":"+w) {
						t.Errorf("%v: stderr lacks %q:\n%s", args, file+":"+w, r.err)
					}
				}
				for _, goTerm := range []string{"!!", "unmarshal", "spec."} {
					if strings.Contains(r.err, goTerm) {
						t.Errorf("%v: message in Go terms: %s", args, r.err)
					}
				}
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("output folder written for an invalid spec: %v", err)
			}
			if err := kubeEnv.Client.Get(t.Context(), client.ObjectKey{Name: ns}, &corev1.Namespace{}); !apierrors.IsNotFound(err) {
				t.Errorf("namespace %s: want not found, got %v", ns, err)
			}
		})
	}
}

// TestRenderStdout: without -d (or with -d -) render prints the layout's
// objects as one YAML stream and creates no folder named "-".
func TestRenderStdout(t *testing.T) {
	specFile, err := filepath.Abs("../../examples/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	// No -d: the stream, as kustomize build and flux build print it.
	r := run(t, "", "render", "-f", specFile, "--layout", "kustomize")
	if r.code != 0 || strings.Contains(r.err, "error") {
		t.Fatalf("render: %+v", r)
	}
	// Namespace, 3 ExternalSecrets, and 2 workspaces of 5 objects.
	docs := strings.Split(r.out, "\n---\n")
	if len(docs) != 14 || !strings.HasPrefix(docs[0], "# Code generated by ocw") || !strings.Contains(docs[0], "kind: Namespace") {
		t.Errorf("want 14 documents, the Namespace first; got %d:\n%s", len(docs), r.out)
	}
	if strings.Contains(r.out, "kustomize.config.k8s.io") {
		t.Error("the stream holds a kustomization.yaml")
	}
	if entries, _ := os.ReadDir("."); len(entries) != 0 {
		t.Errorf("render without -d wrote %v", entries)
	}
	if r := run(t, "", "render", "-f", specFile, "--check"); r.code != ExitFailure || !strings.Contains(r.err, "--check compares with a folder: pass -d DIR") {
		t.Errorf("--check without -d: %+v", r)
	}
	// "-" is stdout, never a folder named "-".
	if r2 := run(t, "", "render", "-f", specFile, "--layout", "kustomize", "-d", "-"); r2.code != 0 || r2.out != r.out {
		t.Errorf("-d -: want the same stream on stdout, got %+v", r2)
	}
	if r := run(t, "", "render", "-f", specFile, "-d", "-", "--check"); r.code != ExitFailure {
		t.Errorf("-d - --check: %+v", r)
	}
	if entries, _ := os.ReadDir("."); len(entries) != 0 {
		t.Errorf("render -d - wrote %v", entries)
	}
	// -o is a format everywhere else; render has no such flag.
	if r := run(t, "", "render", "-f", specFile, "-o", "-"); r.code != ExitFailure || !strings.Contains(r.err, "unknown shorthand flag: 'o'") {
		t.Errorf("-o: %+v", r)
	}
}

// TestRenderCheckExitCodes: --check exits 1 only for drift; a broken spec
// or an unusable output folder is an error, 2.
func TestRenderCheckExitCodes(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "repo")
	if r := run(t, "", "render", "-f", "../../examples/seed.yaml", "-d", out, "--check"); r.code != ExitFindings || !strings.Contains(r.err, "is stale (15 created") {
		t.Fatalf("drift: %+v", r)
	}
	if r := run(t, "", "render", "-f", "../../examples/seed.yaml", "-d", out); r.code != 0 {
		t.Fatalf("render: %+v", r)
	}
	if r := run(t, "", "render", "-f", "../../examples/seed.yaml", "-d", out, "--check"); r.code != 0 {
		t.Fatalf("no drift: %+v", r)
	}
	broken := filepath.Join(dir, "broken.yaml")
	writeFile(t, broken, strings.Replace(readFile(t, "../../examples/seed.yaml"), "  - name: ha", "  - name: 3ha", 1))
	notDir := filepath.Join(dir, "file")
	writeFile(t, notDir, "x\n")
	for _, args := range [][]string{
		{"render", "-f", broken, "-d", out, "--check"},
		{"render", "-f", filepath.Join(dir, "missing.yaml"), "-d", out, "--check"},
		{"render", "-f", "../../examples/seed.yaml", "-d", notDir, "--check"},
		{"render", "-f", "../../examples/seed.yaml", "-d", out, "--check", "--layout", "helm"},
		{"render", "-f", "../../examples/seed.yaml", "-d", out, "--check", "--no-such-flag"},
	} {
		if r := run(t, "", args...); r.code != ExitFailure || !strings.HasPrefix(r.err, "error: ") {
			t.Errorf("%v: want exit %d with an error, got %+v", args, ExitFailure, r)
		}
	}
}

func TestRenderRefusesForeignFile(t *testing.T) {
	out := t.TempDir()
	foreign := filepath.Join(out, "kubernetes/apps/opencode/namespace.yaml")
	writeFile(t, foreign, "# mine\n")
	r := run(t, "", "render", "-f", "../../examples/seed.yaml", "-d", out)
	if r.code != ExitFailure || !strings.Contains(r.err, "refusing to overwrite "+foreign) {
		t.Fatalf("got %+v", r)
	}
	entries, _ := os.ReadDir(filepath.Join(out, "kubernetes/apps/opencode"))
	if len(entries) != 1 {
		t.Errorf("render wrote files despite refusing: %v", entries)
	}
}

func TestKustomizeLayoutNotes(t *testing.T) {
	r := run(t, "", "render", "-f", "../../examples/seed.yaml", "-d", t.TempDir(), "--layout", "kustomize")
	if r.code != 0 || !strings.Contains(r.err, "note: workspace flux: the VolSync component needs the flux layout") {
		t.Fatalf("got %+v", r)
	}
	r = run(t, "", "render", "-f", "../../examples/seed.yaml", "--layout", "helm")
	if r.code != ExitFailure || !strings.Contains(r.err, `unknown layout "helm"`) {
		t.Fatalf("got %+v", r)
	}
}

// Shells complete workspace names from the spec given with -f, and the
// values of the flags that take one of a few.
func TestCompletion(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"doctor", "-f", "../../examples/seed.yaml", ""}, "flux\nha\n:4\n"},
		{[]string{"auth", "push", "-f", "../../examples/seed.yaml", "h"}, "ha\n:4\n"},
		{[]string{"auth", "push", "ha", "-f", "../../examples/seed.yaml", ""}, ":4\n"},
		{[]string{"status", "-o", ""}, "table\njson\nyaml\n:4\n"},
		{[]string{"doctor", "-o", ""}, "table\njson\nyaml\n:4\n"},
		{[]string{"render", "--layout", ""}, "flux\nkustomize\n:4\n"},
		{[]string{"apply", "--dry-run="}, "none\nserver\n:4\n"},
		{[]string{"auth", "seed", "--dry-run="}, "none\nserver\n:4\n"},
	} {
		r := run(t, "", append([]string{"__complete"}, c.args...)...)
		if r.code != 0 || r.out != c.want {
			t.Errorf("complete %q: got %q (%+v), want %q", c.args, r.out, r, c.want)
		}
	}
	if r := run(t, "", "completion", "bash"); r.code != 0 || !strings.Contains(r.out, "__start_ocw") {
		t.Errorf("completion bash: %+v", r)
	}
}
