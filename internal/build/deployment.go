package build

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opencode-workspaces/ocw/internal/boot"
	"github.com/opencode-workspaces/ocw/internal/model"
)

// Volume and port names.
const (
	volWorkspace = "workspace"
	volGitSecret = "git-credentials"
	volAuth      = "copilot-auth"
	volTmp       = "tmp"

	portName = "http"
)

// Deployment runs one workspace: clone, seed auth.json, serve OpenCode.
func Deployment(ws model.Workspace) *appsv1.Deployment {
	meta := objectMeta(ws, ws.Name)
	meta.Annotations = map[string]string{AnnotationFluxSubstitute: Disabled}
	if ws.Reloader {
		meta.Annotations[AnnotationReloader] = "true"
	}
	pod := corev1.PodSpec{
		AutomountServiceAccountToken:  new(ws.ClusterAccess != model.ClusterAccessNone),
		EnableServiceLinks:            new(false),
		SecurityContext:               podSecurity(ws),
		InitContainers:                []corev1.Container{cloneContainer(ws), seedAuthContainer(ws)},
		Containers:                    []corev1.Container{openCodeContainer(ws)},
		TerminationGracePeriodSeconds: new(int64(30)),
		Volumes:                       volumes(ws),
	}
	// Big volumes are not re-chowned at every start.
	pod.SecurityContext.FSGroupChangePolicy = new(corev1.FSGroupChangeOnRootMismatch)
	if ws.ClusterAccess != model.ClusterAccessNone {
		pod.ServiceAccountName = ws.Name
	}
	return &appsv1.Deployment{
		TypeMeta:   typeMeta("apps/v1", "Deployment"),
		ObjectMeta: meta,
		Spec: appsv1.DeploymentSpec{
			// One writer per RWO volume: never two pods, and the old pod stops
			// before the new one starts (no Multi-Attach hang).
			Replicas:             new(int32(1)),
			RevisionHistoryLimit: new(int32(3)),
			Strategy:             appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Selector:             &metav1.LabelSelector{MatchLabels: ws.SelectorLabels()},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels:      ws.Labels(),
					Annotations: map[string]string{AnnotationDefaultCont: model.ContainerOpenCode},
				},
				Spec: pod,
			},
		},
	}
}

func volumes(ws model.Workspace) []corev1.Volume {
	// The Secrets are mounted whole (never subPath, which would freeze a
	// rotated value) and optional: a public repo needs no token, and a
	// workspace without Copilot still starts. The server password is not
	// optional: an OpenCode without it serves everyone.
	secretVol := func(name, secret string) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: secret, DefaultMode: new(int32(0o440)), Optional: new(true),
		}}}
	}
	return []corev1.Volume{
		{Name: volWorkspace, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: ws.Name},
		}},
		secretVol(volGitSecret, ws.Secrets.Git.Name),
		secretVol(volAuth, ws.Secrets.Copilot.Name),
		{Name: volTmp, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
			SizeLimit: new(resource.MustParse("256Mi")),
		}}},
	}
}

// container runs one of boot's scripts: each reports through its
// termination message, and every container complies with Pod Security
// "restricted".
func container(name, image, script string, env []corev1.EnvVar, res corev1.ResourceRequirements, mounts ...corev1.VolumeMount) corev1.Container {
	return corev1.Container{
		Name:                     name,
		Image:                    image,
		Command:                  []string{"/bin/sh", "-c", script},
		Env:                      env,
		Resources:                res,
		VolumeMounts:             mounts,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: new(false),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
	}
}

func env(name, value string) corev1.EnvVar { return corev1.EnvVar{Name: name, Value: value} }

func tokenFile(ws model.Workspace) string { return model.GitSecretMount + "/" + ws.Secrets.Git.Key }

// gitEnv gives git the token through a credential helper scoped to the
// repository's host, configured by environment so it is never written to
// .git/config; the helper reads the mounted Secret each time, so a rotated
// token works without a restart.
func gitEnv(ws model.Workspace) []corev1.EnvVar {
	return []corev1.EnvVar{
		env("GIT_TERMINAL_PROMPT", "0"),
		env("GIT_CONFIG_COUNT", "1"),
		env("GIT_CONFIG_KEY_0", "credential."+ws.Repo.Scheme+"://"+ws.Repo.Host+".helper"),
		env("GIT_CONFIG_VALUE_0", boot.CredentialHelper(tokenFile(ws), ws.Git.Username)),
	}
}

func cloneContainer(ws model.Workspace) corev1.Container {
	e := []corev1.EnvVar{
		env(boot.EnvRepoURL, ws.Repo.URL),
		env(boot.EnvRepoDir, ws.Repo.Path()),
		env(boot.EnvStateDir, model.StateDir),
		env(boot.EnvGitTokenFile, tokenFile(ws)),
		env(boot.EnvGitSecretHint, ws.Secrets.Git.Hint()),
	}
	if ws.Repo.Branch != "" {
		e = append(e, env(boot.EnvCloneBranch, ws.Repo.Branch))
	}
	if ws.Repo.Filter != "" {
		e = append(e, env(boot.EnvCloneFilter, ws.Repo.Filter))
	}
	e = append(e, env(boot.EnvTerminationLog, corev1.TerminationMessagePathDefault), env(boot.EnvScratchDir, "/tmp"), env("HOME", "/tmp"))
	e = append(e, gitEnv(ws)...)
	return container(model.ContainerClone, ws.Images.Clone, boot.CloneScript, e, corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
		// index-pack of a large repository needs memory; the pod's
		// effective request is the larger of init and main anyway.
		Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
	},
		corev1.VolumeMount{Name: volWorkspace, MountPath: model.WorkspaceMount, SubPath: model.WorkspaceSubPath},
		corev1.VolumeMount{Name: volGitSecret, MountPath: model.GitSecretMount, ReadOnly: true},
		corev1.VolumeMount{Name: volTmp, MountPath: "/tmp"})
}

