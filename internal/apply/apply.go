// Package apply is the engine of `ocw apply`: server-side apply of a spec's
// objects after a whole-set dry run, tracked by an inventory and pruned by
// its rules (prune.go, trust.go). Why: docs/architecture.md, docs/design.md.
package apply

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/cli-utils/pkg/object"
	"github.com/fluxcd/pkg/ssa"
	ssautil "github.com/fluxcd/pkg/ssa/utils"
	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/opencode-workspaces/ocw/internal/kube"
	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/safetext"
)

// concurrency bounds the dry runs and writes in flight.
const concurrency = 16

// Engine applies object sets to one cluster.
type Engine struct {
	client client.Client
	mapper meta.RESTMapper
	rm     *ssa.ResourceManager
	status *kube.Clients
	log    io.Writer

	// writes counts mutating requests that were not dry runs, as sent on
	// the wire: what "no writes" is measured by.
	writes atomic.Int64

	warnMu sync.Mutex
	warned map[string]bool
}

// New connects an Engine to the cluster cfg points at; log receives notes
// and API warnings for people (stderr), nil discards them.
func New(cfg *rest.Config, log io.Writer) (*Engine, error) {
	e := &Engine{log: cmp.Or(log, io.Discard), warned: map[string]bool{}}
	cfg = rest.CopyConfig(cfg)
	// client-go's default limiter (5 requests/s) would make a few hundred
	// objects take a minute; the worker pool bounds what is in flight, and
	// the API server has its own fairness.
	if cfg.QPS == 0 && cfg.RateLimiter == nil {
		cfg.QPS = -1
	}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &countWrites{rt: rt, n: &e.writes} })
	cfg.WarningHandler = nil
	cfg.WarningHandlerWithContext = warningRouter{e}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	if e.mapper, err = apiutil.NewDynamicRESTMapper(cfg, hc); err != nil {
		return nil, fmt.Errorf("discovering the cluster's APIs: %w", err)
	}
	if e.client, err = client.New(cfg, client.Options{HTTPClient: hc, Mapper: e.mapper}); err != nil {
		return nil, err
	}
	e.rm = ssa.NewResourceManager(e.client, polling.NewStatusPoller(e.client, e.mapper, polling.Options{}),
		ssa.Owner{Field: model.FieldManager, Group: "ocw.dev"})
	e.rm.SetConcurrency(concurrency)
	if e.status, err = kube.NewClients(cfg); err != nil {
		return nil, err
	}
	return e, nil
}

// countWrites counts what could change the cluster: every POST, PUT,
// PATCH or DELETE that is not a dry run (a query parameter, or for DELETE
// a field of the DeleteOptions body).
type countWrites struct {
	rt http.RoundTripper
	n  *atomic.Int64
}

func (c *countWrites) RoundTrip(r *http.Request) (*http.Response, error) {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		if !r.URL.Query().Has("dryRun") && !deleteDryRun(r) {
			c.n.Add(1)
		}
	}
	return c.rt.RoundTrip(r)
}

// WrappedRoundTripper lets client-go reach the transport beneath, e.g. to
// cancel a request that timed out (without it, client-go logs a warning).
func (c *countWrites) WrappedRoundTripper() http.RoundTripper { return c.rt }

func deleteDryRun(r *http.Request) bool {
	if r.Method != http.MethodDelete || r.GetBody == nil {
		return false
	}
	body, err := r.GetBody()
	if err != nil {
		return false
	}
	defer body.Close()
	var opts metav1.DeleteOptions
	if err := json.NewDecoder(body).Decode(&opts); err != nil {
		return false
	}
	return len(opts.DryRun) > 0
}

// Options of one Apply.
type Options struct {
	// DryRun validates and reports with server-side dry runs only.
	DryRun bool
	// Prune deletes objects that left the spec (except data).
	Prune bool
	// PurgeData lets Prune delete data too (PVCs, the Namespace).
	PurgeData bool
	// AdoptNamespace lets ocw take over an existing namespace it did not
	// create (see checkNamespace).
	AdoptNamespace bool
}

// Action is what happened to one object.
type Action string

// Actions in Change. Stale, KeptData, Disowned and Refused are objects of
// the inventory that left the spec and were not deleted: Change.String
// says why of each.
const (
	Created    Action = "created"
	Configured Action = "configured"
	Unchanged  Action = "unchanged"
	Pruned     Action = "pruned"
	Stale      Action = "stale"
	KeptData   Action = "kept"
	Disowned   Action = "disowned"
	Refused    Action = "refused"
)

