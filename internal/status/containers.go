package status

import (
	"cmp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/opencode-workspaces/ocw/internal/boot"
)

// Statuses are the pod's init and main container statuses, in that order.
func Statuses(pod *corev1.Pod) []corev1.ContainerStatus {
	return slices.Concat(pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses)
}

// ContainerStatus is the status of the pod's container called name, or nil.
func ContainerStatus(pod *corev1.Pod, name string) *corev1.ContainerStatus {
	if pod == nil {
		return nil
	}
	all := Statuses(pod)
	if i := slices.IndexFunc(all, func(cs corev1.ContainerStatus) bool { return cs.Name == name }); i >= 0 {
		return &all[i]
	}
	return nil
}

// LastTermination is the container's current termination, else its
// previous one (a failing init container is usually waiting in
// CrashLoopBackOff with the failure in lastState).
func LastTermination(cs *corev1.ContainerStatus) *corev1.ContainerStateTerminated {
	if cs == nil {
		return nil
	}
	if t := cs.State.Terminated; t != nil {
		return t
	}
	return cs.LastTerminationState.Terminated
}

// Step is a boot script's outcome (clone or seed-auth).
type Step struct {
	// Code is the script's result code (boot.Result*/boot.Auth*), or the
	// kubelet's reason when the script wrote none (OOMKilled, Error), or
	// "running"/"waiting" when it has not finished.
	Code     string `json:"code"`
	Message  string `json:"message,omitempty"`
	Finished bool   `json:"finished"`
	ExitCode int32  `json:"exitCode"`
	Reason   string `json:"reason,omitempty"`  // the kubelet's: Completed, Error, OOMKilled
	Waiting  string `json:"waiting,omitempty"` // CrashLoopBackOff, ...
}

var scriptCodes = sets.New(boot.ResultCloned, boot.ResultPresent, boot.ResultAuthFailed, boot.ResultNotFound,
	boot.ResultNotARepo, boot.ResultOriginMismatch, boot.ResultNetwork, boot.ResultFailed,
	boot.AuthSeeded, boot.AuthUnchanged, boot.AuthMissing, boot.AuthInvalid, boot.AuthKept, boot.AuthNoSpace,
	boot.ServeRefused)

// stepOf is nil while the pod has no status for the container.
func stepOf(pod *corev1.Pod, container string) *Step {
	cs := ContainerStatus(pod, container)
	if cs == nil {
		return nil
	}
	st := &Step{}
	if w := cs.State.Waiting; w != nil {
		st.Waiting = w.Reason
	}
	if cs.State.Running != nil {
		// Running again (a retry after a failure): report the run in
		// progress; the previous failure stays visible in Message.
		st.Code = "running"
		if t := cs.LastTerminationState.Terminated; t != nil && t.ExitCode != 0 {
			code, msg := terminationCode(t)
			st.Message = "previous run: " + code
			if msg != "" {
				st.Message += ": " + msg
			}
		}
		return st
	}
	t := LastTermination(cs)
	if t == nil {
		st.Code = "waiting"
		return st
	}
	st.Finished = true
	st.ExitCode = t.ExitCode
	st.Reason = t.Reason
	st.Code, st.Message = terminationCode(t)
	return st
}

// terminationCode reads the script's "<code>: <message>"; a container
// killed before it wrote one (OOM, eviction), or whose message is log lines
// (FallbackToLogsOnError), gets the kubelet's reason instead.
func terminationCode(t *corev1.ContainerStateTerminated) (code, message string) {
	code, message = boot.ParseTerminationMessage(t.Message)
	if scriptCodes.Has(code) && t.Reason != "OOMKilled" {
		return code, message
	}
	return cmp.Or(t.Reason, "failed"), strings.TrimSpace(t.Message)
}

// Failed: the step finished with a non-zero exit.
func (s *Step) Failed() bool { return s != nil && s.Finished && s.ExitCode != 0 }

// stuckReasons do not resolve by waiting (nor do image pull failures).
var stuckReasons = []string{"CrashLoopBackOff", "CreateContainerConfigError", "CreateContainerError",
	"RunContainerError", "PreCreateHookError", "PostStartHookError"}

// ImagePullReason reports whether a waiting reason is an image pull failure.
func ImagePullReason(reason string) bool {
	return slices.Contains([]string{"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}, reason)
}

// PodCondition returns the pod's condition of type t, or nil.
func PodCondition(pod *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == t {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// PodReady reports the pod's Ready condition.
func PodReady(pod *corev1.Pod) bool {
	c := PodCondition(pod, corev1.PodReady)
	return c != nil && c.Status == corev1.ConditionTrue
}
