package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	if r.code != 1 || !strings.Contains(r.err, want) {
		t.Fatalf("got %+v, want stderr containing %q", r, want)
	}
	if r.out != "" {
		t.Errorf("errors must go to stderr, stdout got %q", r.out)
	}
	if r := run(t, "", "validate"); r.code != 1 || !strings.Contains(r.err, "no spec: pass -f FILE") {
		t.Errorf("no -f: %+v", r)
	}
}

func TestRenderCycle(t *testing.T) {
	out := t.TempDir()
	specFile := "../../examples/seed.yaml"
	r := run(t, "", "render", "-f", specFile, "-o", out)
	if r.code != 0 || !strings.Contains(r.err, "render: 15 created, 0 updated, 0 removed, 0 unchanged") {
		t.Fatalf("first render: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(out, "kubernetes/apps/opencode/flux/ks.yaml")); err != nil {
		t.Fatal(err)
	}
	r = run(t, "", "render", "-f", specFile, "-o", out)
	if r.code != 0 || !strings.Contains(r.err, "0 created, 0 updated, 0 removed, 15 unchanged") {
		t.Fatalf("second render: %+v", r)
	}
	r = run(t, "", "render", "-f", specFile, "-o", out, "--check")
	if r.code != 0 || r.out != "" {
		t.Fatalf("check on fresh tree: %+v", r)
	}
	// A hand edit makes the tree stale; --check shows it and writes nothing.
	svc := filepath.Join(out, "kubernetes/apps/opencode/ha/app/service.yaml")
	orig, _ := os.ReadFile(svc)
	edited := strings.Replace(string(orig), "port: 4096", "port: 80", 1)
	writeFile(t, svc, edited)
	r = run(t, "", "render", "-f", specFile, "-o", out, "--check")
	if r.code != 1 || !strings.Contains(r.out, "-    - name: http\n-      port: 80") && !strings.Contains(r.out, "+      port: 4096") {
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
	r = run(t, one, "render", "-f", "-", "-o", out)
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

func TestInvalidSpecWritesNothing(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	r := run(t, "apiVersion: ocw.dev/v1alpha1\nkind: Workspaces\nworkspaces: []\n", "render", "-f", "-", "-o", out)
	if r.code != 1 || !strings.Contains(r.err, "<stdin>:3:13: workspaces: at least one workspace is required") {
		t.Fatalf("got %+v", r)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output dir created for an invalid spec")
	}
}

func TestRenderRefusesForeignFile(t *testing.T) {
	out := t.TempDir()
	foreign := filepath.Join(out, "kubernetes/apps/opencode/namespace.yaml")
	writeFile(t, foreign, "# mine\n")
	r := run(t, "", "render", "-f", "../../examples/seed.yaml", "-o", out)
	if r.code != 1 || !strings.Contains(r.err, "refusing to overwrite "+foreign) {
		t.Fatalf("got %+v", r)
	}
	entries, _ := os.ReadDir(filepath.Join(out, "kubernetes/apps/opencode"))
	if len(entries) != 1 {
		t.Errorf("render wrote files despite refusing: %v", entries)
	}
}

func TestKustomizeLayoutNotes(t *testing.T) {
	r := run(t, "", "render", "-f", "../../examples/seed.yaml", "-o", t.TempDir(), "--layout", "kustomize")
	if r.code != 0 || !strings.Contains(r.err, "note: workspace flux: the VolSync component needs the flux layout") {
		t.Fatalf("got %+v", r)
	}
	r = run(t, "", "render", "-f", "../../examples/seed.yaml", "--layout", "helm")
	if r.code != 1 || !strings.Contains(r.err, `unknown layout "helm"`) {
		t.Fatalf("got %+v", r)
	}
}
