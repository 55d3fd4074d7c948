// Package v1 is the small part of external-secrets.io/v1 that ocw renders.
// external-secrets publishes no importable API module, so these types are
// kept here; the real-API-server tests create them against the real CRD
// (github.com/external-secrets/external-secrets config/crds), which keeps
// the field names honest.
package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion of the types in this package.
var GroupVersion = schema.GroupVersion{Group: "external-secrets.io", Version: "v1"}

// ExternalSecret makes a Secret from entries of a secret store.
type ExternalSecret struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ExternalSecretSpec `json:"spec,omitempty"`
}

// ExternalSecretSpec is the subset of the spec ocw sets.
type ExternalSecretSpec struct {
	SecretStoreRef  SecretStoreRef       `json:"secretStoreRef"`
	Target          ExternalSecretTarget `json:"target,omitempty"`
	RefreshInterval *metav1.Duration     `json:"refreshInterval,omitempty"`
	Data            []ExternalSecretData `json:"data,omitempty"`
}

// SecretStoreRef names the (Cluster)SecretStore.
type SecretStoreRef struct {
	Name string `json:"name"`
	Kind string `json:"kind,omitempty"`
}

// ExternalSecretTarget describes the Secret to create.
type ExternalSecretTarget struct {
	Name           string          `json:"name,omitempty"`
	CreationPolicy string          `json:"creationPolicy,omitempty"`
	DeletionPolicy string          `json:"deletionPolicy,omitempty"`
	Template       *SecretTemplate `json:"template,omitempty"`
}

// SecretTemplate renders Secret data from the fetched values.
type SecretTemplate struct {
	EngineVersion string            `json:"engineVersion,omitempty"`
	Data          map[string]string `json:"data,omitempty"`
}

// ExternalSecretData maps one remote key to one Secret key.
type ExternalSecretData struct {
	SecretKey string    `json:"secretKey"`
	RemoteRef RemoteRef `json:"remoteRef"`
}

// RemoteRef is the key in the store and, for stores whose entries have
// fields (1Password, Bitwarden), the field.
type RemoteRef struct {
	Key      string `json:"key"`
	Property string `json:"property,omitempty"`
}

// DeepCopyObject implements runtime.Object.
func (in *ExternalSecret) DeepCopyObject() runtime.Object {
	out := *in
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	if in.Spec.RefreshInterval != nil {
		d := *in.Spec.RefreshInterval
		out.Spec.RefreshInterval = &d
	}
	out.Spec.Data = append([]ExternalSecretData(nil), in.Spec.Data...)
	if t := in.Spec.Target.Template; t != nil {
		c := *t
		c.Data = make(map[string]string, len(t.Data))
		for k, v := range t.Data {
			c.Data[k] = v
		}
		out.Spec.Target.Template = &c
	}
	return &out
}
