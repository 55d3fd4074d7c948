package build

import (
	"regexp"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	esv1 "github.com/opencode-workspaces/ocw/internal/apis/externalsecrets/v1"
	"github.com/opencode-workspaces/ocw/internal/model"
)

// ExternalSecrets makes the three shared Secrets from the store (Doppler in
// the seed). They are rendered once per namespace: two ExternalSecrets
// owning one Secret would overwrite each other forever.
func ExternalSecrets(sys *model.System) []*esv1.ExternalSecret {
	s := sys.Secrets
	if !s.External {
		return nil
	}
	plain := func(ref model.SecretRef) *esv1.ExternalSecret {
		return externalSecret(sys, ref, []esv1.ExternalSecretData{{SecretKey: ref.Key, RemoteRef: remoteRef(ref)}}, nil)
	}
	// auth.json is a whole JSON file kept in one store entry; the template
	// writes it byte for byte under the file name OpenCode expects.
	c := s.Copilot
	copilot := externalSecret(sys, c, []esv1.ExternalSecretData{{SecretKey: c.RemoteKey, RemoteRef: remoteRef(c)}}, &esv1.SecretTemplate{
		EngineVersion: "v2",
		Data:          map[string]string{c.Key: templateRef(c.RemoteKey)},
	})
	return []*esv1.ExternalSecret{plain(s.Git), plain(s.Server), copilot}
}

func externalSecret(sys *model.System, ref model.SecretRef, data []esv1.ExternalSecretData, tmpl *esv1.SecretTemplate) *esv1.ExternalSecret {
	return &esv1.ExternalSecret{
		TypeMeta: typeMeta("external-secrets.io/v1", "ExternalSecret"),
		ObjectMeta: metav1.ObjectMeta{
			Name: ref.Name, Namespace: sys.Namespace, Labels: model.SharedLabels(),
		},
		Spec: esv1.ExternalSecretSpec{
			SecretStoreRef:  esv1.SecretStoreRef{Kind: sys.Secrets.StoreKind, Name: sys.Secrets.StoreName},
			RefreshInterval: &metav1.Duration{Duration: sys.Secrets.RefreshInterval},
			Target:          esv1.ExternalSecretTarget{Name: ref.Name, CreationPolicy: "Owner", Template: tmpl},
			Data:            data,
		},
	}
}

// remoteRef reads a whole store entry (Doppler: a key) or one field of it
// (1Password Connect, Bitwarden: an item and its property).
func remoteRef(ref model.SecretRef) esv1.RemoteRef {
	return esv1.RemoteRef{Key: ref.RemoteKey, Property: ref.Property}
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// templateRef reads one fetched value in an external-secrets v2 template;
// keys that are not Go identifiers (e.g. "item/field") need index.
func templateRef(key string) string {
	if identRE.MatchString(key) {
		return "{{ ." + key + " }}"
	}
	return "{{ index . " + strconv.Quote(key) + " }}"
}
