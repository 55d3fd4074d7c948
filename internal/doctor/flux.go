package doctor

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"strings"

	fluxmeta "github.com/fluxcd/pkg/apis/meta"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/opencode-workspaces/ocw/internal/model"
)

var kustomizationGVR = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}

// Labels kustomize-controller puts on every object it applies.
const (
	fluxNameLabel      = "kustomize.toolkit.fluxcd.io/name"
	fluxNamespaceLabel = "kustomize.toolkit.fluxcd.io/namespace"
)

// fluxByName indexes the listed Kustomizations: nil when the cluster does
// not serve the API (no Flux: nothing to say).
func fluxByName(namespace string, list *unstructured.UnstructuredList, err error) (map[string]*unstructured.Unstructured, error) {
	switch {
	case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("listing Flux Kustomizations in namespace %s: %w", namespace, err)
	}
	byName := map[string]*unstructured.Unstructured{}
	for i := range list.Items {
		byName[list.Items[i].GetName()] = &list.Items[i]
	}
	return byName, nil
}

// fluxNamespaceChecks: in the external-secrets modes, the Kustomization of
// the shared ExternalSecrets, which every workspace Kustomization needs.
func (r *run) fluxNamespaceChecks(ctx context.Context) {
	switch {
	case r.fluxErr != nil:
		// Reported once here; the workspace flux checks are skipped.
		r.add(ScopeNamespace, "flux", warn("cannot check Flux: "+r.fluxErr.Error(),
			"run doctor with permission to list kustomizations.kustomize.toolkit.fluxcd.io in namespace "+r.sys.Namespace))
		return
	case r.flux == nil || !r.sys.Secrets.External:
		return
	}
	ctx, cancel := r.bounded(ctx)
	defer cancel()
	es := r.sys.Secrets.Server.Name
	var obj *metav1.ObjectMeta
	if m, err := r.c.Metadata.Resource(externalSecretGVR).Namespace(r.sys.Namespace).Get(ctx, es, metav1.GetOptions{}); err == nil {
		obj = &m.ObjectMeta
	}
	if c, ok := r.checkKustomization(ScopeNamespace, model.SecretsKustomizationName(r.sys), "ExternalSecret "+es, obj); ok {
		r.add(ScopeNamespace, "flux-secrets", c)
	}
}

// checkFlux judges the workspace's Kustomization; it runs first among the
// workspace checks since a Flux failure explains the missing objects below.
func (r *run) checkFlux(ws *model.Workspace) {
	if r.flux == nil {
		return
	}
	var obj *metav1.ObjectMeta
	if dep := r.snap.Deployment(ws.Name); dep != nil {
		obj = &dep.ObjectMeta
	}
	if c, ok := r.checkKustomization(ws.Name, ws.Name, "Deployment "+ws.Name, obj); ok {
		r.add(ws.Name, "flux", c)
	}
}

