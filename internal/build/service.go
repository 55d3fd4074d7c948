package build

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/opencode-workspaces/ocw/internal/model"
)

// Service exposes OpenCode inside the cluster for the HTTPRoute.
func Service(ws model.Workspace) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   typeMeta("v1", "Service"),
		ObjectMeta: objectMeta(ws, ws.Name),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: ws.SelectorLabels(),
			Ports: []corev1.ServicePort{{
				Name: portName, Port: model.Port, TargetPort: intstr.FromString(portName), Protocol: corev1.ProtocolTCP,
			}},
		},
	}
}
