package boottest

import (
	"context"
	"crypto/rand"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencode-workspaces/ocw/internal/boot"
	"github.com/opencode-workspaces/ocw/test/boot/gitserver"
)

const gitUser = "x-access-token"

// cloneEnv is a git server with one private repository and a sandbox whose
// clone step points at it, with a valid token in the git Secret.
type cloneEnv struct {
	*sandbox
	srv  *gitserver.Server
	head string // HEAD commit of the served repository
	pat  string
}

func newCloneEnv(t testing.TB, o specOpts, fill func(t testing.TB, work string, i int), commits int) *cloneEnv {
	t.Helper()
	sb := newSandbox(t, bootContainers(t, o))
	pat := "ghp_" + randomHex(18)
	srv := gitserver.New(t, filepath.Join(t.TempDir(), "srv"), gitUser, pat)
	if fill == nil {
		fill = smallRepo
	}
	head := srv.CreateRepo(t, "myrepo", commits, fill)
	sb.urls[upstreamRepo] = srv.RepoURL("myrepo")
	sb.urls[upstreamHost] = srv.URL
	e := &cloneEnv{sandbox: sb, srv: srv, head: head, pat: pat}
	e.setToken(pat)
	return e
}

func smallRepo(t testing.TB, work string, i int) {
	writeFile(t, filepath.Join(work, "README.md"), "# myrepo\nrevision "+string(rune('a'+i%26))+"\n")
	writeFile(t, filepath.Join(work, "src", "main.go"), "package main\n\nfunc main() {}\n// "+randomHex(4)+"\n")
}

func writeFile(t testing.TB, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// tokenFile is the host path of the token file the clone step reads.
func (e *cloneEnv) tokenFile() string {
	return e.hostPath(e.pod.clone, envOf(e.pod.clone, boot.EnvGitTokenFile))
}

func (e *cloneEnv) setToken(tok string) { writeAtomic(e.t, e.tokenFile(), []byte(tok+"\n")) }

func (e *cloneEnv) repoDir() string {
	return e.hostPath(e.pod.clone, envOf(e.pod.clone, boot.EnvRepoDir))
}

func (e *cloneEnv) stateDir() string {
	return e.hostPath(e.pod.clone, envOf(e.pod.clone, boot.EnvStateDir))
}

func (e *cloneEnv) status() cloneStatus {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.stateDir(), "clone-status"))
	if err != nil {
		e.t.Fatalf("status file: %v", err)
	}
	st, err := parseStatus(b)
	if err != nil {
		e.t.Fatalf("status file %q: %v", b, err)
	}
	return st
}

// expect checks exit status, status file and termination message agree on
// result code want, and returns the message.
func (e *cloneEnv) expect(r result, want string) string {
	e.t.Helper()
	okCode := want == boot.ResultCloned || want == boot.ResultPresent
	if (r.code == 0) != okCode {
		e.t.Fatalf("want %s, got %s", want, r)
	}
	st := e.status()
	if st.Result != want {
		e.t.Fatalf("status result %q, want %q\n%s", st.Result, want, r)
	}
	if time.Since(st.Time) > time.Minute || st.Time.Location() != time.UTC {
		e.t.Errorf("status time %v is not a recent UTC time", st.Time)
	}
	code, msg := boot.ParseTerminationMessage(r.termination)
	if code != want || msg != st.Message || strings.Count(r.termination, "\n") != 1 {
		e.t.Errorf("termination message %q does not match status %+v", r.termination, st)
	}
	e.noTempDirs()
	return st.Message
}

func (e *cloneEnv) noTempDirs() {
	e.t.Helper()
	m, _ := filepath.Glob(filepath.Join(e.stateDir(), "clone.*"))
	if len(m) > 0 {
		e.t.Errorf("temp clone dirs left behind: %v", m)
	}
}

// checkRepo asserts the workspace holds a complete, clean clone at head with
// a credential-free origin.
func (e *cloneEnv) checkRepo(head string) {
	e.t.Helper()
	dir := e.repoDir()
	gitserver.Git(e.t, dir, "fsck", "--full", "--no-progress")
	if got := gitserver.Git(e.t, dir, "rev-parse", "HEAD"); got != head {
		e.t.Errorf("HEAD %s, want %s", got, head)
	}
	if st := gitserver.Git(e.t, dir, "-c", "core.fsmonitor=false", "status", "--porcelain"); st != "" {
		e.t.Errorf("fresh clone is not clean:\n%s", st)
	}
	if got := gitserver.Git(e.t, dir, "config", "--get", "remote.origin.url"); got != e.srv.RepoURL("myrepo") {
		e.t.Errorf("origin %q, want the clean URL %q", got, e.srv.RepoURL("myrepo"))
	}
}

