package status_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/opencode-workspaces/ocw/internal/boot"
	"github.com/opencode-workspaces/ocw/internal/kube"
	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/printer"
	"github.com/opencode-workspaces/ocw/internal/status"
	"github.com/opencode-workspaces/ocw/internal/status/statustest"
	"github.com/opencode-workspaces/ocw/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

func specFor(ns string, names ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: ocw.dev/v1alpha1\nkind: Workspaces\nnamespace: %s\ndomain: example.test\nworkspaces:\n", ns)
	for _, n := range names {
		fmt.Fprintf(&b, "  - name: %s\n    repo: https://github.com/o/%s\n", n, n)
	}
	return b.String()
}

// countingTransport counts the requests that reach the API server.
type countingTransport struct {
	rt http.RoundTripper
	mu *sync.Mutex
	n  *[]string
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	*c.n = append(*c.n, r.Method+" "+r.URL.Path)
	c.mu.Unlock()
	return c.rt.RoundTrip(r)
}

func countingClients(t *testing.T) (*kube.Clients, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var reqs []string
	cfg := rest.CopyConfig(env.Config)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return countingTransport{rt: rt, mu: &mu, n: &reqs}
	}
	c, err := kube.NewClients(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := append([]string(nil), reqs...)
		reqs = reqs[:0]
		return out
	}
}

// The cost of status must not grow with the number of workspaces: the same
// LIST calls for 1 and for 20.
func TestRequestsDoNotGrowWithWorkspaces(t *testing.T) {
	c, requests := countingClients(t)
	got := map[int][]string{}
	for _, n := range []int{1, 20} {
		ns, err := env.CreateNamespace(t.Context(), fmt.Sprintf("status-%d-", n), nil)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for i := range n {
			names = append(names, fmt.Sprintf("ws%02d", i))
		}
		sys := statustest.System(t, specFor(ns, names...))
		now := time.Now()
		for _, ws := range sys.Workspaces {
			statustest.CreateWorkspace(t, env.Client, ws)
			statustest.BindPVC(t, env.Client, ws)
			statustest.SetRoute(t, env.Client, ws, "", "")
			statustest.CreatePod(t, env.Client, ws, ws.Name+"-pod", statustest.HealthyStatus(ws, now))
		}
		requests()
		rep, err := status.Collect(t.Context(), c, sys, now)
		if err != nil {
			t.Fatal(err)
		}
		got[n] = requests()
		if len(rep.Workspaces) != n {
			t.Fatalf("%d workspaces reported, want %d", len(rep.Workspaces), n)
		}
		for _, w := range rep.Workspaces {
			if w.Phase != status.Ready || w.PVC.Phase != "Bound" || w.Clone.Code != boot.ResultCloned || w.Copilot.Seeded != status.CopilotYes {
				t.Errorf("%s: %+v", w.Name, w)
			}
		}
		for i := range got[n] {
			got[n][i] = strings.ReplaceAll(got[n][i], ns, "NS")
		}
		sort.Strings(got[n])
	}
	t.Logf("requests for 1 workspace:   %d %v", len(got[1]), got[1])
	t.Logf("requests for 20 workspaces: %d %v", len(got[20]), got[20])
	if len(got[1]) != 6 || strings.Join(got[1], "\n") != strings.Join(got[20], "\n") {
		t.Fatalf("requests differ:\n1:  %v\n20: %v", got[1], got[20])
	}
	for _, r := range got[1] {
		if !strings.HasPrefix(r, "GET /api") {
			t.Errorf("unexpected request %s", r)
		}
	}
}

