package apply_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/opencode-workspaces/ocw/internal/apply/applytest"
)

// benchSpec is the seed's shape (doppler Secrets, VolSync backups) with n
// workspaces: 5 objects each, plus the Namespace and 3 ExternalSecrets.
func benchSpec(ns string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: ocw.dev/v1alpha1
kind: Workspaces
namespace: %s
domain: example.test
secrets: {mode: doppler}
defaults:
  externalDNS: {enabled: true}
  backup: {mode: inline}
workspaces:
`, ns)
	for i := range n {
		fmt.Fprintf(&b, "  - name: ws%d\n    repo: https://github.com/o/r%d.git\n", i, i)
	}
	return b.String()
}

// BenchmarkApplyVsKubectl applies the objects of 50 workspaces with the
// ocw binary and with `kubectl apply --server-side` (the kubectl built
// from the same Kubernetes release as the API server) against the same
// envtest API server, each into a fresh namespace, then re-applies both.
// Each iteration is one round; run it with hack/bench-apply.sh.
//
// Both are timed as processes, start-up and API discovery included;
// kubectl gets a warm discovery cache, ocw has none to use.
func BenchmarkApplyVsKubectl(b *testing.B) {
	const workspaces = 50
	dir := b.TempDir()
	ocw := filepath.Join(dir, "ocw")
	build := exec.Command("go", "build", "-o", ocw, "./cmd/ocw")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build ./cmd/ocw: %v\n%s", err, out)
	}
	kubectlCache := filepath.Join(dir, "kube-cache")
	runOcw := func(spec string) (time.Duration, int) {
		b.Helper()
		var stderr bytes.Buffer
		cmd := exec.Command(ocw, "apply", "-f", spec, "--kubeconfig", env.KubeconfigPath)
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("ocw apply: %v\n%s", err, stderr.String())
		}
		took := time.Since(start)
		m := regexp.MustCompile(`; (\d+) writes`).FindStringSubmatch(stderr.String())
		if m == nil {
			b.Fatalf("no write count in ocw's summary:\n%s", stderr.String())
		}
		writes, _ := strconv.Atoi(m[1])
		return took, writes
	}
	runKubectl := func(file string) time.Duration {
		b.Helper()
		cmd := exec.Command(env.KubectlPath, "--kubeconfig", env.KubeconfigPath, "--cache-dir", kubectlCache,
			"apply", "--server-side", "-f", file)
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("kubectl apply: %v\n%s", err, out)
		}
		return time.Since(start)
	}
	// files writes the spec for ocw and the same objects as YAML for kubectl.
	files := func(ns string, n int) (spec, objs string) {
		b.Helper()
		text := benchSpec(ns, n)
		spec = filepath.Join(dir, ns+".yaml")
		if err := os.WriteFile(spec, []byte(text), 0o644); err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		for _, o := range desired(b, system(b, text)).Objects {
			y, err := yaml.Marshal(o.Object)
			if err != nil {
				b.Fatal(err)
			}
			buf.WriteString("---\n")
			buf.Write(y)
		}
		objs = filepath.Join(dir, ns+"-objects.yaml")
		if err := os.WriteFile(objs, buf.Bytes(), 0o644); err != nil {
			b.Fatal(err)
		}
		return spec, objs
	}

	// Warm up both tools and the server (a custom resource's first write
	// waits for its storage to be set up): one workspace each.
	spec, _ := files("bench-warm-ocw", 1)
	runOcw(spec)
	_, objs := files("bench-warm-kubectl", 1)
	runKubectl(objs)

	var sumOcw, sumKubectl, sumNoop, sumKubectlNoop time.Duration
	var noopWrites, firstWrites int
	round := 0
	for b.Loop() {
		round++
		ocwNS, kubectlNS := fmt.Sprintf("bench-ocw-%d", round), fmt.Sprintf("bench-kubectl-%d", round)
		spec, _ := files(ocwNS, workspaces)
		_, objs := files(kubectlNS, workspaces)

		var tOcw, tKubectl time.Duration
		var w int
		// Alternate who goes first, so neither always gets a warmer server.
		if round%2 == 1 {
			tOcw, w = runOcw(spec)
			tKubectl = runKubectl(objs)
		} else {
			tKubectl = runKubectl(objs)
			tOcw, w = runOcw(spec)
		}
		firstWrites += w

		before := applytest.Snapshot(b, env.Config, ocwNS)
		tNoop, writes := runOcw(spec)
		applytest.Equal(b, "ocw's no-op re-apply", before, applytest.Snapshot(b, env.Config, ocwNS))
		tKubectlNoop := runKubectl(objs)

		b.Logf("round %d: first apply of %d workspaces: ocw %s (%d writes), kubectl %s, ratio %.2f; no-op re-apply: ocw %s (%d writes), kubectl %s",
			round, workspaces, tOcw.Round(time.Millisecond), w, tKubectl.Round(time.Millisecond),
			tOcw.Seconds()/tKubectl.Seconds(), tNoop.Round(time.Millisecond), writes, tKubectlNoop.Round(time.Millisecond))
		// envtest's service range has about 250 addresses: free this
		// round's.
		for _, ns := range []string{ocwNS, kubectlNS} {
			if err := env.Client.DeleteAllOf(b.Context(), &corev1.Service{}, client.InNamespace(ns)); err != nil {
				b.Fatal(err)
			}
		}
		sumOcw += tOcw
		sumKubectl += tKubectl
		sumNoop += tNoop
		sumKubectlNoop += tKubectlNoop
		noopWrites += writes
	}
	n := float64(round)
	b.ReportMetric(sumOcw.Seconds()/n, "ocw-first-s")
	b.ReportMetric(sumKubectl.Seconds()/n, "kubectl-first-s")
	b.ReportMetric(sumOcw.Seconds()/sumKubectl.Seconds(), "ratio")
	b.ReportMetric(sumNoop.Seconds()/n, "ocw-noop-s")
	b.ReportMetric(float64(noopWrites)/n, "ocw-noop-writes")
	b.ReportMetric(sumKubectlNoop.Seconds()/n, "kubectl-noop-s")
	b.ReportMetric(float64(firstWrites)/n, "ocw-first-writes")
	// Per-op time is meaningless here (it includes snapshots).
	b.ReportMetric(0, "ns/op")
	if noopWrites != 0 {
		b.Errorf("ocw's no-op re-applies sent %d writes, want 0", noopWrites)
	}
}
