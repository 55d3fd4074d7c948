// Package layout arranges the built objects into a file tree: the Flux
// tree of a home-ops cluster repository, or a plain kustomize tree that
// `kubectl apply -k` accepts.
package layout

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/types"

	"github.com/opencode-workspaces/ocw/internal/build"
	"github.com/opencode-workspaces/ocw/internal/model"
)

// Names of the layouts.
const (
	Flux      = "flux"
	Kustomize = "kustomize"
)

// Names lists the layouts for flag help and errors.
var Names = []string{Flux, Kustomize}

// Tree is the files of one layout, paths relative to the output root.
type Tree struct {
	Files []File
	// Notes are things a person should know about this rendering.
	Notes []string
}

// Objects are the tree's API objects in file order (the namespace first):
// kustomize's own Kustomizations are configuration and are left out.
func (t *Tree) Objects() []any {
	var objs []any
	for _, f := range t.Files {
		for _, o := range f.Objects {
			if _, ok := o.(*Kustomization); !ok {
				objs = append(objs, o)
			}
		}
	}
	return objs
}

// File is one output file and the objects in it, in order. A
// *Kustomization is kustomize's configuration, not an API object.
type File struct {
	Path    string
	Objects []any
}

// Build lays the system out in the named layout.
func Build(sys *model.System, name string) (*Tree, error) {
	switch name {
	case Flux:
		return fluxTree(sys), nil
	case Kustomize:
		return kustomizeTree(sys), nil
	}
	return nil, fmt.Errorf("unknown layout %q (one of %v)", name, Names)
}

// fileName is the file an app object goes into: its kind, lowercased
// (home-ops' short name for claims).
func fileName(o client.Object) string {
	kind := o.GetObjectKind().GroupVersionKind().Kind
	if kind == "PersistentVolumeClaim" {
		return "pvc.yaml"
	}
	return strings.ToLower(kind) + ".yaml"
}

// appFiles puts objects in files named after their kind and returns them
// with the kustomization.yaml listing them (and applying patches, if any).
func appFiles[T client.Object](dir string, objs []T, patches []Patch) []File {
	var files []File
	var resources []string
	for _, o := range objs {
		p := path.Join(dir, fileName(o))
		if i := slices.IndexFunc(files, func(f File) bool { return f.Path == p }); i >= 0 {
			files[i].Objects = append(files[i].Objects, o)
			continue
		}
		files = append(files, File{Path: p, Objects: []any{o}})
		resources = append(resources, "./"+fileName(o))
	}
	k := kustomization("", resources)
	k.Patches = patches
	files = append(files, File{Path: path.Join(dir, "kustomization.yaml"), Objects: []any{k}})
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files
}

// Kustomization is the part of kustomize's kustomization.yaml that ocw
// writes. (kustomize's own type does not marshal cleanly: its patch
// target carries an unexported field the unstructured converter emits.)
type Kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace,omitempty"`
	Components []string `json:"components,omitempty"`
	Resources  []string `json:"resources"`
	Patches    []Patch  `json:"patches,omitempty"`
}

// Patch is a strategic-merge patch of every object of Object's kind in the
// kustomization's build, components' objects included: kustomize applies
// a kustomization's patches after its components. Output writes Object
// as the patch's YAML text.
type Patch struct {
	Object client.Object `json:"-"`
	Target PatchTarget   `json:"target"`
}

// PatchTarget selects the objects a patch applies to.
type PatchTarget struct {
	Kind string `json:"kind"`
}

func kustomization(namespace string, resources []string) *Kustomization {
	return &Kustomization{
		APIVersion: types.KustomizationVersion, Kind: types.KustomizationKind,
		Namespace: namespace,
		Resources: resources,
	}
}

func kindPatch(obj client.Object) Patch {
	return Patch{Object: obj, Target: PatchTarget{Kind: obj.GetObjectKind().GroupVersionKind().Kind}}
}

// workspacePatches mark what a VolSync component renders in place of
// ocw's objects (build.ComponentMoverMark, build.ComponentPVCMark).
func workspacePatches(ws model.Workspace) []Patch {
	var p []Patch
	if ws.Backup.Mode == model.BackupComponent {
		p = append(p, kindPatch(build.ComponentMoverMark(ws)))
	}
	if !ws.RendersPVC() {
		p = append(p, kindPatch(build.ComponentPVCMark(ws)))
	}
	return p
}

func fluxTree(sys *model.System) *Tree {
	t := &Tree{}
	nsDir := path.Join(sys.Flux.AppsPath, sys.Namespace)
	ksPath := func(dir string) string { return "./" + path.Join(nsDir, dir, "app") }
	var resources []string
	var nsPatches []Patch
	if sys.Flux.RenderNamespace {
		resources = append(resources, "./namespace.yaml")
		t.Files = append(t.Files, File{Path: path.Join(nsDir, "namespace.yaml"), Objects: []any{build.Namespace(sys)}})
	} else {
		// A namespace component brings the Namespace (renamed by the
		// kustomization's namespace); ocw adds its labels and marks.
		nsPatches = append(nsPatches, kindPatch(build.Namespace(sys)))
	}
	if es := build.ExternalSecrets(sys); len(es) > 0 {
		dir := path.Join(nsDir, "secrets")
		t.Files = append(t.Files, File{Path: path.Join(dir, "ks.yaml"), Objects: []any{build.SecretsKustomization(sys, ksPath("secrets"))}})
		t.Files = append(t.Files, appFiles(path.Join(dir, "app"), es, nil)...)
		resources = append(resources, "./secrets/ks.yaml")
	}
	for _, ws := range sys.Workspaces {
		dir := path.Join(nsDir, ws.Name)
		t.Files = append(t.Files, File{Path: path.Join(dir, "ks.yaml"), Objects: []any{build.WorkspaceKustomization(sys, ws, ksPath(ws.Name))}})
		t.Files = append(t.Files, appFiles(path.Join(dir, "app"), build.Workspace(ws), workspacePatches(ws))...)
		resources = append(resources, "./"+ws.Name+"/ks.yaml")
	}
	k := kustomization(sys.Namespace, resources)
	k.Components = sys.Flux.NamespaceComponents
	k.Patches = nsPatches
	t.Files = append(t.Files, File{Path: path.Join(nsDir, "kustomization.yaml"), Objects: []any{k}})
	return t
}

func kustomizeTree(sys *model.System) *Tree {
	t := &Tree{}
	resources := []string{"./namespace.yaml"}
	t.Files = append(t.Files, File{Path: "namespace.yaml", Objects: []any{build.Namespace(sys)}})
	if es := build.ExternalSecrets(sys); len(es) > 0 {
		t.Files = append(t.Files, appFiles("secrets", es, nil)...)
		resources = append(resources, "./secrets")
	}
	for _, ws := range sys.Workspaces {
		if ws.Backup.Mode == model.BackupComponent {
			// A Flux component is fed by postBuild variables, which plain
			// kustomize does not have: render the backup inline instead.
			ws.Backup.Mode = model.BackupInline
			t.Notes = append(t.Notes, fmt.Sprintf("workspace %s: the VolSync component needs the flux layout; rendering an inline ReplicationSource (Secret %s) instead", ws.Name, ws.Backup.Repository))
		}
		t.Files = append(t.Files, appFiles(ws.Name, build.Workspace(ws), nil)...)
		resources = append(resources, "./"+ws.Name)
	}
	t.Files = append(t.Files, File{Path: "kustomization.yaml", Objects: []any{kustomization("", resources)}})
	return t
}
