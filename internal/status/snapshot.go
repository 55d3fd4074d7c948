// Package status reads a namespace's workspaces from one snapshot of a
// fixed set of LIST calls (the cost of `ocw status` must not grow with the
// number of workspaces) and is ocw's one reading of pods, boot-script
// results and VolSync; see docs/architecture.md.
package status

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	volsyncv1alpha1 "github.com/backube/volsync/api/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/opencode-workspaces/ocw/internal/kube"
	"github.com/opencode-workspaces/ocw/internal/model"
)

// Snapshot is everything status needs from one namespace.
type Snapshot struct {
	Namespace   string
	Deployments []appsv1.Deployment
	Pods        []corev1.Pod
	PVCs        []corev1.PersistentVolumeClaim
	Routes      []gatewayv1.HTTPRoute
	// RoutesMissing and BackupsMissing: the CRD is not installed.
	RoutesMissing bool
	// ReplicationSources are every VolSync source in the namespace: a
	// home-ops component's carries none of ocw's labels.
	ReplicationSources []volsyncv1alpha1.ReplicationSource
	BackupsMissing     bool
	// Secrets holds metadata only: status never reads Secret values.
	Secrets []metav1.PartialObjectMetadata
	Events  []corev1.Event // only after LoadEvents
}

// Fetch lists the namespace's workspace objects: six LIST calls whatever
// the number of workspaces.
func Fetch(ctx context.Context, c *kube.Clients, namespace string) (*Snapshot, error) {
	s := &Snapshot{Namespace: namespace}
	ours := metav1.ListOptions{LabelSelector: model.LabelWorkspace}
	// Every list runs; the first error is reported.
	err := cmp.Or(
		listAs(ctx, c, s, "Deployments", appsv1.SchemeGroupVersion.WithResource("deployments"), ours, &s.Deployments, nil),
		listAs(ctx, c, s, "Pods", corev1.SchemeGroupVersion.WithResource("pods"), ours, &s.Pods, nil),
		listAs(ctx, c, s, "PersistentVolumeClaims", corev1.SchemeGroupVersion.WithResource("persistentvolumeclaims"), ours, &s.PVCs, nil),
		listAs(ctx, c, s, "HTTPRoutes", gatewayv1.SchemeGroupVersion.WithResource("httproutes"), ours, &s.Routes, &s.RoutesMissing),
		listAs(ctx, c, s, "ReplicationSources", volsyncv1alpha1.GroupVersion.WithResource("replicationsources"), metav1.ListOptions{}, &s.ReplicationSources, &s.BackupsMissing),
	)
	if err != nil {
		return nil, err
	}
	// The shared Secrets may have been made by hand or by external-secrets,
	// without ocw's labels: list them all, metadata only.
	secrets, err := c.Metadata.Resource(corev1.SchemeGroupVersion.WithResource("secrets")).Namespace(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, listErr("Secrets", namespace, err)
	}
	s.Secrets = secrets.Items
	return s, nil
}

func listErr(kind, ns string, err error) error {
	return fmt.Errorf("listing %s in namespace %s: %w", kind, ns, err)
}

// listAs lists a resource into typed objects. With missing set, a resource
// the cluster does not serve (its CRD is not installed) is no error.
func listAs[T any](ctx context.Context, c *kube.Clients, s *Snapshot, kind string, gvr schema.GroupVersionResource, opts metav1.ListOptions, out *[]T, missing *bool) error {
	list, err := c.Dynamic.Resource(gvr).Namespace(s.Namespace).List(ctx, opts)
	if missing != nil && (apierrors.IsNotFound(err) || meta.IsNoMatchError(err)) {
		*missing = true
		return nil
	}
	if err != nil {
		return listErr(kind, s.Namespace, err)
	}
	for _, u := range list.Items {
		var o T
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &o); err != nil {
			return listErr(kind, s.Namespace, fmt.Errorf("decoding %s: %w", u.GetName(), err))
		}
		*out = append(*out, o)
	}
	return nil
}

// named returns the item called name, or nil.
func named[T any, P interface {
	*T
	GetName() string
}](items []T, name string) *T {
	for i := range items {
		if P(&items[i]).GetName() == name {
			return &items[i]
		}
	}
	return nil
}

// The workspace's objects (a Secret by its own name), or nil.

func (s *Snapshot) Deployment(name string) *appsv1.Deployment        { return named(s.Deployments, name) }
func (s *Snapshot) PVC(name string) *corev1.PersistentVolumeClaim    { return named(s.PVCs, name) }
func (s *Snapshot) Route(name string) *gatewayv1.HTTPRoute           { return named(s.Routes, name) }
func (s *Snapshot) Secret(name string) *metav1.PartialObjectMetadata { return named(s.Secrets, name) }
func (s *Snapshot) ReplicationSource(name string) *volsyncv1alpha1.ReplicationSource {
	return named(s.ReplicationSources, name)
}

// CurrentPod is the pod that represents the workspace: the newest one not
// being deleted, else the newest (a Recreate rollout stops the old pod
// before the new one exists).
func (s *Snapshot) CurrentPod(name string) *corev1.Pod {
	var pods []*corev1.Pod
	for i := range s.Pods {
		if s.Pods[i].Labels[model.LabelWorkspace] == name {
			pods = append(pods, &s.Pods[i])
		}
	}
	if len(pods) == 0 {
		return nil
	}
	slices.SortFunc(pods, func(a, b *corev1.Pod) int {
		return cmp.Or(b.CreationTimestamp.Compare(a.CreationTimestamp.Time), strings.Compare(a.Name, b.Name))
	})
	if i := slices.IndexFunc(pods, func(p *corev1.Pod) bool { return p.DeletionTimestamp == nil }); i >= 0 {
		return pods[i]
	}
	return pods[0]
}

// LastChange is when a Secret's data last changed: the newest managedFields
// entry that owns data (the API server bumps an entry's time only when its
// fields change, and no-op writes record nothing), else the creation time.
func LastChange(m *metav1.PartialObjectMetadata) time.Time {
	t := m.CreationTimestamp.Time
	for _, f := range m.ManagedFields {
		if f.Time == nil || f.FieldsV1 == nil || !f.Time.After(t) {
			continue
		}
		if raw := string(f.FieldsV1.Raw); strings.Contains(raw, `"f:data"`) || strings.Contains(raw, `"f:stringData"`) {
			t = f.Time.Time
		}
	}
	return t
}

// LoadEvents adds the namespace's Events, with which apply --wait and
// doctor explain a waiting claim or pod.
func (s *Snapshot) LoadEvents(ctx context.Context, c *kube.Clients) error {
	return listAs(ctx, c, s, "Events", corev1.SchemeGroupVersion.WithResource("events"), metav1.ListOptions{}, &s.Events, nil)
}

// EventsOf is the Events about kind/name of type typ ("": any), oldest first.
func (s *Snapshot) EventsOf(kind, name, typ string) []corev1.Event {
	var out []corev1.Event
	for _, e := range s.Events {
		if e.InvolvedObject.Kind == kind && e.InvolvedObject.Name == name && (typ == "" || e.Type == typ) {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b corev1.Event) int { return eventTime(a).Compare(eventTime(b)) })
	return out
}

// eventTime is when an Event last happened: its last timestamp, else its
// event time (events.k8s.io), else its creation.
func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}