// Change is one line of apply's output.
type Change struct {
	ID     string
	Action Action
	DryRun bool
	// Reason explains a Refused change.
	Reason string
}

func (c Change) String() string {
	s := c.ID + " "
	switch c.Action {
	case Stale:
		s += "is no longer in the spec: rerun with --prune to delete it"
	case KeptData:
		s += "is no longer in the spec and holds data: kept (--prune --purge-data deletes it)"
	case Disowned:
		s += "is no longer in the spec and no longer labelled as ocw's: left alone"
	case Refused:
		s += "is listed in the inventory, but " + c.Reason + ": not deleted, dropped from the inventory"
	default:
		s += string(c.Action)
	}
	if c.DryRun {
		s += " (server dry run)"
	}
	return s
}

// Result is what one Apply did.
type Result struct {
	Changes []Change
	// Writes is the number of non-dry-run mutating requests sent.
	Writes int64
}

// Count returns how many changes have action a.
func (r *Result) Count(a Action) int {
	n := 0
	for _, c := range r.Changes {
		if c.Action == a {
			n++
		}
	}
	return n
}

// RejectedError is a validation failure: the API server (or the API
// discovery) refused objects, and nothing was changed.
type RejectedError struct {
	Total    int
	Rejected []Rejection
	// Note says what was done to leave the cluster as it was, if anything.
	Note string
}

// Rejection is one refused object.
type Rejection struct {
	ID     string
	Reason string
}

func (e *RejectedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the cluster rejected %d of %d objects, nothing was applied", len(e.Rejected), e.Total)
	if e.Note != "" {
		b.WriteString(" (" + e.Note + ")")
	}
	b.WriteString(":")
	const most = 20 // a refusal of everything (a webhook down) stays readable
	for i, r := range e.Rejected {
		if i == most {
			fmt.Fprintf(&b, "\n  ... and %d more", len(e.Rejected)-most)
			break
		}
		b.WriteString("\n  " + r.ID + ": " + r.Reason)
	}
	return b.String()
}

// item is one object on its way through a run.
type item struct {
	obj        *unstructured.Unstructured
	ref        ref
	namespaced bool
	action     Action
	// existing is the live object when it differs (from the diff).
	existing *unstructured.Unstructured
	written  bool
}

func (it *item) id() string { return id(it.ref) }

// Apply makes the cluster hold d. On error the Result still lists what
// was applied before the failure.
func (e *Engine) Apply(ctx context.Context, d *Desired, opts Options) (res *Result, err error) {
	res = &Result{}
	w0 := e.writes.Load()
	defer func() { res.Writes = e.writes.Load() - w0 }()
	if opts.PurgeData && !opts.Prune {
		return res, errors.New("PurgeData needs Prune")
	}
	// The spec refuses these already; the engine holds the line too.
	if why := model.SystemNamespace(d.Namespace); why != "" {
		return res, fmt.Errorf("namespace %s %s: ocw never applies to it", d.Namespace, why)
	}

	items, nsItem, err := e.items(d)
	if err != nil {
		return res, err
	}

	nsExists, err := e.checkNamespace(ctx, nsItem, opts.AdoptNamespace)
	if err != nil {
		return res, err
	}
	old, refused, err := e.trustedInventory(ctx, d.Namespace, nsExists, opts.DryRun)
	if err != nil {
		return res, err
	}
	// The inventory written before any other object lists everything this
	// run may create plus everything listed before, so a run that dies
	// half-way leaves nothing untracked.
	union := maps.Clone(old)
	for _, it := range items {
		union[it.ref] = it.obj.GetAPIVersion()
	}
	invItem := &item{obj: inventoryObject(d.Namespace, union), namespaced: true}
	invItem.ref = object.UnstructuredToObjMetadata(invItem.obj)
	// Output order: Namespace, inventory, then the spec's order.
	rest := slices.DeleteFunc(slices.Clone(items), func(it *item) bool { return it == nsItem })
	ordered := append([]*item{nsItem, invItem}, rest...)
	// report lists what happened; after a failed write, objects not
	// written yet are left out.
	report := func(failed bool) {
		for _, it := range ordered {
			if it.action == "" || (failed && !it.written && it.action != Unchanged) {
				continue
			}
			res.Changes = append(res.Changes, Change{ID: it.id(), Action: it.action, DryRun: opts.DryRun})
		}
	}

	if err := e.validateSet(ctx, ordered, nsItem, nsExists, opts.DryRun); err != nil {
		return res, err
	}
	e.noteAdoptions(ordered, old)

	if !opts.DryRun {
		if err := e.writeAll(ctx, ordered); err != nil {
			report(true)
			return res, err
		}
	}

	final, pruneChanges, pruneErr := e.prune(ctx, d.Namespace, old, union, items, opts)
	var writeErr error
	if !opts.DryRun && !maps.Equal(final, union) {
		// Objects pruned or forgotten leave the inventory now that they
		// are gone; what is kept stays listed for a later --prune.
		writeErr = e.write(ctx, &item{obj: inventoryObject(d.Namespace, final), ref: invItem.ref, namespaced: true})
		if writeErr == nil && invItem.action == Unchanged {
			invItem.action = Configured
		}
	}
	report(false)
	res.Changes = append(append(res.Changes, refused...), pruneChanges...)
	return res, errors.Join(pruneErr, writeErr)
}

