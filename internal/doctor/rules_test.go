package doctor

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opencode-workspaces/ocw/internal/build"
	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/status"
	"github.com/opencode-workspaces/ocw/internal/status/statustest"
)

// podRules runs the workspace checks that read the pod over an in-memory
// snapshot: the workspace's Deployment, its Bound PVC and one pod with
// status st. No API server: these rules are pure.
func podRules(t *testing.T, st corev1.PodStatus) *Report {
	t.Helper()
	sys := statustest.System(t, strings.NewReplacer("GWNS", "gw", "NS", "ns", "SC", "sc").Replace(baseSpec))
	ws := sys.Workspaces[0]
	dep := build.Deployment(ws)
	dep.Namespace = "ns"
	meta := metav1.ObjectMeta{Name: ws.Name, Namespace: "ns", Labels: map[string]string{model.LabelWorkspace: ws.Name}}
	pvc := corev1.PersistentVolumeClaim{ObjectMeta: meta, Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound}}
	meta.Name = "app-7d9f-abcde"
	pod := corev1.Pod{ObjectMeta: meta, Spec: dep.Spec.Template.Spec, Status: st}
	snap := &status.Snapshot{Namespace: "ns", Deployments: []appsv1.Deployment{*dep},
		PVCs: []corev1.PersistentVolumeClaim{pvc}, Pods: []corev1.Pod{pod}}
	now := time.Now()
	r := &run{sys: sys, ws: sys.Workspaces, opts: Options{SpecFile: "ws.yaml"}, now: now, snap: snap, report: &Report{Namespace: "ns"},
		rows: map[string]status.Workspace{ws.Name: status.Build(sys, snap, now).Workspaces[0]}}
	dp, p := snap.Deployment(ws.Name), snap.CurrentPod(ws.Name)
	r.checkPod(&ws, dp, p)
	r.checkScheduling(&ws, p)
	r.checkImages(&ws, p)
	r.checkClone(&ws, p)
	r.checkSeedAuth(&ws, p)
	r.checkOOM(&ws, p)
	r.checkGit(t.Context(), &ws, p)
	return r.report
}

func TestCloneFailures(t *testing.T) {
	ws := statustest.System(t, strings.NewReplacer("GWNS", "gw", "NS", "ns", "SC", "sc").Replace(baseSpec)).Workspaces[0]
	restart := "then kubectl -n ns rollout restart deployment/app"
	for _, tc := range []struct{ code, msg, fix string }{
		{"auth-failed", "authentication failed for https://github.com/o/app: check Secret opencode-git-credentials key GITHUB_PAT",
			"store a token that can read https://github.com/o/app (ocw secrets git-token -f ws.yaml), " + restart},
		{"not-found", "repository https://github.com/o/app not found", "check the repo URL in the spec (https://github.com/o/app)"},
		{"not-a-repo", "/workspace/app exists but is not a git repository", "/workspace/app on the volume is not a git repository: move it aside"},
		{"origin-mismatch", "/workspace/app is a clone of https://github.com/o/other", "git remote set-url origin https://github.com/o/app"},
		{"network", "could not fetch https://github.com/o/app after 4 attempts", "the cluster could not reach github.com"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			rep := podRules(t, statustest.CloneCrashLooping(ws, 2, tc.code+": "+tc.msg+"\n", time.Now()))
			c := expect(t, rep, "app", "clone", Fail, tc.fix)
			if !strings.HasPrefix(c.Message, "clone failed: "+tc.code+": "+tc.msg) {
				t.Error(c.Message)
			}
			// The pod check is status's phase, pointing at the clone check.
			c = expect(t, rep, "app", "pod", Fail, "see the clone check")
			if !strings.Contains(c.Message, "clone: "+tc.code+" (CrashLoopBackOff)") {
				t.Error(c.Message)
			}
			expect(t, rep, "app", "seed-auth", Warn, "see the clone check")
		})
	}
}

func TestImagePull(t *testing.T) {
	ws := statustest.System(t, strings.NewReplacer("GWNS", "gw", "NS", "ns", "SC", "sc").Replace(baseSpec)).Workspaces[0]
	st := statustest.HealthyStatus(ws, time.Now())
	st.Phase = corev1.PodPending
	st.Conditions = st.Conditions[:1]
	st.ContainerStatuses[0].Ready = false
	st.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
		Reason: "ImagePullBackOff", Message: `Back-off pulling image "ghcr.io/anomalyco/opencode:1.18.33"`}}
	rep := podRules(t, st)
	c := expect(t, rep, "app", "images", Fail, "check images.opencode in the spec")
	if !strings.Contains(c.Message, "opencode image ghcr.io/anomalyco/opencode:1.18.33: ImagePullBackOff") {
		t.Error(c.Message)
	}
	expect(t, rep, "app", "pod", Fail, "see the images check")
	expect(t, rep, "app", "git", Warn, "once the workspace is Ready")
}
