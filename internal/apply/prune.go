package apply

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
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
	ref
	live   *unstructured.Unstructured
	action Action
}

// prune handles the trusted entries of the old inventory that the spec no
// longer has, and returns the inventory to keep: union minus what is gone,
// disowned or refused now.
func (e *Engine) prune(ctx context.Context, ns string, old, union inventory, items []*item, opts Options) (inventory, []Change, error) {
	final := maps.Clone(union)
	desired := map[ref]bool{}
	for _, it := range items {
		desired[it.ref] = true
	}
	var errs []error
	var changes []Change
	var deletes []*staleObject
	for _, r := range slices.SortedFunc(maps.Keys(old), func(a, b ref) int { return strings.Compare(id(a), id(b)) }) {
		if desired[r] {
			continue
		}
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(schema.FromAPIVersionAndKind(old[r], r.GroupKind.Kind))
		err := e.client.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: r.Name}, live)
		switch {
		case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
			fmt.Fprintf(e.log, "note: %s is no longer in the spec and was already deleted\n", id(r))
			delete(final, r)
			continue
		case err != nil:
			errs = append(errs, fmt.Errorf("reading %s: %w", id(r), err))
			continue
		}
		action, reason := pruneRule(ns, live, opts)
		switch action {
		case toDelete, toPurge:
			deletes = append(deletes, &staleObject{ref: r, live: live, action: action})
			continue
		case Refused, Pruned, Disowned:
			delete(final, r)
		}
		changes = append(changes, Change{ID: id(r), Action: action, DryRun: opts.DryRun, Reason: reason})
	}

	// Workloads go first so nothing is left running against a deleted
	// service account or claim; data goes last, listed before any delete.
	slices.SortStableFunc(deletes, func(a, b *staleObject) int { return cmp.Compare(deleteStage(a), deleteStage(b)) })
	if i := slices.IndexFunc(deletes, func(s *staleObject) bool { return s.action == toPurge }); i >= 0 {
		fmt.Fprintf(e.log, "--purge-data: deleting %d object(s) and the data they hold:\n", len(deletes)-i)
		for _, s := range deletes[i:] {
			fmt.Fprintf(e.log, "  %s\n", id(s.ref))
		}
	}
	for _, s := range deletes {
		if err := e.delete(ctx, s, opts.DryRun); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(final, s.ref)
		changes = append(changes, Change{ID: id(s.ref), Action: Pruned, DryRun: opts.DryRun})
	}
	return final, changes, errors.Join(errs...)
}

// deleteStage orders deletes: workloads, the rest, data.
func deleteStage(s *staleObject) int {
	switch {
	case s.action == toPurge:
		return 2
	case s.GroupKind.Group == "apps":
		return 0
	}
	return 1
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
		return fmt.Errorf("%s: delete failed: %s", id(s.ref), reason(err))
	}
	return nil
}
