package apply

import (
	"reflect"
	"testing"
	"time"

	"github.com/fluxcd/cli-utils/pkg/object"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/status"
	"github.com/opencode-workspaces/ocw/internal/status/statustest"
)

// What apply --wait prints for a workspace is status's reading of one
// snapshot, with the claim's and the pod's latest events.
func TestWorkspaceLines(t *testing.T) {
	sys := statustest.System(t, "apiVersion: ocw.dev/v1alpha1\nkind: Workspaces\nnamespace: ns\ndomain: example.test\n"+
		"workspaces:\n  - name: a\n    repo: https://github.com/o/a\n")
	ws := sys.Workspaces[0]
	now := time.Now()
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{model.LabelWorkspace: "a"}}
	}
	dep := func(conds ...appsv1.DeploymentCondition) appsv1.Deployment {
		return appsv1.Deployment{ObjectMeta: meta("a"), Status: appsv1.DeploymentStatus{Conditions: conds}}
	}
	pvc := func(phase corev1.PersistentVolumeClaimPhase) []corev1.PersistentVolumeClaim {
		return []corev1.PersistentVolumeClaim{{ObjectMeta: meta("a"), Status: corev1.PersistentVolumeClaimStatus{Phase: phase}}}
	}
	pod := func(st corev1.PodStatus) []corev1.Pod {
		return []corev1.Pod{{ObjectMeta: meta("a-1"), Status: st}}
	}
	event := func(kind, name, reason, msg string, at time.Time) corev1.Event {
		return corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: reason, Namespace: "ns"}, Reason: reason, Message: msg,
			InvolvedObject: corev1.ObjectReference{Kind: kind, Name: name}, LastTimestamp: metav1.NewTime(at)}
	}
	cloneFails := statustest.HealthyStatus(ws, now)
	cloneFails.Phase = corev1.PodPending
	cloneFails.Conditions = cloneFails.Conditions[:1]
	cloneFails.InitContainerStatuses = cloneFails.InitContainerStatuses[:1]
	cloneFails.InitContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
	cloneFails.InitContainerStatuses[0].LastTerminationState = corev1.ContainerState{
		Terminated: statustest.Terminated(1, "Error", "auth-failed: authentication failed for https://github.com/o/a", now)}
	cloneFails.ContainerStatuses = nil
	unscheduled := corev1.PodStatus{Phase: corev1.PodPending}

	for _, c := range []struct {
		name   string
		snap   status.Snapshot
		lines  []string
		failed string
	}{{
		name: "ready",
		snap: status.Snapshot{Deployments: []appsv1.Deployment{dep()}, PVCs: pvc(corev1.ClaimBound), Pods: pod(statustest.HealthyStatus(ws, now))},
	}, {
		name: "nothing applied",
		snap: status.Snapshot{},
		// The workspace is in the spec: status calls it Missing.
		lines: []string{"PVC a not found", "Missing: no Deployment"},
	}, {
		name: "claim pending, newest event",
		snap: status.Snapshot{Deployments: []appsv1.Deployment{dep()}, PVCs: pvc(corev1.ClaimPending), Events: []corev1.Event{
			event("PersistentVolumeClaim", "a", "ProvisioningFailed", "storageclass \"fast\" not found", now),
			event("PersistentVolumeClaim", "a", "WaitForFirstConsumer", "waiting", now.Add(-time.Minute)),
			event("Pod", "a-1", "Other", "about the pod", now.Add(time.Minute)),
		}},
		lines: []string{"PVC a Pending (ProvisioningFailed: storageclass \"fast\" not found)", "Starting: no pod yet"},
	}, {
		name:  "clone fails with the script's message",
		snap:  status.Snapshot{Deployments: []appsv1.Deployment{dep()}, PVCs: pvc(corev1.ClaimBound), Pods: pod(cloneFails)},
		lines: []string{"Failing: clone: auth-failed (CrashLoopBackOff): authentication failed for https://github.com/o/a"},
	}, {
		name: "pod waiting, with its event",
		snap: status.Snapshot{Deployments: []appsv1.Deployment{dep()}, PVCs: pvc(corev1.ClaimBound), Pods: pod(unscheduled),
			Events: []corev1.Event{event("Pod", "a-1", "FailedScheduling", "0/1 nodes are available", now)}},
		lines: []string{"Starting: waiting for a node (FailedScheduling: 0/1 nodes are available)"},
	}, {
		name: "rollout given up",
		snap: status.Snapshot{PVCs: pvc(corev1.ClaimBound), Deployments: []appsv1.Deployment{dep(appsv1.DeploymentCondition{
			Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded"})}},
		lines:  []string{"Failing: ProgressDeadlineExceeded"},
		failed: "Failing: ProgressDeadlineExceeded (Deployment a: ProgressDeadlineExceeded)",
	}} {
		t.Run(c.name, func(t *testing.T) {
			c.snap.Namespace = "ns"
			row := status.Build(sys, &c.snap, now).Workspaces[0]
			lines, failed := workspaceLines(&c.snap, row)
			if !reflect.DeepEqual(lines, c.lines) || failed != c.failed {
				t.Errorf("got %q, failed %q\nwant %q, failed %q", lines, failed, c.lines, c.failed)
			}
		})
	}
}

// kstatus calls an ExternalSecret or a Certificate ready before its
// controller has looked at it; the wait holds out for its Ready condition.
func TestObjectLineWaitsForReadyCondition(t *testing.T) {
	es := &unstructured.Unstructured{}
	es.SetAPIVersion("external-secrets.io/v1")
	es.SetKind("ExternalSecret")
	es.SetNamespace("dev")
	es.SetName("opencode-git-credentials")
	r := object.UnstructuredToObjMetadata(es)
	if l, failed := objectLine(es, r); l != "ExternalSecret/dev/opencode-git-credentials: not Ready yet (is its controller running?)" || failed {
		t.Errorf("without a Ready condition: %q, failed=%v", l, failed)
	}
	for _, st := range []string{"False", "True"} {
		cond := map[string]any{"type": "Ready", "status": st}
		if err := unstructured.SetNestedSlice(es.Object, []any{cond}, "status", "conditions"); err != nil {
			t.Fatal(err)
		}
		if l, _ := objectLine(es, r); (l == "") != (st == "True") {
			t.Errorf("Ready=%s: %q", st, l)
		}
	}
}
