// Package layouttest holds what tests of rendered trees share: writing a
// rendered tree to disk and building a Flux Kustomization from it the way
// kustomize-controller does, so that each test keeps only its assertions.
// It is imported by tests only.
package layouttest

import (
	"embed"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/kustomize"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/opencode-workspaces/ocw/internal/layout"
	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/output"
)

// Render lays sys out in the named layout and renders the files.
func Render(t testing.TB, sys *model.System, lay string) map[string][]byte {
	t.Helper()
	tree, err := layout.Build(sys, lay)
	if err != nil {
		t.Fatal(err)
	}
	files, err := output.Render(sys.Namespace, tree)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// WriteFiles writes files, keyed by slash-separated paths as Render
// returns them, under root, creating folders as needed.
func WriteFiles(t testing.TB, root string, files map[string][]byte) {
	t.Helper()
	for p, data := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Object is one object a Flux Kustomization builds, before and after
// post-build substitution. Lax and Strict are nil when the object opts out
// (kustomize.toolkit.fluxcd.io/substitute: disabled).
type Object struct {
	Built *resource.Resource
	// Strictness is a kustomize-controller feature gate, so a tree must
	// come through both ways.
	Lax, Strict *resource.Resource
}

// BuildKustomization does what kustomize-controller does with ks in its
// checkout at root: generate the kustomization.yaml (components,
// targetNamespace, ...) in place, build it, and substitute
// spec.postBuild variables in each object. Generating edits files, so call
// it once per Kustomization and checkout. With a nil client, variables
// come from postBuild.substitute only (dry run); with a client, Flux also
// reads postBuild.substituteFrom through it. Any failure is fatal.
func BuildKustomization(t testing.TB, root string, ks unstructured.Unstructured, c client.Client) []Object {
	t.Helper()
	p, _, _ := unstructured.NestedString(ks.Object, "spec", "path")
	dir := filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(p, "./")))
	if _, err := kustomize.NewGenerator(root, ks).WriteFile(dir); err != nil {
		t.Fatalf("Kustomization %s: generate: %v", ks.GetName(), err)
	}
	res, err := kustomize.SecureBuild(root, dir, false)
	if err != nil {
		t.Fatalf("Kustomization %s: build %s: %v", ks.GetName(), dir, err)
	}
	var out []Object
	for _, r := range res.Resources() {
		o := Object{Built: r}
		for _, strict := range []bool{false, true} {
			// Substitution rewrites the object it is given; Built stays as built.
			sub, err := kustomize.SubstituteVariables(t.Context(), c, ks, r.DeepCopy(),
				kustomize.SubstituteWithDryRun(c == nil), kustomize.SubstituteWithStrict(strict))
			if err != nil {
				t.Fatalf("Kustomization %s: substitute %s/%s (strict=%v): %v", ks.GetName(), r.GetKind(), r.GetName(), strict, err)
			}
			if strict {
				o.Strict = sub
			} else {
				o.Lax = sub
			}
		}
		out = append(out, o)
	}
	return out
}

// homeOps is a cluster repository shaped like the home-ops repositories
// ocw drops into (see homeops/README.md).
//
//go:embed homeops/kubernetes
var homeOps embed.FS

// WriteHomeOps writes the fixture cluster repository under root.
func WriteHomeOps(t testing.TB, root string) {
	t.Helper()
	files := map[string][]byte{}
	err := fs.WalkDir(homeOps, "homeops", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files[strings.TrimPrefix(p, "homeops/")], err = homeOps.ReadFile(p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	WriteFiles(t, root, files)
}

// HomeOpsEntryPoint is the path, relative to the repository root, of the
// fixture's top Kustomization (cluster-apps), which applies kubernetes/apps.
var HomeOpsEntryPoint = path.Join("kubernetes", "flux", "cluster", "ks.yaml")

// ReadKustomization reads a file holding one Flux Kustomization.
func ReadKustomization(t testing.TB, file string) unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var ks unstructured.Unstructured
	if err := yaml.Unmarshal(data, &ks.Object); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return ks
}

// VariableSource is a client holding the Secrets and ConfigMaps among
// objs as the API server stores them (a Secret's stringData folded into
// data), from which Flux's substituteFrom reads. It stands in for the
// cluster in tests without an API server.
func VariableSource(t testing.TB, objs []*resource.Resource) client.Client {
	t.Helper()
	b := fake.NewClientBuilder()
	for _, r := range objs {
		m, err := r.Map()
		if err != nil {
			t.Fatal(err)
		}
		switch r.GetKind() {
		case "Secret":
			var s corev1.Secret
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &s); err != nil {
				t.Fatal(err)
			}
			for k, v := range s.StringData {
				if s.Data == nil {
					s.Data = map[string][]byte{}
				}
				s.Data[k] = []byte(v)
			}
			s.StringData = nil
			b.WithObjects(&s)
		case "ConfigMap":
			var cm corev1.ConfigMap
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &cm); err != nil {
				t.Fatal(err)
			}
			b.WithObjects(&cm)
		}
	}
	return b.Build()
}

// Reconciled is what Flux makes of the fixture repository from its entry
// point: the objects of kubernetes/apps (Namespaces, Secrets, the
// Kustomizations as the entry point patched them) and, for each
// Kustomization of one namespace, the objects it builds.
type Reconciled struct {
	Top      []*resource.Resource
	Children map[string]unstructured.Unstructured
	Objects  map[string][]Object
}

// ReconcileHomeOps builds the entry point of the repository at root, hands
// what it builds to apply, which returns the client Flux reads
// substituteFrom through (the cluster the objects went to), then builds
// every Kustomization of namespace ns.
func ReconcileHomeOps(t testing.TB, root, ns string, apply func([]*resource.Resource) client.Client) Reconciled {
	t.Helper()
	entry := ReadKustomization(t, filepath.Join(root, HomeOpsEntryPoint))
	r := Reconciled{Children: map[string]unstructured.Unstructured{}, Objects: map[string][]Object{}}
	for _, o := range BuildKustomization(t, root, entry, nil) {
		r.Top = append(r.Top, o.Built)
	}
	c := apply(r.Top)
	for _, res := range r.Top {
		if res.GetKind() != "Kustomization" || res.GetNamespace() != ns {
			continue
		}
		ks := *Unstructured(t, res)
		r.Children[ks.GetName()] = ks
		r.Objects[ks.GetName()] = BuildKustomization(t, root, ks, c)
	}
	return r
}

// Unstructured converts a built object through JSON, so that numbers are
// int64 as the unstructured helpers (and objects read from the API
// server) have them.
func Unstructured(t testing.TB, r *resource.Resource) *unstructured.Unstructured {
	t.Helper()
	j, err := r.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(j); err != nil {
		t.Fatal(err)
	}
	return u
}
