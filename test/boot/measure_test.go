package boottest

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/opencode-workspaces/ocw/internal/boot"
)

// bootedEnv is a workspace already cloned and seeded: what every restart
// finds.
func bootedEnv(t testing.TB) (*cloneEnv, *authEnv) {
	e := newCloneEnv(t, specOpts{}, nil, 2)
	a := &authEnv{sandbox: e.sandbox}
	a.src = e.hostPath(e.pod.seedAuth, envOf(e.pod.seedAuth, boot.EnvAuthSource))
	a.dest = e.hostPath(e.pod.seedAuth, envOf(e.pod.seedAuth, boot.EnvAuthDest))
	writeAtomic(t, a.src, []byte(copilotJSON("gho_fake")))
	if r := e.run(e.pod.clone); r.code != 0 {
		t.Fatalf("clone: %s", r)
	}
	if r := e.run(e.pod.seedAuth); r.code != 0 {
		t.Fatalf("seed-auth: %s", r)
	}
	e.srv.ResetCounters()
	return e, a
}

// TestRestartNoNetwork: both boot steps on an already cloned and seeded
// workspace succeed without a single request to the git server. How long
// they take is BenchmarkRestartOverhead's business (a timed assertion fails
// on a loaded machine).
func TestRestartNoNetwork(t *testing.T) {
	e, _ := bootedEnv(t)
	var clone, seed []time.Duration
	for range 15 {
		r := e.run(e.pod.clone)
		if r.code != 0 || e.status().Result != boot.ResultPresent {
			t.Fatal(r)
		}
		clone = append(clone, r.took)
		r = e.run(e.pod.seedAuth)
		if r.code != 0 || r.termination[:len(boot.AuthUnchanged)] != boot.AuthUnchanged {
			t.Fatal(r)
		}
		seed = append(seed, r.took)
	}
	slices.Sort(clone)
	slices.Sort(seed)
	t.Logf("restart overhead (median of 15, informational): clone %v, seed-auth %v",
		clone[len(clone)/2], seed[len(seed)/2])
	if n := e.srv.Requests(); n != 0 {
		t.Errorf("restarts made %d requests", n)
	}
}

func BenchmarkRestartOverhead(b *testing.B) {
	e, _ := bootedEnv(b)
	b.ResetTimer()
	for b.Loop() {
		if r := e.run(e.pod.clone); r.code != 0 {
			b.Fatal(r)
		}
		if r := e.run(e.pod.seedAuth); r.code != 0 {
			b.Fatal(r)
		}
	}
}

// TestBigRepoClone measures a first clone of a repository with ~200 MB of
// history, with and without --filter=blob:none. Slow: only with
// OCW_BIG_REPO=1.
func TestBigRepoClone(t *testing.T) {
	if os.Getenv("OCW_BIG_REPO") != "1" {
		t.Skip("measurement; set OCW_BIG_REPO=1 to run (about a minute)")
	}
	// 100 commits each rewriting two 1 MB incompressible files: ~200 MB of
	// history, ~2 MB at HEAD.
	fill := func(t testing.TB, work string, i int) {
		for _, n := range []string{"a.bin", "b.bin"} {
			buf := make([]byte, 1<<20)
			_, _ = rand.Read(buf)
			if err := os.WriteFile(filepath.Join(work, n), buf, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		smallRepo(t, work, i)
	}
	began := time.Now()
	full := newCloneEnv(t, specOpts{}, fill, 100)
	t.Logf("generated repo in %v", time.Since(began))
	for _, filter := range []string{"", "blob:none"} {
		e := full
		if filter != "" {
			sb := newSandbox(t, bootContainers(t, specOpts{filter: filter}))
			sb.urls = full.urls
			e = &cloneEnv{sandbox: sb, srv: full.srv, head: full.head, pat: full.pat}
			e.setToken(full.pat)
		}
		e.srv.ResetCounters()
		r := e.run(e.pod.clone)
		e.expect(r, boot.ResultCloned)
		e.checkRepo(e.head)
		size := dirSize(t, e.repoDir())
		t.Logf("filter %-10q first clone %v, %s fetched, %s on disk",
			filter, r.took.Round(time.Millisecond), mb(e.srv.BytesSent()), mb(size))
	}
}

func dirSize(t testing.TB, dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }
