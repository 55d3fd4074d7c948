package output

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func gen(owner, body string) []byte { return []byte(Header(owner) + body) }

// snapshot maps every file under root to its content, to compare trees.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			out[rel+"/"] = ""
			return nil
		}
		b, err := os.ReadFile(p)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func write(t *testing.T, root, rel, data string) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPlanAndWrite(t *testing.T) {
	root := t.TempDir()
	write(t, root, "apps/ns/keep.yaml", "# my own file\n")
	write(t, root, "apps/ns/old/app/x.yaml", string(gen("ns", "old: 1\n")))
	write(t, root, "apps/other/y.yaml", string(gen("other", "y: 1\n")))
	write(t, root, "apps/ns/same.yaml", string(gen("ns", "same: 1\n")))
	write(t, root, "apps/ns/changed.yaml", string(gen("ns", "v: 1\n")))

	files := map[string][]byte{
		"apps/ns/same.yaml":    gen("ns", "same: 1\n"),
		"apps/ns/changed.yaml": gen("ns", "v: 2\n"),
		"apps/ns/new/a.yaml":   gen("ns", "a: 1\n"),
	}
	p, err := NewPlan(root, "ns", files)
	if err != nil {
		t.Fatal(err)
	}
	want := &Plan{Create: []string{"apps/ns/new/a.yaml"}, Update: []string{"apps/ns/changed.yaml"},
		Remove: []string{"apps/ns/old/app/x.yaml"}, Unchanged: []string{"apps/ns/same.yaml"}}
	for name, pair := range map[string][2][]string{
		"create": {p.Create, want.Create}, "update": {p.Update, want.Update},
		"remove": {p.Remove, want.Remove}, "unchanged": {p.Unchanged, want.Unchanged},
	} {
		if !reflect.DeepEqual(pair[0], pair[1]) {
			t.Errorf("%s = %v, want %v", name, pair[0], pair[1])
		}
	}
	if got := p.Summary(); got != "1 created, 1 updated, 1 removed, 1 unchanged" {
		t.Errorf("summary %q", got)
	}
	diff := p.Diff()
	for _, s := range []string{"--- a/apps/ns/changed.yaml", "-v: 1", "+v: 2", "--- /dev/null", "+++ b/apps/ns/new/a.yaml", "+++ /dev/null"} {
		if !strings.Contains(diff, s) {
			t.Errorf("diff lacks %q:\n%s", s, diff)
		}
	}
	if err := p.Write(); err != nil {
		t.Fatal(err)
	}
	got := snapshot(t, root)
	if got["apps/ns/keep.yaml"] != "# my own file\n" || got["apps/other/y.yaml"] != string(gen("other", "y: 1\n")) {
		t.Errorf("files ocw does not own were touched: %v", got)
	}
	if got["apps/ns/changed.yaml"] != string(gen("ns", "v: 2\n")) || got["apps/ns/new/a.yaml"] != string(gen("ns", "a: 1\n")) {
		t.Errorf("wanted files not written: %v", got)
	}
	for _, gone := range []string{"apps/ns/old/app/x.yaml", "apps/ns/old/app/", "apps/ns/old/"} {
		if _, ok := got[gone]; ok {
			t.Errorf("%s should be gone", gone)
		}
	}
	for k := range got {
		if strings.Contains(k, stagingPrefix) {
			t.Errorf("staging left behind: %s", k)
		}
	}
	// Second plan: nothing to do.
	p2, err := NewPlan(root, "ns", files)
	if err != nil {
		t.Fatal(err)
	}
	if p2.Changed() {
		t.Errorf("second plan not empty: %s", p2.Summary())
	}
}

func TestRefusesForeignFiles(t *testing.T) {
	root := t.TempDir()
	write(t, root, "a.yaml", "# hand written\n")
	write(t, root, "b.yaml", string(gen("other", "b: 1\n")))
	before := snapshot(t, root)
	for _, rel := range []string{"a.yaml", "b.yaml"} {
		_, err := NewPlan(root, "ns", map[string][]byte{rel: gen("ns", "x: 1\n")})
		if err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
			t.Errorf("%s: got %v", rel, err)
		}
	}
	if after := snapshot(t, root); !reflect.DeepEqual(before, after) {
		t.Errorf("tree changed")
	}
}

// A failure while staging (here: a file name that cannot be created)
// leaves the output directory exactly as it was.
func TestFailedWriteLeavesTreeUntouched(t *testing.T) {
	root := t.TempDir()
	write(t, root, "a.yaml", string(gen("ns", "a: 1\n")))
	write(t, root, "stale.yaml", string(gen("ns", "s: 1\n")))
	before := snapshot(t, root)
	files := map[string][]byte{
		"a.yaml": gen("ns", "a: 2\n"),
		"b.yaml": gen("ns", "b: 1\n"),
		// A file and a folder of the same name: staging the second fails.
		"d.yaml":        gen("ns", "d: 1\n"),
		"d.yaml/e.yaml": gen("ns", "e: 1\n"),
	}
	p, err := NewPlan(root, "ns", files)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Write(); err == nil {
		t.Fatal("expected write to fail")
	}
	after := snapshot(t, root)
	if !reflect.DeepEqual(before, after) {
		keys := func(m map[string]string) []string {
			var k []string
			for x := range m {
				k = append(k, x)
			}
			sort.Strings(k)
			return k
		}
		t.Errorf("tree changed:\nbefore %v\nafter  %v", keys(before), keys(after))
	}
}

