//go:build e2e

package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencode-workspaces/ocw/test/boot/gitserver"
)

// The Doppler entries of the seed, held by external-secrets' fake provider.
const (
	storePAT      = "ghp_gitopsE2Etoken0123456789"
	storePassword = "gitops-e2e-password-6f1d2c"
	authFirst     = `{"github-copilot":{"type":"oauth","refresh":"gho_gitops_first","access":"gho_gitops_first","expires":0}}`
	authSecond    = `{"github-copilot":{"type":"oauth","refresh":"gho_gitops_second","access":"gho_gitops_second","expires":0}}`
	clusterToken  = "cluster-repo-read-token"
)

// clusterRepo is a home-ops style cluster repository: a work tree whose
// commits are pushed to the bare repository a git server serves.
type clusterRepo struct {
	t          *testing.T
	work, bare string
}

func newClusterRepo(t *testing.T, srv *gitserver.Server) *clusterRepo {
	r := &clusterRepo{t: t, work: filepath.Join(t.TempDir(), "cluster"), bare: filepath.Join(srv.Root, "cluster.git")}
	if err := os.MkdirAll(r.work, 0o755); err != nil {
		t.Fatal(err)
	}
	gitserver.Git(t, r.work, "init", "-q", "-b", "main")
	gitserver.Git(t, srv.Root, "init", "-q", "--bare", "-b", "main", r.bare)
	return r
}

