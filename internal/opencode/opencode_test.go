package opencode_test

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opencode-workspaces/ocw/internal/opencode"
	"github.com/opencode-workspaces/ocw/internal/opencode/opencodetest"
)

// Against the real OpenCode: health, credentials rejected, setting the
// Copilot login and reloading it.
func TestClientAgainstOpenCode(t *testing.T) {
	srv := opencodetest.Start(t, "s3cret-password-for-test")
	ctx := t.Context()

	bad, err := opencode.New(srv.URL, "", "wrong", opencode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.Health(ctx)
	var se *opencode.StatusError
	if !errors.As(err, &se) || se.Code != 401 || !strings.Contains(err.Error(), "wrong server user name or password") {
		t.Fatalf("wrong password: %v", err)
	}

	c, err := opencode.New(srv.URL, "", srv.Password, opencode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.Health(ctx)
	if err != nil || !h.Healthy || h.Version != "1.18.33" {
		t.Fatalf("health: %+v %v", h, err)
	}

	// OpenCode's 400 answer quotes the rejected value; the error must not.
	const refresh = "gho_REFRESHTOKENVALUE0123456789"
	invalid := json.RawMessage(`{"type":"oauth","refresh":"` + refresh + `","access":"x","expires":-1}`)
	err = c.SetAuth(ctx, "github-copilot", invalid)
	if !errors.As(err, &se) || se.Code != 400 || strings.Contains(err.Error(), refresh) {
		t.Fatalf("invalid body: %v", err)
	}

	body := json.RawMessage(`{"type":"oauth","refresh":"` + refresh + `","access":"` + refresh + `","expires":0}`)
	if err := c.SetAuth(ctx, "github-copilot", body); err != nil {
		t.Fatal(err)
	}
	if err := c.Dispose(ctx); err != nil {
		t.Fatal(err)
	}
	if ids := srv.Providers(t); !slices.Contains(ids, "github-copilot") {
		t.Fatalf("providers after push: %v", ids)
	}
	data, err := os.ReadFile(srv.AuthPath())
	if err != nil {
		t.Fatal(err)
	}
	var onDisk map[string]map[string]any
	if err := json.Unmarshal(data, &onDisk); err != nil || onDisk["github-copilot"]["refresh"] != refresh {
		t.Fatalf("auth.json on disk: %v", err)
	}
}

func TestNewRejectsBadURLs(t *testing.T) {
	for _, u := range []string{"ftp://x/", "127.0.0.1:4096", "https://user:pw@host/"} {
		if _, err := opencode.New(u, "", "pw", opencode.Options{}); err == nil {
			t.Errorf("%s accepted", u)
		} else if strings.Contains(err.Error(), "pw@") {
			t.Errorf("error quotes credentials: %v", err)
		}
	}
	c, err := opencode.New("https://flux.example.com/some/path", "", "pw", opencode.Options{})
	if err != nil || c.URL() != "https://flux.example.com/" {
		t.Fatalf("%v %v", c, err)
	}
}

func pod(name string, created time.Time, phase corev1.PodPhase, ready, deleting bool) corev1.Pod {
	p := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(created)},
		Status:     corev1.PodStatus{Phase: phase},
	}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}
	if deleting {
		now := metav1.NewTime(created)
		p.DeletionTimestamp = &now
	}
	return p
}

// The port-forward itself needs a kubelet, which envtest lacks; the pod
// choice is what ocw decides, so it is tested here.
func TestPickPod(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	got, err := opencode.PickPod([]corev1.Pod{
		pod("old-ready", t0, corev1.PodRunning, true, false),
		pod("new-ready", t0.Add(time.Hour), corev1.PodRunning, true, false),
		pod("newest-terminating", t0.Add(2*time.Hour), corev1.PodRunning, true, true),
		pod("newest-starting", t0.Add(3*time.Hour), corev1.PodRunning, false, false),
	})
	if err != nil || got.Name != "new-ready" {
		t.Fatalf("got %v, %v; want new-ready", got, err)
	}

	_, err = opencode.PickPod([]corev1.Pod{
		pod("a", t0, corev1.PodPending, false, false),
		pod("b", t0, corev1.PodRunning, false, false),
	})
	if err == nil || !strings.Contains(err.Error(), "a is Pending") || !strings.Contains(err.Error(), "b is not Ready") {
		t.Fatalf("no ready pod: %v", err)
	}
	if _, err := opencode.PickPod(nil); err == nil || !strings.Contains(err.Error(), "no pod found") {
		t.Fatalf("no pods: %v", err)
	}
}
