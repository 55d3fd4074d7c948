package doctor

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apihelpers"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/opencode-workspaces/ocw/internal/model"
)

var (
	crdGVR            = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	gatewayGVR        = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}
	deploymentGVR     = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	snapshotClassGVR  = schema.GroupVersionResource{Group: "snapshot.storage.k8s.io", Version: "v1", Resource: "volumesnapshotclasses"}
	esGroup           = "external-secrets.io"
	externalSecretGVR = schema.GroupVersionResource{Group: esGroup, Version: "v1", Resource: "externalsecrets"}
)

func (r *run) clusterChecks(ctx context.Context) {
	add := func(id string, c Check) { r.add(ScopeCluster, id, c) }
	add("gateway-api", r.checkCRDs(ctx, "Gateway API", []crdWant{
		{"httproutes.gateway.networking.k8s.io", "v1"}, {"gateways.gateway.networking.k8s.io", "v1"},
	}, "install the Gateway API standard CRDs (v1.1 or newer), usually together with your Gateway implementation (Envoy Gateway, Cilium, Traefik, ...)"))
	r.checkGateways(ctx)

	if r.sys.Secrets.External {
		add("external-secrets", r.checkCRDs(ctx, "external-secrets", []crdWant{
			{"externalsecrets." + esGroup, "v1"}, {strings.ToLower(r.sys.Secrets.StoreKind) + "s." + esGroup, "v1"},
		}, "install external-secrets (v0.16 or newer, which serves external-secrets.io/v1), or set secrets.mode: manual and create the Secrets with ocw secrets"))
		add("secret-store", r.checkSecretStore(ctx))
	}

	if slices.ContainsFunc(r.ws, func(w model.Workspace) bool { return w.Reloader }) {
		add("reloader", r.checkReloader(ctx))
	}

	// Only copyMethod Snapshot needs a VolumeSnapshotClass; Direct reads
	// the live volume and Clone needs a CSI driver's clones.
	var classes, storage []string
	volsync := false
	for _, w := range r.ws {
		storage = append(storage, w.Storage.StorageClass)
		if w.Backup.Mode == model.BackupNone {
			continue
		}
		volsync = true
		if w.Backup.CopyMethod == "Snapshot" {
			classes = append(classes, w.Backup.SnapshotClass)
		}
	}
	if volsync {
		add("volsync", r.checkCRDs(ctx, "VolSync", []crdWant{{"replicationsources.volsync.backube", "v1alpha1"}},
			"install VolSync (backube/volsync), or set backup.mode: none"))
		for _, c := range dedupe(classes) {
			add("snapshot-class", r.checkSnapshotClass(ctx, c))
		}
	}
	for _, sc := range dedupe(storage) {
		add("storage-class", r.checkStorageClass(sc))
	}
}

type crdWant struct{ name, version string }

// checkCRDs: each CRD exists, is Established and serves ocw's version.
func (r *run) checkCRDs(ctx context.Context, what string, crds []crdWant, fix string) Check {
	ctx, cancel := r.bounded(ctx)
	defer cancel()
	var problems, found []string
	for _, want := range crds {
		u, err := r.c.Dynamic.Resource(crdGVR).Get(ctx, want.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			problems = append(problems, want.name+" is not installed")
			continue
		}
		if err != nil {
			return warn(fmt.Sprintf("cannot read CRD %s: %v", want.name, err), "run doctor with permission to read customresourcedefinitions")
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &crd); err != nil {
			problems = append(problems, want.name+" cannot be decoded")
			continue
		}
		switch {
		case !apihelpers.IsCRDConditionTrue(&crd, apiextensionsv1.Established):
			problems = append(problems, want.name+" is not Established")
		case !apihelpers.HasServedCRDVersion(&crd, want.version):
			problems = append(problems, fmt.Sprintf("%s does not serve %s (too old?)", want.name, want.version))
		default:
			found = append(found, want.name)
		}
	}
	if len(problems) > 0 {
		return fail(what+" CRDs: "+strings.Join(problems, "; "), fix)
	}
	return ok(what + " CRDs installed: " + strings.Join(found, ", "))
}

