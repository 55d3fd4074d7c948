package cli

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/opencode-workspaces/ocw/internal/apply/applytest"
	"github.com/opencode-workspaces/ocw/internal/testenv"
)

// kubeEnv is a real API server shared by the package's tests that need a
// cluster (started once; tests keep apart by namespace).
var kubeEnv *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &kubeEnv) }

const applySpec = `apiVersion: ocw.dev/v1alpha1
kind: Workspaces
namespace: %s
domain: example.test
secrets:
  mode: manual
  gitCredentials: {name: git-pat, key: token}
workspaces:
  - name: alpha
    repo: https://github.com/o/alpha
  - name: beta
    repo: https://github.com/o/beta
`

func applyArgs(file string, extra ...string) []string {
	return append([]string{"apply", "-f", file, "--kubeconfig", kubeEnv.KubeconfigPath}, extra...)
}

func TestApplyCommandTwice(t *testing.T) {
	ns := "cli-twice"
	file := filepath.Join(t.TempDir(), "ws.yaml")
	writeFile(t, file, fmt.Sprintf(applySpec, ns))

	r := run(t, "", applyArgs(file)...)
	if r.code != 0 {
		t.Fatalf("apply: %+v", r)
	}
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	want := []string{
		"Namespace/" + ns + " created",
		"ConfigMap/" + ns + "/ocw-inventory created",
		"Deployment/" + ns + "/alpha created",
		"HTTPRoute/" + ns + "/alpha created",
		"PersistentVolumeClaim/" + ns + "/alpha created",
		"Service/" + ns + "/alpha created",
		"Deployment/" + ns + "/beta created",
	}
	for i, w := range want {
		if i >= len(lines) || lines[i] != w {
			t.Fatalf("stdout line %d: want %q, got:\n%s", i, w, r.out)
		}
	}
	if len(lines) != 10 {
		t.Errorf("%d lines, want 10:\n%s", len(lines), r.out)
	}
	if !strings.Contains(r.err, "apply: 10 created, 0 configured, 0 unchanged; 10 writes") {
		t.Errorf("summary:\n%s", r.err)
	}
	before := applytest.Snapshot(t, kubeEnv.Config, ns)

	r = run(t, "", applyArgs(file)...)
	if r.code != 0 || strings.Count(r.out, " unchanged\n") != 10 || strings.Contains(r.out, "created") {
		t.Fatalf("second apply: %+v", r)
	}
	if !strings.Contains(r.err, "apply: 0 created, 0 configured, 10 unchanged; 0 writes") {
		t.Errorf("summary:\n%s", r.err)
	}
	applytest.Equal(t, "ocw apply of an unchanged spec", before, applytest.Snapshot(t, kubeEnv.Config, ns))
}

func TestApplyTellsHowToCreateMissingSecrets(t *testing.T) {
	ns := "cli-secrets"
	file := filepath.Join(t.TempDir(), "ws.yaml")
	writeFile(t, file, fmt.Sprintf(applySpec, ns))
	if r := run(t, "", applyArgs(file, "--dry-run=server")...); r.code != 0 {
		t.Fatalf("dry run: %+v", r)
	}
	r := run(t, "", applyArgs(file)...)
	if r.code != 0 {
		t.Fatalf("apply: %+v", r)
	}
	k := "--kubeconfig " + kubeEnv.KubeconfigPath
	for _, want := range []string{
		"secret: Secret " + ns + "/git-pat is missing (the git token used to clone and push private repositories, optional). Create it with:\n" +
			"  ocw secrets git-token -f " + file + " " + k + "\n" +
			"  or: kubectl " + k + " -n " + ns + " create secret generic git-pat --from-file=token=PATH   (PATH: a file holding only the token)\n",
		"secret: Secret " + ns + "/opencode-server-auth is missing (the password of the OpenCode web UI and API; workspaces do not start without it, required)",
		"  ocw secrets password -f " + file + " " + k + "\n",
		"  ocw auth seed -f " + file + " " + k + "\n",
		"--from-file=auth.json=PATH",
	} {
		if !strings.Contains(r.err, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.err)
		}
	}

	// One Secret complete, one without its key: only what is missing is
	// reported, and an existing Secret gets a command that keeps its keys.
	ctx := t.Context()
	for _, s := range []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Name: "git-pat", Namespace: ns}, Data: map[string][]byte{"token": []byte("s3cr3t-token-value")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "opencode-server-auth", Namespace: ns}, Data: map[string][]byte{"other": []byte("x")}},
	} {
		if err := kubeEnv.Client.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	r = run(t, "", applyArgs(file)...)
	if r.code != 0 {
		t.Fatalf("apply: %+v", r)
	}
	if strings.Contains(r.err, "git-pat") || strings.Contains(r.err+r.out, "s3cr3t") {
		t.Errorf("complete Secret reported, or a value shown:\n%s", r.err)
	}
	want := "secret: Secret " + ns + "/opencode-server-auth has no (or an empty) key OPENCODE_SERVER_PASSWORD"
	pipe := "create secret generic opencode-server-auth --from-file=OPENCODE_SERVER_PASSWORD=PATH --dry-run=client -o yaml | kubectl " + k + " apply -f -"
	if !strings.Contains(r.err, want) || !strings.Contains(r.err, pipe) {
		t.Errorf("stderr lacks %q / %q:\n%s", want, pipe, r.err)
	}
}

