//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const (
	gitUser   = "x-access-token"
	ocUser    = "opencode"
	authPath  = "/home/opencode/.local/share/opencode/auth.json"
	storageSC = "ocw-e2e-local"
)

// cluster is the node every test of the package shares: bringing one up
// takes 10-20 s and the tests use their own namespaces.
type cluster struct {
	repo       string // repository root
	work       string // harness working root
	kubeconfig string
	gateway    string
	bin        string // kubernetes binaries
	ocw        string // ocw binary
	err        error  // why there is no node (the tests fail with it)
}

var shared *cluster

// TestMain brings the node up once (after a down.sh of any leftover of
// ours) and down after the last test, unless OCW_E2E_KEEP=1.
func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "e2e: the real-node tier needs root (containerd, kubelet, bridge); skipping")
		os.Exit(m.Run()) // every test skips
	}
	c, down := startCluster()
	shared = c
	code := m.Run()
	if os.Getenv("OCW_E2E_KEEP") != "1" {
		down()
	}
	os.Exit(code)
}

func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}

func workRoot() string {
	if w := os.Getenv("OCW_E2E_ROOT"); w != "" {
		return w
	}
	c := os.Getenv("OCW_CACHE")
	if c == "" {
		h, _ := os.UserHomeDir()
		c = filepath.Join(h, ".cache", "ocw")
	}
	return filepath.Join(c, "e2e")
}

// startCluster runs hack/e2e/up.sh and builds ocw; a failure is kept in
// cluster.err for the tests to report.
func startCluster() (*cluster, func()) {
	c := &cluster{work: workRoot()}
	var err error
	if c.repo, err = repoRoot(); err != nil {
		c.err = err
		return c, func() {}
	}
	down := func() {
		cmd := exec.Command(filepath.Join(c.repo, "hack/e2e/down.sh"), c.work)
		cmd.Env = append(os.Environ(), "WIPE=1")
		out, _ := cmd.CombinedOutput()
		fmt.Fprintf(os.Stderr, "down.sh: %s\n", strings.TrimSpace(string(out)))
	}
	down()
	start := time.Now()
	cmd := exec.Command(filepath.Join(c.repo, "hack/e2e/up.sh"), c.work)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		down()
		c.err = fmt.Errorf("hack/e2e/up.sh: %w", err)
		return c, func() {}
	}
	for _, l := range strings.Split(stdout.String(), "\n") {
		k, v, _ := strings.Cut(l, "=")
		switch k {
		case "KUBECONFIG":
			c.kubeconfig = v
		case "GATEWAY":
			c.gateway = v
		case "BIN":
			c.bin = v
		}
	}
	if c.kubeconfig == "" || c.gateway == "" || c.bin == "" {
		c.err = fmt.Errorf("up.sh printed no KUBECONFIG/GATEWAY/BIN: %q", stdout.String())
		return c, down
	}
	fmt.Fprintf(os.Stderr, "e2e: node up in %s\n", time.Since(start).Round(time.Second))
	if c.ocw = os.Getenv("OCW_E2E_OCW"); c.ocw == "" { // a prebuilt ocw, else built here
		dir, err := os.MkdirTemp("", "ocw-e2e-bin-")
		if err != nil {
			c.err = err
			return c, down
		}
		c.ocw = filepath.Join(dir, "ocw")
		build := exec.Command("go", "build", "-o", c.ocw, "./cmd/ocw")
		build.Dir = c.repo
		if out, err := build.CombinedOutput(); err != nil {
			c.err = fmt.Errorf("go build ./cmd/ocw: %w\n%s", err, out)
		}
		d := down
		down = func() { d(); os.RemoveAll(dir) }
	}
	return c, down
}

// node is one test's handle on the shared cluster, working in namespace ns.
type node struct {
	*cluster
	t  *testing.T
	ns string
}