// mainGit runs git in the workspace with the main container's env (the
// credential helper), as a user in the OpenCode terminal would.
func (e *cloneEnv) mainGit(args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = e.repoDir()
	cmd.Env = append(e.env(e.pod.main, "/usr/bin:/bin"), "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestCloneFirstBootRestartAndNoLeaks(t *testing.T) {
	e := newCloneEnv(t, specOpts{}, nil, 3)

	scan := scanProcs(e.pat)
	r := e.run(e.pod.clone)
	hits := scan.finish()
	msg := e.expect(r, boot.ResultCloned)
	t.Logf("first boot: %v, %d /proc samples, %d processes seen; %s", r.took, scan.samples, len(scan.seen), msg)
	e.checkRepo(e.head)
	if len(hits) > 0 {
		t.Errorf("token in a process command line: %q", hits)
	}
	if scan.samples < 5 {
		t.Errorf("only %d /proc samples during the clone", scan.samples)
	}
	if e.srv.Fetches() == 0 {
		t.Fatal("the server saw no fetch")
	}

	// Restart: no network, nothing written in the repo.
	before := treeDigest(t, e.repoDir())
	e.srv.ResetCounters()
	r = e.run(e.pod.clone)
	e.expect(r, boot.ResultPresent)
	if n := e.srv.Requests(); n != 0 {
		t.Errorf("restart made %d requests to the git server", n)
	}
	if treeDigest(t, e.repoDir()) != before {
		t.Error("restart changed the repository")
	}

	// Terminal git pull in the workspace works through the helper, and a
	// rotated token takes effect without a restart.
	work := t.TempDir()
	gitserver.Git(t, work, "clone", "-q", filepath.Join(e.srv.Root, "myrepo.git"), "w")
	writeFile(t, filepath.Join(work, "w", "NEW"), "new\n")
	gitserver.Git(t, filepath.Join(work, "w"), "add", "NEW")
	gitserver.Git(t, filepath.Join(work, "w"), "commit", "-q", "-m", "new")
	gitserver.Git(t, filepath.Join(work, "w"), "push", "-q", "origin", "HEAD:main")
	newHead := gitserver.Git(t, filepath.Join(work, "w"), "rev-parse", "HEAD")
	rotated := "ghp_" + randomHex(18)
	e.srv.SetPassword(rotated)
	if out, err := e.mainGit("pull", "-q", "--ff-only"); err == nil {
		t.Errorf("pull with the old token after rotation succeeded: %s", out)
	}
	e.setToken(rotated)
	if out, err := e.mainGit("pull", "-q", "--ff-only"); err != nil {
		t.Fatalf("pull with the rotated token: %v\n%s", err, out)
	}
	if got := gitserver.Git(t, e.repoDir(), "rev-parse", "HEAD"); got != newHead {
		t.Errorf("after pull HEAD %s, want %s", got, newHead)
	}

	for _, tok := range []string{e.pat, rotated} {
		if f := grepTree(t, e.root, tok); len(f) > 1 || (len(f) == 1 && f[0] != e.tokenFile()) {
			t.Errorf("token found outside the Secret: %v", f)
		}
		for _, s := range []string{r.stdout, r.stderr, r.termination} {
			if strings.Contains(s, tok) {
				t.Errorf("token in output %q", s)
			}
		}
	}
}

func TestCloneUncommittedChangesSurviveReboots(t *testing.T) {
	e := newCloneEnv(t, specOpts{}, nil, 2)
	e.expect(e.run(e.pod.clone), boot.ResultCloned)
	dir := e.repoDir()
	writeFile(t, filepath.Join(dir, "README.md"), "edited by the user, not committed\n")
	writeFile(t, filepath.Join(dir, "notes.txt"), "untracked\n")
	writeFile(t, filepath.Join(dir, "src", "staged.go"), "package main\n")
	gitserver.Git(t, dir, "add", "src/staged.go")
	wantStatus := gitserver.Git(t, dir, "status", "--porcelain")
	before := treeDigest(t, dir)
	e.srv.ResetCounters()
	for i := range 10 {
		r := e.run(e.pod.clone)
		e.expect(r, boot.ResultPresent)
		if got := treeDigest(t, dir); got != before {
			t.Fatalf("reboot %d changed the work tree or .git", i+1)
		}
	}
	if n := e.srv.Requests(); n != 0 {
		t.Errorf("reboots made %d requests", n)
	}
	cmd := exec.Command("git", "status", "--porcelain")
	cmd.Dir, cmd.Env = dir, append(os.Environ(), append(gitserver.GitEnv(), "GIT_OPTIONAL_LOCKS=0")...)
	if out, err := cmd.Output(); err != nil || strings.TrimSpace(string(out)) != wantStatus {
		t.Errorf("git status after reboots %q (%v), want %q", out, err, wantStatus)
	}
}

// bulkyRepo carries ~300 KB per commit of incompressible data so a throttled clone
// lasts long enough to be killed anywhere.
func bulkyRepo(t testing.TB, work string, i int) {
	b := make([]byte, 300<<10)
	_, _ = rand.Read(b)
	if err := os.WriteFile(filepath.Join(work, "blob"+string(rune('0'+i))+".bin"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	smallRepo(t, work, i)
}

func TestCloneSIGKILLAtRandomPoints(t *testing.T) {
	t.Parallel()
	e := newCloneEnv(t, specOpts{}, bulkyRepo, 2)
	const rate = 1 << 20
	e.srv.Throttle(rate)
	r := e.run(e.pod.clone)
	e.expect(r, boot.ResultCloned)
	full := r.took
	t.Logf("throttled clone takes %v", full)
	midClone := 0
	for i := range 20 {
		if err := os.RemoveAll(e.repoDir()); err != nil {
			t.Fatal(err)
		}
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(full+full/5)))
		delay := time.Duration(n.Int64())
		e.srv.Throttle(rate)
		cmd, out, errb := e.start(context.Background(), e.pod.clone)
		time.Sleep(delay)
		e.killAll()
		kr := e.finish(e.pod.clone, cmd, out, errb, time.Now())
		_, err := os.Stat(e.repoDir())
		partial, _ := filepath.Glob(filepath.Join(e.stateDir(), "clone.*"))
		if len(partial) > 0 {
			midClone++
		}
		t.Logf("kill %2d after %v: exit %d, repo present: %v, partial temp clone left: %v",
			i+1, delay.Round(time.Millisecond), kr.code, err == nil, len(partial) > 0)

		e.srv.Throttle(0)
		r := e.run(e.pod.clone)
		if r.code != 0 {
			t.Fatalf("boot after kill %d failed: %s", i+1, r)
		}
		st := e.status()
		if st.Result != boot.ResultCloned && st.Result != boot.ResultPresent {
			t.Fatalf("boot after kill %d: %+v", i+1, st)
		}
		e.noTempDirs()
		e.checkRepo(e.head)
	}
	if midClone < 5 {
		t.Errorf("only %d of 20 kills landed mid-clone", midClone)
	}
}

func TestCloneSIGTERMCleansUp(t *testing.T) {
	t.Parallel()
	e := newCloneEnv(t, specOpts{}, bulkyRepo, 3)
	e.srv.Throttle(256 << 10)
	cmd, out, errb := e.start(context.Background(), e.pod.clone)
	time.Sleep(700 * time.Millisecond)
	sent := time.Now()
	// The kubelet signals the container's first process only.
	_ = cmd.Process.Signal(syscall.SIGTERM)
	r := e.finish(e.pod.clone, cmd, out, errb, sent)
	// The script's SIGTERM path, not the clone running to its end: exit
	// 143 and an "interrupted by SIGTERM" outcome (a script that ignored
	// the signal would report the finished clone).
	if r.code != 143 {
		t.Errorf("exit %d after SIGTERM, want 143 from the script's signal path", r.code)
	}
	msg := e.expect(r, boot.ResultFailed)
	if !strings.Contains(msg, "SIGTERM") {
		t.Errorf("message %q does not mention SIGTERM", msg)
	}
	if _, err := os.Stat(e.repoDir()); !os.IsNotExist(err) {
		t.Errorf("repo dir exists after an interrupted clone: %v", err)
	}
	if left := e.procs(); len(left) > 0 {
		t.Errorf("processes of the interrupted clone still running: %v", left)
	}
	e.srv.Throttle(0)
	e.expect(e.run(e.pod.clone), boot.ResultCloned)
	e.checkRepo(e.head)
}

func TestCloneFailuresAndEdgeCases(t *testing.T) {
	t.Run("wrong token", func(t *testing.T) {
		t.Parallel()
		e := newCloneEnv(t, specOpts{}, nil, 1)
		bad := "ghp_" + randomHex(18)
		e.setToken(bad)
		scan := scanProcs(bad)
		r := e.run(e.pod.clone)
		hits := scan.finish()
		msg := e.expect(r, boot.ResultAuthFailed)
		want := "authentication failed for " + e.srv.RepoURL("myrepo") + ": check " + envOf(e.pod.clone, boot.EnvGitSecretHint)
		if msg != want {
			t.Errorf("message %q, want %q", msg, want)
		}
		// Not retried: git's first unauthenticated request and the one
		// with the token, nothing more (a retry would double it).
		if n := e.srv.Requests(); n > 2 {
			t.Errorf("auth failure made %d requests to the git server: was it retried?", n)
		}
		if len(hits) > 0 {
			t.Errorf("token in argv: %q", hits)
		}
		for _, s := range []string{r.stdout, r.stderr, r.termination} {
			if strings.Contains(s, bad) {
				t.Errorf("token in output %q", s)
			}
		}
		if f := grepTree(t, e.root, bad); len(f) != 1 {
			t.Errorf("token files: %v", f)
		}
	})
	t.Run("no token, private repo", func(t *testing.T) {
		t.Parallel()
		e := newCloneEnv(t, specOpts{}, nil, 1)
		if err := os.Remove(e.tokenFile()); err != nil {
			t.Fatal(err)
		}
		msg := e.expect(e.run(e.pod.clone), boot.ResultAuthFailed)
		if !strings.HasPrefix(msg, "authentication failed for "+e.srv.RepoURL("myrepo")+": check ") || !strings.Contains(msg, "missing or empty") {
			t.Errorf("message %q", msg)
		}
	})
	t.Run("no token, public repo", func(t *testing.T) {
		t.Parallel()
		e := newCloneEnv(t, specOpts{}, nil, 1)
		if err := os.Remove(e.tokenFile()); err != nil {
			t.Fatal(err)
		}
		e.srv.SetPublic("myrepo", true)
		e.expect(e.run(e.pod.clone), boot.ResultCloned)
		e.checkRepo(e.head)
	})
	t.Run("not found", func(t *testing.T) {
		t.Parallel()
		e := newCloneEnv(t, specOpts{}, nil, 1)
		e.urls[upstreamRepo] = e.srv.RepoURL("nope")
		msg := e.expect(e.run(e.pod.clone), boot.ResultNotFound)
		if !strings.Contains(msg, e.srv.RepoURL("nope")) {
			t.Errorf("message %q lacks the URL", msg)
		}
	})
	t.Run("transient 500 is retried", func(t *testing.T) {
		t.Parallel()
		e := newCloneEnv(t, specOpts{}, nil, 1)
		e.srv.FailNext(1, 500)
		r := e.run(e.pod.clone)
		e.expect(r, boot.ResultCloned)
		e.checkRepo(e.head)
		if r.took < 2*time.Second || !strings.Contains(r.stderr, "retrying") {
			t.Errorf("no backoff visible (%v): %s", r.took, r.stderr)
		}
	})
	t.Run("server down", func(t *testing.T) {
		t.Parallel()
		e := newCloneEnv(t, specOpts{}, nil, 1)
		e.srv.Close()
		c := withEnv(e.pod.clone, boot.EnvCloneAttempts, "2")
		r := e.run(c)
		msg := e.expect(r, boot.ResultNetwork)
		if !strings.Contains(msg, "after 2 attempts") {
			t.Errorf("message %q", msg)
		}
	})
	t.Run("stalled server", func(t *testing.T) {
		t.Parallel()
		e := newCloneEnv(t, specOpts{}, nil, 1)
		e.srv.Hang(true)
		c := withEnv(withEnv(e.pod.clone, boot.EnvCloneAttempts, "1"), "GIT_HTTP_LOW_SPEED_TIME", "2")
		r := e.run(c)
		msg := e.expect(r, boot.ResultNetwork)
		// git's low-speed limit ended it (without it git would wait for
		// the server for ever, and run's guard would fail the test).
		if !strings.Contains(msg, "too slow") {
			t.Errorf("message %q does not come from git's low-speed limit", msg)
		}
	})
	t.Run("not a repo", func(t *testing.T) {
		t.Parallel()
		e := newCloneEnv(t, specOpts{}, nil, 1)
		writeFile(t, filepath.Join(e.repoDir(), "precious.txt"), "user data\n")
		before := treeDigest(t, e.repoDir())
		msg := e.expect(e.run(e.pod.clone), boot.ResultNotARepo)
		if !strings.Contains(msg, "not a git repository") || !strings.Contains(msg, "nothing was changed") {
			t.Errorf("message %q", msg)
		}
		if treeDigest(t, e.repoDir()) != before || e.srv.Requests() != 0 {
			t.Error("not-a-repo touched the directory or the network")
		}
	})
	t.Run("empty dir is cloned into", func(t *testing.T) {
		t.Parallel()
		e := newCloneEnv(t, specOpts{}, nil, 1)
		if err := os.MkdirAll(e.repoDir(), 0o755); err != nil {
			t.Fatal(err)
		}
		e.expect(e.run(e.pod.clone), boot.ResultCloned)
		e.checkRepo(e.head)
	})
	t.Run("origin mismatch", func(t *testing.T) {
		t.Parallel()
		e := newCloneEnv(t, specOpts{}, nil, 1)
		e.srv.CreateRepo(t, "other", 1, smallRepo)
		gitserver.Git(t, t.TempDir(), "clone", "-q", filepath.Join(e.srv.Root, "other.git"), e.repoDir())
		gitserver.Git(t, e.repoDir(), "remote", "set-url", "origin", e.srv.RepoURL("other"))
		before := treeDigest(t, e.repoDir())
		msg := e.expect(e.run(e.pod.clone), boot.ResultOriginMismatch)
		if !strings.Contains(msg, e.srv.RepoURL("other")) || !strings.Contains(msg, e.srv.RepoURL("myrepo")) {
			t.Errorf("message %q lacks both URLs", msg)
		}
		if treeDigest(t, e.repoDir()) != before || e.srv.Requests() != 0 {
			t.Error("origin mismatch touched the directory or the network")
		}
	})
	t.Run("origin spelled differently", func(t *testing.T) {
		t.Parallel()
		e := newCloneEnv(t, specOpts{}, nil, 1)
		e.expect(e.run(e.pod.clone), boot.ResultCloned)
		for _, u := range []string{strings.TrimSuffix(e.srv.RepoURL("myrepo"), ".git"), e.srv.RepoURL("myrepo") + "/"} {
			gitserver.Git(t, e.repoDir(), "remote", "set-url", "origin", u)
			e.expect(e.run(e.pod.clone), boot.ResultPresent)
		}
	})
	t.Run("legacy token in origin is removed", func(t *testing.T) {
		t.Parallel()
		e := newCloneEnv(t, specOpts{}, nil, 1)
		e.expect(e.run(e.pod.clone), boot.ResultCloned)
		withTok := strings.Replace(e.srv.RepoURL("myrepo"), "http://", "http://"+e.pat+"@", 1)
		gitserver.Git(t, e.repoDir(), "remote", "set-url", "origin", withTok)
		scan := scanProcs(e.pat)
		r := e.run(e.pod.clone)
		if hits := scan.finish(); len(hits) > 0 {
			t.Errorf("token in argv: %q", hits)
		}
		e.expect(r, boot.ResultPresent)
		if f := grepTree(t, e.repoDir(), e.pat); len(f) > 0 {
			t.Errorf("token still in %v", f)
		}
		e.checkRepo(e.head)
		if strings.Contains(r.stdout+r.stderr+r.termination, e.pat) {
			t.Error("token in output")
		}
	})
	t.Run("legacy credentials in every remote URL are removed", func(t *testing.T) {
		t.Parallel()
		e := newCloneEnv(t, specOpts{}, nil, 1)
		e.expect(e.run(e.pod.clone), boot.ResultCloned)
		clean := e.srv.RepoURL("myrepo")
		// A password holding "@": the userinfo ends at the last "@".
		secretA, secretB := "pa"+randomHex(6), "ss"+randomHex(6)
		withCreds := func(userinfo string) string { return strings.Replace(clean, "http://", "http://"+userinfo+"@", 1) }
		gitserver.Git(t, e.repoDir(), "remote", "set-url", "origin", withCreds("user:"+secretA+"@"+secretB))
		gitserver.Git(t, e.repoDir(), "config", "--add", "remote.origin.pushurl", withCreds(e.pat))
		gitserver.Git(t, e.repoDir(), "config", "--add", "remote.origin.pushurl", clean+"-mirror")
		gitserver.Git(t, e.repoDir(), "remote", "add", "fork", withCreds("x-access-token:"+e.pat))
		scan := scanProcs(e.pat)
		r := e.run(e.pod.clone)
		if hits := scan.finish(); len(hits) > 0 {
			t.Errorf("token in argv: %q", hits)
		}
		msg := e.expect(r, boot.ResultPresent)
		if !strings.Contains(msg, "removed credentials embedded in 3 remote URL(s)") {
			t.Errorf("message %q", msg)
		}
		for _, secret := range []string{secretA, secretB, e.pat} {
			if f := grepTree(t, e.repoDir(), secret); len(f) > 0 {
				t.Errorf("credential %s still in %v", secret[:4], f)
			}
			if strings.Contains(r.stdout+r.stderr+r.termination, secret) {
				t.Error("credential in output")
			}
		}
		e.checkRepo(e.head)
		if got := gitserver.Git(t, e.repoDir(), "config", "--get-all", "remote.origin.pushurl"); got != clean+"\n"+clean+"-mirror" {
			t.Errorf("push URLs %q, want both kept, clean, in order", got)
		}
		if got := gitserver.Git(t, e.repoDir(), "config", "--get", "remote.fork.url"); got != clean {
			t.Errorf("fork URL %q, want %q", got, clean)
		}
	})
	t.Run("corrupt .git/config", func(t *testing.T) {
		t.Parallel()
		e := newCloneEnv(t, specOpts{}, nil, 1)
		e.expect(e.run(e.pod.clone), boot.ResultCloned)
		cfg := filepath.Join(e.repoDir(), ".git", "config")
		writeFile(t, cfg, "[remote \"origin\"\n\turl = "+e.srv.RepoURL("myrepo")+"\n[[broken\n")
		before := treeDigest(t, e.repoDir())
		e.srv.ResetCounters()
		msg := e.expect(e.run(e.pod.clone), boot.ResultNotARepo)
		if !strings.Contains(msg, ".git/config cannot be read") || strings.Contains(msg, "git remote add") {
			t.Errorf("message %q", msg)
		}
		if treeDigest(t, e.repoDir()) != before || e.srv.Requests() != 0 {
			t.Error("a corrupt config made the clone step touch the directory or the network")
		}
	})
	t.Run("branch", func(t *testing.T) {
		t.Parallel()
		e := newCloneEnv(t, specOpts{branch: "dev"}, nil, 1)
		work := t.TempDir()
		gitserver.Git(t, work, "clone", "-q", filepath.Join(e.srv.Root, "myrepo.git"), "w")
		w := filepath.Join(work, "w")
		gitserver.Git(t, w, "checkout", "-q", "-b", "dev")
		writeFile(t, filepath.Join(w, "dev.txt"), "dev\n")
		gitserver.Git(t, w, "add", "dev.txt")
		gitserver.Git(t, w, "commit", "-q", "-m", "dev")
		gitserver.Git(t, w, "push", "-q", "origin", "dev")
		devHead := gitserver.Git(t, w, "rev-parse", "HEAD")
		e.expect(e.run(e.pod.clone), boot.ResultCloned)
		e.checkRepo(devHead)
	})
	t.Run("missing branch", func(t *testing.T) {
		t.Parallel()
		e := newCloneEnv(t, specOpts{branch: "nope"}, nil, 1)
		msg := e.expect(e.run(e.pod.clone), boot.ResultFailed)
		if !strings.Contains(msg, "branch nope") {
			t.Errorf("message %q", msg)
		}
	})
	t.Run("partial clone", func(t *testing.T) {
		t.Parallel()
		e := newCloneEnv(t, specOpts{filter: "blob:none"}, nil, 3)
		e.expect(e.run(e.pod.clone), boot.ResultCloned)
		e.checkRepo(e.head)
		if got := gitserver.Git(t, e.repoDir(), "config", "--get", "remote.origin.partialclonefilter"); got != "blob:none" {
			t.Errorf("partialclonefilter %q", got)
		}
		// An old blob is fetched on demand with the main container's helper.
		if out, err := e.mainGit("show", "HEAD~2:README.md"); err != nil || !strings.Contains(out, "revision a") {
			t.Errorf("lazy fetch: %v\n%s", err, out)
		}
	})
}
