package doctor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/utils/ptr"

	"github.com/opencode-workspaces/ocw/internal/boot"
	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/status"
)

func (r *run) workspaceChecks(ctx context.Context, ws *model.Workspace) {
	pod := r.snap.CurrentPod(ws.Name)
	add := func(id string, c Check) { r.add(ws.Name, id, c) }
	r.checkFlux(ws)
	add("deployment", r.checkDeployment(ws))
	add("pvc", r.checkPVC(ws, r.snap.PVC(ws.Name), pod))
	if ws.Backup.Mode != model.BackupNone {
		add("backup-repository", r.checkBackupRepository(ws))
	}
	add("backup", r.checkBackups(ws))
	add("route", r.checkRoute(ws, r.snap.Route(ws.Name), r.gateways[ws.Gateway.Namespace+"/"+ws.Gateway.Name]))
	if p := r.rows[ws.Name].Phase; p == status.Missing || p == status.Stopped {
		return
	}
	add("pod", r.checkPod(ws, pod))
	if pod == nil {
		return
	}
	add("scheduling", r.checkScheduling(ws, pod))
	add("images", checkImages(pod))
	add("clone", r.checkClone(ws, pod))
	add("seed-auth", r.checkSeedAuth(ws, pod))
	add("oom", r.checkOOM(pod))
	add("git", r.checkGit(ctx, pod))
}

func (r *run) kubectl(args string) string { return "kubectl -n " + r.sys.Namespace + " " + args }

func (r *run) checkDeployment(ws *model.Workspace) Check {
	switch r.rows[ws.Name].Phase {
	case status.Missing:
		return fail("Deployment "+ws.Name+" not found: the workspace is not applied",
			"ocw apply -f "+r.opts.SpecFile+", or commit the rendered tree and let Flux reconcile (flux get kustomizations -A)")
	case status.Stopped:
		return warn("Deployment "+ws.Name+" is scaled to 0 (stopped)", r.kubectl("scale deployment/"+ws.Name+" --replicas=1")+" to start it")
	}
	return ok("Deployment " + ws.Name + " exists")
}

// checkPVC: Bound, or why not (no or unknown storage class, provisioning
// errors, waiting for the pod); and Multi-Attach errors of the pod.
func (r *run) checkPVC(ws *model.Workspace, pvc *corev1.PersistentVolumeClaim, pod *corev1.Pod) Check {
	if pvc == nil {
		return fail("PVC "+ws.Name+" not found: the workspace is not applied", "ocw apply -f "+r.opts.SpecFile+", or let Flux reconcile")
	}
	switch pvc.Status.Phase {
	case corev1.ClaimBound:
		if pod != nil {
			for _, e := range r.snap.EventsOf("Pod", pod.Name, corev1.EventTypeWarning) {
				if e.Reason == "FailedAttachVolume" && strings.Contains(e.Message, "Multi-Attach") {
					return fail("PVC "+pvc.Name+" is Bound but cannot be attached: "+e.Message,
						"another node still holds the ReadWriteOnce volume (an old pod, or a node that went away): delete the old pod, or once that node is gone delete its VolumeAttachment (kubectl get volumeattachment | grep "+pvc.Spec.VolumeName+")")
				}
			}
		}
		msg := "PVC " + pvc.Name + " is Bound"
		if c := r.rows[ws.Name].PVC.Capacity; c != "" {
			msg += ", " + c
		}
		if pvc.Spec.StorageClassName != nil {
			msg += ", class " + *pvc.Spec.StorageClassName
		}
		return ok(msg)
	case corev1.ClaimLost:
		return fail("PVC "+pvc.Name+" is Lost: its PersistentVolume is gone",
			"the data is gone with the volume: restore it from a backup (VolSync ReplicationDestination), or delete the PVC and let the workspace clone afresh")
	}

	class := ptr.Deref(pvc.Spec.StorageClassName, "")
	if class == "" {
		return fail("PVC "+pvc.Name+" is Pending: it has no storage class and the cluster has no default StorageClass",
			"set storage.storageClass in the spec (see the storage-class check), or mark a StorageClass default")
	}
	i := slices.IndexFunc(r.classes, func(c storagev1.StorageClass) bool { return c.Name == class })
	if i < 0 && r.classesErr == nil {
		return fail("PVC "+pvc.Name+" is Pending: StorageClass "+class+" does not exist",
			"set storage.storageClass in the spec to an existing class (kubectl get storageclass); the PVC's class cannot change, so delete the Pending PVC after fixing the spec")
	}
	if ev := r.snap.EventsOf("PersistentVolumeClaim", pvc.Name, corev1.EventTypeWarning); len(ev) > 0 {
		last := ev[len(ev)-1]
		return fail(fmt.Sprintf("PVC %s is Pending: %s: %s", pvc.Name, last.Reason, last.Message),
			"check the storage provisioner of class "+class+" (its controller logs), or choose another class")
	}
	if i >= 0 && ptr.Deref(r.classes[i].VolumeBindingMode, "") == storagev1.VolumeBindingWaitForFirstConsumer && (pod == nil || pod.Spec.NodeName == "") {
		return warn("PVC "+pvc.Name+" is Pending until the pod is scheduled (class "+class+" binds on first use)", "see the scheduling check")
	}
	return warn("PVC "+pvc.Name+" is Pending: the provisioner of class "+class+" has not created a volume yet", r.kubectl("describe pvc "+pvc.Name))
}

