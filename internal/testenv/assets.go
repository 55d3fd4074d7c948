package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// crdSource is a folder of CRDs inside a Go module.
type crdSource struct {
	module string
	// version is used when neither module nor a sibling is required by the
	// main module.
	version string
	// siblings are modules released in lockstep with module (its API
	// submodule): the main module requires those, and their version keeps the
	// CRDs in step with the Go types the code compiles against.
	siblings []string
	dir      string
}

var crdSources = []crdSource{
	// The standard folder also holds the safe-upgrades ValidatingAdmissionPolicy,
	// which installManifests creates.
	{module: "sigs.k8s.io/gateway-api", version: "v1.6.3", dir: "config/crd/standard"},
	{
		module: "github.com/fluxcd/kustomize-controller", version: "v1.9.6",
		siblings: []string{"github.com/fluxcd/kustomize-controller/api"}, dir: "config/crd/bases",
	},
	// No importable Go API module at this version; the CRDs are in the root.
	{module: "github.com/external-secrets/external-secrets", version: "v0.16.2", dir: "config/crds/bases"},
	{module: "github.com/backube/volsync", version: "v0.14.0", dir: "config/crd/bases"},
}

var sourceControllerCRDs = crdSource{
	module: "github.com/fluxcd/source-controller", version: "v1.9.6",
	siblings: []string{"github.com/fluxcd/source-controller/api"}, dir: "config/crd/bases",
}

// RepoRoot walks up from the working directory (a package folder under
// `go test`) to the folder holding go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testenv: no go.mod above the working directory")
		}
		dir = parent
	}
}

// assetsDir returns KUBEBUILDER_ASSETS, or else builds the binaries with
// hack/envtest-assets.sh (a no-op when they are cached) and returns its folder.
func assetsDir(ctx context.Context, root string) (string, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "hack", "envtest-assets.sh"))
		cmd.Dir = root
		cmd.Stderr = os.Stderr // build progress
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("KUBEBUILDER_ASSETS is unset and hack/envtest-assets.sh failed: %w", err)
		}
		dir = strings.TrimSpace(string(out))
	}
	for _, bin := range []string{"kube-apiserver", "etcd", "kubectl"} {
		if _, err := os.Stat(filepath.Join(dir, bin)); err != nil {
			return "", fmt.Errorf("envtest binaries folder %q: %w", dir, err)
		}
	}
	return filepath.Abs(dir)
}

// goModule is the part of `go list -m -json` / `go mod download -json`
// output used here.
type goModule struct {
	Path    string
	Version string
	Dir     string
	Replace *goModule
	Error   any // a string from go mod download, an object from go list
}

// resolveCRDDirs returns the CRD folders of srcs inside the module cache,
// downloading modules that are missing.
func resolveCRDDirs(ctx context.Context, root string, srcs []crdSource) ([]string, error) {
	var paths []string
	for _, s := range srcs {
		paths = append(paths, s.module)
		paths = append(paths, s.siblings...)
	}
	// -e: modules the main module does not require come back with an Error
	// instead of failing the command.
	required, err := goModules(ctx, root, append([]string{"list", "-m", "-e", "-json"}, paths...))
	if err != nil {
		return nil, err
	}

	type want struct{ version, dir string }
	wants := make([]want, len(srcs))
	var download []string
	for i, s := range srcs {
		w := want{version: s.version}
		if m, ok := required[s.module]; ok && m.Error == nil && m.Version != "" {
			if m.Replace != nil {
				m = *m.Replace
			}
			w = want{version: m.Version, dir: m.Dir}
		} else {
			for _, sib := range s.siblings {
				if m, ok := required[sib]; ok && m.Error == nil && m.Version != "" {
					w.version = m.Version
					break
				}
			}
		}
		if w.dir == "" {
			download = append(download, s.module+"@"+w.version)
		}
		wants[i] = w
	}

	if len(download) > 0 {
		// Outside any module, so the repo's go.mod/go.sum stay untouched.
		tmp, err := os.MkdirTemp("", "ocw-testenv-mod-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		got, err := goModules(ctx, tmp, append([]string{"mod", "download", "-json"}, download...))
		if err != nil {
			return nil, err
		}
		for i, s := range srcs {
			if wants[i].dir != "" {
				continue
			}
			m, ok := got[s.module]
			if !ok || m.Error != nil || m.Dir == "" {
				return nil, fmt.Errorf("go mod download %s@%s: %v", s.module, wants[i].version, m.Error)
			}
			wants[i].dir = m.Dir
		}
	}

	dirs := make([]string, len(srcs))
	for i, s := range srcs {
		dirs[i] = filepath.Join(wants[i].dir, filepath.FromSlash(s.dir))
	}
	return dirs, nil
}

// goModules runs a go command printing a stream of module JSON objects in dir
// and indexes them by path.
func goModules(ctx context.Context, dir string, args []string) (map[string]goModule, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	mods := map[string]goModule{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var m goModule
		if derr := dec.Decode(&m); derr == io.EOF {
			break
		} else if derr != nil {
			return nil, fmt.Errorf("go %s: decoding output: %w", strings.Join(args, " "), derr)
		}
		mods[m.Path] = m
	}
	// go mod download exits non-zero when one module fails but still prints
	// every module; the caller reports per-module errors, which say more.
	if err != nil && len(mods) == 0 {
		return nil, fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return mods, nil
}

// installManifests creates the admission policies shipped next to the CRDs
// (Gateway API's safe-upgrades ValidatingAdmissionPolicy and its binding),
// as a real install would; envtest itself only installs CRDs.
func installManifests(ctx context.Context, c client.Client, dirs []string) error {
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil {
			return err
		}
		for _, f := range files {
			objs, err := readObjects(f)
			if err != nil {
				return err
			}
			for _, o := range objs {
				if o.GroupVersionKind().Group != "admissionregistration.k8s.io" {
					continue
				}
				if err := c.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
					return fmt.Errorf("creating %s %s from %s: %w", o.GetKind(), o.GetName(), f, err)
				}
			}
		}
	}
	return nil
}

func readObjects(path string) ([]*unstructured.Unstructured, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	var objs []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err == io.EOF {
			return objs, nil
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}
