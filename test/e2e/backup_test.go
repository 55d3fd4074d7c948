//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencode-workspaces/ocw/test/boot/gitserver"
)

const backupSC = "ocw-e2e-backup"

// TestBackupRestore runs the backup round trip with the real VolSync
// manager, its restic mover and a restic REST server: a workspace with an
// uncommitted file, a session and a login is backed up while OpenCode
// serves and writes, its PVC is deleted, ocw restore brings it back; a
// file deleted after the first backup stays deleted, and --as-of the first
// backup brings it back. Each backup's session database is checked with
// SQLite's integrity check straight from the repository.
//
// OCW_E2E_BACKUP_MB=200 adds that many MB of random data to the repository
// folder (the figures in docs/testing.md); OCW_E2E_BACKUP_ROUNDS (default 2)
// is how many backups are taken under write load and checked.
func TestBackupRestore(t *testing.T) {
	n := nodeFor(t, "ocw-e2e-backup")
	t.Cleanup(func() {
		if t.Failed() {
			n.diagnose()
			n.logAll([]string{"get", "replicationsources,replicationdestinations,jobs,pvc", "-n", n.ns, "-o", "yaml"})
			n.logTail("volsync", 60)
			n.logTail("rest-server", 20)
		}
	})
	start := time.Now()
	dir := t.TempDir()
	up, err := n.stdout(filepath.Join(n.repo, "hack/e2e/volsync-up.sh"), n.work)
	if err != nil {
		t.Fatalf("hack/e2e/volsync-up.sh: %v", err)
	}
	rest := readCreds(t, lineValue(up, "REST_CREDENTIALS"))
	resticBin := filepath.Join(strings.TrimSpace(n.must(filepath.Join(n.repo, "hack/e2e/volsync.sh"))), "restic")
	n.freshVolumes(backupSC, 10)
	gwDir := strings.TrimSpace(n.must("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api"))
	n.kubectl("apply", "--server-side", "-f", filepath.Join(gwDir, "config/crd/standard"))
	t.Logf("VolSync, REST server and volumes ready in %s", time.Since(start).Round(time.Second))

	pat := "ghp_backupE2Etoken0123456789"
	srv := gitserver.New(t, filepath.Join(dir, "srv"), gitUser, pat)
	srv.CreateRepo(t, "repo-a", 2, smallRepo)
	gw := gatewayProxy(t, n.gateway, strings.TrimPrefix(srv.URL, "http://"))
	spec := filepath.Join(dir, "workspaces.yaml")
	specText := specHeader(n.ns, backupSC, "  backup: {mode: inline, copyMethod: Direct, cacheCapacity: 1Gi, retain: {within: 1d}}\n") +
		fmt.Sprintf("  - name: alpha\n    repo: %s/repo-a.git\n", gw)
	if err := os.WriteFile(spec, []byte(specText), 0o644); err != nil {
		t.Fatal(err)
	}
	n.must(n.ocw, "apply", "-f", spec)
	// The repository Secret, as a home-ops ExternalSecret would make it;
	// through stdin, never argv.
	repoURL := fmt.Sprintf("rest:http://%s:%s@%s/alpha", rest["USER"], rest["PASSWORD"], strings.TrimPrefix(rest["URL"], "http://"))
	resticPassword := randomHex(t, 16)
	n.kubectlIn(fmt.Sprintf(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"alpha-volsync-secret","namespace":%q},
"stringData":{"RESTIC_REPOSITORY":%q,"RESTIC_PASSWORD":%q}}`, n.ns, repoURL, resticPassword), "apply", "-f", "-")
	if out, err := n.run("", []string{"E2E_PAT=" + pat}, n.ocw, "secrets", "git-token", "-f", spec, "--from-env", "E2E_PAT"); err != nil {
		t.Fatalf("ocw secrets git-token: %v\n%s", err, out)
	}
	n.must(n.ocw, "secrets", "password", "-f", spec)
	password := strings.TrimSpace(n.must(n.ocw, "secrets", "password", "-f", spec, "--show"))
	authFile := filepath.Join(dir, "auth.json")
	if err := os.WriteFile(authFile, []byte(`{"github-copilot":{"type":"oauth","refresh":"gho_backup","access":"gho_backup","expires":0}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	n.must(n.ocw, "auth", "seed", "-f", spec, "--from", authFile)
	n.must(n.ocw, "apply", "-f", spec, "--wait", "--timeout", "8m")

	// The data: an uncommitted file, a file that will be deleted, a session.
	uncommitted := "uncommitted " + randomHex(t, 8) + "\n"
	n.exec("alpha", fmt.Sprintf("printf %%s '%s' > /workspace/repo-a/notes.txt && echo early > /workspace/repo-a/deleted-later.txt", uncommitted))
	if mb, _ := strconv.Atoi(os.Getenv("OCW_E2E_BACKUP_MB")); mb > 0 {
		n.exec("alpha", fmt.Sprintf("dd if=/dev/urandom of=/workspace/repo-a/big.bin bs=1048576 count=%d 2>/dev/null", mb))
		t.Logf("added %d MB of random data to the repository folder", mb)
	}
	base, stopFwd := n.forward("alpha")
	code, body := httpDo(t, "POST", base+"/session", password, "{}")
	var sess struct{ ID string }
	json.Unmarshal([]byte(body), &sess)
	sessID := sess.ID
	if code != 200 || sessID == "" {
		t.Fatalf("POST /session: %d %.300s", code, body)
	}

	// Backups while OpenCode serves and writes its database: each one's
	// database, read back from the repository, must pass integrity_check.
	rounds := 2
	if r, _ := strconv.Atoi(os.Getenv("OCW_E2E_BACKUP_ROUNDS")); r > 0 {
		rounds = r
	}
	resticEnv := []string{"RESTIC_REPOSITORY=" + repoURL, "RESTIC_PASSWORD=" + resticPassword, "RESTIC_CACHE_DIR=" + filepath.Join(dir, "restic-cache")}
	var first backupLine
	for i := 0; i < rounds; i++ {
		if i == rounds-1 {
			// The last backup: after deleted-later.txt is gone.
			n.exec("alpha", "rm /workspace/repo-a/deleted-later.txt")
		}
		stopLoad := writeLoad(base, password)
		b := n.backup(spec)
		writes := stopLoad()
		t.Logf("backup %d: snapshot %s at %s in %s, %d sessions written meanwhile", i+1, b.id, b.at.Format(time.RFC3339), b.took, writes)
		if i == 0 {
			first = b
		}
		n.checkSnapshotDB(resticBin, resticEnv, b.id, sessID)
		time.Sleep(time.Second) // distinct snapshot times for --as-of
	}
	stopFwd()
	if size, err := dirSize(filepath.Join(n.work, "var/volsync/repos/alpha")); err == nil {
		t.Logf("restic repository after %d backups: %.1f MB", rounds, float64(size)/1e6)
	}
	if ok, _ := n.run("", nil, filepath.Join(n.bin, "kubectl"), "get", "replicationsource", "-n", n.ns, "alpha", "-o", "jsonpath={.spec.trigger.manual}"); strings.TrimSpace(ok) != "" {
		t.Fatalf("ocw backup left the manual trigger %q: the schedule would never run again", ok)
	}

	// Data loss: the PVC is deleted (the workspace keeps running until
	// ocw restore stops it, so the PVC is stuck terminating).
	oldPV := n.kubectl("get", "pvc", "-n", n.ns, "alpha", "-o", "jsonpath={.spec.volumeName}")
	n.kubectl("delete", "pvc", "-n", n.ns, "alpha", "--wait=false")
	began := time.Now()
	out := n.must(n.ocw, "restore", "alpha", "-f", spec)
	t.Logf("ocw restore in %s:\n%s", time.Since(began).Round(time.Second), out)
	if newPV := n.kubectl("get", "pvc", "-n", n.ns, "alpha", "-o", "jsonpath={.spec.volumeName}"); newPV == oldPV || newPV == "" {
		t.Fatalf("restored PVC on volume %q, want a new one (was %q)", newPV, oldPV)
	}
	n.waitReady("alpha")
	if got := n.exec("alpha", "cat /workspace/repo-a/notes.txt"); got != uncommitted {
		t.Fatalf("uncommitted file after restore: %q, want %q", got, uncommitted)
	}
	if got := n.exec("alpha", "ls /workspace/repo-a"); strings.Contains(got, "deleted-later.txt") {
		t.Fatalf("a file deleted before the last backup came back: %s", got)
	}
	if got := n.exec("alpha", "cat "+authPath); !strings.Contains(got, "gho_backup") {
		t.Fatalf("auth.json after restore: %q", got)
	}
	n.checkServing("alpha", password, sessID)
	n.checkVolumeDB("alpha", sessID, "after the restore")
	if got := n.kubectl("get", "replicationsource", "-n", n.ns, "alpha", "-o", "jsonpath={.spec.paused}"); got != "" {
		t.Fatalf("ReplicationSource still paused after the restore: %q", got)
	}
	if got, _ := n.run("", nil, filepath.Join(n.bin, "kubectl"), "get", "replicationdestination", "-n", n.ns, "alpha-restore"); !strings.Contains(got, "NotFound") {
		t.Fatalf("the restore's ReplicationDestination is still there: %s", got)
	}

	// --as-of the first backup: the earlier state, deleted file included,
	// and nothing written since (file deletion on).
	n.exec("alpha", "echo later > /workspace/repo-a/after-restore.txt")
	if out, err := n.run("", resticEnv, resticBin, "snapshots"); err == nil {
		t.Logf("the repository's snapshots:\n%s", out)
	}
	began = time.Now()
	out = n.must(n.ocw, "restore", "alpha", "-f", spec, "--as-of", first.at.Format(time.RFC3339))
	t.Logf("ocw restore --as-of in %s:\n%s", time.Since(began).Round(time.Second), out)
	if !strings.Contains(out, first.id) {
		t.Fatalf("restore --as-of %s did not restore snapshot %s:\n%s", first.at.Format(time.RFC3339), first.id, out)
	}
	n.waitReady("alpha")
	if got := n.exec("alpha", "cat /workspace/repo-a/deleted-later.txt"); strings.TrimSpace(got) != "early" {
		t.Fatalf("deleted-later.txt after restore --as-of the first backup: %q", got)
	}
	if got := n.exec("alpha", "ls /workspace/repo-a"); strings.Contains(got, "after-restore.txt") {
		t.Fatalf("a file written after the snapshot survived the restore: %s", got)
	}
	n.checkServing("alpha", password, sessID)

	// A time before any backup: a clear error.
	out, err = n.run("", nil, n.ocw, "restore", "alpha", "-f", spec, "--as-of", "2001-01-01T00:00:00Z")
	if err == nil || !strings.Contains(out, "no backup to restore") {
		t.Fatalf("restore --as-of before every backup: err %v\n%s", err, out)
	}
	// Nothing was written, so the workspace is started again, as it was.
	n.waitReady("alpha")
	if got := n.exec("alpha", "cat /workspace/repo-a/deleted-later.txt"); strings.TrimSpace(got) != "early" {
		t.Fatalf("after a restore that found no backup: deleted-later.txt %q", got)
	}
	if got := n.kubectl("get", "ns", n.ns, "-o", `jsonpath={.metadata.labels.pod-security\.kubernetes\.io/enforce}`); got != "restricted" {
		t.Fatalf("namespace enforce label = %q, want restricted", got)
	}
	t.Logf("backup scenario done in %s", time.Since(start).Round(time.Second))
	n.kubectl("delete", "namespace", n.ns, "--wait=false")
}

type backupLine struct {
	id   string
	at   time.Time
	took string
}

// backup runs ocw backup and reads its stdout line.
func (n *node) backup(spec string) backupLine {
	n.t.Helper()
	cmd := n.command("", nil, n.ocw, "backup", "alpha", "-f", spec)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	out := string(b)
	if err != nil {
		n.t.Fatalf("ocw backup: %v\n%s", err, stderr.String())
	}
	// The session database is held consistent while the mover copies it.
	if !strings.Contains(stderr.String(), "holding a read transaction") {
		n.t.Fatalf("ocw backup did not hold the session database:\n%s", stderr.String())
	}
	f := strings.Split(strings.TrimSpace(out), "\t")
	if len(f) != 4 || !strings.HasPrefix(f[1], "snapshot ") || !strings.HasSuffix(f[1], " saved") {
		n.t.Fatalf("ocw backup printed %q, want WORKSPACE<tab>snapshot ID saved<tab>TIME<tab>DURATION", out)
	}
	at, err := time.Parse(time.RFC3339, f[2])
	if err != nil {
		n.t.Fatalf("ocw backup time %q: %v", f[2], err)
	}
	return backupLine{id: strings.TrimSuffix(strings.TrimPrefix(f[1], "snapshot "), " saved"), at: at, took: f[3]}
}

// checkSnapshotDB restores the session database of one snapshot from the
// repository with restic on the host and runs SQLite's integrity check.
func (n *node) checkSnapshotDB(restic string, env []string, id, sessID string) {
	n.t.Helper()
	dst := n.t.TempDir()
	if out, err := n.run("", env, restic, "restore", id, "--target", dst, "--include", "opencode.db*"); err != nil {
		n.t.Fatalf("restic restore %s: %v\n%s", id, err, out)
	}
	var db string
	filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "opencode.db" {
			db = p
		}
		return nil
	})
	if db == "" {
		n.t.Fatalf("snapshot %s holds no opencode.db", id)
	}
	if out := strings.TrimSpace(n.must("sqlite3", db, "PRAGMA integrity_check;")); out != "ok" {
		n.t.Errorf("snapshot %s: integrity_check of opencode.db: %s", id, out)
	}
	if out := n.must("sqlite3", db, "SELECT id FROM session;"); !strings.Contains(out, sessID) {
		n.t.Errorf("snapshot %s: session %s missing from opencode.db", id, sessID)
	}
}

