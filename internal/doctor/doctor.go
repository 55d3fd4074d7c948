// Package doctor checks a cluster and its workspaces against a spec and
// says, for every problem, what to do about it. It reads the cluster only,
// but for `git --version` in the running OpenCode container (Execer).
package doctor

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/opencode-workspaces/ocw/internal/kube"
	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/safetext"
	"github.com/opencode-workspaces/ocw/internal/secrets"
	"github.com/opencode-workspaces/ocw/internal/status"
)

// Verdict of a check: verified working; worth a look or not verifiable
// from the API; broken.
type Verdict string

const (
	OK   Verdict = "ok"
	Warn Verdict = "warn"
	Fail Verdict = "fail"
)

// Scopes of checks that are not about one workspace.
const (
	ScopeCluster   = "cluster"
	ScopeNamespace = "namespace"
)

// Check is one verdict with its explanation and, unless ok, a fix.
type Check struct {
	Scope   string  `json:"scope"` // ScopeCluster, ScopeNamespace or a workspace name
	ID      string  `json:"id"`    // the rule, stable for scripts: "pvc"
	Verdict Verdict `json:"verdict"`
	Message string  `json:"message"`
	Fix     string  `json:"fix,omitempty"`
}

// Report is the outcome of a doctor run.
type Report struct {
	Namespace string  `json:"namespace"`
	Checks    []Check `json:"checks"`
}

// Execer runs a command in a container. A non-zero exit is an error with
// ExitStatus() int, as client-go's remotecommand returns.
type Execer interface {
	Exec(ctx context.Context, namespace, pod, container string, command []string) (stdout, stderr string, err error)
}

// Options tune a run.
type Options struct {
	Workspace string        // the one workspace to check; "": all
	Exec      Execer        // runs `git --version`; nil skips that check
	SpecFile  string        // named in fix lines (ocw apply -f FILE)
	Timeout   time.Duration // bounds each check, the exec included; 0: none
}

// run carries what the rules share.
type run struct {
	c        *kube.Clients
	sys      *model.System
	ws       []model.Workspace
	opts     Options
	now      time.Time
	snap     *status.Snapshot
	rows     map[string]status.Workspace   // status's reading of snap
	gateways map[string]*gatewayv1.Gateway // those checkGateways read, by "ns/name"
	// flux, classes and secrets are read once before any rule runs, a
	// failed read kept as its error: the rules that need it warn, the
	// others still report. flux is nil when Flux is not installed.
	flux       map[string]*unstructured.Unstructured
	fluxErr    error
	classes    []storagev1.StorageClass
	classesErr error
	// secrets hold values: checked, never printed. Missing is NotFound.
	secrets map[string]secretRead
	report  *Report
}

type secretRead struct {
	secret *corev1.Secret
	err    error
}

// Run checks the cluster prerequisites, the namespace's shared Secrets and
// every workspace (or only opts.Workspace).
func Run(ctx context.Context, c *kube.Clients, sys *model.System, opts Options) (*Report, error) {
	r := &run{c: c, sys: sys, opts: opts, now: time.Now(), report: &Report{Namespace: sys.Namespace}, gateways: map[string]*gatewayv1.Gateway{}}
	r.opts.SpecFile = cmp.Or(opts.SpecFile, "FILE")
	r.ws = sys.Workspaces
	if opts.Workspace != "" {
		i := slices.IndexFunc(sys.Workspaces, func(w model.Workspace) bool { return w.Name == opts.Workspace })
		if i < 0 {
			var names []string
			for _, w := range sys.Workspaces {
				names = append(names, w.Name)
			}
			return nil, fmt.Errorf("no workspace %q in the spec (workspaces: %s)", opts.Workspace, strings.Join(names, ", "))
		}
		r.ws = sys.Workspaces[i : i+1]
	}

	lctx, cancel := r.bounded(ctx)
	snap, err := status.Fetch(lctx, c, sys.Namespace)
	if err == nil {
		err = snap.LoadEvents(lctx, c)
	}
	cancel()
	if err != nil {
		return nil, err
	}
	r.snap, r.rows = snap, map[string]status.Workspace{}
	for _, w := range status.Build(sys, r.snap, r.now).Workspaces {
		r.rows[w.Name] = w
	}
	r.loadFacts(ctx)

	// API errors inside the checks become warn verdicts (e.g. a forbidden
	// read): one unreadable object must not hide every other finding.
	r.clusterChecks(ctx)
	r.namespaceChecks(ctx)
	for i := range r.ws {
		r.workspaceChecks(ctx, &r.ws[i])
	}
	// Messages quote the cluster, git and Flux.
	safetext.Lines(r.report)
	return r.report, nil
}

// loadFacts reads the Flux Kustomizations, the StorageClasses and the
// shared Secrets.
func (r *run) loadFacts(ctx context.Context) {
	fctx, cancel := r.bounded(ctx)
	ks, err := r.c.Dynamic.Resource(kustomizationGVR).Namespace(r.sys.Namespace).List(fctx, metav1.ListOptions{})
	cancel()
	r.flux, r.fluxErr = fluxByName(r.sys.Namespace, ks, err)

	lctx, cancel := r.bounded(ctx)
	list, err := r.c.Kube.StorageV1().StorageClasses().List(lctx, metav1.ListOptions{})
	cancel()
	if r.classesErr = err; err == nil {
		r.classes = list.Items
	}

	r.secrets = map[string]secretRead{}
	for _, role := range secrets.Roles() {
		ref := role.Ref(r.sys.Secrets)
		if _, done := r.secrets[ref.Name]; done {
			continue
		}
		sctx, cancel := r.bounded(ctx)
		sec, err := r.c.Kube.CoreV1().Secrets(r.sys.Namespace).Get(sctx, ref.Name, metav1.GetOptions{})
		cancel()
		r.secrets[ref.Name] = secretRead{secret: sec, err: err}
	}
}

// bounded gives one check its own deadline (Options.Timeout): a stalled
// API server or kubelet costs that check, reported as a warn, not the
// whole run, and never hangs it.
func (r *run) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if r.opts.Timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, r.opts.Timeout)
}

func (r *run) add(scope, id string, c Check) {
	c.Scope, c.ID = scope, id
	r.report.Checks = append(r.report.Checks, c)
}

func ok(msg string) Check        { return Check{Verdict: OK, Message: msg} }
func warn(msg, fix string) Check { return Check{Verdict: Warn, Message: msg, Fix: fix} }
func fail(msg, fix string) Check { return Check{Verdict: Fail, Message: msg, Fix: fix} }

// WriteTable prints the report grouped by scope, one line per check,
// with the fix indented under anything not ok.
func (rep *Report) WriteTable(w io.Writer) error {
	scope := ""
	for _, c := range rep.Checks {
		if c.Scope != scope {
			scope = c.Scope
			switch scope {
			case ScopeCluster:
				fmt.Fprintln(w, "Cluster")
			case ScopeNamespace:
				fmt.Fprintf(w, "Namespace %s\n", rep.Namespace)
			default:
				fmt.Fprintf(w, "Workspace %s\n", scope)
			}
		}
		fmt.Fprintf(w, "  %-4s  %-16s %s\n", c.Verdict, c.ID, c.Message)
		if c.Fix != "" {
			fmt.Fprintf(w, "  %-4s  %-16s fix: %s\n", "", "", c.Fix)
		}
	}
	return nil
}
