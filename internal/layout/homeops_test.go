package layout_test

import (
	"bytes"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/kustomize"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/opencode-workspaces/ocw/internal/layout"
	"github.com/opencode-workspaces/ocw/internal/layout/layouttest"
	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/output"
)

// renderInto renders sys's Flux tree into the repository at root with the
// writer ocw render uses, which refuses to overwrite files it did not
// generate: the tree must drop in beside the repository's own files.
func renderInto(t *testing.T, root string, sys *model.System) *output.Plan {
	t.Helper()
	plan, err := output.NewPlan(root, sys.Namespace, layouttest.Render(t, sys, layout.Flux))
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Write(); err != nil {
		t.Fatal(err)
	}
	return plan
}

// TestHomeOpsDropIn renders the seed's example into a cluster-template
// shaped repository with a home-ops VolSync component that creates the
// PVC, and reconciles it the way Flux does from the top: the entry point
// (whose patch rewrites every child Kustomization, spec.patches included)
// builds kubernetes/apps, then each of ocw's Kustomizations is built and
// substituted, substituteFrom read from the cluster-secrets Secret the
// namespace component brings. Nothing is edited by hand.
func TestHomeOpsDropIn(t *testing.T) {
	sys := loadSystem(t, "../../examples/seed.yaml")
	root := t.TempDir()
	layouttest.WriteHomeOps(t, root)
	renderInto(t, root, sys)

	entry := layouttest.ReadKustomization(t, filepath.Join(root, layouttest.HomeOpsEntryPoint))
	parentPatches, _, _ := unstructured.NestedSlice(entry.Object, "spec", "patches")
	rec := layouttest.ReconcileHomeOps(t, root, sys.Namespace, func(top []*resource.Resource) client.Client {
		return layouttest.VariableSource(t, top)
	})
	var namespaces []string
	secrets := 0
	for _, r := range rec.Top {
		switch r.GetKind() {
		case "Namespace":
			namespaces = append(namespaces, r.GetName())
		case "Secret":
			if r.GetNamespace() == sys.Namespace && r.GetName() == "cluster-secrets" {
				secrets++
			}
		}
	}
	if !reflect.DeepEqual(namespaces, []string{"default", sys.Namespace}) || secrets != 1 {
		t.Fatalf("kubernetes/apps builds Namespaces %v and %d cluster-secrets in %s", namespaces, secrets, sys.Namespace)
	}
	if len(rec.Children) != len(sys.Workspaces)+1 {
		t.Fatalf("%d Kustomizations in %s, want %d", len(rec.Children), sys.Namespace, len(sys.Workspaces)+1)
	}
	// The parent's patch reached ocw's Kustomizations: their spec.patches is
	// the parent's list, whatever they had there is gone, which is why ocw
	// keeps the PVC's mark in the app folder instead.
	var parentPatch map[string]any
	if len(parentPatches) != 1 || yaml.Unmarshal([]byte(parentPatches[0].(map[string]any)["patch"].(string)), &parentPatch) != nil {
		t.Fatalf("entry point patches: %v", parentPatches)
	}
	want, _, _ := unstructured.NestedSlice(parentPatch, "spec", "patches")
	for _, ks := range rec.Children {
		got, _, _ := unstructured.NestedSlice(ks.Object, "spec", "patches")
		provider, _, _ := unstructured.NestedString(ks.Object, "spec", "decryption", "provider")
		if provider != "sops" || len(want) == 0 || !reflect.DeepEqual(got, want) {
			t.Fatalf("Kustomization %s was not patched by the entry point: decryption %q, patches %v", ks.GetName(), provider, got)
		}
	}
	for name, objs := range rec.Objects {
		if name == model.SecretsKustomizationName(sys) {
			continue
		}
		ws := workspace(t, sys, name)
		var final []*resource.Resource
		for _, o := range objs {
			r := o.Strict
			if r == nil { // opted out: the Deployment's scripts keep their ${…}
				final = append(final, o.Built)
				continue
			}
			if y, _ := r.AsYAML(); bytes.Contains(y, []byte("${")) {
				t.Errorf("ks %s: %s/%s keeps a variable:\n%s", name, r.GetKind(), r.GetName(), y)
			}
			final = append(final, r)
		}
		checkWorkspaceVolume(t, ws.Name, final)
		for _, r := range final {
			switch r.GetKind() {
			case "PersistentVolumeClaim":
				// The component's PVC, sized and classed by the spec, restored
				// from the component's ReplicationDestination.
				o := object(t, r)
				ref, _, _ := unstructured.NestedStringMap(o, "spec", "dataSourceRef")
				size, _, _ := unstructured.NestedString(o, "spec", "resources", "requests", "storage")
				class, _, _ := unstructured.NestedString(o, "spec", "storageClassName")
				modes, _, _ := unstructured.NestedStringSlice(o, "spec", "accessModes")
				if ref["kind"] != "ReplicationDestination" || ref["name"] != ws.Name+"-dst" || size != ws.Storage.Size.String() ||
					class != ws.Storage.StorageClass || !reflect.DeepEqual(modes, []string{string(ws.Storage.AccessMode)}) {
					t.Errorf("ks %s: PVC %v", name, o["spec"])
				}
			case "ReplicationSource":
				// The component's mover identity, plus what Pod Security
				// restricted needs from ocw's patch.
				sc, _, _ := unstructured.NestedMap(object(t, r), "spec", "restic", "moverSecurityContext")
				if sc["runAsNonRoot"] != true || !reflect.DeepEqual(sc["seccompProfile"], map[string]any{"type": "RuntimeDefault"}) || sc["runAsUser"] == nil {
					t.Errorf("ks %s: ReplicationSource moverSecurityContext %v", name, sc)
				}
			case "ExternalSecret":
				o := object(t, r)
				if repo, _, _ := unstructured.NestedString(o, "spec", "target", "template", "data", "RESTIC_REPOSITORY"); repo != "s3:https://s3.home.example.test/volsync/"+ws.Name {
					t.Errorf("ks %s: restic repository %q: substituteFrom did not reach the component", name, repo)
				}
			}
		}
	}
}

