// Package status reports the state of every workspace in a namespace from a
// fixed set of LIST calls (Deployments, Pods, PVCs, HTTPRoutes, VolSync
// ReplicationSources and Secret metadata), never one GET per workspace: the cost of `ocw status` must not
// grow with the number of workspaces. Doctor reuses the snapshot and the
// container helpers.
package status

import (
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

// Resources read through the dynamic and metadata clients (no typed client
// is needed, and no discovery call: the versions are fixed).
var (
	httpRouteGVR = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}
	// ReplicationSourceGVR is VolSync's backup API (doctor checks its CRD).
	ReplicationSourceGVR = volsyncv1alpha1.GroupVersion.WithResource("replicationsources")
	secretGVR            = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
)

// Snapshot is everything status needs from one namespace.
type Snapshot struct {
	Namespace   string
	Deployments []appsv1.Deployment
	Pods        []corev1.Pod
	PVCs        []corev1.PersistentVolumeClaim
	Routes      []gatewayv1.HTTPRoute
	// RoutesMissing is set when the HTTPRoute CRD is not installed.
	RoutesMissing bool
	// ReplicationSources are every VolSync source in the namespace: a
	// home-ops component's carries none of ocw's labels.
	ReplicationSources []volsyncv1alpha1.ReplicationSource
	// BackupsMissing is set when the ReplicationSource CRD is not installed.
	BackupsMissing bool
	// Secrets holds metadata only: status never reads Secret values.
	Secrets []metav1.PartialObjectMetadata
	// Events are loaded only on request (LoadEvents).
	Events []corev1.Event
}

// Fetch lists the namespace's workspace objects: six LIST calls whatever
// the number of workspaces.
func Fetch(ctx context.Context, c *kube.Clients, namespace string) (*Snapshot, error) {
	sel := metav1.ListOptions{LabelSelector: model.LabelWorkspace}
	s := &Snapshot{Namespace: namespace}

	deps, err := c.Kube.AppsV1().Deployments(namespace).List(ctx, sel)
	if err != nil {
		return nil, listErr("Deployments", namespace, err)
	}
	s.Deployments = deps.Items
	pods, err := c.Kube.CoreV1().Pods(namespace).List(ctx, sel)
	if err != nil {
		return nil, listErr("Pods", namespace, err)
	}
	s.Pods = pods.Items
	pvcs, err := c.Kube.CoreV1().PersistentVolumeClaims(namespace).List(ctx, sel)
	if err != nil {
		return nil, listErr("PersistentVolumeClaims", namespace, err)
	}
	s.PVCs = pvcs.Items

	routes, err := c.Dynamic.Resource(httpRouteGVR).Namespace(namespace).List(ctx, sel)
	switch {
	case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
		s.RoutesMissing = true
	case err != nil:
		return nil, listErr("HTTPRoutes", namespace, err)
	default:
		for _, u := range routes.Items {
			var r gatewayv1.HTTPRoute
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &r); err != nil {
				return nil, fmt.Errorf("decoding HTTPRoute %s/%s: %w", namespace, u.GetName(), err)
			}
			s.Routes = append(s.Routes, r)
		}
	}

	sources, err := c.Dynamic.Resource(ReplicationSourceGVR).Namespace(namespace).List(ctx, metav1.ListOptions{})
	switch {
	case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
		s.BackupsMissing = true
	case err != nil:
		return nil, listErr("ReplicationSources", namespace, err)
	default:
		for _, u := range sources.Items {
			var rs volsyncv1alpha1.ReplicationSource
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &rs); err != nil {
				return nil, fmt.Errorf("decoding ReplicationSource %s/%s: %w", namespace, u.GetName(), err)
			}
			s.ReplicationSources = append(s.ReplicationSources, rs)
		}
	}

	// The shared Secrets may have been made by hand or by external-secrets,
	// without ocw's labels: list them all, metadata only.
	secrets, err := c.Metadata.Resource(secretGVR).Namespace(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, listErr("Secrets", namespace, err)
	}
	s.Secrets = secrets.Items
	return s, nil
}

func listErr(kind, ns string, err error) error {
	return fmt.Errorf("listing %s in namespace %s: %w", kind, ns, err)
}

// Deployment returns the workspace's Deployment, or nil.
func (s *Snapshot) Deployment(name string) *appsv1.Deployment {
	for i := range s.Deployments {
		if s.Deployments[i].Name == name {
			return &s.Deployments[i]
		}
	}
	return nil
}

// PVC returns the workspace's PVC, or nil.
func (s *Snapshot) PVC(name string) *corev1.PersistentVolumeClaim {
	for i := range s.PVCs {
		if s.PVCs[i].Name == name {
			return &s.PVCs[i]
		}
	}
	return nil
}

// Route returns the workspace's HTTPRoute, or nil.
func (s *Snapshot) Route(name string) *gatewayv1.HTTPRoute {
	for i := range s.Routes {
		if s.Routes[i].Name == name {
			return &s.Routes[i]
		}
	}
	return nil
}

// ReplicationSource returns the workspace's VolSync source, or nil.
func (s *Snapshot) ReplicationSource(name string) *volsyncv1alpha1.ReplicationSource {
	for i := range s.ReplicationSources {
		if s.ReplicationSources[i].Name == name {
			return &s.ReplicationSources[i]
		}
	}
	return nil
}

// Secret returns a Secret's metadata, or nil.
func (s *Snapshot) Secret(name string) *metav1.PartialObjectMetadata {
	for i := range s.Secrets {
		if s.Secrets[i].Name == name {
			return &s.Secrets[i]
		}
	}
	return nil
}

// podsOf returns the workspace's pods, newest first.
func (s *Snapshot) podsOf(name string) []*corev1.Pod {
	var out []*corev1.Pod
	for i := range s.Pods {
		if s.Pods[i].Labels[model.LabelWorkspace] == name {
			out = append(out, &s.Pods[i])
		}
	}
	slices.SortFunc(out, func(a, b *corev1.Pod) int {
		if c := b.CreationTimestamp.Compare(a.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// CurrentPod is the pod that represents the workspace: the newest one not
// being deleted, else the newest (a Recreate rollout stops the old pod
// before the new one exists).
func (s *Snapshot) CurrentPod(name string) *corev1.Pod {
	pods := s.podsOf(name)
	for _, p := range pods {
		if p.DeletionTimestamp == nil {
			return p
		}
	}
	if len(pods) > 0 {
		return pods[0]
	}
	return nil
}

// Names of workspaces found in the cluster (by Deployment label), sorted.
func (s *Snapshot) Names() []string {
	var names []string
	for _, d := range s.Deployments {
		if n := d.Labels[model.LabelWorkspace]; n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
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

// LoadEvents adds the namespace's Events to the snapshot. Status itself
// does not need them; apply --wait and doctor explain a waiting claim or
// pod with them.
func (s *Snapshot) LoadEvents(ctx context.Context, c *kube.Clients) error {
	ev, err := c.Kube.CoreV1().Events(s.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return listErr("Events", s.Namespace, err)
	}
	s.Events = ev.Items
	return nil
}

// EventsOf returns the Events about kind/name, oldest first; only those of
// type typ unless typ is "".
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
