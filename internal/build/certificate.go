package build

import (
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	certv1 "github.com/opencode-workspaces/ocw/internal/apis/certmanager/v1"
	"github.com/opencode-workspaces/ocw/internal/model"
)

// certificateSecret is the Secret the workspace's certificate is stored in.
func certificateSecret(ws model.Workspace) string { return ws.Name + "-tls" }

// Certificate asks cert-manager for a certificate for the workspace host,
// for Gateways without a wildcard listener.
func Certificate(ws model.Workspace) *certv1.Certificate {
	return &certv1.Certificate{
		TypeMeta:   typeMeta("cert-manager.io/v1", "Certificate"),
		ObjectMeta: objectMeta(ws, ws.Name),
		Spec: certv1.CertificateSpec{
			SecretName: certificateSecret(ws),
			DNSNames:   []string{ws.Host},
			IssuerRef:  certv1.IssuerRef{Name: ws.Certificate.IssuerName, Kind: ws.Certificate.IssuerKind, Group: "cert-manager.io"},
		},
	}
}

// ReferenceGrant lets the Gateway's listener, in its own namespace, use the
// certificate Secret in the workspace namespace.
func ReferenceGrant(ws model.Workspace) *gatewayv1beta1.ReferenceGrant {
	return &gatewayv1beta1.ReferenceGrant{
		TypeMeta:   typeMeta("gateway.networking.k8s.io/v1beta1", "ReferenceGrant"),
		ObjectMeta: objectMeta(ws, ws.Name+"-tls"),
		Spec: gatewayv1beta1.ReferenceGrantSpec{
			From: []gatewayv1beta1.ReferenceGrantFrom{{
				Group: "gateway.networking.k8s.io", Kind: "Gateway",
				Namespace: gatewayv1beta1.Namespace(ws.Gateway.Namespace),
			}},
			To: []gatewayv1beta1.ReferenceGrantTo{{
				Group: "", Kind: "Secret", Name: new(gatewayv1beta1.ObjectName(certificateSecret(ws))),
			}},
		},
	}
}