// nodeFor returns the shared node for t, or skips/fails t when there is none.
func nodeFor(t *testing.T, ns string) *node {
	t.Helper()
	if shared == nil {
		t.Skip("the real-node tier needs root (containerd, kubelet, bridge)")
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return &node{cluster: shared, t: t, ns: ns}
}

func (n *node) env(extra ...string) []string {
	return append(append(os.Environ(), "KUBECONFIG="+n.kubeconfig, "PATH="+n.bin+":"+os.Getenv("PATH")), extra...)
}

// command is name with args in the repo root, KUBECONFIG and the node's
// binaries in the environment, and stdin when not "".
func (n *node) command(stdin string, extraEnv []string, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = n.repo
	cmd.Env = n.env(extraEnv...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	return cmd
}

// run runs a command (see command); returns combined output.
func (n *node) run(stdin string, extraEnv []string, name string, args ...string) (string, error) {
	out, err := n.command(stdin, extraEnv, name, args...).CombinedOutput()
	return string(out), err
}

// stdout runs a command like run but returns its stdout alone (data, such
// as JSON, without the command's messages).
func (n *node) stdout(name string, args ...string) (string, error) {
	cmd := n.command("", nil, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		err = fmt.Errorf("%w: %s", err, stderr.String())
	}
	return string(out), err
}

// mustIn runs a command with stdin, failing the test when it fails.
func (n *node) mustIn(stdin, name string, args ...string) string {
	n.t.Helper()
	out, err := n.run(stdin, nil, name, args...)
	if err != nil {
		n.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func (n *node) must(name string, args ...string) string {
	n.t.Helper()
	return n.mustIn("", name, args...)
}

func (n *node) kubectl(args ...string) string {
	n.t.Helper()
	return n.must(filepath.Join(n.bin, "kubectl"), args...)
}

// kubectlIn is kubectl with stdin (manifests carrying secrets stay out of argv).
func (n *node) kubectlIn(stdin string, args ...string) string {
	n.t.Helper()
	return n.mustIn(stdin, filepath.Join(n.bin, "kubectl"), args...)
}

// logAll logs each kubectl command's output (errors included): diagnostics.
func (n *node) logAll(cmds ...[]string) {
	k := filepath.Join(n.bin, "kubectl")
	for _, args := range cmds {
		out, _ := n.run("", nil, k, args...)
		n.t.Logf("--- kubectl %s\n%s", strings.Join(args, " "), out)
	}
}

// logTail logs the last lines of one of the harness's process logs.
func (n *node) logTail(name string, lines int) {
	b, err := os.ReadFile(filepath.Join(n.work, "log", name+".log"))
	if err != nil {
		return
	}
	l := strings.Split(string(b), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	n.t.Logf("--- %s log tail\n%s", name, strings.Join(l, "\n"))
}

// diagnose prints what a failure needs: pods, events, init container logs,
// the kubelet log tail.
func (n *node) diagnose() {
	n.logAll(
		[]string{"get", "pods,pvc,pv", "-A", "-o", "wide"},
		[]string{"get", "events", "-n", n.ns, "--sort-by=.lastTimestamp"},
		[]string{"describe", "pods", "-n", n.ns},
		[]string{"logs", "-n", n.ns, "-l", "ocw.dev/workspace", "-c", "clone", "--tail=50", "--prefix"},
		[]string{"logs", "-n", n.ns, "-l", "ocw.dev/workspace", "-c", "seed-auth", "--tail=50", "--prefix"},
		[]string{"logs", "-n", n.ns, "-l", "ocw.dev/workspace", "-c", "opencode", "--tail=50", "--prefix"},
	)
	n.logTail("kubelet", 80)
}

// gatewayProxy listens on the bridge gateway address only and forwards to a
// loopback server: pods reach the git server through the harness's bridge,
// nothing else can.
func gatewayProxy(t *testing.T, gw, target string) string {
	l, err := net.Listen("tcp", net.JoinHostPort(gw, "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				u, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer u.Close()
				go func() { io.Copy(u, c); u.(*net.TCPConn).CloseWrite() }()
				io.Copy(c, u)
			}()
		}
	}()
	return "http://" + l.Addr().String()
}

func smallRepo(t testing.TB, work string, i int) {
	if err := os.WriteFile(filepath.Join(work, fmt.Sprintf("file%d.txt", i)), []byte(fmt.Sprintf("content %d\n", i)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// forward runs kubectl port-forward to the workspace's Deployment on
// 127.0.0.1 and returns the base URL; stopped at the end of the test.
func (n *node) forward(name string) (string, func()) {
	n.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, filepath.Join(n.bin, "kubectl"), "port-forward", "-n", n.ns, "--address", "127.0.0.1", "deploy/"+name, ":4096")
	cmd.Env = n.env()
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	stop := func() { cancel(); cmd.Wait(); pw.Close() }
	n.t.Cleanup(stop)
	re := regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+)`)
	found := make(chan string, 1)
	go func() {
		buf := make([]byte, 4096)
		var acc string
		for {
			k, err := pr.Read(buf)
			acc += string(buf[:k])
			if m := re.FindStringSubmatch(acc); m != nil {
				found <- m[1]
				io.Copy(io.Discard, pr)
				return
			}
			if err != nil {
				return
			}
		}
	}()
	select {
	case p := <-found:
		return "http://127.0.0.1:" + p, stop
	case <-time.After(30 * time.Second):
		n.t.Fatalf("port-forward to %s did not start", name)
	}
	return "", stop
}

func httpDo(t *testing.T, method, url, password, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if password != "" {
		req.SetBasicAuth(ocUser, password)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	var resp *http.Response
	for i := 0; i < 20; i++ { // the forward's first connection can race the listener
		resp, err = http.DefaultClient.Do(req)
		if err == nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (n *node) exec(name string, script string) string {
	n.t.Helper()
	return n.kubectl("exec", "-n", n.ns, "deploy/"+name, "-c", "opencode", "--", "sh", "-c", script)
}

// waitReady waits for the workspace's Deployment rollout and its pod.
func (n *node) waitReady(name string) {
	n.t.Helper()
	n.kubectl("rollout", "status", "-n", n.ns, "deploy/"+name, "--timeout=5m")
	n.kubectl("wait", "-n", n.ns, "--for=condition=Ready", "pod", "-l", "ocw.dev/workspace="+name, "--timeout=5m")
	// The rollout can be complete while the previous pod is still
	// terminating; it is listed until it is gone, and podUID would read it.
	n.eventually("the previous pod of "+name+" to be gone", 3*time.Minute, func() bool {
		return len(strings.Fields(n.kubectl("get", "pods", "-n", n.ns, "-l", "ocw.dev/workspace="+name, "-o", "jsonpath={.items[*].metadata.uid}"))) == 1
	})
}

func (n *node) restart(name string, deletePod bool) {
	n.t.Helper()
	if deletePod {
		n.kubectl("delete", "pod", "-n", n.ns, "-l", "ocw.dev/workspace="+name, "--wait=true")
	} else {
		n.kubectl("rollout", "restart", "-n", n.ns, "deploy/"+name)
	}
	n.waitReady(name)
}

func (n *node) initMessage(name, container string) string {
	n.t.Helper()
	return n.kubectl("get", "pod", "-n", n.ns, "-l", "ocw.dev/workspace="+name,
		"-o", `jsonpath={.items[0].status.initContainerStatuses[?(@.name=="`+container+`")].state.terminated.message}`)
}

func (n *node) podUID(name string) string {
	n.t.Helper()
	return n.kubectl("get", "pods", "-n", n.ns, "-l", "ocw.dev/workspace="+name, "-o", "jsonpath={.items[0].metadata.uid}")
}