func seedAuthContainer(ws model.Workspace) corev1.Container {
	e := []corev1.EnvVar{
		env(boot.EnvAuthSource, model.AuthSecretMount+"/"+ws.Secrets.Copilot.Key),
		env(boot.EnvAuthDest, model.AuthPath),
		env(boot.EnvAuthSecretHint, ws.Secrets.Copilot.Hint()),
		env(boot.EnvTerminationLog, corev1.TerminationMessagePathDefault),
	}
	return container(model.ContainerSeedAuth, ws.Images.Seed, boot.SeedAuthScript, e, corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
	},
		corev1.VolumeMount{Name: volWorkspace, MountPath: model.HomeMount, SubPath: model.HomeSubPath},
		corev1.VolumeMount{Name: volAuth, MountPath: model.AuthSecretMount, ReadOnly: true})
}

func openCodeContainer(ws model.Workspace) corev1.Container {
	e := []corev1.EnvVar{
		env("HOME", model.HomeMount),
		env("XDG_DATA_HOME", model.XDGDataHome),
		env("XDG_CONFIG_HOME", model.XDGConfigHome),
		env("XDG_STATE_HOME", model.XDGStateHome),
		env("XDG_CACHE_HOME", model.XDGCacheHome),
		env("OPENCODE_SERVER_USERNAME", ws.ServerUsername),
		corev1.EnvVar{Name: "OPENCODE_SERVER_PASSWORD", ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: ws.Secrets.Server.Name},
				Key:                  ws.Secrets.Server.Key,
			},
		}},
		env(boot.EnvPort, strconv.Itoa(model.Port)),
		env(boot.EnvServerSecretHint, ws.Secrets.Server.Hint()),
		env(boot.EnvTerminationLog, corev1.TerminationMessagePathDefault),
	}
	e = append(e, gitEnv(ws)...)
	if ws.Backup.Mode != model.BackupNone {
		// Scheduled backups run without ocw; the guard holds the session
		// database around each scheduled time so its copy cannot tear.
		e = append(e,
			env(boot.EnvGuardJS, boot.DBHoldJS),
			env(boot.EnvGuardSchedule, ws.Backup.Schedule),
			env(boot.EnvGuardWindow, strconv.Itoa(int(model.BackupGuardWindow.Seconds()))),
			env(boot.EnvGuardDB, model.SessionDB),
		)
	}
	if ws.Git.AuthorName != "" {
		e = append(e, env("GIT_AUTHOR_NAME", ws.Git.AuthorName), env("GIT_COMMITTER_NAME", ws.Git.AuthorName))
	}
	if ws.Git.AuthorEmail != "" {
		e = append(e, env("GIT_AUTHOR_EMAIL", ws.Git.AuthorEmail), env("GIT_COMMITTER_EMAIL", ws.Git.AuthorEmail))
	}
	c := container(model.ContainerOpenCode, ws.Images.OpenCode, boot.ServeScript, e, ws.Resources,
		corev1.VolumeMount{Name: volWorkspace, MountPath: model.WorkspaceMount, SubPath: model.WorkspaceSubPath},
		corev1.VolumeMount{Name: volWorkspace, MountPath: model.HomeMount, SubPath: model.HomeSubPath},
		corev1.VolumeMount{Name: volGitSecret, MountPath: model.GitSecretMount, ReadOnly: true})
	// The serve script refuses to start without a password and stays PID 1
	// so SIGTERM reaches OpenCode; OpenCode's own command line follows as
	// its arguments ("ocw-serve" is $0).
	c.Command = append(c.Command, "ocw-serve")
	c.Args = []string{"opencode", "serve", "--hostname", "0.0.0.0", "--port", strconv.Itoa(model.Port)}
	c.WorkingDir = ws.Repo.Path()
	c.Ports = []corev1.ContainerPort{{Name: portName, ContainerPort: model.Port, Protocol: corev1.ProtocolTCP}}
	// First start installs OpenCode's plugin and migrates its DB: allow
	// up to five minutes before liveness takes over.
	c.StartupProbe = probe(5, 5, 60)
	c.ReadinessProbe = probe(10, 5, 3)
	c.LivenessProbe = probe(30, 10, 5)
	return c
}

// probe authenticates with the password from the container's own
// environment, so it never appears in the pod spec, and checks the HTTP
// answer: a hung server keeps its port open.
func probe(period, timeout, failures int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:     corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/sh", "-c", boot.ProbeScript}}},
		PeriodSeconds:    period,
		TimeoutSeconds:   timeout,
		FailureThreshold: failures,
	}
}
