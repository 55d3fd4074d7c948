package secrets

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	applycorev1 "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/opencode-workspaces/ocw/internal/model"
)

// Outcome says what a write did.
type Outcome string

// Outcomes of Store.Apply.
const (
	Created   Outcome = "created"
	Updated   Outcome = "updated"
	Unchanged Outcome = "unchanged"
)

// Store writes the namespace's shared Secrets.
type Store struct {
	Client    kubernetes.Interface
	Namespace string
	// SpecFile names the spec in the hint for a missing namespace.
	SpecFile string
	// DryRun sends Apply's write as a server-side dry run.
	DryRun bool
}

// writeError explains a failed write; a missing namespace gets what
// creates it instead of the API server's "not found". Store does not: a
// typo in the spec or the wrong kube context would make one, and the
// namespace is apply's (or Flux's), labelled and owned as such.
func (s *Store) writeError(what string, ref model.SecretRef, err error) error {
	var st apierrors.APIStatus
	if apierrors.IsNotFound(err) && errors.As(err, &st) {
		if d := st.Status().Details; d != nil && d.Kind == "namespaces" && d.Name == s.Namespace {
			return fmt.Errorf("namespace %s does not exist yet: create it with ocw apply -f %s (or, with Flux, commit the rendered tree and let Flux create it), then run this again", s.Namespace, s.SpecFile)
		}
	}
	return fmt.Errorf("%s Secret %s/%s: %w", what, s.Namespace, ref.Name, err)
}

// Get returns the Secret's value under ref.Key, nil when the Secret or
// the key is absent.
func (s *Store) Get(ctx context.Context, ref model.SecretRef) ([]byte, error) {
	sec, err := s.Client.CoreV1().Secrets(s.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading Secret %s/%s: %w", s.Namespace, ref.Name, err)
	}
	return sec.Data[ref.Key], nil
}

// Apply sets key ref.Key of Secret ref.Name to value with server-side apply
// (field manager "ocw"), leaving other keys alone. When the Secret already
// holds exactly that value and ocw's labels, nothing is written: a Secret
// write would make Reloader restart every workspace for nothing.
func (s *Store) Apply(ctx context.Context, ref model.SecretRef, value []byte) (Outcome, error) {
	cur, err := s.Client.CoreV1().Secrets(s.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	exists := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		return "", fmt.Errorf("reading Secret %s/%s: %w", s.Namespace, ref.Name, err)
	}
	if exists {
		if v, ok := cur.Data[ref.Key]; ok && bytes.Equal(v, value) && labels.SelectorFromSet(model.SharedLabels()).Matches(labels.Set(cur.Labels)) {
			return Unchanged, nil
		}
	}
	cfg := applycorev1.Secret(ref.Name, s.Namespace).
		WithLabels(model.SharedLabels()).
		WithData(map[string][]byte{ref.Key: value})
	// Force: a Secret first made with kubectl belongs to another field
	// manager; taking the one key over is what the user asked for.
	opts := metav1.ApplyOptions{FieldManager: model.FieldManager, Force: true}
	if s.DryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	_, err = s.Client.CoreV1().Secrets(s.Namespace).Apply(ctx, cfg, opts)
	if err != nil {
		return "", s.writeError("applying", ref, err)
	}
	if exists {
		return Updated, nil
	}
	return Created, nil
}

// CreateOnly creates Secret ref.Name holding value under ref.Key, or adds
// the key when the Secret exists without it. It returns false, and writes
// nothing, when the key already holds a value: the create is a plain POST,
// so two racing callers cannot both believe they set the value.
func (s *Store) CreateOnly(ctx context.Context, ref model.SecretRef, value []byte) (bool, error) {
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: ref.Name, Namespace: s.Namespace, Labels: model.SharedLabels()},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{ref.Key: value},
	}
	_, err := s.Client.CoreV1().Secrets(s.Namespace).Create(ctx, sec, metav1.CreateOptions{FieldManager: model.FieldManager})
	if err == nil {
		return true, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return false, s.writeError("creating", ref, err)
	}
	cur, err := s.Client.CoreV1().Secrets(s.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return false, fmt.Errorf("reading Secret %s/%s: %w", s.Namespace, ref.Name, err)
	}
	// A blank value (an empty key, a stray newline) is no password: fill it.
	if len(bytes.TrimSpace(cur.Data[ref.Key])) > 0 {
		return false, nil
	}
	// An update guarded by the resourceVersion just read: a concurrent
	// writer makes it fail instead of being overwritten.
	if cur.Data == nil {
		cur.Data = map[string][]byte{}
	}
	cur.Data[ref.Key] = value
	cur.Labels = labels.Merge(cur.Labels, model.SharedLabels())
	if _, err := s.Client.CoreV1().Secrets(s.Namespace).Update(ctx, cur, metav1.UpdateOptions{FieldManager: model.FieldManager}); err != nil {
		return false, fmt.Errorf("adding key %s to Secret %s/%s: %w", ref.Key, s.Namespace, ref.Name, err)
	}
	return true, nil
}

// NewPassword returns 43 URL-safe characters carrying 256 random bits.
func NewPassword() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("reading random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
