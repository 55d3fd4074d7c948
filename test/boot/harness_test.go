// Package boottest runs the workspace boot steps for real: the script text,
// command and env of the containers in the rendered Deployment, with git,
// busybox and OpenCode, against a git smart-HTTP server on 127.0.0.1. Paths of
// the pod (volume mounts, /dev/termination-log) are mapped to temp dirs by
// rewriting env values; the script text itself is never changed.
package boottest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/opencode-workspaces/ocw/internal/build"
	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/spec"
)

const busybox = "/bin/busybox"

// specOpts are the spec switches the tests vary.
type specOpts struct {
	filter string
	branch string
}

// upstreamURL is the repo URL in the test spec; the sandbox maps it to the
// local git server.
const (
	upstreamHost = "https://github.com"
	upstreamRepo = upstreamHost + "/you/myrepo.git"
)

// pod is what the tests take from the rendered Deployment.
type pod struct {
	clone, seedAuth, main corev1.Container
	volumes               []corev1.Volume
}

// bootContainers renders the Deployment of a one-workspace spec with ocw's
// own spec → model → build chain and returns its containers: the tests run
// exactly this script text, command and env.
func bootContainers(t testing.TB, o specOpts) pod {
	t.Helper()
	y := "apiVersion: ocw.dev/v1alpha1\nkind: Workspaces\nnamespace: opencode\ndomain: example.test\n" +
		"secrets: {mode: manual}\nworkspaces:\n  - name: myrepo\n    repo: " + upstreamRepo + "\n"
	if o.branch != "" {
		y += "    branch: " + o.branch + "\n"
	}
	if o.filter != "" {
		y += "    git: {filter: \"" + o.filter + "\"}\n"
	}
	doc, err := spec.Load("boot-test.yaml", []byte(y))
	if err != nil {
		t.Fatalf("load test spec: %v", err)
	}
	sys, err := model.Resolve(doc)
	if err != nil {
		t.Fatalf("resolve test spec: %v", err)
	}
	d := build.Deployment(sys.Workspaces[0])
	ps := d.Spec.Template.Spec
	var p pod
	p.volumes = ps.Volumes
	for _, c := range ps.InitContainers {
		switch c.Name {
		case model.ContainerClone:
			p.clone = c
		case model.ContainerSeedAuth:
			p.seedAuth = c
		}
	}
	for _, c := range ps.Containers {
		if c.Name == model.ContainerOpenCode {
			p.main = c
		}
	}
	if p.clone.Name == "" || p.seedAuth.Name == "" || p.main.Name == "" {
		t.Fatalf("rendered Deployment lacks the clone/seed-auth/opencode containers")
	}
	return p
}

// requireTools fails (never skips) when a program the tests need is missing.
func requireTools(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(busybox); err != nil {
		t.Fatalf("%s missing: install the test tools (apt-get install -y git busybox)", busybox)
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git missing: install the test tools (apt-get install -y git busybox)")
	}
}

// sandbox is one workspace's volumes and Secrets on the local disk.
type sandbox struct {
	t     testing.TB
	pod   pod
	root  string
	bin   string            // busybox applets + git: the images' PATH
	urls  map[string]string // rendered URL prefix → local server
	port  int               // replaces model.Port
	ocBin string            // OpenCode binary for the main container
}

func newSandbox(t testing.TB, p pod) *sandbox {
	t.Helper()
	requireTools(t)
	root := t.TempDir()
	sb := &sandbox{t: t, pod: p, root: root, bin: filepath.Join(root, "bin"), urls: map[string]string{}}
	if err := os.MkdirAll(sb.bin, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.killAll)
	// The images' sh, coreutils and nc are busybox: put only busybox
	// applets (and git) on PATH so a GNU-only flag fails here too.
	out, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		t.Fatalf("busybox --list: %v", err)
	}
	for _, a := range strings.Fields(string(out)) {
		if err := os.Symlink(busybox, filepath.Join(sb.bin, a)); err != nil {
			t.Fatal(err)
		}
	}
	gitPath, _ := exec.LookPath("git")
	if err := os.Symlink(gitPath, filepath.Join(sb.bin, "git")); err != nil {
		t.Fatal(err)
	}
	// The server password is a required env Secret of the main container.
	for _, e := range p.main.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			ref := e.ValueFrom.SecretKeyRef
			sb.setSecret(ref.Name, ref.Key, "pw-"+randomHex(12))
		}
	}
	return sb
}