// checkServing: OpenCode answers with the password, lists the session and
// the Copilot login's provider.
func (n *node) checkServing(name, password, sessID string) {
	n.t.Helper()
	base, stop := n.forward(name)
	defer stop()
	if code, _ := httpDo(n.t, "GET", base+"/global/health", password, ""); code != 200 {
		n.t.Fatalf("GET /global/health after restore: %d", code)
	}
	// By id: the write load's sessions push it off the list's first page.
	if code, body := httpDo(n.t, "GET", base+"/session/"+sessID, password, ""); code != 200 || !strings.Contains(body, sessID) {
		n.t.Fatalf("session %s after restore: %d %.300s", sessID, code, body)
	}
	if _, body := httpDo(n.t, "GET", base+"/config/providers", password, ""); !strings.Contains(body, "github-copilot") {
		n.t.Fatalf("/config/providers lacks github-copilot after restore: %.300s", body)
	}
}

// writeLoad creates sessions as fast as OpenCode takes them until the
// returned function is called; it returns how many were created.
func writeLoad(base, password string) func() int {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	count := 0
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if postSession(ctx, base, password) {
					mu.Lock()
					count++
					mu.Unlock()
				}
			}
		}()
	}
	return func() int { cancel(); wg.Wait(); return count }
}

// postSession creates one session; false on any failure (the load goes on).
func postSession(ctx context.Context, base, password string) bool {
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/session", strings.NewReader(`{"title":"load"}`))
	if err != nil {
		return false
	}
	req.SetBasicAuth(ocUser, password)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

// freshVolumes creates a StorageClass with k static local PVs in new
// folders: a deleted PVC's PV stays Released (reclaim policy Retain), so a
// re-created PVC binds to an empty volume, as after real data loss.
func (n *node) freshVolumes(sc string, k int) {
	n.t.Helper()
	root := filepath.Join(n.work, "var", "pv-"+sc)
	os.RemoveAll(root)
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: %s}\nprovisioner: kubernetes.io/no-provisioner\nvolumeBindingMode: WaitForFirstConsumer\nreclaimPolicy: Retain\n", sc)
	for i := 1; i <= k; i++ {
		p := filepath.Join(root, fmt.Sprintf("pv%d", i))
		if err := os.MkdirAll(p, 0o755); err != nil {
			n.t.Fatal(err)
		}
		fmt.Fprintf(&b, `---
apiVersion: v1
kind: PersistentVolume
metadata: {name: %s-pv%d}
spec:
  capacity: {storage: 20Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: %s
  local: {path: %s}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - {key: kubernetes.io/hostname, operator: In, values: [localhost]}
`, sc, i, sc, p)
	}
	n.kubectlIn(b.String(), "apply", "-f", "-")
}

