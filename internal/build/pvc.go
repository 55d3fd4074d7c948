package build

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/opencode-workspaces/ocw/internal/model"
)

// PVC holds the repository and OpenCode's home (auth.json, sessions). It
// is marked so that neither Flux nor ocw apply deletes it when the
// workspace leaves the spec: removing a workspace must not lose work.
func PVC(ws model.Workspace) *corev1.PersistentVolumeClaim {
	meta := objectMeta(ws, ws.Name)
	meta.Annotations = map[string]string{AnnotationFluxPrune: Disabled, AnnotationKeepData: "true"}
	pvc := &corev1.PersistentVolumeClaim{
		TypeMeta:   typeMeta("v1", "PersistentVolumeClaim"),
		ObjectMeta: meta,
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: ws.Storage.Size},
			},
		},
	}
	if ws.Storage.StorageClass != "" {
		pvc.Spec.StorageClassName = ptr(ws.Storage.StorageClass)
	}
	return pvc
}