// The phases are a pure function of a snapshot: every case in memory.
func TestPhases(t *testing.T) {
	const ns = "phases"
	sys := statustest.System(t, specFor(ns, "ready", "authfail", "unsched", "cloning", "stopped", "missing", "pullfail", "oom", "nocopilot", "changed", "pushed"))
	ws := map[string]model.Workspace{}
	for _, w := range sys.Workspaces {
		ws[w.Name] = w
	}
	now := time.Now().Truncate(time.Second)
	hourAgo := now.Add(-time.Hour)
	labels := func(name string) map[string]string { return map[string]string{model.LabelWorkspace: name} }
	snap := &status.Snapshot{Namespace: ns}
	for _, name := range []string{"ready", "authfail", "unsched", "cloning", "stopped", "pullfail", "oom", "nocopilot", "changed", "pushed", "orphan"} {
		d := appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels(name), CreationTimestamp: metav1.NewTime(hourAgo)}}
		if name == "stopped" {
			d.Spec.Replicas = new(int32)
		}
		snap.Deployments = append(snap.Deployments, d)
	}
	snap.PVCs = []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "ready", Namespace: ns, Labels: labels("ready")},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, Capacity: corev1.ResourceList{corev1.ResourceStorage: ws["ready"].Storage.Size}}}}
	// The Copilot Secret's data was last written now; pods below seeded it
	// an hour ago.
	written := metav1.NewTime(now)
	snap.Secrets = []metav1.PartialObjectMetadata{{ObjectMeta: metav1.ObjectMeta{Name: sys.Secrets.Copilot.Name, Namespace: ns,
		CreationTimestamp: metav1.NewTime(hourAgo.Add(-time.Hour)),
		ManagedFields:     []metav1.ManagedFieldsEntry{{Manager: "ocw", Time: &written, FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:data":{}}`)}}}}}}
	pod := func(name string, st corev1.PodStatus, annotations map[string]string) {
		snap.Pods = append(snap.Pods, corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name + "-1", Namespace: ns, Labels: labels(name),
			Annotations: annotations, CreationTimestamp: metav1.NewTime(hourAgo)}, Status: st})
	}
	pod("ready", statustest.HealthyStatus(ws["ready"], now.Add(time.Minute)), nil)

	st := statustest.HealthyStatus(ws["authfail"], now)
	st.Phase = corev1.PodPending
	st.Conditions = st.Conditions[:1]
	st.InitContainerStatuses = st.InitContainerStatuses[:1]
	st.InitContainerStatuses[0].RestartCount = 3
	st.InitContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
	st.InitContainerStatuses[0].LastTerminationState = corev1.ContainerState{Terminated: statustest.Terminated(1, "Error",
		"auth-failed: authentication failed for https://github.com/o/authfail: check Secret opencode-git-credentials key GITHUB_PAT", now)}
	st.ContainerStatuses = nil
	pod("authfail", st, nil)

	pod("unsched", corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
		Reason: corev1.PodReasonUnschedulable, Message: "0/3 nodes are available: 3 Insufficient memory."}}}, nil)

	st = statustest.HealthyStatus(ws["cloning"], now)
	st.Phase = corev1.PodPending
	st.Conditions = st.Conditions[:1]
	st.InitContainerStatuses = st.InitContainerStatuses[:1]
	st.InitContainerStatuses[0].State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(now)}}
	st.ContainerStatuses = nil
	pod("cloning", st, nil)

	st = statustest.HealthyStatus(ws["pullfail"], now)
	st.Conditions = st.Conditions[:1]
	st.ContainerStatuses[0].Ready = false
	st.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "Back-off pulling image"}}
	pod("pullfail", st, nil)

	st = statustest.HealthyStatus(ws["oom"], now)
	st.Conditions = st.Conditions[:1]
	st.ContainerStatuses[0].Ready = false
	st.ContainerStatuses[0].RestartCount = 4
	st.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
	st.ContainerStatuses[0].LastTerminationState = corev1.ContainerState{Terminated: statustest.Terminated(137, "OOMKilled", "", now)}
	pod("oom", st, nil)

	st = statustest.HealthyStatus(ws["nocopilot"], now)
	st.InitContainerStatuses[1].State.Terminated.Message = "missing: Secret opencode-copilot-auth key auth.json is missing; the workspace starts without GitHub Copilot"
	pod("nocopilot", st, nil)

	pod("changed", statustest.HealthyStatus(ws["changed"], hourAgo), nil)
	pod("pushed", statustest.HealthyStatus(ws["pushed"], hourAgo),
		map[string]string{status.AnnotationCopilotPushed: now.Add(time.Minute).UTC().Format(time.RFC3339)})

	rep := status.Build(sys, snap, now)
	type row struct{ phase, reason, clone, copilot string }
	want := map[string]row{
		"ready":     {"Ready", "", "cloned", "yes"},
		"authfail":  {"Failing", "clone: auth-failed (CrashLoopBackOff)", "auth-failed", "-"},
		"unsched":   {"Failing", "Unschedulable", "-", "-"},
		"cloning":   {"Starting", "cloning", "running", "-"},
		"stopped":   {"Stopped", "scaled to 0", "-", "-"},
		"missing":   {"Missing", "no Deployment", "-", "-"},
		"pullfail":  {"Failing", "opencode: ImagePullBackOff", "cloned", "yes"},
		"oom":       {"Failing", "opencode: OOMKilled (CrashLoopBackOff)", "cloned", "yes"},
		"nocopilot": {"Ready", "", "cloned", "no"},
		"changed":   {"Ready", "", "cloned", "changed"},
		"pushed":    {"Ready", "", "cloned", "yes"},
		"orphan":    {"Starting", "no pod yet", "-", "-"},
	}
	if n := len(rep.Workspaces); n != 12 || rep.Workspaces[11].Name != "orphan" || rep.Workspaces[11].InSpec {
		t.Fatalf("%d rows; last %+v", n, rep.Workspaces[n-1])
	}
	for _, w := range rep.Workspaces {
		clone := "-"
		if w.Clone != nil {
			clone = w.Clone.Code
		}
		got := row{string(w.Phase), w.Reason, clone, w.Copilot.Seeded}
		if got != want[w.Name] {
			t.Errorf("%s: got %+v, want %+v", w.Name, got, want[w.Name])
		}
	}
	ready := rep.Workspaces[0]
	if ready.PVC.Capacity != "5Gi" || ready.URL != "https://ready.example.test/" || ready.Pod != "ready-1" || ready.Age != "60m" {
		t.Errorf("ready row: %+v", ready)
	}
	if rep.Workspaces[1].Restarts != 3 {
		t.Errorf("authfail restarts: %d", rep.Workspaces[1].Restarts)
	}

	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(table.String()), "\n")
	if len(lines) != 13 || !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(lines[2], "clone: auth-failed") ||
		!strings.HasPrefix(lines[12], "orphan (not in spec)") {
		t.Errorf("table:\n%s", table.String())
	}
	var js bytes.Buffer
	if err := printer.Print(&js, printer.JSON, rep); err != nil {
		t.Fatal(err)
	}
	var back status.Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Workspaces) != 12 {
		t.Fatalf("json: %v", err)
	}
}

