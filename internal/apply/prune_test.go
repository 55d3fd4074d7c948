package apply

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/opencode-workspaces/ocw/internal/build"
	"github.com/opencode-workspaces/ocw/internal/model"
)

// The keep-data prune rules, one live object at a time.
func TestPruneRule(t *testing.T) {
	obj := func(kind, ns string, labels, annotations map[string]string, deleting bool) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("v1")
		u.SetKind(kind)
		u.SetNamespace(ns)
		u.SetName("x")
		u.SetLabels(labels)
		u.SetAnnotations(annotations)
		if deleting {
			now := metav1.Now()
			u.SetDeletionTimestamp(&now)
		}
		return u
	}
	ours := map[string]string{model.LabelManagedBy: model.ManagedBy, model.LabelNamespace: "dev"}
	svc := obj("Service", "dev", ours, nil, false)
	pvc := obj("PersistentVolumeClaim", "dev", ours, nil, false)
	kept := obj("Service", "dev", ours, map[string]string{build.AnnotationKeepData: "true"}, false)
	prune, purge := Options{Prune: true}, Options{Prune: true, PurgeData: true}
	for _, c := range []struct {
		name string
		live *unstructured.Unstructured
		opts Options
		want Action
	}{
		{"no --prune", svc, Options{}, Stale},
		{"no --prune, data", pvc, Options{}, KeptData},
		{"prune", svc, prune, toDelete},
		{"prune keeps data", pvc, prune, KeptData},
		{"prune keeps annotated data", kept, prune, KeptData},
		{"purge", pvc, purge, toPurge},
		{"purge annotated", kept, purge, toPurge},
		{"purge a plain object", svc, purge, toDelete},
		{"relabelled", obj("Service", "dev", nil, nil, false), purge, Disowned},
		{"being deleted", obj("PersistentVolumeClaim", "dev", ours, nil, true), Options{}, Pruned},
		{"another namespace's binding", obj("ClusterRoleBinding", "", map[string]string{model.LabelManagedBy: model.ManagedBy, model.LabelNamespace: "prod"}, nil, false), purge, Refused},
		{"our binding", obj("ClusterRoleBinding", "", ours, nil, false), prune, toDelete},
	} {
		if got, _ := pruneRule("dev", c.live, c.opts); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}