// items are d's objects, each mapped to its API, and the Namespace among
// them. Every object of an unserved kind (a CRD not installed) is
// rejected before any request that could write.
func (e *Engine) items(d *Desired) (items []*item, nsItem *item, err error) {
	var rej []Rejection
	for _, o := range d.Objects {
		it := &item{obj: o.DeepCopy(), ref: object.UnstructuredToObjMetadata(o)}
		items = append(items, it)
		if it.ref == (ref{GroupKind: schema.GroupKind{Kind: "Namespace"}, Name: d.Namespace}) {
			nsItem = it
		}
		gvk := o.GroupVersionKind()
		m, err := e.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if meta.IsNoMatchError(err) {
			rej = append(rej, Rejection{ID: it.id(),
				Reason: fmt.Sprintf("the cluster does not serve %s %s (is its CRD installed?)", o.GetAPIVersion(), gvk.Kind)})
			continue
		}
		if err != nil {
			// Discovery failed (the cluster is unreachable, not refusing
			// the object): say so once, not as a rejection per object.
			return nil, nil, fmt.Errorf("discovering the cluster's APIs: %w", err)
		}
		it.namespaced = m.Scope.Name() == meta.RESTScopeNameNamespace
		if it.namespaced && o.GetNamespace() == "" {
			it.obj.SetNamespace(d.Namespace)
			it.ref.Namespace = d.Namespace
		}
	}
	switch {
	case nsItem == nil:
		return nil, nil, fmt.Errorf("object set has no Namespace %s", d.Namespace)
	case len(rej) > 0:
		return nil, nil, &RejectedError{Total: len(items), Rejected: rej}
	}
	return items, nsItem, nil
}

// checkNamespace says whether the spec's namespace exists, and refuses one
// being deleted or, unless adopt, one without ocw's managed-by label (which
// Flux sets too, and which only cluster-level rights can set).
func (e *Engine) checkNamespace(ctx context.Context, nsItem *item, adopt bool) (exists bool, err error) {
	live, err := e.get(ctx, nsItem.obj)
	switch {
	case err != nil:
		return false, err
	case live == nil:
		return false, nil
	case live.GetDeletionTimestamp() != nil:
		return true, fmt.Errorf("namespace %s is being deleted: wait until it is gone, then apply again", nsItem.ref.Name)
	case !adopt && live.GetLabels()[model.LabelManagedBy] != model.ManagedBy:
		return true, fmt.Errorf("namespace %s exists and ocw did not create it (it lacks the label %s=%s): applying would take it over, "+
			"enforce Pod Security \"restricted\" on every pod in it and manage it as ocw's. "+
			"To take it over, rerun with --adopt-namespace; otherwise set another namespace in the spec",
			nsItem.ref.Name, model.LabelManagedBy, model.ManagedBy)
	}
	return true, nil
}