// serverPassword is the OpenCode password from the rendered secretKeyRef.
func (sb *sandbox) serverPassword() string {
	for _, e := range sb.pod.main.Env {
		if e.Name == "OPENCODE_SERVER_PASSWORD" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			b, err := os.ReadFile(filepath.Join(sb.secretDir(e.ValueFrom.SecretKeyRef.Name), e.ValueFrom.SecretKeyRef.Key))
			if err != nil {
				sb.t.Fatal(err)
			}
			return string(b)
		}
	}
	sb.t.Fatal("the main container takes OPENCODE_SERVER_PASSWORD from no Secret")
	return ""
}

func (sb *sandbox) marker() string { return "OCW_TEST_SANDBOX=" + sb.root }

// procs lists the pids of processes started in this sandbox.
func (sb *sandbox) procs() []int { return procsWithEnv(sb.marker()) }

// procsWithEnv lists the pids of processes whose environment holds kv.
func procsWithEnv(kv string) []int {
	var pids []int
	mark := []byte(kv + "\x00")
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err == nil && bytes.Contains(b, mark) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killAll SIGKILLs every process of the sandbox, as a container kill does.
func (sb *sandbox) killAll() {
	for range 50 {
		pids := sb.procs()
		if len(pids) == 0 {
			return
		}
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pvc is the host dir of the workspace PVC.
func (sb *sandbox) pvc() string { return filepath.Join(sb.root, "pvc") }

// termLog is where a container's /dev/termination-log goes.
func (sb *sandbox) termLog(c corev1.Container) string {
	return filepath.Join(sb.root, "termination", c.Name)
}

// secretDir holds the keys of Secret name, one file each, as a Secret
// volume does; env secretKeyRefs read the same files.
func (sb *sandbox) secretDir(name string) string { return filepath.Join(sb.root, "secrets", name) }

// setSecret writes key of Secret name atomically, as the kubelet does.
func (sb *sandbox) setSecret(name, key, value string) {
	writeAtomic(sb.t, filepath.Join(sb.secretDir(name), key), []byte(value))
}

// deleteSecret removes Secret name (an optional Secret volume is then empty).
func (sb *sandbox) deleteSecret(name string) {
	if err := os.RemoveAll(sb.secretDir(name)); err != nil {
		sb.t.Fatal(err)
	}
}

func (sb *sandbox) volumeDir(m corev1.VolumeMount) string {
	for _, v := range sb.pod.volumes {
		if v.Name != m.Name {
			continue
		}
		switch {
		case v.PersistentVolumeClaim != nil:
			return filepath.Join(sb.pvc(), m.SubPath)
		case v.Secret != nil:
			return filepath.Join(sb.secretDir(v.Secret.SecretName), m.SubPath)
		default:
			return filepath.Join(sb.root, "emptydir", v.Name, m.SubPath)
		}
	}
	sb.t.Fatalf("mount %s: no such volume", m.Name)
	return ""
}

// mounts maps each mount path of c to its host dir, longest first.
func (sb *sandbox) mounts(c corev1.Container) [][2]string {
	var ms [][2]string
	for _, m := range c.VolumeMounts {
		dir := sb.volumeDir(m)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			sb.t.Fatal(err)
		}
		ms = append(ms, [2]string{m.MountPath, dir})
	}
	sort.Slice(ms, func(i, j int) bool { return len(ms[i][0]) > len(ms[j][0]) })
	return ms
}

// hostPath maps an absolute path inside container c to the host.
func (sb *sandbox) hostPath(c corev1.Container, p string) string {
	if p == corev1.TerminationMessagePathDefault {
		return sb.termLog(c)
	}
	for _, m := range sb.mounts(c) {
		if p == m[0] || strings.HasPrefix(p, m[0]+"/") {
			return m[1] + strings.TrimPrefix(p, m[0])
		}
	}
	return p
}

// mapValue rewrites an env value: URLs of the spec to the local server, and
// container paths to host paths, both as the whole value and inside quotes
// (the credential helper embeds the token file path).
func (sb *sandbox) mapValue(c corev1.Container, v string) string {
	keys := make([]string, 0, len(sb.urls))
	for k := range sb.urls {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
	for _, k := range keys {
		if strings.Contains(v, k) {
			v = strings.ReplaceAll(v, k, sb.urls[k])
			break
		}
	}
	if strings.HasPrefix(v, "/") {
		return sb.hostPath(c, v)
	}
	var pairs []string
	for _, m := range sb.mounts(c) {
		pairs = append(pairs, "'"+m[0]+"/", "'"+m[1]+"/")
	}
	return strings.NewReplacer(pairs...).Replace(v)
}

// env resolves c's env as the kubelet would, mapped to the sandbox.
func (sb *sandbox) env(c corev1.Container, extraPath string) []string {
	path := sb.bin
	if extraPath != "" {
		path += ":" + extraPath
	}
	// The marker lets killAll find every process of the sandbox, including
	// ones in their own session, as a container's PID namespace would.
	env := []string{"PATH=" + path, "HOSTNAME=myrepo-0", sb.marker()}
	for _, e := range c.Env {
		v := e.Value
		if e.ValueFrom != nil {
			ref := e.ValueFrom.SecretKeyRef
			if ref == nil {
				sb.t.Fatalf("env %s: only secretKeyRef is supported", e.Name)
			}
			b, err := os.ReadFile(filepath.Join(sb.secretDir(ref.Name), ref.Key))
			if err != nil {
				if ref.Optional != nil && *ref.Optional {
					continue
				}
				sb.t.Fatalf("env %s: Secret %s key %s: %v", e.Name, ref.Name, ref.Key, err)
			}
			v = string(b)
		} else {
			v = sb.mapValue(c, v)
		}
		if e.Name == "OCW_PORT" && sb.port != 0 {
			v = strconv.Itoa(sb.port)
		}
		env = append(env, e.Name+"="+v)
	}
	return env
}

// command builds the process for argv run inside container c: sh is busybox,
// opencode (run directly or by the serve script through PATH) is the pinned
// npm binary, and the server binds 127.0.0.1 on the sandbox port.
func (sb *sandbox) command(ctx context.Context, c corev1.Container, argv []string) *exec.Cmd {
	if len(argv) == 0 {
		sb.t.Fatalf("container %s: empty command", c.Name)
	}
	args := append([]string(nil), argv[1:]...)
	for i := range args {
		switch {
		case i > 0 && args[i-1] == "--hostname":
			args[i] = "127.0.0.1"
		case i > 0 && args[i-1] == "--port" && sb.port != 0:
			args[i] = strconv.Itoa(sb.port)
		}
	}
	extraPath := ""
	if sb.ocBin != "" {
		// The image's PATH finds opencode; ripgrep and friends come from
		// the host.
		link := filepath.Join(sb.bin, "opencode")
		if _, err := os.Lstat(link); err != nil {
			if err := os.Symlink(sb.ocBin, link); err != nil {
				sb.t.Fatal(err)
			}
		}
		extraPath = "/usr/local/bin:/usr/bin:/bin"
	}
	var cmd *exec.Cmd
	switch argv[0] {
	case "sh", "/bin/sh":
		cmd = exec.CommandContext(ctx, busybox, append([]string{"sh"}, args...)...)
	case "opencode":
		if sb.ocBin == "" {
			sb.t.Fatal("container runs opencode but the sandbox has no OpenCode binary")
		}
		cmd = exec.CommandContext(ctx, sb.ocBin, args...)
	default:
		sb.t.Fatalf("container %s: unexpected command %q", c.Name, argv[0])
	}
	cmd.Env = sb.env(c, extraPath)
	cmd.Dir = sb.root
	if c.WorkingDir != "" {
		cmd.Dir = sb.hostPath(c, c.WorkingDir)
	}
	// Own process group: a kill reaches git's children too, as a container
	// kill would.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { sb.killAll(); return nil }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// result of one container run.
type result struct {
	code        int
	stdout      string
	stderr      string
	termination string
	took        time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("exit %d after %v\nstdout: %s\nstderr: %s\ntermination: %s", r.code, r.took, r.stdout, r.stderr, r.termination)
}

// start starts init container c (new pod: fresh emptyDirs and termination
// log); wait with finish.
func (sb *sandbox) start(ctx context.Context, c corev1.Container) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	sb.t.Helper()
	if err := os.RemoveAll(filepath.Join(sb.root, "emptydir")); err != nil {
		sb.t.Fatal(err)
	}
	_ = os.Remove(sb.termLog(c))
	if err := os.MkdirAll(filepath.Dir(sb.termLog(c)), 0o755); err != nil {
		sb.t.Fatal(err)
	}
	cmd := sb.command(ctx, c, append(append([]string(nil), c.Command...), c.Args...))
	// A container runtime creates a missing working directory.
	if err := os.MkdirAll(cmd.Dir, 0o755); err != nil {
		sb.t.Fatal(err)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		sb.t.Fatalf("start %s: %v", c.Name, err)
	}
	return cmd, &out, &errb
}

func (sb *sandbox) finish(c corev1.Container, cmd *exec.Cmd, out, errb *bytes.Buffer, began time.Time) result {
	err := cmd.Wait()
	r := result{stdout: out.String(), stderr: errb.String(), took: time.Since(began)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
		if r.code < 0 {
			r.code = 128 + int(ee.Sys().(syscall.WaitStatus).Signal())
		}
	default:
		sb.t.Fatalf("run %s: %v", c.Name, err)
	}
	b, _ := os.ReadFile(sb.termLog(c))
	r.termination = string(b)
	return r
}

// run runs init container c to completion (bounded).
func (sb *sandbox) run(c corev1.Container) result {
	sb.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	began := time.Now()
	cmd, out, errb := sb.start(ctx, c)
	r := sb.finish(c, cmd, out, errb, began)
	if ctx.Err() != nil {
		sb.t.Fatalf("%s did not finish within 90s: %s", c.Name, r)
	}
	return r
}

func writeAtomic(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// treeDigest describes every entry under dir (path, mode, size, mtime,
// content) so any change, including to .git, shows.
func treeDigest(t testing.TB, dir string) string {
	t.Helper()
	var sb strings.Builder
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(&sb, "%s %v %d %d", rel, fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&sb, " %x", b)
		}
		sb.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sb.String()
}

// grepTree returns the files under dir containing needle.
func grepTree(t testing.TB, dir, needle string) []string {
	t.Helper()
	var hits []string
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte(needle)) {
			hits = append(hits, p)
		}
		return nil
	})
	return hits
}

