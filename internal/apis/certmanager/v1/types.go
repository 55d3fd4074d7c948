// Package v1 is the small part of cert-manager.io/v1 that ocw renders
// (a Certificate for one hostname). cert-manager's own module is large and
// pulls a different Kubernetes version, so the few fields live here.
package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion of the types in this package.
var GroupVersion = schema.GroupVersion{Group: "cert-manager.io", Version: "v1"}

// Certificate asks cert-manager for a TLS certificate stored in a Secret.
type Certificate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              CertificateSpec `json:"spec,omitempty"`
}

// CertificateSpec is the subset of the spec ocw sets.
type CertificateSpec struct {
	SecretName string    `json:"secretName"`
	DNSNames   []string  `json:"dnsNames,omitempty"`
	IssuerRef  IssuerRef `json:"issuerRef"`
}

// IssuerRef names the (Cluster)Issuer.
type IssuerRef struct {
	Name  string `json:"name"`
	Kind  string `json:"kind,omitempty"`
	Group string `json:"group,omitempty"`
}

// DeepCopyObject implements runtime.Object.
func (in *Certificate) DeepCopyObject() runtime.Object {
	out := *in
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	out.Spec.DNSNames = append([]string(nil), in.Spec.DNSNames...)
	return &out
}
