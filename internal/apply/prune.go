package apply

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/opencode-workspaces/ocw/internal/build"
	"github.com/opencode-workspaces/ocw/internal/model"
)

// holdsData says whether deleting o loses a person's work: PVCs and the
// Namespace (which takes its PVCs with it) always, and anything ocw's
// builders mark with ocw.dev/keep-data.
func holdsData(o *unstructured.Unstructured) bool {
	gvk := o.GroupVersionKind()
	if gvk.Group == "" && (gvk.Kind == "PersistentVolumeClaim" || gvk.Kind == "Namespace") {
		return true
	}
	return o.GetAnnotations()[build.AnnotationKeepData] == "true"
}

type staleObject struct {
	entry
	live   *unstructured.Unstructured
	action Action
	reason string
	err    error
}

// prune handles the objects listed in the old inventory that the spec no
// longer has. It returns the inventory to keep: the union written before
// the run minus what is gone, disowned or refused now. Only entries that
// passed trustEntry reach it.
func (e *Engine) prune(ctx context.Context, ns string, old, union inventory, items []*item, opts Options) (inventory, []Change, error) {
	final := union.clone()
	desired := map[ref]bool{}
	for _, it := range items {
		desired[it.ref] = true
	}
	var stale []*staleObject
	for _, en := range sortedRefs(old) {
		if !desired[en.ref] {
			stale = append(stale, &staleObject{entry: en})
		}
	}
	if len(stale) == 0 {
		return final, nil, nil
	}

	for _, s := range stale {
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(s.gvk())
		err := e.client.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: s.Name}, live)
		switch {
		case err == nil:
			s.live = live
		case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
		default:
			s.err = fmt.Errorf("reading %s: %w", s.ID(), err)
		}
	}

	var errs []error
	var changes []Change
	var deletes, dataDeletes []*staleObject
	for _, s := range stale {
		switch {
		case s.err != nil:
			errs = append(errs, s.err)
			continue
		case s.live == nil:
			fmt.Fprintf(e.log, "note: %s is no longer in the spec and was already deleted\n", s.ID())
			delete(final, s.ref)
			continue
		}
		s.action, s.reason = pruneRule(ns, s.live, opts)
		switch s.action {
		case toDelete:
			deletes = append(deletes, s)
			continue
		case toPurge:
			dataDeletes = append(dataDeletes, s)
			continue
		case Refused, Pruned, Disowned:
			delete(final, s.ref)
		}
		changes = append(changes, Change{ID: s.ID(), Action: s.action, DryRun: opts.DryRun, Reason: s.reason})
	}

	if len(dataDeletes) > 0 {
		fmt.Fprintf(e.log, "--purge-data: deleting %d object(s) and the data they hold:\n", len(dataDeletes))
		for _, s := range dataDeletes {
			fmt.Fprintf(e.log, "  %s\n", s.ID())
		}
	}
	// Workloads go first so nothing is left running against a deleted
	// service account or claim; data goes last.
	var workloads, rest []*staleObject
	for _, s := range deletes {
		if s.Group == "apps" {
			workloads = append(workloads, s)
		} else {
			rest = append(rest, s)
		}
	}
	for _, batch := range [][]*staleObject{workloads, rest, dataDeletes} {
		for _, s := range batch {
			if err := e.delete(ctx, s, opts.DryRun); err != nil {
				errs = append(errs, err)
				continue
			}
			delete(final, s.ref)
			changes = append(changes, Change{ID: s.ID(), Action: Pruned, DryRun: opts.DryRun})
		}
	}
	return final, changes, errors.Join(errs...)
}

// Decisions of pruneRule that are not reported as they are.
const (
	toDelete Action = "delete"
	toPurge  Action = "purge" // delete, and the data with it
)

// pruneRule decides what becomes of an object that left the spec and still
// exists (live): Refused, Pruned (already being deleted) and Disowned
// leave the inventory; Stale and KeptData stay listed; toDelete and
// toPurge are deleted. Data goes only with PurgeData.
func pruneRule(ns string, live *unstructured.Unstructured, opts Options) (Action, string) {
	switch {
	case ownedBy(ns, live) != "":
		// A name ocw generates, on an object of another namespace's.
		return Refused, ownedBy(ns, live)
	case live.GetDeletionTimestamp() != nil:
		// Being deleted (e.g. a PVC waiting for its pod to go): done.
		return Pruned, ""
	case live.GetLabels()[model.LabelManagedBy] != model.ManagedBy:
		// Someone relabelled it: it is theirs now.
		return Disowned, ""
	case !opts.Prune && holdsData(live), opts.Prune && holdsData(live) && !opts.PurgeData:
		return KeptData, ""
	case !opts.Prune:
		return Stale, ""
	case holdsData(live):
		return toPurge, ""
	}
	return toDelete, ""
}

// delete removes exactly the object that was inspected (UID precondition).
func (e *Engine) delete(ctx context.Context, s *staleObject, dryRun bool) error {
	uid := s.live.GetUID()
	opts := []client.DeleteOption{
		client.PropagationPolicy(metav1.DeletePropagationBackground),
		client.Preconditions{UID: &uid},
	}
	if dryRun {
		opts = append(opts, client.DryRunAll)
	}
	err := e.client.Delete(ctx, s.live.DeepCopy(), opts...)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("%s: delete failed: %s", s.ID(), reason(err))
	}
	return nil
}
