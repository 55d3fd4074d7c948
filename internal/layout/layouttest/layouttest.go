// Package layouttest holds what tests of rendered trees share: writing a
// rendered tree to disk and building a Flux Kustomization from it the way
// kustomize-controller does, so that each test keeps only its assertions.
// It is imported by tests only.
package layouttest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/kustomize"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/resource"

	"github.com/opencode-workspaces/ocw/internal/layout"
	"github.com/opencode-workspaces/ocw/internal/model"
)

// Render lays sys out in the named layout and renders the files.
func Render(t testing.TB, sys *model.System, lay string) map[string][]byte {
	t.Helper()
	tree, err := layout.Build(sys, lay)
	if err != nil {
		t.Fatal(err)
	}
	files, err := layout.Render(sys, tree)
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

// KustomizationDir is the folder a Flux Kustomization's spec.path names in
// a checkout at root. Components it lists are relative to this folder.
func KustomizationDir(root string, ks unstructured.Unstructured) string {
	p, _, _ := unstructured.NestedString(ks.Object, "spec", "path")
	return filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(p, "./")))
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
// it once per Kustomization and checkout. Variables come from
// postBuild.substitute only (dry run: there is no cluster to read
// substituteFrom from). Any failure is fatal.
func BuildKustomization(t testing.TB, root string, ks unstructured.Unstructured) []Object {
	t.Helper()
	dir := KustomizationDir(root, ks)
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
			sub, err := kustomize.SubstituteVariables(context.Background(), nil, ks, r.DeepCopy(),
				kustomize.SubstituteWithDryRun(true), kustomize.SubstituteWithStrict(strict))
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
