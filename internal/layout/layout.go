// Package layout arranges the built objects into a file tree: the Flux
// tree of a home-ops cluster repository, or a plain kustomize tree that
// `kubectl apply -k` accepts.
package layout

import (
	"fmt"
	"path"
	"runtime"
	"sort"
	"strings"
	"sync"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/types"

	"github.com/opencode-workspaces/ocw/internal/build"
	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/output"
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

// File is one output file and the objects in it, in order.
type File struct {
	Path    string
	Objects []any
}

// Build lays the system out in the named layout.
func Build(sys *model.System, name string) (*Tree, error) {
	switch name {
	case Flux:
		return fluxTree(sys)
	case Kustomize:
		return kustomizeTree(sys), nil
	}
	return nil, fmt.Errorf("unknown layout %q (one of %v)", name, Names)
}

// Render marshals a tree into file contents with the generated header.
// Files are independent, so they are marshalled on every CPU.
func Render(sys *model.System, t *Tree) (map[string][]byte, error) {
	bodies := make([][]byte, len(t.Files))
	errs := make([]error, len(t.Files))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				bodies[i], errs[i] = output.File(sys.Namespace, t.Files[i].Objects...)
			}
		}()
	}
	for i := range t.Files {
		next <- i
	}
	close(next)
	wg.Wait()
	files := make(map[string][]byte, len(t.Files))
	for i, f := range t.Files {
		if errs[i] != nil {
			return nil, fmt.Errorf("rendering %s: %w", f.Path, errs[i])
		}
		files[f.Path] = bodies[i]
	}
	return files, nil
}

// Stream renders the tree's objects as one YAML stream under one header,
// in file order (the namespace first), as kustomize build prints a tree:
// kustomize's own kustomization.yaml files are configuration, not objects,
// and are left out.
func Stream(t *Tree, sys *model.System) ([]byte, error) {
	var objs []any
	for _, f := range t.Files {
		for _, o := range f.Objects {
			if _, ok := o.(*kustomizationFile); !ok {
				objs = append(objs, o)
			}
		}
	}
	body, err := output.Marshal(objs...)
	if err != nil {
		return nil, fmt.Errorf("rendering the stream: %w", err)
	}
	return append([]byte(output.Header(sys.Namespace)), body...), nil
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

// appFiles puts each workspace object in a file named after its kind and
// returns them with the kustomization.yaml listing them (and applying
// patches, if any).
func appFiles(dir string, objs []client.Object, patches []patch) []File {
	var files []File
	var resources []string
	for _, o := range objs {
		name := fileName(o)
		files = append(files, File{Path: path.Join(dir, name), Objects: []any{o}})
		resources = append(resources, "./"+name)
	}
	k := kustomization("", resources)
	k.Patches = patches
	files = append(files, File{Path: path.Join(dir, "kustomization.yaml"), Objects: []any{k}})
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files
}

// kustomizationFile is the part of kustomize's kustomization.yaml that ocw
// writes. (kustomize's own type does not marshal cleanly: its patch
// target carries an unexported field the unstructured converter emits.)
type kustomizationFile struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace,omitempty"`
	Components []string `json:"components,omitempty"`
	Resources  []string `json:"resources"`
	Patches    []patch  `json:"patches,omitempty"`
}

// patch is a strategic-merge patch of every object of one kind.
type patch struct {
	Patch  string      `json:"patch"`
	Target patchTarget `json:"target"`
}

type patchTarget struct {
	Kind string `json:"kind"`
}

func kustomization(namespace string, resources []string) *kustomizationFile {
	return &kustomizationFile{
		APIVersion: types.KustomizationVersion, Kind: types.KustomizationKind,
		Namespace: namespace,
		Resources: resources,
	}
}