func workspace(t *testing.T, sys *model.System, name string) model.Workspace {
	t.Helper()
	for _, ws := range sys.Workspaces {
		if ws.Name == name {
			return ws
		}
	}
	t.Fatalf("no workspace %s", name)
	return model.Workspace{}
}

// A namespace component that brings the Namespace itself (home-ops'
// "common"): ocw renders no namespace.yaml, and the one Namespace the
// folder builds carries ocw's Pod Security labels and keep-data marks.
func TestNamespaceFromComponent(t *testing.T) {
	spec, err := os.ReadFile("../../examples/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "ws.yaml")
	edited := strings.Replace(string(spec), "namespaceComponents: [../../components/sops]",
		"namespaceComponents: [../../components/common, ../../components/sops]\n  renderNamespace: false", 1)
	if edited == string(spec) {
		t.Fatal("seed.yaml no longer lists the sops component")
	}
	if err := os.WriteFile(file, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	sys := loadSystem(t, file)
	root := t.TempDir()
	layouttest.WriteHomeOps(t, root)
	plan := renderInto(t, root, sys)
	nsDir := path.Join(sys.Flux.AppsPath, sys.Namespace)
	for _, f := range plan.Create {
		if f == path.Join(nsDir, "namespace.yaml") {
			t.Errorf("rendered %s although a component brings the Namespace", f)
		}
	}
	res, err := kustomize.SecureBuild(root, filepath.Join(root, nsDir), false)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, r := range res.Resources() {
		if r.GetKind() != "Namespace" {
			continue
		}
		found = append(found, r.GetName())
		l, a := r.GetLabels(), r.GetAnnotations()
		if l["pod-security.kubernetes.io/enforce"] != "restricted" || a["kustomize.toolkit.fluxcd.io/prune"] != "disabled" ||
			a["ocw.dev/keep-data"] != "true" || a["volsync.backube/privileged-movers"] != "true" {
			t.Errorf("Namespace %s: labels %v annotations %v", r.GetName(), l, a)
		}
	}
	if !reflect.DeepEqual(found, []string{sys.Namespace}) {
		t.Errorf("Namespaces %v, want exactly %s", found, sys.Namespace)
	}
}

// Formatting edits that editors and pre-commit hooks make to YAML files in
// home-ops repositories.
func documentStart(s string) string {
	if strings.HasPrefix(s, "---\n") {
		return s
	}
	return "---\n" + s
}

func schemaComment(s string) string {
	if strings.Contains(s, output.SchemaPrefix) {
		return s
	}
	return strings.Replace(s, "---\n", "---\n"+output.SchemaPrefix+"https://schemas.example.test/any.json\n", 1)
}

func schemaFirst(s string) string {
	lines := strings.SplitN(s, "\n", 3)
	if len(lines) < 3 || !strings.HasPrefix(lines[1], output.SchemaPrefix) {
		return s
	}
	return lines[1] + "\n" + lines[0] + "\n" + lines[2]
}

// headerFirst moves ocw's header to the top, as files ocw wrote before it
// started them with "---" have it.
func headerFirst(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, output.HeaderPrefix) {
			return strings.Join(append([]string{l}, append(lines[:i:i], lines[i+1:]...)...), "\n")
		}
	}
	return s
}

