package build

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opencode-workspaces/ocw/internal/model"
)

// PVC holds the repository and OpenCode's home (auth.json, sessions). It
// is marked so that neither Flux nor ocw apply deletes it when the
// workspace leaves the spec: removing a workspace must not lose work.
func PVC(ws model.Workspace) *corev1.PersistentVolumeClaim {
	meta := objectMeta(ws, ws.Name)
	meta.Annotations = keepData()
	pvc := &corev1.PersistentVolumeClaim{
		TypeMeta:   typeMeta("v1", "PersistentVolumeClaim"),
		ObjectMeta: meta,
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{ws.Storage.AccessMode},
			Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: ws.Storage.Size},
			},
		},
	}
	if ws.Storage.StorageClass != "" {
		pvc.Spec.StorageClassName = new(ws.Storage.StorageClass)
	}
	return pvc
}

// ComponentPVCMark is a patch that gives the PVC a VolSync component
// creates the same protection as ocw's own PVC; why it goes into the app
// folder's kustomization.yaml: docs/design.md, "Who owns the PVC". The name
// is for the reader: a patch with a target keeps each object's own name.
func ComponentPVCMark(ws model.Workspace) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{
		TypeMeta:   typeMeta("v1", "PersistentVolumeClaim"),
		ObjectMeta: metav1.ObjectMeta{Name: ws.Name, Annotations: keepData()},
	}
}

// keepData marks an object that holds the user's data: Flux never prunes
// it, ocw apply --prune only with --purge-data.
func keepData() map[string]string {
	return map[string]string{AnnotationFluxPrune: Disabled, AnnotationKeepData: "true"}
}
