package doctor

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	volsyncv1alpha1 "github.com/backube/volsync/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/opencode-workspaces/ocw/internal/build"
	"github.com/opencode-workspaces/ocw/internal/kube"
	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/status/statustest"
	"github.com/opencode-workspaces/ocw/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

const (
	baseSpec = `apiVersion: ocw.dev/v1alpha1
kind: Workspaces
namespace: NS
domain: example.test
secrets:
  mode: manual
defaults:
  storage: {storageClass: SC}
  gateway: {name: gw, namespace: GWNS, sectionName: https}
  reloader: false
  backup: {mode: inline, copyMethod: Direct}
workspaces:
  - name: app
    repo: https://github.com/o/app
`
	validAuth = `{"github-copilot": {"type": "oauth", "refresh": "gho_SEEDEDREFRESH42", "access": "gho_SEEDEDREFRESH42", "expires": 0}}`
)

// fakeExec stands in for pods/exec, which needs a kubelet.
type fakeExec struct {
	out, errOut string
	err         error
	calls       []string
}

func (f *fakeExec) Exec(_ context.Context, ns, pod, container string, cmd []string) (string, string, error) {
	f.calls = append(f.calls, fmt.Sprintf("%s/%s/%s: %s", ns, pod, container, strings.Join(cmd, " ")))
	return f.out, f.errOut, f.err
}

// exitErr is what client-go returns for a command that exited non-zero.
type exitErr int

func (e exitErr) Error() string   { return fmt.Sprintf("command terminated with exit code %d", int(e)) }
func (e exitErr) ExitStatus() int { return int(e) }

type fixtureOpts struct {
	// edit changes the spec text (after NS/GWNS/SC are substituted).
	edit func(string) string
	// listener changes the Gateway's listener before it is created.
	listener func(*gatewayv1.Listener)
	// wffc makes the StorageClass bind on first consumer.
	wffc bool
	// pendingPVC leaves the PVC Pending; noPod creates no pod.
	pendingPVC, noPod bool
}

type fixture struct {
	t        *testing.T
	ns, gwNS string
	sc       string
	sys      *model.System
	ws       model.Workspace
	pod      *corev1.Pod
	exec     *fakeExec
	c        client.Client
}

// newFixture builds a healthy workspace: StorageClass, a Programmed
// Gateway with an https listener, the three Secrets, the workspace objects,
// a Bound PVC, an accepted route, a ReplicationSource that backed up ten
// minutes ago with its repository Secret, and a Ready pod. Tests then break one thing.
func newFixture(t *testing.T, o fixtureOpts) *fixture {
	t.Helper()
	ctx := t.Context()
	c := env.Client
	ns, err := env.CreateNamespace(ctx, "doc-", nil)
	if err != nil {
		t.Fatal(err)
	}
	gwNS, err := env.CreateNamespace(ctx, "gw-", nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, ns: ns, gwNS: gwNS, sc: "sc-" + ns, c: c, exec: &fakeExec{out: "git version 2.49.1\n"}}

	doc := strings.NewReplacer("GWNS", gwNS, "NS", ns, "SC", f.sc).Replace(baseSpec)
	if o.edit != nil {
		doc = o.edit(doc)
	}
	f.sys = statustest.System(t, doc)
	f.ws = f.sys.Workspaces[0]

	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: f.sc}, Provisioner: "example.com/csi"}
	if o.wffc {
		sc.VolumeBindingMode = new(storagev1.VolumeBindingWaitForFirstConsumer)
	}
	must(t, c.Create(ctx, sc))

	l := gatewayv1.Listener{
		Name: "https", Protocol: gatewayv1.HTTPSProtocolType, Port: 443,
		Hostname: new(gatewayv1.Hostname("*.example.test")),
		TLS: &gatewayv1.ListenerTLSConfig{Mode: new(gatewayv1.TLSModeTerminate),
			CertificateRefs: []gatewayv1.SecretObjectReference{{Name: "wildcard-tls"}}},
		AllowedRoutes: &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: new(gatewayv1.NamespacesFromAll)}},
	}
	if o.listener != nil {
		o.listener(&l)
	}
	gw := &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Name: "gw", Namespace: gwNS},
		Spec:       gatewayv1.GatewaySpec{GatewayClassName: "test", Listeners: []gatewayv1.Listener{l}},
	}
	must(t, c.Create(ctx, gw))
	f.setGatewayProgrammed(metav1.ConditionTrue)

	f.putSecret(f.sys.Secrets.Server, "s3cret-server-password")
	f.putSecret(f.sys.Secrets.Git, "ghp_GITTOKEN")
	f.putSecret(f.sys.Secrets.Copilot, validAuth)

	statustest.CreateWorkspace(t, c, f.ws)
	if !o.pendingPVC {
		statustest.BindPVC(t, c, f.ws)
	}
	statustest.SetRoute(t, c, f.ws, "", "")
	if f.ws.Backup.Mode == model.BackupInline {
		f.backedUp()
	}
	if !o.noPod {
		f.pod = statustest.CreatePod(t, c, f.ws, "app-7d9f-abcde", statustest.HealthyStatus(f.ws, time.Now()))
	}
	return f
}

