package backup

import (
	"context"
	"fmt"
	"time"

	volsyncv1alpha1 "github.com/backube/volsync/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/opencode-workspaces/ocw/internal/build"
	"github.com/opencode-workspaces/ocw/internal/kube"
	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/output"
)

// Labels kustomize-controller puts on what a Kustomization applied.
const (
	labelFluxName      = "kustomize.toolkit.fluxcd.io/name"
	labelFluxNamespace = "kustomize.toolkit.fluxcd.io/namespace"
)

// DestinationName is the ReplicationDestination a restore creates (and
// deletes when done); not the home-ops component's "${APP}-dst", which
// restores on bootstrap and is Flux's.
func DestinationName(ws model.Workspace) string { return ws.Name + "-restore" }

// Restore stops the workspace, copies a snapshot into its PVC and starts it
// again, as ocw restore's help says. The repository and mover settings are
// the live ReplicationSource's, so a restore reads what the backups wrote in
// both backup modes. Once the mover may have written, a failure gives
// nothing back (Flux would start the workspace on a half-written volume).
// asOf picks the newest snapshot taken at or before it; nil: the newest.
func Restore(ctx context.Context, c *kube.Clients, ws model.Workspace, asOf *time.Time, o Options) (*Snapshot, error) {
	o.defaults()
	rs := &volsyncv1alpha1.ReplicationSource{}
	if err := getRS(ctx, c, ws, rs); err != nil {
		return nil, err
	}
	if rs.Spec.Restic == nil || rs.Spec.Restic.Repository == "" {
		return nil, fmt.Errorf("ReplicationSource %s/%s has no restic repository: ocw restores restic backups only", ws.Namespace, ws.Name)
	}
	dep, err := c.Kube.AppsV1().Deployments(ws.Namespace).Get(ctx, ws.Name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading Deployment %s/%s: %w", ws.Namespace, ws.Name, err)
	}
	replicas := max(ptr.Deref(dep.Spec.Replicas, 1), 1)

	r := &restore{c: c, ws: ws, o: o, asOf: asOf}
	defer r.finish(ctx)
	if err := r.suspendFlux(ctx, dep.Labels); err != nil {
		return nil, err
	}
	rst := rsTarget(c, ws)
	if _, err := rst.apply(ctx, ManagerRestore, map[string]any{"paused": true}); err != nil {
		return nil, fmt.Errorf("pausing ReplicationSource %s/%s: %w", ws.Namespace, ws.Name, err)
	}
	r.undo = append(r.undo,
		func(ctx context.Context) { rst.giveBack(ctx, ManagerRestore, o) },
		func(ctx context.Context) { r.scale(ctx, replicas) })
	stop := func(ctx context.Context) error { return r.scale(ctx, 0) }
	for _, step := range []func(context.Context) error{stop, r.waitStopped, r.ensurePVC} {
		if err := step(ctx); err != nil {
			return nil, err
		}
	}

	// From here on the volume may be half-written: no automatic start.
	r.started = true
	snap, err := r.copyIn(ctx, rs)
	if err != nil {
		return nil, err
	}
	r.started = false
	r.finish(ctx)
	return snap, r.waitRunning(ctx, replicas)
}

// restore holds what a restore changed, to be given back in reverse
// unless started (the mover may have written); held says what stays.
type restore struct {
	c       *kube.Clients
	ws      model.Workspace
	o       Options
	asOf    *time.Time
	undo    []func(context.Context)
	started bool
	held    []string
}

func (r *restore) finish(ctx context.Context) {
	if r.started {
		return
	}
	for i := len(r.undo) - 1; i >= 0; i-- {
		r.undo[i](ctx)
	}
	r.undo = nil
}

// suspendFlux suspends the Kustomization that applied the Deployment,
// unless it is suspended already (then it stays so).
func (r *restore) suspendFlux(ctx context.Context, l map[string]string) error {
	name, ns := l[labelFluxName], l[labelFluxNamespace]
	if name == "" || ns == "" {
		return nil
	}
	gv := schema.GroupVersion{Group: "kustomize.toolkit.fluxcd.io", Version: "v1"}
	ks := target{r.c.Dynamic.Resource(gv.WithResource("kustomizations")).Namespace(ns), gv.String(), "Kustomization", ns, name}
	cur, err := ks.ri.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading Flux Kustomization %s/%s, which deploys the workspace: %w", ns, name, err)
	}
	if s, _, _ := unstructured.NestedBool(cur.Object, "spec", "suspend"); s {
		r.o.say("Flux Kustomization %s/%s is suspended already; it stays so", ns, name)
		return nil
	}
	if _, err := ks.apply(ctx, ManagerRestore, map[string]any{"suspend": true}); err != nil {
		return fmt.Errorf("suspending Flux Kustomization %s/%s: %w", ns, name, err)
	}
	r.o.say("suspended Flux Kustomization %s/%s (so Flux does not start the workspace during the restore)", ns, name)
	r.held = append(r.held, fmt.Sprintf("Flux Kustomization %s/%s is suspended (flux resume kustomization %s -n %s)", ns, name, name, ns))
	r.undo = append(r.undo, func(ctx context.Context) {
		ks.giveBack(ctx, ManagerRestore, r.o)
		r.o.say("resumed Flux Kustomization %s/%s", ns, name)
	})
	return nil
}

