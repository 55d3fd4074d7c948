// Package statustest builds workspaces in a real API server as the
// controllers and kubelet (which envtest does not run) would leave them:
// the objects ocw renders, then their status written through the API.
package statustest

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/opencode-workspaces/ocw/internal/boot"
	"github.com/opencode-workspaces/ocw/internal/build"
	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/status"
)

// System loads a spec document.
func System(t testing.TB, doc string) *model.System {
	t.Helper()
	sys, err := model.Load("test.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return sys
}

// CreateWorkspace creates the workspace's PVC, Deployment, Service and
// HTTPRoute as ocw renders them.
func CreateWorkspace(t testing.TB, c client.Client, ws model.Workspace) {
	t.Helper()
	for _, o := range []client.Object{build.PVC(ws), build.Deployment(ws), build.Service(ws), build.HTTPRoute(ws)} {
		if err := c.Create(t.Context(), o); err != nil {
			t.Fatalf("creating %T %s: %v", o, ws.Name, err)
		}
	}
}

// BindPVC marks the workspace's PVC Bound with its requested size.
func BindPVC(t testing.TB, c client.Client, ws model.Workspace) {
	t.Helper()
	pvc := &corev1.PersistentVolumeClaim{}
	Get(t, c, ws.Namespace, ws.Name, pvc)
	pvc.Spec.VolumeName = "pv-" + ws.Namespace + "-" + ws.Name
	if err := c.Update(t.Context(), pvc); err != nil {
		t.Fatal(err)
	}
	pvc.Status.Phase = corev1.ClaimBound
	pvc.Status.AccessModes = pvc.Spec.AccessModes
	pvc.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: ws.Storage.Size}
	UpdateStatus(t, c, pvc)
}

// SetRoute writes the route's status for the spec's Gateway as a Gateway
// controller would; an empty reason means the condition is True.
func SetRoute(t testing.TB, c client.Client, ws model.Workspace, acceptedReason, resolvedReason string) {
	t.Helper()
	r := &gatewayv1.HTTPRoute{}
	Get(t, c, ws.Namespace, ws.Name, r)
	cond := func(typ gatewayv1.RouteConditionType, ok gatewayv1.RouteConditionReason, reason string) metav1.Condition {
		c := metav1.Condition{Type: string(typ), Status: metav1.ConditionTrue, Reason: string(ok),
			ObservedGeneration: r.Generation, LastTransitionTime: metav1.Now()}
		if reason != "" {
			c.Status, c.Reason, c.Message = metav1.ConditionFalse, reason, "test: "+reason
		}
		return c
	}
	r.Status.Parents = []gatewayv1.RouteParentStatus{{
		ParentRef:      r.Spec.ParentRefs[0],
		ControllerName: "example.com/gateway-controller",
		Conditions: []metav1.Condition{
			cond(gatewayv1.RouteConditionAccepted, gatewayv1.RouteReasonAccepted, acceptedReason),
			cond(gatewayv1.RouteConditionResolvedRefs, gatewayv1.RouteReasonResolvedRefs, resolvedReason),
		},
	}}
	UpdateStatus(t, c, r)
}

// Terminated is a finished container state.
func Terminated(exit int32, reason, message string, finished time.Time) *corev1.ContainerStateTerminated {
	return &corev1.ContainerStateTerminated{
		ExitCode: exit, Reason: reason, Message: message,
		StartedAt: metav1.NewTime(finished.Add(-time.Second)), FinishedAt: metav1.NewTime(finished),
	}
}

// HealthyStatus is a running workspace pod: cloned, seeded, OpenCode Ready.
func HealthyStatus(ws model.Workspace, at time.Time) corev1.PodStatus {
	t := metav1.NewTime(at)
	return corev1.PodStatus{
		Phase: corev1.PodRunning,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: t},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: t},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: t},
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: t},
		},
		InitContainerStatuses: []corev1.ContainerStatus{
			{Name: model.ContainerClone, Image: ws.Images.Clone, State: corev1.ContainerState{Terminated: Terminated(0, "Completed",
				fmt.Sprintf("%s: cloned %s into %s\n", boot.ResultCloned, ws.Repo.URL, ws.Repo.Path()), at)}},
			{Name: model.ContainerSeedAuth, Image: ws.Images.Seed, State: corev1.ContainerState{Terminated: Terminated(0, "Completed",
				boot.AuthSeeded+": copied "+ws.Secrets.Copilot.Hint()+" to "+model.AuthPath+" (first seeding)\n", at)}},
		},
		ContainerStatuses: []corev1.ContainerStatus{{
			Name: model.ContainerOpenCode, Image: ws.Images.OpenCode, Ready: true, Started: new(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: t}},
		}},
	}
}

// CreatePod creates a pod from the workspace's Deployment template (on
// node "node-1" when st says it is scheduled) with status st.
func CreatePod(t testing.TB, c client.Client, ws model.Workspace, name string, st corev1.PodStatus) *corev1.Pod {
	t.Helper()
	return CreatePodOn(t, c, ws, name, "node-1", st)
}

// CreatePodOn is CreatePod on the given node.
func CreatePodOn(t testing.TB, c client.Client, ws model.Workspace, name, node string, st corev1.PodStatus) *corev1.Pod {
	t.Helper()
	tmpl := build.Deployment(ws).Spec.Template
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ws.Namespace, Labels: tmpl.Labels, Annotations: tmpl.Annotations},
		Spec:       tmpl.Spec,
	}
	if c := status.PodCondition(&corev1.Pod{Status: st}, corev1.PodScheduled); c != nil && c.Status == corev1.ConditionTrue {
		pod.Spec.NodeName = node
	}
	if err := c.Create(t.Context(), pod); err != nil {
		t.Fatalf("creating pod %s: %v", name, err)
	}
	pod.Status = st
	UpdateStatus(t, c, pod)
	return pod
}

// SetPodStatus replaces a pod's status.
func SetPodStatus(t testing.TB, c client.Client, pod *corev1.Pod, st corev1.PodStatus) {
	t.Helper()
	Get(t, c, pod.Namespace, pod.Name, pod)
	pod.Status = st
	UpdateStatus(t, c, pod)
}

// Get reads an object.
func Get(t testing.TB, c client.Client, ns, name string, obj client.Object) {
	t.Helper()
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
		t.Fatalf("getting %T %s/%s: %v", obj, ns, name, err)
	}
}

// UpdateStatus writes obj's status subresource.
func UpdateStatus(t testing.TB, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Status().Update(t.Context(), obj); err != nil {
		t.Fatalf("updating status of %T %s: %v", obj, obj.GetName(), err)
	}
}

// CloneCrashLooping is a pod whose clone init container failed with
// message (exit 1) and waits in CrashLoopBackOff after restarts runs.
func CloneCrashLooping(ws model.Workspace, restarts int32, message string, at time.Time) corev1.PodStatus {
	st := HealthyStatus(ws, at)
	st.Phase = corev1.PodPending
	st.Conditions = st.Conditions[:1]
	cs := &st.InitContainerStatuses[0]
	cs.RestartCount = restarts
	cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
	cs.LastTerminationState = corev1.ContainerState{Terminated: Terminated(1, "Error", message, at)}
	st.InitContainerStatuses = st.InitContainerStatuses[:1]
	st.ContainerStatuses = nil
	return st
}