// kindPatch patches every object of obj's kind in the kustomization's
// build, components' objects included: kustomize applies a
// kustomization's patches after its components.
func kindPatch(obj client.Object) (patch, error) {
	kind := obj.GetObjectKind().GroupVersionKind().Kind
	body, err := output.Marshal(obj)
	if err != nil {
		return patch{}, fmt.Errorf("patch of %s %s: %w", kind, obj.GetName(), err)
	}
	return patch{Patch: string(body), Target: patchTarget{Kind: kind}}, nil
}

// workspacePatches: with a VolSync component that creates the PVC, the
// app folder has no PVC of ocw's, and the component's gets ocw's
// protection from pruning through a patch here (see build.ComponentPVCMark).
func workspacePatches(ws model.Workspace) ([]patch, error) {
	if ws.RendersPVC() {
		return nil, nil
	}
	p, err := kindPatch(build.ComponentPVCMark(ws))
	if err != nil {
		return nil, fmt.Errorf("workspace %s: %w", ws.Name, err)
	}
	return []patch{p}, nil
}

func fluxTree(sys *model.System) (*Tree, error) {
	t := &Tree{}
	nsDir := path.Join(sys.Flux.AppsPath, sys.Namespace)
	ksPath := func(dir string) string { return "./" + path.Join(nsDir, dir, "app") }
	var resources []string
	var nsPatches []patch
	if sys.Flux.RenderNamespace {
		resources = append(resources, "./namespace.yaml")
		t.Files = append(t.Files, File{Path: path.Join(nsDir, "namespace.yaml"), Objects: []any{build.Namespace(sys)}})
	} else {
		// A namespace component brings the Namespace (renamed by the
		// kustomization's namespace); ocw adds its labels and marks.
		p, err := kindPatch(build.Namespace(sys))
		if err != nil {
			return nil, err
		}
		nsPatches = append(nsPatches, p)
	}
	if es := build.ExternalSecrets(sys); len(es) > 0 {
		dir := path.Join(nsDir, "secrets")
		objs := make([]any, len(es))
		for i, e := range es {
			objs[i] = e
		}
		t.Files = append(t.Files,
			File{Path: path.Join(dir, "ks.yaml"), Objects: []any{build.SecretsKustomization(sys, ksPath("secrets"))}},
			File{Path: path.Join(dir, "app", "externalsecret.yaml"), Objects: objs},
			File{Path: path.Join(dir, "app", "kustomization.yaml"), Objects: []any{kustomization("", []string{"./externalsecret.yaml"})}},
		)
		resources = append(resources, "./secrets/ks.yaml")
	}
	for _, ws := range sys.Workspaces {
		dir := path.Join(nsDir, ws.Name)
		t.Files = append(t.Files, File{Path: path.Join(dir, "ks.yaml"), Objects: []any{build.WorkspaceKustomization(sys, ws, ksPath(ws.Name))}})
		patches, err := workspacePatches(ws)
		if err != nil {
			return nil, err
		}
		t.Files = append(t.Files, appFiles(path.Join(dir, "app"), build.Workspace(ws), patches)...)
		resources = append(resources, "./"+ws.Name+"/ks.yaml")
	}
	k := kustomization(sys.Namespace, resources)
	k.Components = sys.Flux.NamespaceComponents
	k.Patches = nsPatches
	t.Files = append(t.Files, File{Path: path.Join(nsDir, "kustomization.yaml"), Objects: []any{k}})
	return t, nil
}

func kustomizeTree(sys *model.System) *Tree {
	t := &Tree{}
	resources := []string{"./namespace.yaml"}
	t.Files = append(t.Files, File{Path: "namespace.yaml", Objects: []any{build.Namespace(sys)}})
	if es := build.ExternalSecrets(sys); len(es) > 0 {
		objs := make([]any, len(es))
		for i, e := range es {
			objs[i] = e
		}
		t.Files = append(t.Files,
			File{Path: "secrets/externalsecret.yaml", Objects: objs},
			File{Path: "secrets/kustomization.yaml", Objects: []any{kustomization("", []string{"./externalsecret.yaml"})}},
		)
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
