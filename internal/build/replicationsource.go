package build

import (
	volsyncv1alpha1 "github.com/backube/volsync/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opencode-workspaces/ocw/internal/model"
)

// ReplicationSource backs the workspace PVC up with restic (VolSync). The
// mover runs as the workspace user so it can read every file, with the
// RuntimeDefault seccomp profile, the one field Pod Security "restricted"
// asks for that VolSync's mover container does not set.
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
			MoverSecurityContext: podSecurity(ws),
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

func restrictedSeccomp() *corev1.SeccompProfile {
	return &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
}

// podSecurity runs a pod as the workspace user, as Pod Security
// "restricted" requires.
func podSecurity(ws model.Workspace) *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsNonRoot:   new(true),
		RunAsUser:      new(ws.UID),
		RunAsGroup:     new(ws.GID),
		FSGroup:        new(ws.GID),
		SeccompProfile: restrictedSeccomp(),
	}
}

// ComponentMoverMark is a patch, next to ComponentPVCMark, that gives the
// ReplicationSource a VolSync component renders the two fields of its
// moverSecurityContext Pod Security "restricted" needs and home-ops
// components leave out (without them no mover pod is admitted); the
// component's uid, gid and fsGroup are kept.
func ComponentMoverMark(ws model.Workspace) *volsyncv1alpha1.ReplicationSource {
	return &volsyncv1alpha1.ReplicationSource{
		TypeMeta:   typeMeta("volsync.backube/v1alpha1", "ReplicationSource"),
		ObjectMeta: metav1.ObjectMeta{Name: ws.Name},
		Spec: volsyncv1alpha1.ReplicationSourceSpec{
			Restic: &volsyncv1alpha1.ReplicationSourceResticSpec{
				MoverConfig: volsyncv1alpha1.MoverConfig{
					MoverSecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:   new(true),
						SeccompProfile: restrictedSeccomp(),
					},
				},
			},
		},
	}
}