func (r *clusterRepo) write(rel, content string) {
	r.t.Helper()
	p := filepath.Join(r.work, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// commit commits everything and pushes it; returns the commit id.
func (r *clusterRepo) commit(msg string) string {
	r.t.Helper()
	gitserver.Git(r.t, r.work, "add", "-A")
	gitserver.Git(r.t, r.work, "commit", "-q", "-m", msg)
	gitserver.Git(r.t, r.work, "push", "-q", r.bare, "main")
	return gitserver.Git(r.t, r.work, "rev-parse", "HEAD")
}

func (r *clusterRepo) exists(rel string) bool {
	_, err := os.Stat(filepath.Join(r.work, filepath.FromSlash(rel)))
	return err == nil
}

// writeGitOpsSpec writes the workspace spec of the scenario: the seed's
// doppler mode and VolSync component, with the named workspaces. The
// component here only backs the PVC up and ocw renders the PVC
// (pvcOwner: ocw): a component that creates it restored from backup needs
// VolSync's populator and a CSI driver with snapshots, which this node
// lacks; the layout and conformance tests cover that shape.
func writeGitOpsSpec(t *testing.T, path, ns, gitURL string, names ...string) {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: ocw.dev/v1alpha1
kind: Workspaces
namespace: %s
domain: e2e.test
secrets:
  mode: doppler
  store: {kind: ClusterSecretStore, name: doppler}
  refreshInterval: 10s
defaults:
  storage: {size: 1Gi, storageClass: %s}
  git: {allowHTTP: true}
  resources:
    requests: {cpu: 50m, memory: 256Mi}
  externalDNS: {enabled: true}
  backup: {mode: component, pvcOwner: ocw, copyMethod: Direct}
workspaces:
`, ns, storageSC)
	repos := map[string]string{"alpha": "repo-a", "beta": "repo-b"}
	for _, name := range names {
		fmt.Fprintf(&b, "  - name: %s\n    repo: %s/%s.git\n", name, gitURL, repos[name])
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// clusterFixtures copies what a home-ops cluster repository holds besides
// ocw's folder (testdata/cluster: the Flux entry point, the external-secrets
// store's Kustomization, a VolSync component) and writes the store: the
// fake provider in Doppler's place, under the seed's key names.
func clusterFixtures(r *clusterRepo, repoURL, auth string) {
	r.t.Helper()
	src := filepath.Join("testdata", "cluster")
	err := filepath.WalkDir(filepath.Join(src, "kubernetes"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		r.write(filepath.ToSlash(rel), strings.ReplaceAll(string(b), "CLUSTER_REPO_URL", repoURL))
		return nil
	})
	if err != nil {
		r.t.Fatal(err)
	}
	writeStore(r, auth)
}

func writeStore(r *clusterRepo, auth string) {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) } // a JSON string is a YAML string
	r.write("kubernetes/apps/external-secrets/stores/app/clustersecretstore.yaml", `apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata:
  name: doppler
spec:
  provider:
    fake:
      data:
        - key: OPENCODE_GITHUB_PAT
          value: `+q(storePAT)+`
        - key: OPENCODE_SERVER_PASSWORD
          value: `+q(storePassword)+`
        - key: OPENCODE_COPILOT_AUTH_JSON
          value: `+q(auth)+`
`)
}

// get returns kubectl get's jsonpath output, "" when the object is missing.
func (n *node) get(ns, resource, jsonpath string) string {
	args := []string{"get", resource, "-o", "jsonpath=" + jsonpath, "--ignore-not-found"}
	if ns != "" {
		args = append(args, "-n", ns)
	}
	out, err := n.run("", nil, filepath.Join(n.bin, "kubectl"), args...)
	if err != nil {
		return ""
	}
	return out
}

func (n *node) exists(ns, resource string) bool {
	out, err := n.run("", nil, filepath.Join(n.bin, "kubectl"), "get", resource, "-n", ns, "--ignore-not-found", "-o", "name")
	if err != nil {
		n.t.Fatalf("kubectl get %s: %v\n%s", resource, err, out)
	}
	return strings.TrimSpace(out) != ""
}

// eventually polls ok every second until it holds or timeout passes.
func (n *node) eventually(what string, timeout time.Duration, ok func() bool) time.Duration {
	n.t.Helper()
	start := time.Now()
	for !ok() {
		if time.Since(start) > timeout {
			n.t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(time.Second)
	}
	return time.Since(start)
}

const readyPath = `{.status.conditions[?(@.type=="Ready")].status}`

// fluxReady waits for a Flux object to be Ready at revision sha.
func (n *node) fluxReady(ns, resource, sha string, timeout time.Duration) {
	n.t.Helper()
	revPath := "{.status.lastAppliedRevision}"
	if strings.HasPrefix(resource, "gitrepository") {
		revPath = "{.status.artifact.revision}"
	}
	n.eventually(resource+" Ready at "+sha[:8], timeout, func() bool {
		return n.get(ns, resource, readyPath) == "True" && strings.HasSuffix(n.get(ns, resource, revPath), sha)
	})
}

// requestReconcile asks a Flux object to reconcile now, as
// `flux reconcile` does; returns the token to wait for.
func (n *node) requestReconcile(ns, resource string) string {
	n.t.Helper()
	tok := time.Now().Format(time.RFC3339Nano)
	n.kubectl("annotate", "--overwrite", "-n", ns, resource, "reconcile.fluxcd.io/requestedAt="+tok)
	return tok
}

// push commits the cluster repo and has Flux fetch it; returns the commit.
func (n *node) push(r *clusterRepo, msg string) string {
	n.t.Helper()
	sha := r.commit(msg)
	n.requestReconcile("flux-system", "gitrepository/flux-system")
	n.fluxReady("flux-system", "gitrepository/flux-system", sha, 2*time.Minute)
	return sha
}

func (n *node) secretValue(name, key string) string {
	n.t.Helper()
	v := n.get(n.ns, "secret/"+name, "{.data."+strings.ReplaceAll(key, ".", `\.`)+"}")
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		n.t.Fatalf("secret %s key %s: %v", name, key, err)
	}
	return string(b)
}

// diagnoseGitOps prints the Flux and external-secrets objects' statuses
// (a substitution problem, a schema rejection or a dependsOn wait shows up
// there) and the controllers' log tails.
func (n *node) diagnoseGitOps() {
	n.logAll(
		[]string{"get", "gitrepositories,kustomizations,externalsecrets,clustersecretstores", "-A", "-o", "wide"},
		[]string{"get", "kustomizations", "-A", "-o", `jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}: {.status.conditions}{"\n"}{end}`},
		[]string{"get", "externalsecrets", "-A", "-o", `jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}: {.status.conditions}{"\n"}{end}`},
	)
	for _, c := range []string{"source-controller", "kustomize-controller", "external-secrets"} {
		state := "not running"
		if b, err := os.ReadFile(filepath.Join(n.work, "run", c+".pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && syscall.Kill(pid, 0) == nil {
				state = "running, pid " + strconv.Itoa(pid)
			}
		}
		n.t.Logf("--- %s: %s", c, state)
		n.logTail(c, 40)
	}
}

func TestGitOps(t *testing.T) {
	n := nodeFor(t, "ocw-gitops")
	t.Cleanup(func() {
		if t.Failed() {
			n.diagnoseGitOps()
			n.diagnose()
		}
	})
	start := time.Now()
	up := n.must(filepath.Join(n.repo, "hack/e2e/gitops-up.sh"), n.work)
	t.Logf("controllers up in %s: %s", time.Since(start).Round(time.Second), strings.TrimSpace(up))
	dir := t.TempDir()

	// The workspaces' repositories, reachable by pods through the bridge; the
	// cluster repository, read by source-controller on loopback with its own
	// credentials.
	srv := gitserver.New(t, filepath.Join(dir, "srv"), gitUser, storePAT)
	srv.CreateRepo(t, "repo-a", 2, smallRepo)
	srv.CreateRepo(t, "repo-b", 1, smallRepo)
	gw := gatewayProxy(t, n.gateway, strings.TrimPrefix(srv.URL, "http://"))
	clusterSrv := gitserver.New(t, filepath.Join(dir, "cluster-srv"), "flux", clusterToken)
	repo := newClusterRepo(t, clusterSrv)

	// 1. The cluster repo: fixtures plus `ocw render`'s Flux tree.
	spec := filepath.Join(dir, "workspaces.yaml")
	render := func(names ...string) {
		writeGitOpsSpec(t, spec, n.ns, gw, names...)
		n.must(n.ocw, "render", "-f", spec, "-d", repo.work)
	}
	clusterFixtures(repo, clusterSrv.RepoURL("cluster"), authFirst)
	render("alpha", "beta")
	sha := repo.commit("cluster: external-secrets store, ocw workspaces alpha and beta")

	// Bootstrap, as `flux bootstrap` would: the source's credentials and the
	// entry point. From here on only commits change the cluster.
	n.kubectlIn(`apiVersion: v1
kind: Secret
metadata: {name: flux-system, namespace: flux-system}
stringData: {username: flux, password: `+clusterToken+`}
`, "apply", "-f", "-")
	n.kubectl("apply", "-f", filepath.Join(repo.work, "kubernetes/flux/cluster/ks.yaml"))
	bootstrap := time.Now()
	n.fluxReady("flux-system", "gitrepository/flux-system", sha, 2*time.Minute)
	for _, k := range []struct{ ns, name string }{
		{"flux-system", "cluster-apps"}, {"external-secrets", "external-secrets-stores"},
		{n.ns, n.ns + "-secrets"}, {n.ns, "alpha"}, {n.ns, "beta"},
	} {
		n.fluxReady(k.ns, "kustomization/"+k.name, sha, 8*time.Minute)
		t.Logf("Kustomization %s/%s Ready %s after bootstrap", k.ns, k.name, time.Since(bootstrap).Round(time.Second))
	}

	// 2. external-secrets filled the three Secrets from the store: auth.json
	// byte for byte through the template.
	if got := n.secretValue("opencode-copilot-auth", "auth.json"); got != authFirst {
		t.Fatalf("Secret opencode-copilot-auth auth.json = %q, want the store's JSON %q", got, authFirst)
	}
	if got := n.secretValue("opencode-git-credentials", "GITHUB_PAT"); got != storePAT {
		t.Fatalf("Secret opencode-git-credentials GITHUB_PAT does not hold the store's token")
	}
	if got := n.secretValue("opencode-server-auth", "OPENCODE_SERVER_PASSWORD"); got != storePassword {
		t.Fatalf("Secret opencode-server-auth does not hold the store's password")
	}
	// Flux substituted the ks.yaml variables into the cluster's component,
	// and left the Deployment's scripts alone (the pods run them).
	if got := n.get(n.ns, "replicationsource/alpha", "{.spec.sourcePVC} {.spec.trigger.schedule} {.spec.restic.moverSecurityContext.runAsUser} {.spec.restic.cacheStorageClassName}"); got != "alpha 0 * * * * 1000 "+storageSC {
		t.Fatalf("ReplicationSource alpha from the component = %q", got)
	}
	if got := n.get(n.ns, "httproute/alpha", `{.spec.hostnames[0]} {.metadata.annotations.external-dns\.home\.arpa/enabled}`); got != "alpha.e2e.test true" {
		t.Fatalf("HTTPRoute alpha = %q", got)
	}

	// 3. Both workspaces answer as on the plain node.
	var session string
	for _, w := range []struct{ name, dir string }{{"alpha", "repo-a"}, {"beta", "repo-b"}} {
		n.waitReady(w.name)
		base, stop := n.forward(w.name)
		if code, _ := httpDo(t, "GET", base+"/global/health", "", ""); code != 401 {
			t.Fatalf("%s: GET /global/health without password: %d, want 401", w.name, code)
		}
		_, body := httpDo(t, "GET", base+"/path", storePassword, "")
		var paths struct{ Worktree string }
		json.Unmarshal([]byte(body), &paths)
		if paths.Worktree != "/workspace/"+w.dir {
			t.Fatalf("%s: /path = %s", w.name, body)
		}
		if _, body := httpDo(t, "GET", base+"/config/providers", storePassword, ""); !strings.Contains(body, "github-copilot") {
			t.Fatalf("%s: /config/providers lacks github-copilot: %.300s", w.name, body)
		}
		if w.name == "alpha" {
			code, body := httpDo(t, "POST", base+"/session", storePassword, "{}")
			var s struct{ ID string }
			json.Unmarshal([]byte(body), &s)
			if code != 200 || s.ID == "" {
				t.Fatalf("POST /session: %d %.300s", code, body)
			}
			session = s.ID
		}
		stop()
		// OpenCode may rewrite the file it owns; the login is what counts.
		if got := n.exec(w.name, "cat "+authPath); !strings.Contains(got, "gho_gitops_first") {
			t.Fatalf("%s: auth.json in the pod = %q, want the store's", w.name, got)
		}
	}
	// ocw's own view: doctor judges the Flux Kustomizations, status the
	// workspaces. (Doctor also warns here about the missing Gateway and
	// Reloader, which this node lacks.)
	out, _ := n.stdout(n.ocw, "doctor", "-f", spec, "-o", "json")
	var rep struct {
		Checks []struct{ Scope, ID, Verdict, Message string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("ocw doctor -o json: %v\n%s", err, out)
	}
	verdicts := map[string]string{}
	for _, c := range rep.Checks {
		verdicts[c.Scope+"/"+c.ID] = c.Verdict + ": " + c.Message
	}
	for _, k := range []string{"namespace/flux-secrets", "alpha/flux", "beta/flux", "namespace/externalsecret-copilot", "alpha/pod", "beta/pod"} {
		if !strings.HasPrefix(verdicts[k], "ok: ") {
			t.Errorf("ocw doctor %s = %q, want ok", k, verdicts[k])
		}
	}
	if st := n.must(n.ocw, "status", "-f", spec); strings.Count(st, " Ready ") != 2 {
		t.Errorf("ocw status does not show both workspaces Ready:\n%s", st)
	}
	n.exec("alpha", "echo kept > /workspace/repo-a/gitops-note.txt")
	t.Logf("step 1-3 (bootstrap to both workspaces answering) done %s after the controllers were up", time.Since(bootstrap).Round(time.Second))

	// 4. A new login in the store reaches the Secret; the restart Reloader
	// performs for an annotated Deployment whose Secret changed re-seeds it.
	// Reloader itself cannot be built here (docs/gitops.md): its restart is
	// the same rollout restart kubectl issues.
	for _, w := range []string{"alpha", "beta"} {
		if got := n.get(n.ns, "deploy/"+w, `{.metadata.annotations.reloader\.stakater\.com/auto}`); got != "true" {
			t.Fatalf("Deployment %s lacks reloader.stakater.com/auto: %q", w, got)
		}
	}
	writeStore(repo, authSecond)
	storeChange := time.Now()
	sha = n.push(repo, "store: a new Copilot login")
	took := n.eventually("Secret opencode-copilot-auth to carry the new login", 3*time.Minute, func() bool {
		return n.secretValue("opencode-copilot-auth", "auth.json") == authSecond
	})
	t.Logf("store commit to Secret updated: %s", took.Round(time.Second))
	n.kubectl("rollout", "restart", "-n", n.ns, "deploy/alpha", "deploy/beta")
	for _, w := range []string{"alpha", "beta"} {
		n.waitReady(w)
		if got := n.exec(w, "cat "+authPath); !strings.Contains(got, "gho_gitops_second") {
			t.Fatalf("%s: auth.json after the restart = %q, want the new login", w, got)
		}
	}
	t.Logf("store commit to new login in both pods: %s", time.Since(storeChange).Round(time.Second))
	// Flux leaves the restart alone: reconciling again changes no pod.
	uid := n.podUID("alpha")
	tok := n.requestReconcile(n.ns, "kustomization/alpha")
	n.eventually("Kustomization alpha to handle the reconcile request", 2*time.Minute, func() bool {
		return n.get(n.ns, "kustomization/alpha", "{.status.lastHandledReconcileAt}") == tok
	})
	if n.get(n.ns, "kustomization/alpha", readyPath) != "True" || n.podUID("alpha") != uid {
		t.Fatalf("reconciling Kustomization alpha after the restart: Ready=%s, pod %s -> %s",
			n.get(n.ns, "kustomization/alpha", readyPath), uid, n.podUID("alpha"))
	}

	// 5. Remove alpha from the spec: Flux prunes its workload, its PVC (and
	// the data on it) stays.
	pvcUID := n.get(n.ns, "pvc/alpha", "{.metadata.uid}")
	fetches := srv.Fetches()
	render("beta")
	if repo.exists("kubernetes/apps/" + n.ns + "/alpha") {
		t.Fatalf("ocw render left kubernetes/apps/%s/alpha behind", n.ns)
	}
	sha = n.push(repo, "ocw: remove workspace alpha")
	prune := time.Now()
	n.eventually("Flux to prune alpha's Kustomization, Deployment, Service, HTTPRoute and pod", 3*time.Minute, func() bool {
		for _, r := range []string{"kustomization/alpha", "deploy/alpha", "svc/alpha", "httproute/alpha", "replicationsource/alpha"} {
			if n.exists(n.ns, r) {
				return false
			}
		}
		return n.get(n.ns, "pods", "{.items[*].metadata.labels.ocw\\.dev/workspace}") == "beta"
	})
	t.Logf("alpha pruned %s after the commit was fetched", time.Since(prune).Round(time.Second))
	if got := n.get(n.ns, "pvc/alpha", "{.metadata.uid} {.status.phase}"); got != pvcUID+" Bound" {
		t.Fatalf("PVC alpha after the prune = %q, want %s Bound", got, pvcUID)
	}
	n.fluxReady(n.ns, "kustomization/beta", sha, 2*time.Minute)

	// 6. Add it back: it starts on its old data, without fetching.
	render("alpha", "beta")
	sha = n.push(repo, "ocw: add workspace alpha back")
	n.fluxReady(n.ns, "kustomization/alpha", sha, 5*time.Minute)
	n.waitReady("alpha")
	if got := n.get(n.ns, "pvc/alpha", "{.metadata.uid}"); got != pvcUID {
		t.Fatalf("PVC alpha was replaced (%s -> %s)", pvcUID, got)
	}
	if got := n.exec("alpha", "cat /workspace/repo-a/gitops-note.txt"); strings.TrimSpace(got) != "kept" {
		t.Fatalf("uncommitted file after re-adding alpha: %q", got)
	}
	if got := n.initMessage("alpha", "clone"); !strings.Contains(got, "already") {
		t.Fatalf("clone after re-adding alpha: %q, want already cloned", got)
	}
	if srv.Fetches() != fetches {
		t.Fatalf("re-adding alpha fetched from the git server (%d -> %d)", fetches, srv.Fetches())
	}
	if got := n.exec("alpha", "cat "+authPath); !strings.Contains(got, "gho_gitops_second") {
		t.Fatalf("auth.json after re-adding alpha = %q", got)
	}
	base, stop := n.forward("alpha")
	if _, body := httpDo(t, "GET", base+"/session", storePassword, ""); !strings.Contains(body, session) {
		t.Fatalf("session %s lost after re-adding alpha: %.300s", session, body)
	}
	stop()

	// 7. Backups through the component (copy method Direct) with the real
	// VolSync, and a restore while Flux runs.
	n.componentBackupRestore(spec)
	t.Logf("scenario done in %s (controllers included)", time.Since(start).Round(time.Second))
}