// backedUp creates the workspace's ReplicationSource with the status of a
// backup ten minutes ago, and its repository Secret.
func (f *fixture) backedUp() {
	f.t.Helper()
	rs := build.ReplicationSource(f.ws)
	must(f.t, f.c.Create(f.t.Context(), rs))
	done := metav1.NewTime(time.Now().Add(-10 * time.Minute))
	cond := statustest.Scheduled
	cond.LastTransitionTime = done
	rs.Status = &volsyncv1alpha1.ReplicationSourceStatus{LastSyncTime: &done, Conditions: []metav1.Condition{cond},
		LastSyncDuration: &metav1.Duration{Duration: 41 * time.Second}, LatestMoverStatus: statustest.Succeeded}
	statustest.UpdateStatus(f.t, f.c, rs)
	f.putSecret(modelRef(f.ws.Backup.Repository, "RESTIC_REPOSITORY"), "rest:http://127.0.0.1:8000/app")
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) setGatewayProgrammed(st metav1.ConditionStatus) {
	gw := &gatewayv1.Gateway{}
	statustest.Get(f.t, f.c, f.gwNS, "gw", gw)
	reason := "Programmed"
	if st != metav1.ConditionTrue {
		reason = "Invalid"
	}
	gw.Status.Conditions = []metav1.Condition{
		{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", LastTransitionTime: metav1.Now(), ObservedGeneration: gw.Generation},
		{Type: "Programmed", Status: st, Reason: reason, Message: "test", LastTransitionTime: metav1.Now(), ObservedGeneration: gw.Generation},
	}
	statustest.UpdateStatus(f.t, f.c, gw)
}

func (f *fixture) putSecret(ref model.SecretRef, value string) {
	f.t.Helper()
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: ref.Name, Namespace: f.ns}}
	err := f.c.Get(f.t.Context(), client.ObjectKeyFromObject(sec), sec)
	sec.Data = map[string][]byte{ref.Key: []byte(value)}
	if err == nil {
		must(f.t, f.c.Update(f.t.Context(), sec))
		return
	}
	must(f.t, f.c.Create(f.t.Context(), sec))
}

// setPod rewrites the pod's status from the healthy one.
func (f *fixture) setPod(edit func(*corev1.PodStatus)) {
	f.t.Helper()
	st := statustest.HealthyStatus(f.ws, time.Now())
	edit(&st)
	statustest.SetPodStatus(f.t, f.c, f.pod, st)
}

func (f *fixture) event(kind, name, reason, msg string) {
	f.t.Helper()
	now := metav1.Now()
	must(f.t, f.c.Create(f.t.Context(), &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{GenerateName: name + ".", Namespace: f.ns},
		InvolvedObject: corev1.ObjectReference{Kind: kind, Name: name, Namespace: f.ns},
		Reason:         reason, Message: msg, Type: corev1.EventTypeWarning,
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
		Source: corev1.EventSource{Component: "test"},
	}))
}

func (f *fixture) run() *Report {
	f.t.Helper()
	return f.runWith(Options{Exec: f.exec, SpecFile: "ws.yaml"})
}

func (f *fixture) runWith(opts Options) *Report {
	f.t.Helper()
	c, err := kube.NewClients(env.Config)
	if err != nil {
		f.t.Fatal(err)
	}
	rep, err := Run(f.t.Context(), c, f.sys, opts)
	if err != nil {
		f.t.Fatal(err)
	}
	return rep
}

// expect asserts one check's verdict and that its fix (or, for ok, its
// message) contains want.
func expect(t *testing.T, rep *Report, scope, id string, v Verdict, want string) *Check {
	t.Helper()
	c := find(rep, scope, id)
	if c == nil {
		t.Fatalf("no check %s/%s in:\n%s", scope, id, text(rep))
	}
	got := c.Fix
	if v == OK {
		got = c.Message
	}
	if c.Verdict != v || !strings.Contains(got, want) {
		t.Fatalf("check %s/%s: got %s %q (fix %q), want %s with %q", scope, id, c.Verdict, c.Message, c.Fix, v, want)
	}
	if v != OK && c.Fix == "" {
		t.Fatalf("check %s/%s: %s without a fix", scope, id, v)
	}
	return c
}

func text(rep *Report) string {
	var b strings.Builder
	_ = rep.WriteTable(&b)
	return b.String()
}

// find returns the first check of scope and id, or nil.
func find(rep *Report, scope, id string) *Check {
	for i := range rep.Checks {
		if rep.Checks[i].Scope == scope && rep.Checks[i].ID == id {
			return &rep.Checks[i]
		}
	}
	return nil
}

func modelRef(name, key string) model.SecretRef { return model.SecretRef{Name: name, Key: key} }

// count is how many checks of rep have verdict v.
func count(rep *Report, v Verdict) int {
	n := 0
	for _, c := range rep.Checks {
		if c.Verdict == v {
			n++
		}
	}
	return n
}
