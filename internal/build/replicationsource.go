package build

import (
	volsyncv1alpha1 "github.com/backube/volsync/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"

	"github.com/opencode-workspaces/ocw/internal/model"
)

// ReplicationSource backs the workspace PVC up with restic (VolSync),
// by default from a snapshot so the running workspace is never stopped. The mover
// runs as the workspace user so it can read every file, with the
// RuntimeDefault seccomp profile: VolSync's mover container sets every
// other field Pod Security "restricted" asks for but not that one, and the
// namespace enforces restricted.
func ReplicationSource(ws model.Workspace) *volsyncv1alpha1.ReplicationSource {
	b := ws.Backup
	restic := &volsyncv1alpha1.ReplicationSourceResticSpec{
		ReplicationSourceVolumeOptions: volsyncv1alpha1.ReplicationSourceVolumeOptions{
			CopyMethod: volsyncv1alpha1.CopyMethodType(b.CopyMethod),
		},
		PruneIntervalDays: new(int32(14)),
		Repository:        b.Repository,
		CacheCapacity:     new(b.CacheCapacity),
		Retain: &volsyncv1alpha1.ResticRetainPolicy{
			Hourly: b.Retain.Hourly, Daily: b.Retain.Daily, Weekly: b.Retain.Weekly, Within: b.Retain.Within,
		},
		MoverConfig: volsyncv1alpha1.MoverConfig{
			MoverSecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot: new(true),
				RunAsUser:    new(ws.UID),
				RunAsGroup:   new(ws.GID),
				FSGroup:      new(ws.GID),
				SeccompProfile: &corev1.SeccompProfile{
					Type: corev1.SeccompProfileTypeRuntimeDefault,
				},
			},
		},
	}
	if b.SnapshotClass != "" {
		restic.VolumeSnapshotClassName = new(b.SnapshotClass)
	}
	if ws.Storage.StorageClass != "" {
		restic.StorageClassName = new(ws.Storage.StorageClass)
		restic.CacheStorageClassName = new(ws.Storage.StorageClass)
	}
	return &volsyncv1alpha1.ReplicationSource{
		TypeMeta:   typeMeta("volsync.backube/v1alpha1", "ReplicationSource"),
		ObjectMeta: objectMeta(ws, ws.Name),
		Spec: volsyncv1alpha1.ReplicationSourceSpec{
			SourcePVC: ws.Name,
			Trigger:   &volsyncv1alpha1.ReplicationSourceTriggerSpec{Schedule: new(b.Schedule)},
			Restic:    restic,
		},
	}
}