// procScanner samples /proc/*/cmdline in a tight loop until stopped and
// records any process whose argv contains needle.
type procScanner struct {
	stop    chan struct{}
	done    chan struct{}
	hits    []string
	samples int
	seen    map[int]bool
}

func scanProcs(needle string) *procScanner {
	ps := &procScanner{stop: make(chan struct{}), done: make(chan struct{}), seen: map[int]bool{}}
	self := os.Getpid()
	go func() {
		defer close(ps.done)
		for {
			select {
			case <-ps.stop:
				return
			default:
			}
			ents, _ := os.ReadDir("/proc")
			for _, e := range ents {
				pid, err := strconv.Atoi(e.Name())
				if err != nil || pid == self {
					continue
				}
				b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
				if err != nil {
					continue
				}
				ps.seen[pid] = true
				if bytes.Contains(b, []byte(needle)) {
					ps.hits = append(ps.hits, strings.ReplaceAll(string(b), "\x00", " "))
				}
			}
			ps.samples++
		}
	}()
	return ps
}

func (ps *procScanner) finish() []string {
	close(ps.stop)
	<-ps.done
	return ps.hits
}

// envOf is the rendered value of env var name in c ("" if unset).
func envOf(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// withEnv returns c with env var name set to value (added or replaced). Only
// timing knobs are overridden this way, never paths or the script.
func withEnv(c corev1.Container, name, value string) corev1.Container {
	c.Env = append([]corev1.EnvVar(nil), c.Env...)
	for i := range c.Env {
		if c.Env[i].Name == name {
			c.Env[i] = corev1.EnvVar{Name: name, Value: value}
			return c
		}
	}
	c.Env = append(c.Env, corev1.EnvVar{Name: name, Value: value})
	return c
}