// hostile is what a git server (through the clone's termination message)
// or anyone who can write a pod's status could put in front of the user:
// a colour, a cleared screen, a window title, a fake next line.
const hostile = "remote: \x1b[31minvalid\x1b[0m \x1b[2J\x1b]0;pwned\x07token\r\nfake: all good\u202e"

// noControls fails when out holds an escape or a control character other
// than the line breaks and tabs of the format itself.
func noControls(t *testing.T, what, out string) {
	t.Helper()
	for _, r := range out {
		if r != '\n' && r != '\t' && (r < 0x20 || r >= 0x7f && r <= 0x9f || r == 0x202e) {
			t.Errorf("%s holds %U:\n%q", what, r, out)
			return
		}
	}
}

// Text from the cluster is printed without its escapes and controls, in
// every format; what it says stays readable.
func TestHostileTextIsSanitized(t *testing.T) {
	sys := statustest.System(t, specFor("hostile", "app"))
	ws := sys.Workspaces[0]
	now := time.Now()
	st := statustest.HealthyStatus(ws, now)
	st.Phase = corev1.PodPending
	st.Conditions = st.Conditions[:1]
	st.InitContainerStatuses = st.InitContainerStatuses[:1]
	st.InitContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
	st.InitContainerStatuses[0].LastTerminationState = corev1.ContainerState{Terminated: statustest.Terminated(1, "Error", "auth-failed: "+hostile, now)}
	st.ContainerStatuses = nil
	meta := metav1.ObjectMeta{Name: "app", Namespace: "hostile", Labels: map[string]string{model.LabelWorkspace: "app"}}
	snap := &status.Snapshot{Namespace: "hostile", Deployments: []appsv1.Deployment{{ObjectMeta: meta}}}
	meta.Name = "app-1"
	snap.Pods = []corev1.Pod{{ObjectMeta: meta, Status: st}}

	rep := status.Build(sys, snap, now)
	if msg := rep.Workspaces[0].Clone.Message; msg != "remote: invalid token  fake: all good" {
		t.Errorf("clone message %q", msg)
	}
	for _, format := range printer.Formats() {
		var b bytes.Buffer
		if err := printer.Print(&b, format, rep); err != nil {
			t.Fatal(err)
		}
		noControls(t, format, b.String())
		if format == printer.Table && !strings.Contains(b.String(), "clone: auth-failed (CrashLoopBackOff)") {
			t.Errorf("table:\n%s", b.String())
		}
	}
}