// checkPod is status's phase (Failing fails, Starting warns) with a fix, or
// a pointer to the check that explains a cause outside OpenCode's container.
func (r *run) checkPod(ws *model.Workspace, pod *corev1.Pod) Check {
	row := r.rows[ws.Name]
	v := Warn
	if row.Phase == status.Failing {
		v = Fail
	}
	if pod == nil {
		for _, c := range r.snap.Deployment(ws.Name).Status.Conditions {
			if c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue {
				return fail("no pod: the ReplicaSet cannot create it: "+c.Message,
					"fix what the message says (a Pod Security violation means the pod spec was changed by hand); "+r.kubectl("describe replicaset -l "+model.LabelWorkspace+"="+ws.Name))
			}
		}
		msg := "no pod yet"
		if row.Reason != msg {
			msg += " (" + row.Reason + ")"
		}
		return Check{Verdict: v, Message: msg, Fix: r.kubectl("get replicaset,pods -l "+model.LabelWorkspace+"="+ws.Name) + " if it stays so"}
	}
	if pod.Status.Phase == corev1.PodFailed {
		return fail(fmt.Sprintf("pod %s failed: %s: %s", pod.Name, pod.Status.Reason, pod.Status.Message),
			r.kubectl("delete pod "+pod.Name)+" to get a new one (the Deployment replaces it)")
	}
	cs := status.ContainerStatus(pod, model.ContainerOpenCode)
	if row.Phase == status.Ready {
		return ok(fmt.Sprintf("pod %s is Ready (OpenCode restarts: %d)", pod.Name, cs.RestartCount))
	}
	if row.Blocker == model.ContainerOpenCode && cs != nil && cs.State.Waiting != nil {
		if msg, fix := r.openCodeWaiting(pod, cs); msg != "" {
			return fail(msg, fix)
		}
	}
	fix := "OpenCode's first start can take minutes; if it persists, " + r.kubectl("describe pod "+pod.Name)
	if row.Blocker != "" && row.Blocker != model.ContainerOpenCode {
		fix = "see the " + row.Blocker + " check"
	}
	msg := "pod " + pod.Name + " is not Ready yet: " + row.Reason
	if v == Fail {
		msg = "pod " + pod.Name + " is not Ready: " + row.Reason
	}
	return Check{Verdict: v, Message: msg, Fix: fix}
}