func (r *restore) scale(ctx context.Context, n int32) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	deps := r.c.Kube.AppsV1().Deployments(r.ws.Namespace)
	s, err := deps.GetScale(ctx, r.ws.Name, metav1.GetOptions{})
	if err == nil {
		s.Spec.Replicas = n
		_, err = deps.UpdateScale(ctx, r.ws.Name, s, metav1.UpdateOptions{FieldManager: ManagerRestore})
	}
	if err != nil {
		err = fmt.Errorf("scaling Deployment %s/%s to %d: %w", r.ws.Namespace, r.ws.Name, n, err)
		r.o.say("warning: %v", err)
		return err
	}
	if n == 0 {
		r.o.say("stopping %s", r.ws.Name)
	} else {
		r.o.say("starting %s", r.ws.Name)
	}
	return nil
}

func (r *restore) waitStopped(ctx context.Context) error {
	err := wait.PollUntilContextCancel(ctx, r.o.Poll, true, func(ctx context.Context) (bool, error) {
		pods, err := listPods(ctx, r.c, r.ws)
		if err != nil {
			return false, fmt.Errorf("listing the workspace's pods: %w", err)
		}
		return len(pods.Items) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %s to stop: %w", r.ws.Name, waitErr(ctx, err))
	}
	return nil
}

// ensurePVC re-creates the workspace's PVC, as ocw apply would, when it
// is gone; a PVC the VolSync component creates is Flux's to re-create.
func (r *restore) ensurePVC(ctx context.Context) error {
	pvcs := r.c.Kube.CoreV1().PersistentVolumeClaims(r.ws.Namespace)
	var cur *corev1.PersistentVolumeClaim
	// A PVC deleted while the workspace ran stays until its pod is gone:
	// now that it is stopped, it goes.
	err := wait.PollUntilContextCancel(ctx, r.o.Poll, true, func(ctx context.Context) (bool, error) {
		var err error
		cur, err = pvcs.Get(ctx, r.ws.Name, metav1.GetOptions{})
		if err != nil {
			return true, err
		}
		if cur.DeletionTimestamp != nil {
			r.o.say("waiting for the deleted PVC %s to go", r.ws.Name)
		}
		return cur.DeletionTimestamp == nil, nil
	})
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("PVC %s/%s is being deleted and something still holds it: %w", r.ws.Namespace, r.ws.Name, waitErr(ctx, err))
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("reading PVC %s/%s: %w", r.ws.Namespace, r.ws.Name, err)
	case !r.ws.RendersPVC():
		return fmt.Errorf("PVC %s/%s is gone and the VolSync component creates it (backup.pvcOwner: component): resume Flux and let the component's ReplicationDestination populate it (restore-on-bootstrap, needs a CSI driver with snapshots), or set backup.pvcOwner: ocw", r.ws.Namespace, r.ws.Name)
	}
	// Converted as ocw render writes it and ocw apply sends it.
	obj, err := output.Object(build.PVC(r.ws))
	if err != nil {
		return err
	}
	if _, err := r.c.Dynamic.Resource(corev1.SchemeGroupVersion.WithResource("persistentvolumeclaims")).Namespace(r.ws.Namespace).
		Apply(ctx, r.ws.Name, &unstructured.Unstructured{Object: obj}, metav1.ApplyOptions{FieldManager: model.FieldManager}); err != nil {
		return fmt.Errorf("re-creating PVC %s/%s: %w", r.ws.Namespace, r.ws.Name, err)
	}
	r.o.say("re-created PVC %s (it was gone)", r.ws.Name)
	return nil
}

// Destination is the ReplicationDestination that restores into the
// workspace's PVC: Direct (the PVC itself, no snapshot or CSI driver),
// the ReplicationSource's repository and mover identity, and file
// deletion on, so that the volume ends up as the snapshot was (files
// written after it are removed, not merged).
func Destination(ws model.Workspace, rs *volsyncv1alpha1.ReplicationSource, token string, asOf *time.Time) *volsyncv1alpha1.ReplicationDestination {
	src := rs.Spec.Restic
	restic := &volsyncv1alpha1.ReplicationDestinationResticSpec{
		ReplicationDestinationVolumeOptions: volsyncv1alpha1.ReplicationDestinationVolumeOptions{
			CopyMethod:     volsyncv1alpha1.CopyMethodDirect,
			DestinationPVC: new(ws.Name),
		},
		Repository:            src.Repository,
		CustomCA:              volsyncv1alpha1.ReplicationDestinationResticCA(src.CustomCA),
		CacheCapacity:         src.CacheCapacity,
		CacheStorageClassName: src.CacheStorageClassName,
		CacheAccessModes:      src.CacheAccessModes,
		CleanupCachePVC:       true,
		EnableFileDeletion:    true,
		MoverConfig:           src.MoverConfig,
	}
	if asOf != nil {
		restic.RestoreAsOf = new(asOf.UTC().Format(time.RFC3339))
	}
	return &volsyncv1alpha1.ReplicationDestination{
		TypeMeta: metav1.TypeMeta{APIVersion: volsyncv1alpha1.GroupVersion.String(), Kind: "ReplicationDestination"},
		ObjectMeta: metav1.ObjectMeta{
			Name: DestinationName(ws), Namespace: ws.Namespace,
			Labels: map[string]string{model.LabelWorkspace: ws.Name, model.LabelManagedBy: model.FieldManager},
		},
		Spec: volsyncv1alpha1.ReplicationDestinationSpec{
			Trigger: &volsyncv1alpha1.ReplicationDestinationTriggerSpec{Manual: token},
			Restic:  restic,
		},
	}
}

