// Package build turns the model into typed Kubernetes objects, one builder
// file per kind. Builders are pure functions of the model: the same model
// always yields the same objects, which keeps rendering deterministic.
package build

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/opencode-workspaces/ocw/internal/model"
)

// Annotations ocw sets.
const (
	// AnnotationFluxPrune stops Flux from deleting an object when it leaves
	// the tree: the PVC holds the user's work.
	AnnotationFluxPrune = "kustomize.toolkit.fluxcd.io/prune"
	// AnnotationFluxSubstitute stops Flux's post-build envsubst from
	// rewriting the shell scripts embedded in an object.
	AnnotationFluxSubstitute = "kustomize.toolkit.fluxcd.io/substitute"
	AnnotationReloader       = "reloader.stakater.com/auto"
	AnnotationDefaultCont    = "kubectl.kubernetes.io/default-container"
	// AnnotationKeepData marks objects ocw apply never prunes without
	// --purge-data.
	AnnotationKeepData = "ocw.dev/keep-data"
	Disabled           = "disabled"
)

// Workspace returns every object of one workspace's app, in apply order.
func Workspace(ws model.Workspace) []client.Object {
	var objs []client.Object
	if ws.RendersPVC() {
		objs = append(objs, PVC(ws))
	}
	if ws.ClusterAccess != model.ClusterAccessNone {
		objs = append(objs, ServiceAccount(ws), RoleBinding(ws))
	}
	objs = append(objs, Deployment(ws), Service(ws), HTTPRoute(ws))
	if ws.Certificate != nil {
		objs = append(objs, Certificate(ws), ReferenceGrant(ws))
	}
	if ws.Backup.Mode == model.BackupInline {
		objs = append(objs, ReplicationSource(ws))
	}
	return objs
}

func objectMeta(ws model.Workspace, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: ws.Namespace, Labels: ws.Labels()}
}

func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

// Namespace is the shared namespace. Pod Security "restricted" is enforced:
// every workspace pod complies, and nothing else belongs there.
func Namespace(sys *model.System) *corev1.Namespace {
	labels := model.SharedLabels()
	labels["pod-security.kubernetes.io/enforce"] = "restricted"
	labels["pod-security.kubernetes.io/warn"] = "restricted"
	return &corev1.Namespace{
		TypeMeta: typeMeta("v1", "Namespace"),
		// Deleting the namespace would delete every workspace's PVC.
		ObjectMeta: metav1.ObjectMeta{Name: sys.Namespace, Labels: labels, Annotations: keepData()},
	}
}