// openCodeWaiting explains OpenCode's container stuck waiting, and what
// to do; "" when its waiting reason needs no more than the status row.
func (r *run) openCodeWaiting(pod *corev1.Pod, cs *corev1.ContainerStatus) (msg, fix string) {
	w := cs.State.Waiting
	switch w.Reason {
	case "CreateContainerConfigError", "CreateContainerError", "RunContainerError":
		return fmt.Sprintf("OpenCode cannot start: %s: %s", w.Reason, w.Message),
			"a missing Secret or key is the usual cause: see the secret checks; " + r.kubectl("describe pod "+pod.Name)
	case "CrashLoopBackOff":
	default:
		return "", ""
	}
	logs := r.kubectl("logs " + pod.Name + " -c " + model.ContainerOpenCode + " --previous")
	t := cs.LastTerminationState.Terminated
	if t == nil {
		return "OpenCode keeps crashing", logs
	}
	if t.Reason == "OOMKilled" {
		return "OpenCode keeps getting OOMKilled", "see the oom check"
	}
	if code, m := boot.ParseTerminationMessage(t.Message); code == boot.ServeRefused {
		fix := "ocw secrets password -f " + r.opts.SpecFile + " (fills an empty key with a new password and prints it); the pod starts at its next restart"
		if ref := r.sys.Secrets.Server; r.sys.Secrets.External {
			fix = fmt.Sprintf("set %s in %s to a password; ExternalSecret %s copies it into Secret %s, then the pod starts at its next restart", ref.Remote(), r.sys.Secrets.Store(), ref.Name, ref.Name)
		}
		return "OpenCode refused to start: " + truncate(m, 300), fix
	}
	msg = fmt.Sprintf("OpenCode keeps crashing (exit %d, %d restarts)", t.ExitCode, cs.RestartCount)
	if m := strings.TrimSpace(t.Message); m != "" {
		msg += ": " + truncate(m, 300)
	}
	return msg, logs
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (r *run) checkScheduling(ws *model.Workspace, pod *corev1.Pod) Check {
	c := status.PodCondition(pod, corev1.PodScheduled)
	switch {
	case c != nil && c.Status == corev1.ConditionTrue:
		return ok("pod scheduled on " + cmp.Or(pod.Spec.NodeName, "a node"))
	case c != nil && c.Reason == corev1.PodReasonUnschedulable:
		msg := strings.ToLower(c.Message)
		fix := r.kubectl("describe pod " + pod.Name)
		switch {
		case strings.Contains(msg, "insufficient memory") || strings.Contains(msg, "insufficient cpu"):
			fix = fmt.Sprintf("lower resources.requests in the spec (now cpu %s, memory %s) or add node capacity",
				quantity(ws.Resources.Requests, corev1.ResourceCPU, "unset"), quantity(ws.Resources.Requests, corev1.ResourceMemory, "unset"))
		case strings.Contains(msg, "persistentvolumeclaim"):
			fix = "the PVC is not bound: see the pvc check"
		case strings.Contains(msg, "volume node affinity"):
			fix = "the volume is tied to a node or zone where the pod cannot run: free that node, or move the data to a new PVC"
		case strings.Contains(msg, "taint"):
			fix = "every node has a taint the pod does not tolerate: untaint a node or add capacity"
		}
		return fail("pod "+pod.Name+" is Unschedulable: "+c.Message, fix)
	}
	return warn("pod "+pod.Name+" is not scheduled yet", "check that a scheduler runs; "+r.kubectl("describe pod "+pod.Name))
}

func quantity(l corev1.ResourceList, n corev1.ResourceName, unset string) string {
	if q, ok := l[n]; ok {
		return q.String()
	}
	return unset
}

var specImageField = map[string]string{
	model.ContainerClone:    "images.clone",
	model.ContainerSeedAuth: "images.seed",
	model.ContainerOpenCode: "images.opencode",
}

func checkImages(pod *corev1.Pod) Check {
	var problems, fields []string
	for _, cs := range status.Statuses(pod) {
		if w := cs.State.Waiting; w != nil && status.ImagePullReason(w.Reason) {
			problems = append(problems, fmt.Sprintf("%s image %s: %s: %s", cs.Name, containerSpec(pod, cs.Name).Image, w.Reason, w.Message))
			fields = append(fields, specImageField[cs.Name])
		}
	}
	if len(problems) > 0 {
		return fail(strings.Join(problems, "; "),
			"check "+strings.Join(dedupe(fields), ", ")+" in the spec: the image and tag must exist and the registry be reachable from the nodes (a private registry needs an imagePullSecret on the namespace's default ServiceAccount)")
	}
	return ok("no image pull errors")
}

// containerSpec is the pod's container called name (image "?" if none).
func containerSpec(pod *corev1.Pod, name string) corev1.Container {
	all := slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers)
	if i := slices.IndexFunc(all, func(c corev1.Container) bool { return c.Name == name }); i >= 0 {
		return all[i]
	}
	return corev1.Container{Image: "?"}
}

func memoryLimit(pod *corev1.Pod, name string) string {
	return quantity(containerSpec(pod, name).Resources.Limits, corev1.ResourceMemory, "none")
}