func TestWriteIntoNewDir(t *testing.T) {
	root := filepath.Join(t.TempDir(), "new", "out")
	p, err := NewPlan(root, "ns", map[string][]byte{"a/d.yaml": gen("ns", "x\n")})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Write(); err != nil {
		t.Fatal(err)
	}
	if got := snapshot(t, root); !reflect.DeepEqual(got, map[string]string{"./": "", "a/": "", "a/d.yaml": string(gen("ns", "x\n"))}) {
		t.Errorf("tree: %v", got)
	}
}

func TestFailedWriteIntoNewDirRemovesIt(t *testing.T) {
	root := filepath.Join(t.TempDir(), "out")
	p, err := NewPlan(root, "ns", map[string][]byte{"d.yaml": gen("ns", "x\n"), "d.yaml/e.yaml": gen("ns", "x\n")})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Write(); err == nil {
		t.Fatal("expected failure")
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("output dir created by a failed render still exists: %v", err)
	}
}

func TestMarshalDropsServerFields(t *testing.T) {
	obj := struct {
		Kind     string            `json:"kind"`
		Metadata metav1.ObjectMeta `json:"metadata"`
		Spec     map[string]any    `json:"spec"`
		Status   map[string]any    `json:"status"`
	}{"X", metav1.ObjectMeta{Name: "x1"}, map[string]any{"emptyDir": map[string]any{}, "port": 4096}, map[string]any{}}
	got, err := marshal("", &obj, &obj)
	if err != nil {
		t.Fatal(err)
	}
	want := "kind: X\nmetadata:\n  name: x1\nspec:\n  emptyDir: {}\n  port: 4096\n"
	if string(got) != want+"---\n"+want {
		t.Errorf("got:\n%s", got)
	}
}

// Formatters add or move "---" and the schema comment: such a file is
// still ocw's (updated, removed when stale, unchanged when only those
// lines differ); a header below the first YAML line is not a header.
func TestHeaderInPreamble(t *testing.T) {
	root := t.TempDir()
	header := Header("ns")
	schema := SchemaPrefix + "https://schemas.example.test/x.json\n"
	write(t, root, "same.yaml", "---\n"+schema+header+"a: 1\n")
	write(t, root, "moved.yaml", header+"---\n"+schema+"\n"+"b: 1\n")
	write(t, root, "changed.yaml", schema+"---\n"+header+"c: 1\n")
	write(t, root, "stale.yaml", "---\n"+schema+header+"d: 1\n")
	write(t, root, "late.yaml", "---\nx: 1\n"+header)
	write(t, root, "other.yaml", "---\n"+schema+Header("other")+"e: 1\n")
	files := map[string][]byte{
		"same.yaml":    []byte("---\n" + header + "a: 1\n"),
		"moved.yaml":   []byte("---\n" + header + "b: 1\n"),
		"changed.yaml": []byte("---\n" + header + "c: 2\n"),
	}
	p, err := NewPlan(root, "ns", files)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Unchanged, []string{"moved.yaml", "same.yaml"}) || !reflect.DeepEqual(p.Update, []string{"changed.yaml"}) ||
		!reflect.DeepEqual(p.Remove, []string{"stale.yaml"}) || len(p.Create) != 0 {
		t.Errorf("plan: %s; unchanged %v update %v remove %v", p.Summary(), p.Unchanged, p.Update, p.Remove)
	}
	for rel, want := range map[string]string{
		"late.yaml":  "it was not generated by ocw",
		"other.yaml": "generated by ocw for another namespace",
	} {
		_, err := NewPlan(root, "ns", map[string][]byte{rel: []byte("---\n" + header + "z: 1\n")})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", rel, err, want)
		}
	}
}

func TestFileStyle(t *testing.T) {
	type ks struct {
		APIVersion string         `json:"apiVersion"`
		Kind       string         `json:"kind"`
		Spec       map[string]any `json:"spec"`
	}
	flux := &ks{"kustomize.toolkit.fluxcd.io/v1", "Kustomization", map[string]any{"interval": "1h0m0s", "timeout": "1h30m0s", "retryInterval": "2m0s", "path": "1h0m0s"}}
	plain := &ks{"v1", "ConfigMap", map[string]any{"interval": "1h0m0s"}}
	got, err := marshal("ns", flux, plain)
	if err != nil {
		t.Fatal(err)
	}
	want := "---\n" + SchemaPrefix + "https://kubernetes-schemas.pages.dev/kustomize.toolkit.fluxcd.io/kustomization_v1.json\n" + Header("ns") +
		"apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nspec:\n  interval: 1h\n  path: 1h0m0s\n  retryInterval: 2m\n  timeout: 1h30m\n  wait: false\n" +
		"---\napiVersion: v1\nkind: ConfigMap\nspec:\n  interval: 1h0m0s\n"
	if string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestShortDuration(t *testing.T) {
	for in, want := range map[string]string{
		"1h0m0s": "1h", "10m0s": "10m", "1h30m0s": "1h30m", "2m0s": "2m", "0s": "0s", "1h0m5s": "1h5s",
		"1.5s": "1.5s", "soon": "soon", "90m": "1h30m",
	} {
		if got := shortDuration(in); got != want {
			t.Errorf("shortDuration(%q) = %q, want %q", in, got, want)
		}
	}
}
