package secrets

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

func newStore(t *testing.T) *Store {
	t.Helper()
	ns, err := env.CreateNamespace(t.Context(), "secrets-", nil)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	return &Store{Client: cs, Namespace: ns}
}

func (s *Store) secret(t *testing.T, name string) *corev1.Secret {
	t.Helper()
	sec, err := s.Client.CoreV1().Secrets(s.Namespace).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return sec
}

func TestApplyIdempotent(t *testing.T) {
	st := newStore(t)
	ctx := t.Context()
	ref := model.SecretRef{Name: "git", Key: "GITHUB_PAT"}

	if out, err := st.Apply(ctx, ref, []byte("one")); err != nil || out != Created {
		t.Fatalf("first: %v %v", out, err)
	}
	first := st.secret(t, ref.Name)
	if first.Labels[model.LabelManagedBy] != model.ManagedBy || first.ManagedFields[0].Manager != model.FieldManager {
		t.Errorf("labels %v managers %v", first.Labels, first.ManagedFields)
	}

	// Unchanged content: no write at all, so the resourceVersion stays.
	if out, err := st.Apply(ctx, ref, []byte("one")); err != nil || out != Unchanged {
		t.Fatalf("second: %v %v", out, err)
	}
	if rv := st.secret(t, ref.Name).ResourceVersion; rv != first.ResourceVersion {
		t.Fatalf("unchanged apply wrote: resourceVersion %s -> %s", first.ResourceVersion, rv)
	}

	if out, err := st.Apply(ctx, ref, []byte("two")); err != nil || out != Updated {
		t.Fatalf("third: %v %v", out, err)
	}
	if v := st.secret(t, ref.Name).Data[ref.Key]; string(v) != "two" {
		t.Fatalf("value %q", v)
	}
}

// A Secret made by hand (another field manager, other keys) is taken over
// for ocw's key only.
func TestApplyKeepsOtherKeys(t *testing.T) {
	st := newStore(t)
	ctx := t.Context()
	_, err := st.Client.CoreV1().Secrets(st.Namespace).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "git"},
		Data:       map[string][]byte{"GITHUB_PAT": []byte("old"), "other": []byte("keep")},
	}, metav1.CreateOptions{FieldManager: "kubectl"})
	if err != nil {
		t.Fatal(err)
	}
	ref := model.SecretRef{Name: "git", Key: "GITHUB_PAT"}
	if out, err := st.Apply(ctx, ref, []byte("new")); err != nil || out != Updated {
		t.Fatalf("%v %v", out, err)
	}
	sec := st.secret(t, "git")
	if string(sec.Data["GITHUB_PAT"]) != "new" || string(sec.Data["other"]) != "keep" {
		t.Fatalf("data %v", sec.Data)
	}
}

func TestCreateOnly(t *testing.T) {
	st := newStore(t)
	ctx := t.Context()
	ref := model.SecretRef{Name: "server", Key: "OPENCODE_SERVER_PASSWORD"}
	if created, err := st.CreateOnly(ctx, ref, []byte("first")); err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	rv := st.secret(t, ref.Name).ResourceVersion
	if created, err := st.CreateOnly(ctx, ref, []byte("second")); err != nil || created {
		t.Fatalf("second create: %v %v", created, err)
	}
	sec := st.secret(t, ref.Name)
	if string(sec.Data[ref.Key]) != "first" || sec.ResourceVersion != rv {
		t.Fatalf("overwritten: %q rv %s->%s", sec.Data[ref.Key], rv, sec.ResourceVersion)
	}

	// Secret present without the key: the key is added, others kept.
	other := model.SecretRef{Name: "shared", Key: "OPENCODE_SERVER_PASSWORD"}
	if _, err := st.Client.CoreV1().Secrets(st.Namespace).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "shared"}, Data: map[string][]byte{"x": []byte("y")},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if created, err := st.CreateOnly(ctx, other, []byte("pw")); err != nil || !created {
		t.Fatalf("add key: %v %v", created, err)
	}
	if sec := st.secret(t, "shared"); string(sec.Data["x"]) != "y" || string(sec.Data[other.Key]) != "pw" {
		t.Fatalf("data %v", sec.Data)
	}
}