func (r *run) cloneFix(ws *model.Workspace, code string) string {
	restart := r.kubectl("rollout restart deployment/" + ws.Name)
	token := "ocw secrets git-token -f " + r.opts.SpecFile
	if r.sys.Secrets.External {
		token = "update " + r.sys.Secrets.Git.Remote() + " in " + r.sys.Secrets.Store()
	}
	switch code {
	case boot.ResultAuthFailed:
		return "store a token that can read " + ws.Repo.URL + " (" + token + "), then " + restart
	case boot.ResultNotFound:
		return "check the repo URL in the spec (" + ws.Repo.URL + ") and that the token can read it (" + token + "), then " + restart
	case boot.ResultNotARepo:
		return ws.Repo.Path() + " on the volume is not a git repository: move it aside from a pod that mounts PVC " + ws.Name + " (subPath " + model.WorkspaceSubPath + "), or set dir in the spec; then " + restart
	case boot.ResultOriginMismatch:
		return ws.Repo.Path() + " holds another repository: fix repo in the spec, or move the folder aside, or (same repository) git remote set-url origin " + ws.Repo.URL + " in the workspace; then " + restart
	case boot.ResultNetwork:
		return "the cluster could not reach " + ws.Repo.Host + ": check DNS and egress (NetworkPolicy, proxy) from namespace " + r.sys.Namespace + "; the next start retries (" + restart + ")"
	case "OOMKilled":
		return "the clone needs more memory than its limit: set git.filter: blob:none in the spec (a partial clone), then " + restart
	}
	return r.kubectl("logs "+"deployment/"+ws.Name+" -c "+model.ContainerClone) + " for details; then " + restart
}

func (r *run) checkClone(ws *model.Workspace, pod *corev1.Pod) Check {
	st := r.rows[ws.Name].Clone
	switch {
	case st == nil || st.Code == "waiting":
		return warn("the clone has not run yet", "wait for the pod to start; see the scheduling, pvc and images checks")
	case st.Code == "running":
		msg := "the clone is running"
		if st.Message != "" {
			msg += " (" + st.Message + ")"
		}
		return warn(msg, "wait; a large repository takes a while")
	case st.ExitCode == 0:
		return ok(st.Code + ": " + st.Message)
	}
	msg := "clone failed: " + st.Code
	if st.Message != "" {
		msg += ": " + truncate(st.Message, 400)
	}
	if st.Code == "OOMKilled" {
		msg += " (memory limit " + memoryLimit(pod, model.ContainerClone) + ")"
	}
	return fail(msg, r.cloneFix(ws, st.Code))
}

func (r *run) checkSeedAuth(ws *model.Workspace, pod *corev1.Pod) Check {
	copilot := r.rows[ws.Name].Copilot
	st := copilot.Step
	seed := "ocw auth seed -f " + r.opts.SpecFile
	if r.sys.Secrets.External {
		seed = "put auth.json in " + r.sys.Secrets.Store() + " " + r.sys.Secrets.Copilot.Remote() + " (ocw auth seed -f " + r.opts.SpecFile + " --print-value prints it)"
	}
	restart := r.kubectl("rollout restart deployment/" + ws.Name)
	switch {
	case st == nil || !st.Finished:
		return warn("auth seeding has not run yet (it runs after the clone)", "see the clone check")
	case st.ExitCode != 0:
		msg := "auth seeding failed: " + st.Code + ": " + truncate(st.Message, 300)
		if st.Code == "OOMKilled" {
			msg += " (memory limit " + memoryLimit(pod, model.ContainerSeedAuth) + ")"
		}
		return fail(msg, "check that the volume is writable by uid "+fmt.Sprint(ws.UID)+" / gid "+fmt.Sprint(ws.GID)+"; "+r.kubectl("logs "+pod.Name+" -c "+model.ContainerSeedAuth))
	case st.Code == boot.AuthMissing:
		return warn("no Copilot login was seeded: "+st.Message, seed+", then "+restart+" (Reloader does that when enabled)")
	case st.Code == boot.AuthInvalid:
		return fail("the Copilot Secret is not a valid auth.json: "+st.Message, seed+", then "+restart)
	case st.Code == boot.AuthKept || st.Code == boot.AuthNoSpace:
		return warn("the Copilot login from the Secret could not be written: "+truncate(st.Message, 300),
			"free space on PVC "+ws.Name+" (du -sh ~ "+model.WorkspaceMount+"/* in the workspace terminal shows what uses it; or raise its size in the spec), then "+restart)
	case copilot.Seeded == status.CopilotChanged:
		return warn("Secret "+r.sys.Secrets.Copilot.Name+" changed after this pod seeded auth.json: the workspace still uses the previous login",
			"ocw auth push "+ws.Name+" -f "+r.opts.SpecFile+" (no restart), or "+restart)
	}
	return ok(st.Code + ": " + st.Message)
}

