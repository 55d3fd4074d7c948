package apply

import (
	"bytes"
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/secrets"
)

// MissingSecret is a Secret (or a key in it) the workspaces reference but
// the cluster lacks.
type MissingSecret struct {
	Role      secrets.Role
	Namespace string
	Ref       model.SecretRef
	// NoSecret: the whole Secret is missing; otherwise only its key is
	// (or is empty).
	NoSecret bool
	// Empty: the key is there but its value is blank.
	Empty bool
}

// CheckSecrets reports, in manual-secrets mode, which of the three shared
// Secrets or keys are missing. Values are read only to see that a key is
// there and non-empty; they are never kept or shown.
func (e *Engine) CheckSecrets(ctx context.Context, sys *model.System) ([]MissingSecret, error) {
	if sys.Secrets.External {
		return nil, nil
	}
	var out []MissingSecret
	for _, role := range secrets.Roles() {
		ref := role.Ref(sys.Secrets)
		var s corev1.Secret
		err := e.client.Get(ctx, client.ObjectKey{Namespace: sys.Namespace, Name: ref.Name}, &s)
		switch {
		case apierrors.IsNotFound(err):
			out = append(out, MissingSecret{Role: role, Namespace: sys.Namespace, Ref: ref, NoSecret: true})
		case err != nil:
			return out, fmt.Errorf("reading Secret %s/%s: %w", sys.Namespace, ref.Name, err)
		default:
			v, ok := s.Data[ref.Key]
			if !ok || len(bytes.TrimSpace(v)) == 0 {
				out = append(out, MissingSecret{Role: role, Namespace: sys.Namespace, Ref: ref, Empty: ok})
			}
		}
		// The bytes are no longer needed; drop them now.
		s.Data = nil
	}
	return out, nil
}
