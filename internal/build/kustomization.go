package build

import (
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opencode-workspaces/ocw/internal/model"
)

// SecretsKustomizationName is the Flux Kustomization of the shared
// ExternalSecrets; workspaces depend on it.
func SecretsKustomizationName(sys *model.System) string { return sys.Namespace + "-secrets" }

// WorkspaceKustomization is a workspace's ks.yaml: it applies the app
// folder at path and waits for the workspace to become ready.
func WorkspaceKustomization(sys *model.System, ws model.Workspace, path string) *kustomizev1.Kustomization {
	deps := sys.Flux.DependsOn
	if sys.Secrets.Doppler {
		deps = []model.Dependency{{Name: SecretsKustomizationName(sys)}}
	}
	ks := fluxKustomization(sys, ws.Name, path, deps)
	ks.ObjectMeta.Labels = ws.Labels()
	vars := map[string]string{"APP": ws.Name}
	if ws.Backup.Mode == model.BackupComponent {
		ks.Spec.Components = []string{ws.Backup.Component}
		vars["VOLSYNC_CAPACITY"] = ws.Storage.Size.String()
		vars["VOLSYNC_SCHEDULE"] = ws.Backup.Schedule
		if ws.Storage.StorageClass != "" {
			vars["VOLSYNC_STORAGECLASS"] = ws.Storage.StorageClass
		}
		if ws.Backup.SnapshotClass != "" {
			vars["VOLSYNC_SNAPSHOTCLASS"] = ws.Backup.SnapshotClass
		}
		vars["VOLSYNC_CACHE_CAPACITY"] = ws.Backup.CacheCapacity.String()
		vars["VOLSYNC_PUID"] = itoa(ws.UID)
		vars["VOLSYNC_PGID"] = itoa(ws.GID)
		for k, v := range ws.Backup.Variables {
			vars[k] = v
		}
	}
	ks.Spec.PostBuild = &kustomizev1.PostBuild{Substitute: vars}
	return ks
}

// SecretsKustomization applies the shared ExternalSecrets once the secret
// store exists, and waits until they have produced their Secrets.
func SecretsKustomization(sys *model.System, path string) *kustomizev1.Kustomization {
	ks := fluxKustomization(sys, SecretsKustomizationName(sys), path, sys.Flux.DependsOn)
	ks.ObjectMeta.Labels = model.SharedLabels()
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
			Wait:          true,
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