// checkOOM reports a container whose last end was an OOM kill: a failure
// while it is down because of it, a warning once it runs again.
func (r *run) checkOOM(pod *corev1.Pod) Check {
	for _, cs := range status.Statuses(pod) {
		t := status.LastTermination(&cs)
		if t == nil || t.Reason != "OOMKilled" {
			continue
		}
		limit := memoryLimit(pod, cs.Name)
		msg := fmt.Sprintf("%s was OOMKilled at its memory limit of %s (restarts: %d)", cs.Name, limit, cs.RestartCount)
		var fix string
		switch cs.Name {
		case model.ContainerOpenCode:
			fix = "raise resources.limits.memory in the spec (now " + limit + "); OpenCode was measured at ~0.5 GB in use with peaks of ~0.85 GB, and grows over days of use"
		case model.ContainerClone:
			fix = "the clone's limit is fixed at " + limit + ": set git.filter: blob:none in the spec for a partial clone"
		default:
			fix = r.kubectl("describe pod " + pod.Name)
		}
		if cs.State.Running != nil || (cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0) {
			return warn(msg+"; it runs again now", fix)
		}
		return fail(msg, fix)
	}
	return ok("no container was OOMKilled")
}

// checkGit runs `git --version` in the OpenCode container: OpenCode without
// git loses diffs and snapshots, and the workspace terminal cannot pull.
func (r *run) checkGit(ctx context.Context, pod *corev1.Pod) Check {
	ctx, cancel := r.bounded(ctx)
	defer cancel()
	cs := status.ContainerStatus(pod, model.ContainerOpenCode)
	if cs == nil || cs.State.Running == nil {
		return warn("not checked: OpenCode is not running", "run ocw doctor again once the workspace is Ready")
	}
	if r.opts.Exec == nil {
		return warn("not checked (exec disabled)", "")
	}
	out, errOut, err := r.opts.Exec.Exec(ctx, r.sys.Namespace, pod.Name, model.ContainerOpenCode, []string{"git", "--version"})
	image := containerSpec(pod, model.ContainerOpenCode).Image
	noGit := "use an OpenCode image that includes git (images.opencode in the spec), e.g. one built FROM " + image + " with git added"
	var es interface{ ExitStatus() int } // client-go's exec exit errors
	text := strings.ToLower(fmt.Sprint(err) + " " + errOut)
	switch {
	case err == nil:
	case errors.As(err, &es) && (es.ExitStatus() == 127 || es.ExitStatus() == 126),
		strings.Contains(text, "executable file not found"), strings.Contains(text, "no such file"):
		return fail("git is not available in image "+image, noGit)
	case errors.Is(err, context.DeadlineExceeded):
		return warn(fmt.Sprintf("git --version in pod %s did not finish within %s", pod.Name, r.opts.Timeout),
			"the API server or the pod's kubelet did not answer; try "+r.kubectl("exec "+pod.Name+" -c "+model.ContainerOpenCode+" -- git --version")+
				" (ocw doctor --request-timeout allows more time)")
	default:
		fix := "the API server could not reach the pod's kubelet; try " + r.kubectl("exec "+pod.Name+" -c "+model.ContainerOpenCode+" -- git --version")
		if strings.Contains(text, "forbidden") {
			fix = "doctor needs permission to create pods/exec in namespace " + r.sys.Namespace
		}
		return warn("could not run git --version in pod "+pod.Name+": "+truncate(err.Error(), 200), fix)
	}
	v := strings.TrimSpace(out)
	if !strings.HasPrefix(v, "git version") {
		return fail("git --version printed something unexpected in image "+image, noGit)
	}
	return ok(v + " in image " + image)
}
