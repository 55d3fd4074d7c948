package testenv_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	volsyncv1alpha1 "github.com/backube/volsync/api/v1alpha1"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/opencode-workspaces/ocw/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	testenv.Main(m, &env, testenv.WithSourceController())
}

func TestCRDsEstablished(t *testing.T) {
	var list apiextensionsv1.CustomResourceDefinitionList
	if err := env.Client.List(t.Context(), &list); err != nil {
		t.Fatal(err)
	}
	type crd struct {
		established bool
		served      map[string]bool
	}
	got := map[string]crd{}
	for _, c := range list.Items {
		v := crd{served: map[string]bool{}}
		for _, cond := range c.Status.Conditions {
			if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
				v.established = true
			}
		}
		for _, ver := range c.Spec.Versions {
			v.served[ver.Name] = ver.Served
		}
		got[c.Spec.Names.Kind+"."+c.Spec.Group] = v
	}

	want := map[string]string{ // kind.group -> a version that must be served
		"Gateway.gateway.networking.k8s.io":         "v1",
		"GatewayClass.gateway.networking.k8s.io":    "v1",
		"HTTPRoute.gateway.networking.k8s.io":       "v1",
		"ReferenceGrant.gateway.networking.k8s.io":  "v1beta1",
		"Kustomization.kustomize.toolkit.fluxcd.io": "v1",
		"ExternalSecret.external-secrets.io":        "v1",
		"SecretStore.external-secrets.io":           "v1",
		"ClusterSecretStore.external-secrets.io":    "v1",
		"ReplicationSource.volsync.backube":         "v1alpha1",
		"ReplicationDestination.volsync.backube":    "v1alpha1",
		"GitRepository.source.toolkit.fluxcd.io":    "v1",
	}
	for name, version := range want {
		c, ok := got[name]
		switch {
		case !ok:
			t.Errorf("CRD %s not installed", name)
		case !c.established:
			t.Errorf("CRD %s not Established", name)
		case !c.served[version]:
			t.Errorf("CRD %s does not serve %s (versions: %v)", name, version, c.served)
		}
	}
}

// The typed client must round-trip the registered CRD types through the real
// schemas.
func TestTypedObjectsAccepted(t *testing.T) {
	ctx := t.Context()
	ns, err := env.CreateNamespace(ctx, "typed-", nil)
	if err != nil {
		t.Fatal(err)
	}
	objs := []client.Object{
		&gatewayv1.Gateway{
			ObjectMeta: metav1.ObjectMeta{Name: "gw", Namespace: ns},
			Spec: gatewayv1.GatewaySpec{
				GatewayClassName: "example",
				Listeners:        []gatewayv1.Listener{{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}},
			},
		},
		&kustomizev1.Kustomization{
			ObjectMeta: metav1.ObjectMeta{Name: "ks", Namespace: ns},
			Spec: kustomizev1.KustomizationSpec{
				Interval:  metav1.Duration{Duration: time.Minute},
				Prune:     true,
				SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "repo"},
			},
		},
		&volsyncv1alpha1.ReplicationSource{
			ObjectMeta: metav1.ObjectMeta{Name: "rs", Namespace: ns},
			Spec:       volsyncv1alpha1.ReplicationSourceSpec{SourcePVC: "data"},
		},
	}
	for _, o := range objs {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Errorf("create %T: %v", o, err)
		}
	}
}

func TestPodSecurityRestrictedEnforced(t *testing.T) {
	ctx := t.Context()
	ns, err := env.CreateNamespace(ctx, "psa-", map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted",
	})
	if err != nil {
		t.Fatal(err)
	}
	dryRun := client.DryRunAll

	bad := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: ns},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name:            "c",
			Image:           "busybox",
			SecurityContext: &corev1.SecurityContext{Privileged: new(true), RunAsUser: new(int64(0))},
		}}},
	}
	err = env.Client.Create(ctx, bad, dryRun)
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `violates PodSecurity "restricted`) {
		t.Errorf("privileged root pod: want a PodSecurity rejection, got %v", err)
	}

	good := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "good", Namespace: ns},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   new(true),
				RunAsUser:      new(int64(1000)),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name:  "c",
				Image: "busybox",
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: new(false),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
		},
	}
	if err := env.Client.Create(ctx, good, dryRun); err != nil {
		t.Errorf("restricted-compliant pod rejected: %v", err)
	}
}

// CLI tests drive the API server through a kubeconfig file.
func TestKubeconfigFile(t *testing.T) {
	if _, err := os.Stat(env.KubeconfigPath); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), env.KubectlPath,
		"--kubeconfig", env.KubeconfigPath, "get", "namespace", "default", "-o", "name").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "namespace/default" {
		t.Fatalf("kubectl get namespace default: %v: %s", err, out)
	}
}

// Gateway API ships a ValidatingAdmissionPolicy next to its CRDs; a real
// install has it, so the Env does too.
func TestGatewaySafeUpgradesPolicyInstalled(t *testing.T) {
	for _, kind := range []string{"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"} {
		o := &unstructured.Unstructured{}
		o.SetAPIVersion("admissionregistration.k8s.io/v1")
		o.SetKind(kind)
		key := client.ObjectKey{Name: "safe-upgrades.gateway.networking.k8s.io"}
		if err := env.Client.Get(t.Context(), key, o); err != nil {
			t.Errorf("%s %s: %v", kind, key.Name, err)
		}
	}
}