// copyIn runs the ReplicationDestination and deletes it when it is done.
func (r *restore) copyIn(ctx context.Context, rs *volsyncv1alpha1.ReplicationSource) (*Snapshot, error) {
	rdc := r.c.Dynamic.Resource(volsyncv1alpha1.GroupVersion.WithResource("replicationdestinations")).Namespace(r.ws.Namespace)
	name := DestinationName(r.ws)
	del := func(ctx context.Context) error {
		return client.IgnoreNotFound(rdc.Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: new(metav1.DeletePropagationBackground)}))
	}
	if err := del(ctx); err != nil {
		return nil, r.heldErr(fmt.Errorf("deleting the ReplicationDestination %s left by an earlier restore: %w", name, err))
	}
	if err := wait.PollUntilContextCancel(ctx, r.o.Poll, true, func(ctx context.Context) (bool, error) {
		_, err := rdc.Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	}); err != nil {
		return nil, r.heldErr(fmt.Errorf("waiting for the earlier ReplicationDestination %s to go: %w", name, waitErr(ctx, err)))
	}
	start := time.Now()
	token := "ocw-restore-" + start.UTC().Format("20060102T150405Z")
	u, err := output.Object(Destination(r.ws, rs, token, r.asOf))
	if err != nil {
		return nil, r.heldErr(err)
	}
	if _, err := rdc.Create(ctx, &unstructured.Unstructured{Object: u}, metav1.CreateOptions{FieldManager: ManagerRestore}); err != nil {
		return nil, r.heldErr(fmt.Errorf("creating ReplicationDestination %s: %w", name, err))
	}
	from, asOf := "its newest backup", ""
	if r.asOf != nil {
		asOf = " at or before " + r.asOf.UTC().Format(time.RFC3339)
		from = "the newest backup" + asOf
	}
	r.o.say("restoring %s from %s", r.ws.Name, from)
	snap, logs, err := waitManual(ctx, r.o, r.ws.Name, token, start, func(ctx context.Context, obj any) error {
		return get(ctx, rdc, name, "ReplicationDestination "+name, obj)
	})
	if err != nil {
		return nil, r.heldErr(fmt.Errorf("restore of %s: %w", r.ws.Name, waitErr(ctx, err)))
	}
	var none bool
	snap.ID, none = RestoredSnapshot(logs)
	// Deleted even when ctx was cancelled.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := del(dctx); err != nil {
		r.o.say("warning: could not delete ReplicationDestination %s: %v", name, err)
	}
	if none {
		// The mover wrote nothing: the workspace starts again as it was.
		r.started = false
		return nil, fmt.Errorf("restore of %s: the repository has no backup to restore%s; nothing was written", r.ws.Name, asOf)
	}
	r.o.say("restored snapshot %s into PVC %s", snap.ID, r.ws.Name)
	return snap, nil
}

// heldErr says what a failed restore left as it is, and how to go on.
func (r *restore) heldErr(err error) error {
	msg := fmt.Sprintf("%v\nthe workspace is left stopped (its volume may be partly restored), scheduled backups paused (spec.paused of ReplicationSource %s, field manager %s)", err, r.ws.Name, ManagerRestore)
	for _, h := range r.held {
		msg += ", " + h
	}
	return fmt.Errorf("%s.\nRun ocw restore again to retry; nothing else is undone meanwhile", msg)
}

// waitRunning waits for the restarted workspace's pods to be available.
func (r *restore) waitRunning(ctx context.Context, replicas int32) error {
	deps := r.c.Kube.AppsV1().Deployments(r.ws.Namespace)
	err := wait.PollUntilContextCancel(ctx, r.o.Poll, true, func(ctx context.Context) (bool, error) {
		d, err := deps.Get(ctx, r.ws.Name, metav1.GetOptions{})
		if err != nil {
			return false, fmt.Errorf("reading Deployment %s: %w", r.ws.Name, err)
		}
		s := d.Status
		return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas >= replicas && s.AvailableReplicas >= replicas, nil
	})
	if err != nil {
		return fmt.Errorf("the data is restored, but %s did not start (ocw status and ocw doctor say why): %w", r.ws.Name, waitErr(ctx, err))
	}
	r.o.say("%s is running", r.ws.Name)
	return nil
}
