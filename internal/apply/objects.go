package apply

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/opencode-workspaces/ocw/internal/layout"
	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/output"
)

// Desired is what ocw apply makes true for one spec: every object, in the
// order a person reads them, all in (or being) Namespace.
type Desired struct {
	Namespace string
	Objects   []*unstructured.Unstructured
	// Notes are things a person should know about this object set.
	Notes []string
	// system is what the objects were built from: Wait reads the
	// workspaces as ocw status does.
	system *model.System
}

// Build returns the objects ocw apply manages for sys, without Flux
// Kustomizations: those of the kustomize layout, converted by
// output.Object, so that apply sends exactly what `ocw render --layout
// kustomize` writes (a component backup, which needs Flux, becomes an
// inline ReplicationSource there, with a note).
func Build(sys *model.System) (*Desired, error) {
	tree, err := layout.Build(sys, layout.Kustomize)
	if err != nil {
		return nil, err
	}
	d := &Desired{Namespace: sys.Namespace, Notes: tree.Notes, system: sys}
	for _, o := range tree.Objects() {
		m, err := output.Object(o)
		if err != nil {
			return nil, err
		}
		d.Objects = append(d.Objects, &unstructured.Unstructured{Object: m})
	}
	return d, nil
}