// validateSet dry-runs the whole set. The API server refuses even a dry
// run inside a missing namespace: then the cluster-scoped objects are
// validated, the Namespace is created (not on a dry run, where the rest is
// only checked against the served APIs), the rest validated, and the
// Namespace deleted again if anything is rejected.
func (e *Engine) validateSet(ctx context.Context, ordered []*item, nsItem *item, nsExists, dryRun bool) error {
	if nsExists {
		return e.validate(ctx, ordered)
	}
	cluster := slices.DeleteFunc(slices.Clone(ordered), func(it *item) bool { return it.namespaced })
	namespaced := slices.DeleteFunc(slices.Clone(ordered), func(it *item) bool { return !it.namespaced })
	if err := e.validate(ctx, cluster); err != nil {
		return err
	}
	if dryRun {
		for _, it := range namespaced {
			it.action = Created
		}
		fmt.Fprintf(e.log, "note: namespace %s does not exist yet, and the API server validates nothing inside a missing namespace: its %d objects were only checked against the served APIs\n",
			nsItem.ref.Name, len(namespaced))
		return nil
	}
	if err := e.write(ctx, nsItem); err != nil {
		return err
	}
	err := e.validate(ctx, namespaced)
	var rej *RejectedError
	if errors.As(err, &rej) {
		rej.Note = e.rollbackNamespace(ctx, nsItem)
	}
	return err
}

// get reads o's live object; nil when it does not exist.
func (e *Engine) get(ctx context.Context, o *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(o.GroupVersionKind())
	err := e.client.Get(ctx, client.ObjectKeyFromObject(o), live)
	switch {
	case err == nil:
		return live, nil
	case apierrors.IsNotFound(err):
		return nil, nil
	}
	return nil, fmt.Errorf("reading %s: %w", ssautil.FmtUnstructured(o), err)
}

// validate dry-runs every item (concurrently) and records its action.
// All rejections are collected, not only the first.
func (e *Engine) validate(ctx context.Context, items []*item) error {
	rej := make([]Rejection, len(items))
	var g errgroup.Group
	g.SetLimit(concurrency)
	for i, it := range items {
		g.Go(func() error {
			rej[i] = e.validateOne(ctx, it)
			return nil
		})
	}
	_ = g.Wait()
	if rej = slices.DeleteFunc(rej, func(r Rejection) bool { return r.ID == "" }); len(rej) > 0 {
		return &RejectedError{Total: len(items), Rejected: rej}
	}
	return nil
}

// validateOne dry-runs it and records its action; a refusal is returned
// (none: the zero Rejection).
func (e *Engine) validateOne(ctx context.Context, it *item) Rejection {
	var warned []string
	cse, existing, _, err := e.rm.Diff(withWarnings(ctx, &warned), it.obj.DeepCopy(), ssa.DefaultDiffOptions())
	if err != nil {
		return Rejection{ID: it.id(), Reason: reason(err)}
	}
	switch cse.Action {
	case ssa.CreatedAction:
		it.action = Created
	case ssa.ConfiguredAction:
		it.action = Configured
		it.existing = existing
	default:
		it.action = Unchanged
	}
	// Pod Security only warns about a Deployment's template; its pods
	// would then be refused one by one, out of sight. Refuse it here.
	for _, w := range warned {
		if strings.Contains(w, "would violate PodSecurity") {
			return Rejection{ID: it.id(), Reason: "its pods would be rejected: " + w}
		}
		e.warn(it.id(), w)
	}
	return Rejection{}
}

// reason extracts the API server's field-level causes, which name the
// field, from an error.
func reason(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		s := status.Status()
		var parts []string
		if s.Details != nil {
			for _, c := range s.Details.Causes {
				if c.Field != "" {
					parts = append(parts, c.Field+": "+c.Message)
				}
			}
		}
		if len(parts) > 0 {
			return fmt.Sprintf("%s (%s)", strings.Join(parts, "; "), s.Reason)
		}
		return s.Message
	}
	return err.Error()
}

// write applies one object for real.
func (e *Engine) write(ctx context.Context, it *item) error {
	obj := it.obj.DeepCopy()
	var warned []string
	err := e.client.Apply(withWarnings(ctx, &warned), client.ApplyConfigurationFromUnstructured(obj),
		client.ForceOwnership, client.FieldOwner(model.FieldManager))
	for _, w := range warned {
		e.warn(it.id(), w)
	}
	if err != nil {
		return fmt.Errorf("%s: apply failed: %s", it.id(), reason(err))
	}
	it.written = true
	it.obj.SetUID(obj.GetUID())
	return nil
}

