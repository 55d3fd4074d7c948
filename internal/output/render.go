package output

import (
	"fmt"

	"github.com/opencode-workspaces/ocw/internal/layout"
)

// Render marshals a tree into file contents, each with the generated
// header of owner (the namespace).
func Render(owner string, t *layout.Tree) (map[string][]byte, error) {
	files := make(map[string][]byte, len(t.Files))
	for _, f := range t.Files {
		body, err := marshal(owner, f.Objects...)
		if err != nil {
			return nil, fmt.Errorf("rendering %s: %w", f.Path, err)
		}
		files[f.Path] = body
	}
	return files, nil
}

// Stream renders the tree's objects as one YAML stream under one header,
// as kustomize build prints a tree.
func Stream(owner string, t *layout.Tree) ([]byte, error) {
	body, err := marshal("", t.Objects()...)
	if err != nil {
		return nil, fmt.Errorf("rendering the stream: %w", err)
	}
	return append([]byte(Header(owner)), body...), nil
}

// patchTexts writes each patch's object into m, the unstructured form of
// k, as the YAML text kustomize reads from a patch.
func patchTexts(m map[string]any, k *layout.Kustomization) error {
	patches, _ := m["patches"].([]any)
	if len(patches) != len(k.Patches) {
		return fmt.Errorf("internal error: %d patches converted from %d", len(patches), len(k.Patches))
	}
	for i, p := range k.Patches {
		body, err := marshal("", p.Object)
		if err != nil {
			return fmt.Errorf("patch of %s %s: %w", p.Target.Kind, p.Object.GetName(), err)
		}
		patches[i].(map[string]any)["patch"] = string(body)
	}
	return nil
}
