// Package doctor checks a cluster and its workspaces against a spec and
// says, for every problem, what to do about it.
//
// Each check has a verdict:
//
//   - ok: verified working.
//   - warn: not broken, but worth a look, or not verifiable from the API
//     (e.g. Reloader found only by name, a pod still starting, a workspace
//     without a git token that may be cloning a public repo).
//   - fail: broken; the workspace does not work (fully) until it is fixed.
//
// Checks read the cluster only; the one exception is `git --version` run
// inside a running OpenCode container through an injectable Execer. Each
// check has its own deadline (Options.Timeout).
package doctor

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/opencode-workspaces/ocw/internal/kube"
	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/safetext"
	"github.com/opencode-workspaces/ocw/internal/status"
)

// Verdict of a check.
type Verdict string

// Verdicts, from good to bad.
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

// Check is one verdict with its explanation and, unless ok, a fix a person
// can act on.
type Check struct {
	// Scope is ScopeCluster, ScopeNamespace or a workspace name.
	Scope string `json:"scope"`
	// ID names the rule (stable, for scripts and tests), e.g. "pvc".
	ID      string  `json:"id"`
	Verdict Verdict `json:"verdict"`
	Message string  `json:"message"`
	Fix     string  `json:"fix,omitempty"`
}

// Report is the outcome of a doctor run.
type Report struct {
	Namespace string  `json:"namespace"`
	Checks    []Check `json:"checks"`
}

// Count returns how many checks have verdict v.
func (r *Report) Count(v Verdict) int {
	n := 0
	for _, c := range r.Checks {
		if c.Verdict == v {
			n++
		}
	}
	return n
}

// Find returns the first check of scope and id, or nil.
func (r *Report) Find(scope, id string) *Check {
	for i := range r.Checks {
		if r.Checks[i].Scope == scope && r.Checks[i].ID == id {
			return &r.Checks[i]
		}
	}
	return nil
}

// Execer runs a command in a container and returns its output. A command
// that ran and exited non-zero returns an error implementing
// ExitStatus() int (as client-go's remotecommand does).
type Execer interface {
	Exec(ctx context.Context, namespace, pod, container string, command []string) (stdout, stderr string, err error)
}

// Options tune a run.
type Options struct {
	// Workspace limits the workspace checks to one workspace ("" = all).
	Workspace string
	// Exec runs `git --version` in running workspaces; nil skips that check.
	Exec Execer
	// SpecFile is named in fix lines ("ocw secrets password -f FILE").
	SpecFile string
	// Timeout bounds each check, the exec in the running container
	// included (0: no deadline).
	Timeout time.Duration
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// run carries what the rules share.
type run struct {
	c    *kube.Clients
	sys  *model.System
	ws   []model.Workspace
	opts Options
	now  time.Time
	snap *status.Snapshot
	// rows are status's reading of snap, by workspace: doctor's verdict
	// on a pod is status's phase.
	rows map[string]status.Workspace
	// gateways are the Gateways the workspaces attach to, by
	// "namespace/name", as checkGateways read them (absent when not found
	// or unreadable).
	gateways map[string]*gatewayv1.Gateway
	// flux is nil when the cluster does not serve Flux Kustomizations.
	flux *fluxState
	facts
	report *Report
}

// Run checks the cluster prerequisites, the namespace's shared Secrets and
// every workspace (or only opts.Workspace).
func Run(ctx context.Context, c *kube.Clients, sys *model.System, opts Options) (*Report, error) {
	r := &run{c: c, sys: sys, opts: opts, report: &Report{Namespace: sys.Namespace}, gateways: map[string]*gatewayv1.Gateway{}}
	if opts.SpecFile == "" {
		r.opts.SpecFile = "FILE"
	}
	r.now = time.Now()
	if opts.Now != nil {
		r.now = opts.Now()
	}
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

	if err := r.load(ctx); err != nil {
		return nil, err
	}
	r.rows = map[string]status.Workspace{}
	for _, w := range status.Build(sys, r.snap, r.now).Workspaces {
		r.rows[w.Name] = w
	}
	r.flux = r.loadFlux(ctx)
	r.loadFacts(ctx)

	// API errors inside the checks become warn verdicts (e.g. a forbidden
	// read): one unreadable object must not hide every other finding.
	r.clusterChecks(ctx)
	r.namespaceChecks(ctx)
	for i := range r.ws {
		r.workspaceChecks(ctx, &r.ws[i])
	}
	// Messages quote the cluster, git and Flux: no escapes reach the
	// terminal.
	safetext.Lines(r.report)
	return r.report, nil
}

// load reads what every check shares: the status snapshot and the
// namespace's Events.
func (r *run) load(ctx context.Context) error {
	ctx, cancel := r.bounded(ctx)
	defer cancel()
	var err error
	if r.snap, err = status.Fetch(ctx, r.c, r.sys.Namespace); err != nil {
		return err
	}
	return r.snap.LoadEvents(ctx, r.c)
}

// row is status's row of a workspace of the spec.
func (r *run) row(name string) status.Workspace { return r.rows[name] }

// bounded gives one check its own deadline (Options.Timeout): a stalled
// API server or kubelet costs that check, reported as a warn, not the
// whole run, and never hangs it.
func (r *run) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if r.opts.Timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, r.opts.Timeout)
}

func (r *run) add(scope, id string, v Verdict, msg, fix string) {
	if v == OK {
		fix = ""
	}
	r.report.Checks = append(r.report.Checks, Check{Scope: scope, ID: id, Verdict: v, Message: msg, Fix: fix})
}

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