// writeAll writes what differs with ssa: ApplyAllStaged puts the
// Namespace first and the inventory (the only ConfigMap ocw applies) in a
// stage of its own before the rest; Deployments go in a last call, as
// ssa's kind order would put them before the PVCs they mount.
func (e *Engine) writeAll(ctx context.Context, items []*item) error {
	var objs, workloads []*unstructured.Unstructured
	byRef := map[ref]*item{}
	for _, it := range items {
		// The dry run found these unchanged: ssa would read and dry-run
		// them again only to skip them.
		if it.written || (it.action != Created && it.action != Configured) {
			continue
		}
		byRef[it.ref] = it
		if it.ref.GroupKind.Group == "apps" {
			workloads = append(workloads, it.obj.DeepCopy())
		} else {
			objs = append(objs, it.obj.DeepCopy())
		}
	}
	opts := ssa.DefaultApplyOptions()
	opts.WaitInterval, opts.WaitTimeout = 200*time.Millisecond, time.Minute
	opts.CustomStageKinds = map[schema.GroupKind]struct{}{{Kind: "ConfigMap"}: {}}
	cs, err := e.rm.ApplyAllStaged(ctx, objs, opts)
	if err == nil && len(workloads) > 0 {
		var wcs *ssa.ChangeSet
		if wcs, err = e.rm.ApplyAll(ctx, workloads, opts); wcs != nil {
			cs.Append(wcs.Entries)
		}
	}
	for _, en := range cs.Entries {
		if en.Action != ssa.CreatedAction && en.Action != ssa.ConfiguredAction {
			continue
		}
		if it := byRef[en.ObjMetadata]; it != nil {
			it.written = true
		}
	}
	if err != nil {
		return fmt.Errorf("applying: %w", err)
	}
	return nil
}

// rollbackNamespace deletes the namespace this run created for validation,
// guarded by its UID so nothing else is ever deleted in its place.
func (e *Engine) rollbackNamespace(ctx context.Context, ns *item) string {
	uid := ns.obj.GetUID()
	if !ns.written || uid == "" {
		return ""
	}
	err := e.client.Delete(ctx, ns.obj.DeepCopy(), client.Preconditions{UID: &uid})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Sprintf("namespace %s was created to validate the objects in it, and deleting it again failed: %v; delete it by hand", ns.ref.Name, err)
	}
	return fmt.Sprintf("namespace %s, created to validate the objects in it, was deleted again", ns.ref.Name)
}

// noteAdoptions tells when ocw takes over an object it did not create.
func (e *Engine) noteAdoptions(items []*item, old inventory) {
	for _, it := range items {
		if it.existing == nil {
			continue
		}
		if _, listed := old[it.ref]; listed {
			continue
		}
		if it.existing.GetLabels()[model.LabelManagedBy] != model.ManagedBy {
			fmt.Fprintf(e.log, "note: %s already existed and was not created by ocw; ocw manages it from now on\n", it.id())
		}
	}
}

type warningsKey struct{}

// withWarnings collects in w the API warnings of the requests made with
// the context, which are sent one after the other: client-go hands each
// request's warnings over before it returns, so no lock is needed.
func withWarnings(ctx context.Context, w *[]string) context.Context {
	return context.WithValue(ctx, warningsKey{}, w)
}

// warningRouter hands an API warning to the object whose request drew it
// (the request's context says which), or prints it.
type warningRouter struct{ e *Engine }

func (r warningRouter) HandleWarningHeaderWithContext(ctx context.Context, code int, _ string, message string) {
	if code != 299 || message == "" {
		return
	}
	if w, ok := ctx.Value(warningsKey{}).(*[]string); ok {
		*w = append(*w, message)
		return
	}
	r.e.warn("", message)
}

// warn prints a warning once per object. A warning without an object
// (ssa's writes share one context) is dropped when an object's dry run
// already drew it.
func (e *Engine) warn(id, msg string) {
	key := id + "\x00" + msg
	e.warnMu.Lock()
	defer e.warnMu.Unlock()
	if e.warned[key] || (id == "" && e.warned["\x01"+msg]) {
		return
	}
	e.warned[key], e.warned["\x01"+msg] = true, true
	msg = safetext.Line(msg) // the API server's text
	if id != "" {
		fmt.Fprintf(e.log, "warning: %s: %s\n", id, msg)
	} else {
		fmt.Fprintf(e.log, "warning: %s\n", msg)
	}
}
