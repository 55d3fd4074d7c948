package build

import (
	"maps"
	"strconv"
	"strings"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opencode-workspaces/ocw/internal/model"
)

// WorkspaceKustomization is a workspace's ks.yaml: it applies the app
// folder at path, with the cluster's VolSync component in component mode.
func WorkspaceKustomization(sys *model.System, ws model.Workspace, path string) *kustomizev1.Kustomization {
	deps := sys.Flux.DependsOn
	if sys.Secrets.External {
		deps = []model.Dependency{{Name: model.SecretsKustomizationName(sys)}}
	}
	ks := fluxKustomization(sys, ws.Name, path, deps)
	ks.ObjectMeta.Labels = ws.Labels()
	ks.Spec.Wait = sys.Flux.Wait
	vars := map[string]string{"APP": ws.Name}
	if ws.Backup.Mode == model.BackupComponent {
		ks.Spec.Components = []string{ws.Backup.Component}
		maps.Copy(vars, volsyncVariables(ws))
	}
	ks.Spec.PostBuild = &kustomizev1.PostBuild{Substitute: vars}
	for _, r := range sys.Flux.SubstituteFrom {
		ks.Spec.PostBuild.SubstituteFrom = append(ks.Spec.PostBuild.SubstituteFrom,
			kustomizev1.SubstituteReference{Kind: r.Kind, Name: r.Name, Optional: r.Optional})
	}
	return ks
}

// volsyncVariables feed a home-ops VolSync component (docs/design.md, "Who
// owns the PVC"): unset classes are left out, as an empty storageClassName
// would mean "no class"; backup.variables come last and win.
func volsyncVariables(ws model.Workspace) map[string]string {
	b := ws.Backup
	vars := map[string]string{
		"VOLSYNC_CAPACITY":       ws.Storage.Size.String(),
		"VOLSYNC_ACCESSMODES":    string(ws.Storage.AccessMode),
		"VOLSYNC_COPYMETHOD":     b.CopyMethod,
		"VOLSYNC_CACHE_CAPACITY": b.CacheCapacity.String(),
		"VOLSYNC_PUID":           strconv.FormatInt(ws.UID, 10),
		"VOLSYNC_PGID":           strconv.FormatInt(ws.GID, 10),
	}
	if ws.Storage.StorageClass != "" {
		vars["VOLSYNC_STORAGECLASS"] = ws.Storage.StorageClass
	}
	if b.SnapshotClass != "" {
		vars["VOLSYNC_SNAPSHOTCLASS"] = b.SnapshotClass
	}
	maps.Copy(vars, b.Variables)
	// b.Schedule is already backup.variables' VOLSYNC_SCHEDULE when set.
	vars["VOLSYNC_SCHEDULE"] = substitutableCron(b.Schedule)
	return vars
}

// substitutableCron writes a leading "*" of the minute field as the
// equivalent "0-59". Flux substitutes into the built YAML, where kustomize
// has written the component's "${VOLSYNC_SCHEDULE:=…}" unquoted, and a
// plain scalar starting with "*" is an alias: "*/15 * * * *" would fail the
// whole Kustomization.
func substitutableCron(s string) string {
	if rest, ok := strings.CutPrefix(s, "*"); ok {
		return "0-59" + rest
	}
	return s
}

// SecretsKustomization applies the shared ExternalSecrets once the secret
// store exists. It always waits until they have produced their Secrets:
// the workspaces depend on it, and a dependency counts only once Ready.
func SecretsKustomization(sys *model.System, path string) *kustomizev1.Kustomization {
	ks := fluxKustomization(sys, model.SecretsKustomizationName(sys), path, sys.Flux.DependsOn)
	ks.ObjectMeta.Labels = model.SharedLabels()
	ks.Spec.Wait = true
	return ks
}

func fluxKustomization(sys *model.System, name, path string, deps []model.Dependency) *kustomizev1.Kustomization {
	ks := &kustomizev1.Kustomization{
		TypeMeta:   typeMeta("kustomize.toolkit.fluxcd.io/v1", "Kustomization"),
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: sys.Namespace},
		Spec: kustomizev1.KustomizationSpec{
			Interval:      metav1.Duration{Duration: sys.Flux.Interval},
			RetryInterval: &metav1.Duration{Duration: retryInterval},
			Timeout:       &metav1.Duration{Duration: sys.Flux.Timeout},
			Path:          path,
			Prune:         true,
			SourceRef: kustomizev1.CrossNamespaceSourceReference{
				Kind: sys.Flux.SourceRef.Kind, Name: sys.Flux.SourceRef.Name, Namespace: sys.Flux.SourceRef.Namespace,
			},
			TargetNamespace: sys.Namespace,
		},
	}
	for _, d := range deps {
		ks.Spec.DependsOn = append(ks.Spec.DependsOn, meta.DependencyReference{Name: d.Name, Namespace: d.Namespace})
	}
	return ks
}

// retryInterval is how soon Flux retries a failed workspace, instead of
// waiting a whole interval.
const retryInterval = 2 * time.Minute