func (r *run) checkGateways(ctx context.Context) {
	ctx, cancel := r.bounded(ctx)
	defer cancel()
	byGW := map[string][]model.Workspace{}
	var refs []string
	for _, w := range r.ws {
		ref := w.Gateway.Namespace + "/" + w.Gateway.Name
		if _, ok := byGW[ref]; !ok {
			refs = append(refs, ref)
		}
		byGW[ref] = append(byGW[ref], w)
	}
	for _, ref := range refs {
		r.add(ScopeCluster, "gateway", r.readGateway(ctx, ref, byGW[ref]))
	}
}

// readGateway reads a Gateway, keeps it for the route checks, checks it.
func (r *run) readGateway(ctx context.Context, ref string, wss []model.Workspace) Check {
	g := wss[0].Gateway
	u, err := r.c.Dynamic.Resource(gatewayGVR).Namespace(g.Namespace).Get(ctx, g.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return fail("Gateway "+ref+" not found",
			"create it, or set gateway.name/gateway.namespace in the spec to an existing Gateway (kubectl get gateways -A)")
	case err != nil:
		return warn(fmt.Sprintf("cannot read Gateway %s: %v", ref, err), "check the Gateway API CRDs and your permission to read gateways")
	}
	var gw gatewayv1.Gateway
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &gw); err != nil {
		return warn(fmt.Sprintf("cannot decode Gateway %s: %v", ref, err), "")
	}
	r.gateways[ref] = &gw
	return checkGateway(ref, &gw, wss)
}

// hostMatches applies Gateway API listener hostname matching: "*.d" is a
// suffix match on one or more labels.
func hostMatches(pattern, host string) bool {
	if rest, ok := strings.CutPrefix(pattern, "*."); ok {
		return strings.HasSuffix(host, "."+rest)
	}
	return strings.EqualFold(pattern, host)
}

func dedupe(s []string) []string {
	var out []string
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func (r *run) checkSecretStore(ctx context.Context) Check {
	ctx, cancel := r.bounded(ctx)
	defer cancel()
	s, ns := r.sys.Secrets, ""
	ref := s.Store()
	if s.StoreKind == "SecretStore" {
		ns, ref = r.sys.Namespace, "SecretStore "+r.sys.Namespace+"/"+s.StoreName
	}
	gvr := schema.GroupVersionResource{Group: esGroup, Version: "v1", Resource: strings.ToLower(s.StoreKind) + "s"}
	u, err := r.c.Dynamic.Resource(gvr).Namespace(ns).Get(ctx, s.StoreName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return fail(ref+" not found",
			"create it (for Doppler, a store with its service token; for 1Password, one pointing at your Connect server), or set secrets.store in the spec to your store")
	case err != nil:
		return warn(fmt.Sprintf("cannot read %s: %v", ref, err), "check the external-secrets CRDs")
	}
	return checkReady(ref, u, " has no Ready condition yet", " is Ready",
		"fix the store's credentials (the token Secret it references, e.g. Doppler's service token): kubectl describe "+strings.ToLower(s.StoreKind)+" "+s.StoreName)
}

// checkReady judges an external-secrets object by its Ready condition:
// warn without one (the controller has not seen it), fail unless True.
func checkReady(ref string, u *unstructured.Unstructured, pending, ready, fix string) Check {
	c := condition(u, "Ready")
	switch {
	case c == nil:
		return warn(ref+pending, "check that the external-secrets controller runs")
	case c.Status != metav1.ConditionTrue:
		return fail(fmt.Sprintf("%s is not Ready: %s: %s", ref, c.Reason, c.Message), fix)
	}
	return ok(ref + ready)
}

// condition is status.conditions[type=t] of a Flux or external-secrets
// object, or nil.
func condition(u *unstructured.Unstructured, t string) *metav1.Condition {
	var obj struct {
		Status struct {
			Conditions []metav1.Condition `json:"conditions"`
		} `json:"status"`
	}
	if runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &obj) != nil {
		return nil
	}
	return meta.FindStatusCondition(obj.Status.Conditions, t)
}

