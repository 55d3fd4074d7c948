package doctor

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opencode-workspaces/ocw/internal/secrets"
)

// facts is what the rules read besides the status snapshot, read once
// before any rule runs so that the rules are pure functions of memory.
// A read that fails is kept as its error: the rules that need it say so
// in a warn, and the others still report.
type facts struct {
	// classes are the cluster's StorageClasses (classesErr: the list failed).
	classes    []storagev1.StorageClass
	classesErr error
	// secrets are the namespace's shared Secrets by name, values included:
	// checked, never printed. A missing Secret is a NotFound error.
	secrets map[string]secretRead
}

type secretRead struct {
	secret *corev1.Secret
	err    error
}

// loadFacts reads the facts, each read with its own deadline.
func (r *run) loadFacts(ctx context.Context) {
	lctx, cancel := r.bounded(ctx)
	list, err := r.c.Kube.StorageV1().StorageClasses().List(lctx, metav1.ListOptions{})
	cancel()
	if err != nil {
		r.classesErr = err
	} else {
		r.classes = list.Items
	}

	r.secrets = map[string]secretRead{}
	for _, role := range secrets.Roles() {
		ref := role.Ref(r.sys.Secrets)
		if _, done := r.secrets[ref.Name]; done {
			continue
		}
		sctx, cancel := r.bounded(ctx)
		sec, err := r.c.Kube.CoreV1().Secrets(r.sys.Namespace).Get(sctx, ref.Name, metav1.GetOptions{})
		cancel()
		r.secrets[ref.Name] = secretRead{secret: sec, err: err}
	}
}