// checkKustomization judges Kustomization name: missing, suspended, or its
// Ready condition. obj (what; nil when absent) is an object it would apply:
// without Flux's label (applied by ocw) there is nothing to say (false).
func (r *run) checkKustomization(scope, name, what string, obj *metav1.ObjectMeta) (Check, bool) {
	ns := r.sys.Namespace
	ref := "Kustomization " + ns + "/" + name
	ks, found := r.flux[name]
	if !found {
		var owner string // the Kustomization that applied obj
		if obj != nil {
			if owner = obj.Labels[fluxNameLabel]; owner == "" {
				return Check{}, false
			}
			if ns := obj.Labels[fluxNamespaceLabel]; ns != "" {
				owner = ns + "/" + owner
			}
		}
		msg := ref + " not found"
		if owner != "" {
			msg += " (" + what + " was applied by Flux Kustomization " + owner + ")"
		}
		apps := r.sys.Flux.AppsPath
		return warn(msg, fmt.Sprintf("render the tree into your cluster repository (ocw render -f %s -d REPO), commit and push it; the Flux Kustomization that applies %s must reach the namespace folder (if %s exists, list ./%s in it)",
			r.opts.SpecFile, apps, path.Join(apps, "kustomization.yaml"), ns)), true
	}

	describe := r.kubectl("describe kustomization " + name)
	if suspended, _, _ := unstructured.NestedBool(ks.Object, "spec", "suspend"); suspended {
		return warn(ref+" is suspended: Flux applies no changes to it", fmt.Sprintf("flux resume kustomization %s -n %s", name, ns)), true
	}
	c := condition(ks, fluxmeta.ReadyCondition)
	if c != nil {
		c.Message = truncate(c.Message, 500)
	}
	switch {
	case c != nil && c.Status == metav1.ConditionTrue:
		m := ref + " is Ready"
		if rev, _, _ := unstructured.NestedString(ks.Object, "status", "lastAppliedRevision"); rev != "" {
			m += ", applied revision " + rev
		}
		return ok(m), true
	case c != nil && c.Status == metav1.ConditionFalse:
		return fail(fmt.Sprintf("%s is not Ready: %s: %s", ref, c.Reason, c.Message),
			r.kustomizationFix(scope, ks, c.Reason, c.Message, describe)), true
	}
	// Unknown while kustomize-controller applies and health-checks;
	// no condition at all until it first sees the object.
	m := ref + " is reconciling (no Ready condition yet)"
	if c != nil {
		m = fmt.Sprintf("%s is reconciling: %s: %s", ref, c.Reason, c.Message)
	}
	wait := "wait for Flux to apply it and for the objects to become ready"
	if t, _, _ := unstructured.NestedString(ks.Object, "spec", "timeout"); t != "" {
		wait += " (it waits up to " + t + ")"
	}
	return warn(m, wait+"; if it stays so, check that kustomize-controller runs (flux check) and "+describe), true
}

// dependencyRef finds the dependency kustomize-controller names in its
// DependencyNotReady message ("dependency 'ns/name' is not ready").
var dependencyRef = regexp.MustCompile(`dependency '([^']+)'`)

func (r *run) kustomizationFix(scope string, ks *unstructured.Unstructured, reason, msg, describe string) string {
	ns := r.sys.Namespace
	then := fmt.Sprintf("; then flux reconcile kustomization %s -n %s --with-source (details: %s)", ks.GetName(), ns, describe)
	switch reason {
	case fluxmeta.DependencyNotReadyReason:
		dep := ""
		if m := dependencyRef.FindStringSubmatch(msg); m != nil {
			dep = m[1]
		}
		if dep == "" {
			var names []string
			deps, _, _ := unstructured.NestedSlice(ks.Object, "spec", "dependsOn")
			for _, d := range deps {
				if m, ok := d.(map[string]any); ok {
					n, _ := m["name"].(string)
					names = append(names, n)
				}
			}
			return "Flux waits for its dependsOn (" + strings.Join(names, ", ") + ") to be Ready: flux get kustomizations -A shows which is not and why; fix that one, or flux.dependsOn in the spec"
		}
		// The secrets Kustomization has its own check.
		if scope != ScopeNamespace && r.sys.Secrets.External && dep == ns+"/"+model.SecretsKustomizationName(r.sys) {
			return "Flux waits for dependency " + dep + ": see the flux-secrets check (flux get kustomizations -A)"
		}
		if strings.Contains(msg, "not found") {
			return "dependency " + dep + " does not exist: fix flux.dependsOn in the spec to name an existing Kustomization (flux get kustomizations -A), render, commit and push"
		}
		return "Flux waits for dependency " + dep + ": flux get kustomizations -A shows why it is not Ready; fix it, or flux.dependsOn in the spec if it is the wrong dependency"
	case fluxmeta.ArtifactFailedReason:
		s := r.sys.Flux.SourceRef
		return fmt.Sprintf("the source has no artifact: check flux.sourceRef in the spec (now %s %s/%s) and flux get sources all -A", s.Kind, s.Namespace, s.Name) + then
	case fluxmeta.BuildFailedReason:
		return "the committed files do not build (kustomize build or postBuild substitution): fix what the message names; ocw render -f " + r.opts.SpecFile + " -d REPO --check tells whether the tree is current; commit and push" + then
	case fluxmeta.ReconciliationFailedReason:
		return "the API server rejected an object (a schema error, or a CRD that is not installed): fix what the message names" + then
	case fluxmeta.HealthCheckFailedReason:
		why := "the other checks of this workspace say why"
		if scope == ScopeNamespace {
			why = "the externalsecret checks say why"
		}
		return "the objects were applied but did not become ready in time: " + why + then
	}
	return "fix what the message says" + then
}