// TestApplyRefusesEmptyPassword: in manual mode, a server password Secret
// whose key is empty (or blank) stops apply before any write; ocw secrets
// password fills it, and apply then goes through.
func TestApplyRefusesEmptyPassword(t *testing.T) {
	ns := "cli-empty-pw"
	file := filepath.Join(t.TempDir(), "ws.yaml")
	writeFile(t, file, fmt.Sprintf(applySpec, ns))
	if r := run(t, "", applyArgs(file)...); r.code != 0 {
		t.Fatalf("first apply: %+v", r)
	}
	ctx := t.Context()
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "opencode-server-auth", Namespace: ns},
		Data: map[string][]byte{"OPENCODE_SERVER_PASSWORD": []byte("\n")}}
	if err := kubeEnv.Client.Create(ctx, sec); err != nil {
		t.Fatal(err)
	}
	// A change apply would make: the refusal must come before it.
	writeFile(t, file, fmt.Sprintf(applySpec, ns)+"  - name: gamma\n    repo: https://github.com/o/gamma\n")
	for _, extra := range [][]string{nil, {"--dry-run=server"}} {
		r := run(t, "", applyArgs(file, extra...)...)
		if r.code == 0 || !strings.Contains(r.err, "Secret "+ns+"/opencode-server-auth key OPENCODE_SERVER_PASSWORD is empty") ||
			!strings.Contains(r.err, "nothing was applied") || !strings.Contains(r.err, "ocw secrets password -f "+file) {
			t.Errorf("apply %v with an empty password: %+v", extra, r)
		}
		if strings.Contains(r.out, "gamma") {
			t.Errorf("apply %v wrote before refusing: %s", extra, r.out)
		}
	}
	d := &appsv1.Deployment{}
	if err := kubeEnv.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "gamma"}, d); !apierrors.IsNotFound(err) {
		t.Errorf("Deployment gamma exists after a refused apply: %v", err)
	}

	r := run(t, "", "secrets", "password", "-f", file, "--kubeconfig", kubeEnv.KubeconfigPath)
	if r.code != 0 || len(strings.TrimSpace(r.out)) < 16 {
		t.Fatalf("ocw secrets password did not fill the blank key: %+v", r)
	}
	if r := run(t, "", applyArgs(file)...); r.code != 0 || !strings.Contains(r.out, "Deployment/"+ns+"/gamma created") {
		t.Fatalf("apply after setting the password: %+v", r)
	}
}

func TestApplyPruneFlow(t *testing.T) {
	ns := "cli-prune"
	dir := t.TempDir()
	file := filepath.Join(dir, "ws.yaml")
	text := fmt.Sprintf(applySpec, ns)
	writeFile(t, file, text)
	if r := run(t, "", applyArgs(file)...); r.code != 0 {
		t.Fatalf("apply: %+v", r)
	}
	writeFile(t, file, text[:strings.Index(text, "  - name: beta")])

	r := run(t, "", applyArgs(file)...)
	if r.code != 0 || !strings.Contains(r.out, "Deployment/"+ns+"/beta is no longer in the spec: rerun with --prune to delete it\n") ||
		!strings.Contains(r.out, "PersistentVolumeClaim/"+ns+"/beta is no longer in the spec and holds data: kept (--prune --purge-data deletes it)\n") ||
		!strings.Contains(r.err, "4 object(s) ocw applied earlier are no longer in the spec; rerun with --prune") {
		t.Fatalf("without --prune: %+v", r)
	}

	// An entry someone added to the inventory is refused, with the reason.
	var cm corev1.ConfigMap
	if err := kubeEnv.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "ocw-inventory"}, &cm); err != nil {
		t.Fatal(err)
	}
	cm.Data["objects"] += "v1 Namespace - kube-system\n"
	if err := kubeEnv.Client.Update(t.Context(), &cm); err != nil {
		t.Fatal(err)
	}

	r = run(t, "", applyArgs(file, "--prune")...)
	if r.code != 0 || !strings.Contains(r.out, "Namespace/kube-system is listed in the inventory, but it is not namespace "+ns+": not deleted, dropped from the inventory\n") ||
		!strings.Contains(r.err, "warning: 1 entries of ConfigMap "+ns+"/ocw-inventory are not objects ocw apply wrote for this namespace") {
		t.Fatalf("--prune with an edited inventory: %+v", r)
	}
	if r.code != 0 || !strings.Contains(r.out, "Deployment/"+ns+"/beta pruned\n") || strings.Contains(r.out, "PersistentVolumeClaim/"+ns+"/beta pruned") ||
		!strings.Contains(r.err, "rerun with --prune --purge-data to delete it too") {
		t.Fatalf("--prune: %+v", r)
	}

	r = run(t, "", applyArgs(file, "--prune", "--purge-data")...)
	if r.code != 0 || !strings.Contains(r.out, "PersistentVolumeClaim/"+ns+"/beta pruned\n") ||
		!strings.Contains(r.err, "--purge-data: deleting 1 object(s) and the data they hold:\n  PersistentVolumeClaim/"+ns+"/beta\n") {
		t.Fatalf("--purge-data: %+v", r)
	}
}