// checkReloader looks for a Reloader Deployment by name or the usual
// labels; none found only warns: another name would not be recognised.
func (r *run) checkReloader(ctx context.Context) Check {
	ctx, cancel := r.bounded(ctx)
	defer cancel()
	list, err := r.c.Metadata.Resource(deploymentGVR).Namespace("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return warn(fmt.Sprintf("cannot list Deployments to find Reloader: %v", err), "run doctor with permission to list deployments in all namespaces")
	}
	for _, d := range list.Items {
		l := d.Labels
		if strings.Contains(d.Name, "reloader") || strings.Contains(l["app.kubernetes.io/name"], "reloader") || strings.Contains(l["app"], "reloader") {
			return ok("Reloader found: Deployment " + d.Namespace + "/" + d.Name)
		}
	}
	return warn("reloader is enabled in the spec but no Reloader Deployment was found: workspaces will not restart when a Secret changes",
		"install stakater Reloader, or set reloader: false and restart by hand after changing a Secret ("+r.kubectl("rollout restart deployment/<workspace>")+")")
}

func (r *run) checkSnapshotClass(ctx context.Context, name string) Check {
	ctx, cancel := r.bounded(ctx)
	defer cancel()
	const crd = "volumesnapshotclasses.snapshot.storage.k8s.io"
	if _, err := r.c.Dynamic.Resource(crdGVR).Get(ctx, crd, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		return fail("the VolumeSnapshot CRDs are not installed (no "+crd+")",
			"install the CSI external-snapshotter CRDs and snapshot controller, and a CSI driver that supports snapshots; or set backup.mode: none")
	}
	if name == "" {
		return fail("backup.volumeSnapshotClass is empty", "set backup.volumeSnapshotClass in the spec")
	}
	_, err := r.c.Dynamic.Resource(snapshotClassGVR).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		fix := "create it, or set backup.volumeSnapshotClass in the spec to an existing class"
		if list, lerr := r.c.Dynamic.Resource(snapshotClassGVR).List(ctx, metav1.ListOptions{}); lerr == nil && len(list.Items) > 0 {
			var names []string
			for _, i := range list.Items {
				names = append(names, i.GetName())
			}
			fix = "set backup.volumeSnapshotClass to one of: " + strings.Join(names, ", ")
		}
		return fail("VolumeSnapshotClass "+name+" not found", fix)
	case err != nil:
		return warn(fmt.Sprintf("cannot read VolumeSnapshotClass %s: %v", name, err), "")
	}
	return ok("VolumeSnapshotClass " + name + " exists")
}

// checkStorageClass checks the named class, or for a default one.
func (r *run) checkStorageClass(name string) Check {
	if r.classesErr != nil {
		return warn(fmt.Sprintf("cannot list StorageClasses: %v", r.classesErr), "")
	}
	var names, defaults []string
	for _, sc := range r.classes {
		names = append(names, sc.Name)
		if sc.Annotations["storageclass.kubernetes.io/is-default-class"] == "true" {
			defaults = append(defaults, sc.Name)
		}
	}
	avail := cmp.Or(strings.Join(names, ", "), "none")
	switch {
	case name == "" && len(defaults) == 0:
		return fail("storage.storageClass is unset and the cluster has no default StorageClass: PVCs stay Pending",
			"set storage.storageClass in the spec (available: "+avail+"), or mark one class default")
	case name == "":
		return ok("default StorageClass " + defaults[0] + " is used")
	case !slices.Contains(names, name):
		return fail("StorageClass "+name+" not found: PVCs stay Pending", "set storage.storageClass in the spec to an existing class (available: "+avail+")")
	}
	return ok("StorageClass " + name + " exists")
}