func lineValue(out, key string) string {
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// readCreds reads a KEY=VALUE file.
func readCreds(t *testing.T, path string) map[string]string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("REST server credentials: %v", err)
	}
	defer f.Close()
	m := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), "="); ok {
			m[k] = v
		}
	}
	return m
}

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func dirSize(root string) (int64, error) {
	var total int64
	err := filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if info, err := d.Info(); err == nil && !d.IsDir() {
			total += info.Size()
		}
		return nil
	})
	return total, err
}

// componentBackupRestore is the GitOps scenario's backup step: alpha's
// ReplicationSource comes from the cluster repository's VolSync component
// (home-ops shape, VOLSYNC_COPYMETHOD Direct, ocw's patch for Pod Security
// restricted), Flux keeps reconciling. ocw backup, the PVC deleted, ocw
// restore: Flux's Kustomization is suspended during the restore and
// resumed after, and the workspace is back with its data.
func (n *node) componentBackupRestore(spec string) {
	n.t.Helper()
	up, err := n.stdout(filepath.Join(n.repo, "hack/e2e/volsync-up.sh"), n.work)
	if err != nil {
		n.t.Fatalf("hack/e2e/volsync-up.sh: %v", err)
	}
	rest := readCreds(n.t, lineValue(up, "REST_CREDENTIALS"))
	// The component reads Secret ${APP}-volsync-secret (an ExternalSecret
	// in home-ops); both workspaces back up, so both get one.
	for _, w := range []string{"alpha", "beta"} {
		url := fmt.Sprintf("rest:http://%s:%s@%s/gitops-%s", rest["USER"], rest["PASSWORD"], strings.TrimPrefix(rest["URL"], "http://"), w)
		n.kubectlIn(fmt.Sprintf(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"%s-volsync-secret","namespace":%q},
"stringData":{"RESTIC_REPOSITORY":%q,"RESTIC_PASSWORD":%q}}`, w, n.ns, url, randomHex(n.t, 16)), "apply", "-f", "-")
	}
	if got := n.kubectl("get", "replicationsource", "-n", n.ns, "alpha", "-o", "jsonpath={.spec.restic.copyMethod} {.spec.restic.moverSecurityContext.seccompProfile.type} {.spec.restic.moverSecurityContext.runAsNonRoot}"); got != "Direct RuntimeDefault true" {
		n.t.Fatalf("component's ReplicationSource alpha: %q, want Direct with ocw's restricted patch", got)
	}
	note := "component " + randomHex(n.t, 6) + "\n"
	n.exec("alpha", fmt.Sprintf("printf %%s '%s' > /workspace/repo-a/backup-note.txt", note))
	b := n.backup(spec)
	n.t.Logf("component backup: snapshot %s in %s", b.id, b.took)

	n.kubectl("delete", "pvc", "-n", n.ns, "alpha", "--wait=false")
	out := n.must(n.ocw, "restore", "alpha", "-f", spec)
	n.t.Logf("ocw restore under Flux:\n%s", out)
	if !strings.Contains(out, "suspended Flux Kustomization") || !strings.Contains(out, "resumed Flux Kustomization") {
		n.t.Fatalf("ocw restore did not suspend and resume Flux:\n%s", out)
	}
	n.waitReady("alpha")
	if got := n.exec("alpha", "cat /workspace/repo-a/backup-note.txt"); got != note {
		n.t.Fatalf("file after the restore under Flux: %q, want %q", got, note)
	}
	if got := n.kubectl("get", "kustomization", "-n", n.ns, "alpha", "-o", "jsonpath={.spec.suspend}"); got == "true" {
		n.t.Fatalf("Kustomization alpha left suspended")
	}
	// Flux reconciles the restored workspace without undoing anything.
	uid := n.podUID("alpha")
	tok := n.requestReconcile(n.ns, "kustomization/alpha")
	n.eventually("Kustomization alpha to handle the reconcile request", 2*time.Minute, func() bool {
		return n.get(n.ns, "kustomization/alpha", "{.status.lastHandledReconcileAt}") == tok
	})
	if n.get(n.ns, "kustomization/alpha", readyPath) != "True" || n.podUID("alpha") != uid {
		n.t.Fatalf("reconciling alpha after the restore: Ready=%s, pod %s -> %s", n.get(n.ns, "kustomization/alpha", readyPath), uid, n.podUID("alpha"))
	}
}