func TestApplyRejectionNamesObject(t *testing.T) {
	ns := "cli-reject"
	file := filepath.Join(t.TempDir(), "ws.yaml")
	writeFile(t, file, fmt.Sprintf(applySpec, ns)+"defaults:\n  certificate: {enabled: true}\n")
	r := run(t, "", applyArgs(file)...)
	if r.code != ExitFailure || r.out != "" ||
		!strings.Contains(r.err, "error: the cluster rejected 2 of 13 objects, nothing was applied:\n  Certificate/"+ns+"/alpha: the cluster does not serve cert-manager.io/v1 Certificate (is its CRD installed?)") {
		t.Fatalf("%+v", r)
	}
}

func TestApplyWaitTimesOut(t *testing.T) {
	ns := "cli-wait"
	file := filepath.Join(t.TempDir(), "ws.yaml")
	text := fmt.Sprintf(applySpec, ns)
	writeFile(t, file, text[:strings.Index(text, "  - name: beta")])
	r := run(t, "", applyArgs(file, "--wait", "--timeout", "3s")...)
	if r.code != ExitFailure {
		t.Fatalf("%+v", r)
	}
	for _, want := range []string{
		"wait: alpha: PVC alpha Pending; Starting: no pod yet\n",
		"error: timed out after 3s waiting for readiness; still not ready:\n  alpha: PVC alpha Pending; Starting: no pod yet",
	} {
		if !strings.Contains(r.err, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.err)
		}
	}
}

func TestApplyFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ws.yaml")
	writeFile(t, file, fmt.Sprintf(applySpec, "cli-flags"))
	for _, c := range []struct {
		args []string
		want string
	}{
		{applyArgs(file, "--purge-data"), "error: --purge-data only works together with --prune"},
		{applyArgs(file, "--dry-run=client"), "error: --dry-run=client is not supported"},
		{applyArgs(file, "--dry-run=maybe"), `error: --dry-run must be "server" or "none", not "maybe"`},
		{applyArgs(file, "--context", "nope"), `error: loading kubeconfig: context "nope" does not exist`},
		{[]string{"apply"}, "error: no spec: pass -f FILE"},
	} {
		r := run(t, "", c.args...)
		if r.code != ExitFailure || !strings.Contains(r.err, c.want) {
			t.Errorf("%v: want %q, got %+v", c.args[len(c.args)-1], c.want, r)
		}
	}
	// A bare --dry-run means the server's.
	r := run(t, "", applyArgs(file, "--dry-run")...)
	if r.code != 0 || !regexp.MustCompile(`(?m)^Namespace/cli-flags created \(server dry run\)$`).MatchString(r.out) ||
		!strings.Contains(r.err, "nothing was written") {
		t.Errorf("--dry-run: %+v", r)
	}
	if s := applytest.Snapshot(t, kubeEnv.Config, "cli-flags"); len(s) != 0 {
		t.Errorf("--dry-run wrote %v", s)
	}
}

// A namespace ocw did not create needs --adopt-namespace, and the error
// says so; system namespaces are refused by the spec itself.
func TestApplyNamespaceTakeover(t *testing.T) {
	ns := "cli-foreign"
	if err := kubeEnv.Client.Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "ws.yaml")
	writeFile(t, file, fmt.Sprintf(applySpec, ns))
	before := applytest.Snapshot(t, kubeEnv.Config, ns)
	r := run(t, "", applyArgs(file)...)
	if r.code != ExitFailure || r.out != "" || !strings.Contains(r.err, "error: namespace "+ns+" exists and ocw did not create it") ||
		!strings.Contains(r.err, "rerun with --adopt-namespace") {
		t.Fatalf("apply into a foreign namespace: %+v", r)
	}
	applytest.Equal(t, "a refused takeover", before, applytest.Snapshot(t, kubeEnv.Config, ns))
	if r := run(t, "", applyArgs(file, "--adopt-namespace")...); r.code != 0 || !strings.Contains(r.out, "Namespace/"+ns+" configured\n") {
		t.Fatalf("--adopt-namespace: %+v", r)
	}

	writeFile(t, file, fmt.Sprintf(applySpec, "kube-system"))
	before = applytest.Snapshot(t, kubeEnv.Config, "kube-system")
	r = run(t, "", applyArgs(file, "--adopt-namespace")...)
	if r.code != ExitFailure || !strings.Contains(r.err, file+`:3:12: namespace: "kube-system" belongs to Kubernetes (kube-*)`) {
		t.Fatalf("apply into kube-system: %+v", r)
	}
	applytest.Equal(t, "apply into kube-system", before, applytest.Snapshot(t, kubeEnv.Config, "kube-system"))
}
