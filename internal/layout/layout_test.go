package layout_test

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/kustomize"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/opencode-workspaces/ocw/internal/boot"
	"github.com/opencode-workspaces/ocw/internal/layout"
	"github.com/opencode-workspaces/ocw/internal/layout/layouttest"
	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/output"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func loadSystem(t testing.TB, file string) *model.System {
	t.Helper()
	sys, err := model.LoadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return sys
}

// goldens are the specs and layouts whose output is kept under testdata/
// and reviewed like code. Regenerate with: go test ./internal/layout -update
var goldens = []struct{ spec, layout, dir string }{
	{"../../examples/seed.yaml", layout.Flux, "seed-flux"},
	{"../../examples/seed.yaml", layout.Kustomize, "seed-kustomize"},
	{"../../examples/everything.yaml", layout.Flux, "everything-flux"},
	{"../../examples/everything.yaml", layout.Kustomize, "everything-kustomize"},
}

func TestGolden(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.dir, func(t *testing.T) {
			files := layouttest.Render(t, loadSystem(t, g.spec), g.layout)
			dir := filepath.Join("testdata", g.dir)
			if *update {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				layouttest.WriteFiles(t, dir, files)
				return
			}
			got := readTree(t, dir)
			for p, want := range files {
				if !bytes.Equal(got[p], want) {
					t.Errorf("%s differs from the golden file (run: go test ./internal/layout -update)\n--- got\n%s", p, want)
				}
				delete(got, p)
			}
			for p := range got {
				t.Errorf("golden file %s is no longer rendered", p)
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	sys := loadSystem(t, "../../examples/everything.yaml")
	a, b := layouttest.Render(t, sys, layout.Flux), layouttest.Render(t, loadSystem(t, "../../examples/everything.yaml"), layout.Flux)
	if len(a) != len(b) {
		t.Fatal("file count differs between two renders")
	}
	for p := range a {
		if !bytes.Equal(a[p], b[p]) {
			t.Errorf("%s differs between two renders", p)
		}
	}
}

func readTree(t testing.TB, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)], err = os.ReadFile(p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestKustomizeLayoutBuilds builds the plain tree with kustomize, as
// `kubectl apply -k` would, and checks every object is there once.
func TestKustomizeLayoutBuilds(t *testing.T) {
	for _, file := range []string{"../../examples/seed.yaml", "../../examples/everything.yaml"} {
		sys := loadSystem(t, file)
		root := t.TempDir()
		layouttest.WriteFiles(t, root, layouttest.Render(t, sys, layout.Kustomize))
		res, err := kustomize.SecureBuild(root, root, false)
		if err != nil {
			t.Fatalf("%s: kustomize build: %v", file, err)
		}
		kinds := countKinds(res)
		if kinds["Deployment"] != len(sys.Workspaces) || kinds["PersistentVolumeClaim"] != len(sys.Workspaces) ||
			kinds["HTTPRoute"] != len(sys.Workspaces) || kinds["Namespace"] != 1 {
			t.Errorf("%s: unexpected objects %v", file, kinds)
		}
		if sys.Secrets.External && kinds["ExternalSecret"] != 3 {
			t.Errorf("%s: want 3 ExternalSecrets once per namespace, got %d", file, kinds["ExternalSecret"])
		}
		for _, r := range res.Resources() {
			if r.GetKind() != "Namespace" && r.GetKind() != "ClusterRoleBinding" && r.GetNamespace() != sys.Namespace {
				t.Errorf("%s/%s in namespace %q", r.GetKind(), r.GetName(), r.GetNamespace())
			}
		}
	}
}

func countKinds(res resmap.ResMap) map[string]int {
	kinds := map[string]int{}
	for _, r := range res.Resources() {
		kinds[r.GetKind()]++
	}
	return kinds
}

// TestFluxTreeReconciles does what kustomize-controller does with every
// rendered ks.yaml, in a home-ops cluster repository (layouttest's
// fixture: its VolSync component creates the PVC): generate and build its
// path with Flux's own kustomize code, then run Flux's post-build
// substitution on each object, with substituteFrom read from what the
// namespace folder brings. Each workspace has exactly one PVC, protected
// from pruning; the scripts in the Deployment come out byte-identical.
func TestFluxTreeReconciles(t *testing.T) {
	for _, file := range []string{"../../examples/seed.yaml", "../../examples/everything.yaml"} {
		t.Run(path.Base(file), func(t *testing.T) {
			sys := loadSystem(t, file)
			root := t.TempDir()
			layouttest.WriteHomeOps(t, root)
			layouttest.WriteFiles(t, root, layouttest.Render(t, sys, layout.Flux))
			nsDir := path.Join(sys.Flux.AppsPath, sys.Namespace)
			top, err := kustomize.SecureBuild(root, filepath.Join(root, nsDir), false)
			if err != nil {
				t.Fatalf("building %s: %v", nsDir, err)
			}
			vars := layouttest.VariableSource(t, top.Resources())
			var kss []*resource.Resource
			for _, r := range top.Resources() {
				if r.GetKind() == "Kustomization" {
					kss = append(kss, r)
				}
			}
			want := len(sys.Workspaces)
			if sys.Secrets.External {
				want++
			}
			if len(kss) != want {
				t.Fatalf("%d Flux Kustomizations, want %d", len(kss), want)
			}
			for _, ks := range kss {
				checkKustomization(t, root, ks, sys, vars)
			}
		})
	}
}

func checkKustomization(t *testing.T, root string, ksRes *resource.Resource, sys *model.System, vars client.Client) {
	t.Helper()
	m, err := ksRes.Map()
	if err != nil {
		t.Fatal(err)
	}
	ks := unstructured.Unstructured{Object: m}
	if ks.GetNamespace() != sys.Namespace {
		t.Errorf("ks %s in namespace %q", ks.GetName(), ks.GetNamespace())
	}
	kinds := map[string]int{}
	var final []*resource.Resource
	for _, o := range layouttest.BuildKustomization(t, root, ks, vars) {
		r := o.Built
		kinds[r.GetKind()]++
		before, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		if r.GetKind() == "Deployment" {
			if o.Lax != nil || o.Strict != nil {
				t.Errorf("ks %s: Deployment %s was substituted; its scripts must be opted out", ks.GetName(), r.GetName())
			}
			checkScripts(t, before)
			final = append(final, r)
			continue
		}
		for _, out := range []*resource.Resource{o.Lax, o.Strict} {
			if after, _ := out.AsYAML(); bytes.Contains(after, []byte("${")) {
				t.Errorf("ks %s: %s/%s still has an unsubstituted variable:\n%s", ks.GetName(), r.GetKind(), r.GetName(), after)
			}
		}
		final = append(final, o.Strict)
	}
	if ks.GetName() == sys.Namespace+"-secrets" {
		if kinds["ExternalSecret"] != 3 {
			t.Errorf("secrets ks builds %v", kinds)
		}
		return
	}
	if kinds["Deployment"] != 1 || kinds["Service"] != 1 || kinds["HTTPRoute"] != 1 {
		t.Errorf("ks %s builds %v", ks.GetName(), kinds)
	}
	checkWorkspaceVolume(t, ks.GetName(), final)
}

// checkWorkspaceVolume: after Flux's build and substitution the workspace
// has exactly one PVC, the one its Deployment mounts, marked so that
// neither Flux nor ocw apply deletes it; a backup reads that PVC.
func checkWorkspaceVolume(t *testing.T, ws string, objs []*resource.Resource) {
	t.Helper()
	var pvcs []string
	for _, r := range objs {
		switch r.GetKind() {
		case "PersistentVolumeClaim":
			pvcs = append(pvcs, r.GetName())
			a := r.GetAnnotations()
			if a["kustomize.toolkit.fluxcd.io/prune"] != "disabled" || a["ocw.dev/keep-data"] != "true" {
				t.Errorf("ks %s: PVC %s is not protected from pruning: annotations %v", ws, r.GetName(), a)
			}
		case "Deployment":
			vols, _, _ := unstructured.NestedSlice(object(t, r), "spec", "template", "spec", "volumes")
			for _, v := range vols {
				if claim, ok, _ := unstructured.NestedString(v.(map[string]any), "persistentVolumeClaim", "claimName"); ok && claim != ws {
					t.Errorf("ks %s: the Deployment mounts PVC %q", ws, claim)
				}
			}
		case "ReplicationSource":
			if src, _, _ := unstructured.NestedString(object(t, r), "spec", "sourcePVC"); src != ws {
				t.Errorf("ks %s: ReplicationSource backs up %q", ws, src)
			}
		}
	}
	if len(pvcs) != 1 || pvcs[0] != ws {
		t.Errorf("ks %s: PVCs %q, want exactly one named %s", ws, pvcs, ws)
	}
}

// object is r's data as the unstructured helpers want it.
func object(t *testing.T, r *resource.Resource) map[string]any {
	t.Helper()
	return layouttest.Unstructured(t, r).Object
}

// checkScripts asserts the Deployment carries the boot scripts exactly as
// ocw embeds them.
func checkScripts(t *testing.T, deployment []byte) {
	t.Helper()
	var d struct {
		Spec struct {
			Template struct {
				Spec struct {
					InitContainers []struct {
						Name    string   `json:"name"`
						Command []string `json:"command"`
					} `json:"initContainers"`
					Containers []struct {
						ReadinessProbe struct {
							Exec struct {
								Command []string `json:"command"`
							} `json:"exec"`
						} `json:"readinessProbe"`
					} `json:"containers"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(deployment, &d); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"clone": boot.CloneScript, "seed-auth": boot.SeedAuthScript}
	for _, c := range d.Spec.Template.Spec.InitContainers {
		if got := c.Command[len(c.Command)-1]; got != want[c.Name] {
			t.Errorf("init container %s: script changed on the way through Flux", c.Name)
		}
		delete(want, c.Name)
	}
	if len(want) != 0 {
		t.Errorf("missing init containers: %v", want)
	}
	cmd := d.Spec.Template.Spec.Containers[0].ReadinessProbe.Exec.Command
	if len(cmd) == 0 || cmd[len(cmd)-1] != boot.ProbeScript {
		t.Errorf("probe script changed on the way through Flux")
	}
}

func TestUnknownLayout(t *testing.T) {
	_, err := layout.Build(loadSystem(t, "../../examples/seed.yaml"), "helm")
	if err == nil || !strings.Contains(err.Error(), `unknown layout "helm"`) {
		t.Fatalf("got %v", err)
	}
}

func TestKustomizeLayoutNotesComponentBackup(t *testing.T) {
	tree, err := layout.Build(loadSystem(t, "../../examples/seed.yaml"), layout.Kustomize)
	if err != nil {
		t.Fatal(err)
	}
	if len(tree.Notes) != 2 || !strings.Contains(tree.Notes[0], "inline ReplicationSource") {
		t.Errorf("notes: %v", tree.Notes)
	}
	var names []string
	for _, f := range tree.Files {
		names = append(names, f.Path)
	}
	sort.Strings(names)
	if !contains(names, "flux/replicationsource.yaml") {
		t.Errorf("kustomize layout lacks the inline backup: %v", names)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// BenchmarkRender renders and writes the Flux tree for n workspaces.
func BenchmarkRender(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("workspaces=%d", n), func(b *testing.B) {
			var sb strings.Builder
			sb.WriteString("apiVersion: ocw.dev/v1alpha1\nkind: Workspaces\ndomain: example.com\nsecrets: {mode: doppler}\nworkspaces:\n")
			for i := 0; i < n; i++ {
				fmt.Fprintf(&sb, "  - name: ws%d\n    repo: https://github.com/o/r%d.git\n", i, i)
			}
			specFile := filepath.Join(b.TempDir(), "ws.yaml")
			if err := os.WriteFile(specFile, []byte(sb.String()), 0o644); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				sys := loadSystem(b, specFile)
				plan, err := output.NewPlan(b.TempDir(), sys.Namespace, layouttest.Render(b, sys, layout.Flux))
				if err != nil {
					b.Fatal(err)
				}
				if err := plan.Write(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestStreamMatchesKustomizeBuild: the stream `render` prints without -d holds
// exactly the objects `kustomize build` makes of the written tree, and, for
// the flux layout, every object of the tree's files but kustomize's own
// kustomization.yaml files.
func TestStreamMatchesKustomizeBuild(t *testing.T) {
	for _, file := range []string{"../../examples/seed.yaml", "../../examples/everything.yaml"} {
		sys := loadSystem(t, file)
		for _, lay := range layout.Names {
			tree, err := layout.Build(sys, lay)
			if err != nil {
				t.Fatal(err)
			}
			stream, err := output.Stream(sys.Namespace, tree)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(stream, []byte(output.Header(sys.Namespace))) {
				t.Errorf("%s %s: stream lacks the generated header", file, lay)
			}
			got := streamObjects(t, stream)
			if got[0] != "Namespace//"+sys.Namespace {
				t.Errorf("%s %s: stream starts with %s, want the Namespace first", file, lay, got[0])
			}
			var want []string
			files := layouttest.Render(t, sys, lay)
			if lay == layout.Kustomize {
				root := t.TempDir()
				layouttest.WriteFiles(t, root, files)
				res, err := kustomize.SecureBuild(root, root, false)
				if err != nil {
					t.Fatalf("%s: kustomize build: %v", file, err)
				}
				for _, r := range res.Resources() {
					want = append(want, r.GetKind()+"/"+r.GetNamespace()+"/"+r.GetName())
				}
			} else {
				for p, data := range files {
					if path.Base(p) != "kustomization.yaml" {
						want = append(want, streamObjects(t, data)...)
					}
				}
			}
			sort.Strings(got)
			sort.Strings(want)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("%s %s: stream objects\n%s\nwant\n%s", file, lay, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
	}
}

// streamObjects decodes a YAML stream into Kind/namespace/name, in order.
func streamObjects(t *testing.T, data []byte) []string {
	t.Helper()
	var out []string
	for _, doc := range bytes.Split(data, []byte("\n---\n")) {
		var u unstructured.Unstructured
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			t.Fatalf("decoding %q: %v", doc, err)
		}
		if u.GetKind() == "" || u.GetAPIVersion() == "kustomize.config.k8s.io/v1beta1" {
			t.Fatalf("not a cluster object: %q", doc)
		}
		out = append(out, u.GetKind()+"/"+u.GetNamespace()+"/"+u.GetName())
	}
	return out
}
