package build

import (
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/opencode-workspaces/ocw/internal/model"
)

// ServiceAccount is the workspace's identity when it may read the cluster.
func ServiceAccount(ws model.Workspace) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		TypeMeta:   typeMeta("v1", "ServiceAccount"),
		ObjectMeta: objectMeta(ws, ws.Name),
	}
}

// RoleBinding binds the built-in read-only "view" role, in the workspace's
// namespace or (clusterAccess: cluster) everywhere.
func RoleBinding(ws model.Workspace) client.Object {
	ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"}
	subjects := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: ws.Name, Namespace: ws.Namespace}}
	if ws.ClusterAccess == model.ClusterAccessCluster {
		labels := ws.Labels()
		labels[model.LabelNamespace] = ws.Namespace
		return &rbacv1.ClusterRoleBinding{
			TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
			ObjectMeta: metav1.ObjectMeta{
				Name: ws.ClusterBindingName(), Labels: labels,
			},
			RoleRef:  ref,
			Subjects: subjects,
		}
	}
	return &rbacv1.RoleBinding{
		TypeMeta:   typeMeta("rbac.authorization.k8s.io/v1", "RoleBinding"),
		ObjectMeta: objectMeta(ws, ws.Name+"-view"),
		RoleRef:    ref,
		Subjects:   subjects,
	}
}
