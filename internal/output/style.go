package output

import (
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// SchemaPrefix starts the comment that tells yaml-language-server (and
// editors using it) which JSON schema a document follows.
const SchemaPrefix = "# yaml-language-server: $schema="

// crdSchemas is where home-ops files point for custom resources.
const crdSchemas = "https://kubernetes-schemas.pages.dev/"

// schemaURLs are the schemas hand-written home-ops files name for the
// kinds ocw renders, keyed by "apiVersion kind". Built-in kinds
// (Namespace, Deployment, PVC, ...) carry no schema comment there, and
// none here.
var schemaURLs = map[string]string{
	"kustomize.config.k8s.io/v1beta1 Kustomization":    "https://json.schemastore.org/kustomization",
	"kustomize.toolkit.fluxcd.io/v1 Kustomization":     crdSchemas + "kustomize.toolkit.fluxcd.io/kustomization_v1.json",
	"external-secrets.io/v1 ExternalSecret":            crdSchemas + "external-secrets.io/externalsecret_v1.json",
	"volsync.backube/v1alpha1 ReplicationSource":       crdSchemas + "volsync.backube/replicationsource_v1alpha1.json",
	"gateway.networking.k8s.io/v1 HTTPRoute":           crdSchemas + "gateway.networking.k8s.io/httproute_v1.json",
	"gateway.networking.k8s.io/v1beta1 ReferenceGrant": crdSchemas + "gateway.networking.k8s.io/referencegrant_v1beta1.json",
	"cert-manager.io/v1 Certificate":                   crdSchemas + "cert-manager.io/certificate_v1.json",
}

func typeKey(m map[string]any) string {
	av, _ := m["apiVersion"].(string)
	kind, _ := m["kind"].(string)
	return av + " " + kind
}

// durationFields are the metav1.Duration fields of the kinds ocw renders.
// A typed Duration marshals the way Go prints it ("1h0m0s"); people and
// home-ops repositories write "1h".
var durationFields = map[string][][]string{
	"kustomize.toolkit.fluxcd.io/v1 Kustomization": {{"spec", "interval"}, {"spec", "retryInterval"}, {"spec", "timeout"}},
	"external-secrets.io/v1 ExternalSecret":        {{"spec", "refreshInterval"}},
}

// explicitFalse are bool fields home-ops files spell out when false
// (typed structs omit them as empty).
var explicitFalse = map[string][][]string{
	"kustomize.toolkit.fluxcd.io/v1 Kustomization": {{"spec", "wait"}},
}

// humanStyle writes durations and booleans the way people do in home-ops
// files; the values mean the same.
func humanStyle(m map[string]any) {
	key := typeKey(m)
	for _, path := range durationFields[key] {
		if s, ok, _ := unstructured.NestedString(m, path...); ok {
			_ = unstructured.SetNestedField(m, shortDuration(s), path...)
		}
	}
	for _, path := range explicitFalse[key] {
		if _, ok, _ := unstructured.NestedFieldNoCopy(m, path...); !ok {
			_ = unstructured.SetNestedField(m, false, path...)
		}
	}
}

// shortDuration rewrites a Go duration string without its zero units:
// "1h0m0s" → "1h", "1h30m0s" → "1h30m", "10m0s" → "10m". Anything else
// (fractions, or not a duration) is returned as it is.
func shortDuration(s string) string {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d%time.Second != 0 {
		return s
	}
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.unit; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10) + u.name)
			d -= n * u.unit
		}
	}
	return b.String()
}