var formatters = map[string][]func(string) string{
	"schema comment added":          {schemaComment},
	"schema comment first":          {schemaFirst},
	"header first":                  {headerFirst},
	"document start before header":  {headerFirst, documentStart},
	"schema comment and --- on top": {schemaComment, headerFirst, documentStart},
}

// ocw render --check stays clean after a formatter touched the generated
// files, and ocw still recognises them as its own: a changed spec updates
// them instead of refusing.
func TestRenderCheckAfterFormatter(t *testing.T) {
	for name, edits := range formatters {
		format := func(s string) string {
			for _, e := range edits {
				s = e(s)
			}
			return s
		}
		t.Run(name, func(t *testing.T) {
			sys := loadSystem(t, "../../examples/seed.yaml")
			root := t.TempDir()
			plan := renderInto(t, root, sys)
			touched := 0
			for _, rel := range plan.Create {
				p := filepath.Join(root, filepath.FromSlash(rel))
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if f := format(string(data)); f != string(data) {
					touched++
					if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			if touched == 0 {
				t.Fatalf("the formatter changed no file")
			}
			check, err := output.NewPlan(root, sys.Namespace, layouttest.Render(t, sys, layout.Flux))
			if err != nil {
				t.Fatal(err)
			}
			if check.Changed() {
				t.Fatalf("render --check after %d files were formatted: %s\n%s", touched, check.Summary(), check.Diff())
			}
			sys.Workspaces = sys.Workspaces[:1]
			shrink, err := output.NewPlan(root, sys.Namespace, layouttest.Render(t, sys, layout.Flux))
			if err != nil {
				t.Fatalf("formatted files are no longer ocw's: %v", err)
			}
			if len(shrink.Remove) == 0 || len(shrink.Update) == 0 {
				t.Errorf("removing a workspace: %s", shrink.Summary())
			}
		})
	}
}

// Flux substitutes variables into the built objects' YAML, where kustomize
// writes the component's "${VOLSYNC_SCHEDULE:=0 * * * *}" unquoted: a
// schedule starting with "*" would become a YAML alias and fail the whole
// Kustomization. Each accepted form, from backup.schedule or from
// backup.variables, reaches the component's ReplicationSource intact.
func TestComponentScheduleSurvivesSubstitution(t *testing.T) {
	seed, err := os.ReadFile("../../examples/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ schedule, want string }{
		{`schedule: "*/15 * * * *"`, "0-59/15 * * * *"},
		{`schedule: "* 2 * * *"`, "0-59 2 * * *"},
		{`schedule: "*,30 * * * *"`, "0-59,30 * * * *"},
		{`schedule: "10/20 */2 * * *"`, "10/20 */2 * * *"},
		{`variables: {VOLSYNC_SCHEDULE: "*/5 * * * *"}`, "0-59/5 * * * *"},
	} {
		t.Run(c.schedule, func(t *testing.T) {
			edited := strings.Replace(string(seed), `schedule: "0 * * * *"`, c.schedule, 1)
			if edited == string(seed) {
				t.Fatal("seed.yaml no longer sets backup.schedule")
			}
			file := filepath.Join(t.TempDir(), "ws.yaml")
			if err := os.WriteFile(file, []byte(edited), 0o644); err != nil {
				t.Fatal(err)
			}
			sys := loadSystem(t, file)
			root := t.TempDir()
			layouttest.WriteHomeOps(t, root)
			renderInto(t, root, sys)
			rec := layouttest.ReconcileHomeOps(t, root, sys.Namespace, func(top []*resource.Resource) client.Client {
				return layouttest.VariableSource(t, top)
			})
			n := 0
			for _, objs := range rec.Objects {
				for _, o := range objs {
					if o.Strict == nil || o.Strict.GetKind() != "ReplicationSource" {
						continue
					}
					n++
					if got, _, _ := unstructured.NestedString(object(t, o.Strict), "spec", "trigger", "schedule"); got != c.want {
						t.Errorf("ReplicationSource %s: schedule %q, want %q", o.Strict.GetName(), got, c.want)
					}
				}
			}
			if n != len(sys.Workspaces) {
				t.Errorf("%d ReplicationSources for %d workspaces", n, len(sys.Workspaces))
			}
		})
	}
}
