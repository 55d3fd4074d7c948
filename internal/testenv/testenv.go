// Package testenv starts a real kube-apiserver and etcd (controller-runtime
// envtest) with the real CRDs ocw renders against: Gateway API (standard
// channel, plus its safe-upgrades ValidatingAdmissionPolicy), Flux
// Kustomization, external-secrets and VolSync. The CRDs are read from the Go
// module cache at the versions the main module requires, so they never get
// copied into the repo and follow dependency bumps.
//
// The binaries come from KUBEBUILDER_ASSETS or, when it is unset, from
// hack/envtest-assets.sh (which builds them from Go modules; minutes when
// cold, so run it once up front or raise `go test -timeout`).
//
// Starting an Env takes about 10s on 2 cores (4s of it the bare API server,
// the rest installing and waiting for the CRDs), so start it once per test
// package in TestMain and share it, isolating tests by namespace:
//
//	var env *testenv.Env
//
//	func TestMain(m *testing.M) { testenv.Main(m, &env) }
//
//	func TestX(t *testing.T) {
//		ns, err := env.CreateNamespace(t.Context(), "x-", nil)
//		...
//	}
//
// The API server runs no controllers: namespaces never finish terminating,
// Deployments get no Pods. Pod Security admission is active.
package testenv

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	volsyncv1alpha1 "github.com/backube/volsync/api/v1alpha1"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Env is a running API server with the CRDs installed.
type Env struct {
	// Config is an admin (system:masters) config for the API server.
	Config *rest.Config
	// Client uses Scheme.
	Client client.Client
	// Scheme has the client-go built-in types (core, apps, rbac, ...),
	// apiextensions v1, Gateway API v1, Flux kustomize v1 and VolSync
	// v1alpha1 registered.
	Scheme *runtime.Scheme
	// Kubeconfig is a kubeconfig for Config, and KubeconfigPath a file holding
	// it (removed by Stop), for CLI tests: `ocw apply --kubeconfig PATH`.
	Kubeconfig     []byte
	KubeconfigPath string
	// AssetsDir holds the kube-apiserver, etcd and kubectl binaries;
	// KubectlPath is the kubectl in it.
	AssetsDir   string
	KubectlPath string

	env    *envtest.Environment
	tmpDir string
}

type options struct {
	sourceController bool
}

// Option changes what Start installs.
type Option func(*options)

// WithSourceController also installs the Flux source-controller CRDs
// (GitRepository, OCIRepository, ...).
func WithSourceController() Option {
	return func(o *options) { o.sourceController = true }
}

// NewScheme returns a scheme with the types Env.Client understands.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(apiextensionsv1.AddToScheme(s))
	utilruntime.Must(gatewayv1.Install(s))
	utilruntime.Must(kustomizev1.AddToScheme(s))
	utilruntime.Must(volsyncv1alpha1.AddToScheme(s))
	return s
}

// Start starts the API server and installs the CRDs. ctx bounds the
// preparation (locating or building binaries, locating CRDs); call Stop when
// done.
func Start(ctx context.Context, opts ...Option) (*Env, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}

	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	assets, err := assetsDir(ctx, root)
	if err != nil {
		return nil, err
	}
	srcs := crdSources
	if o.sourceController {
		srcs = append(srcs[:len(srcs):len(srcs)], sourceControllerCRDs)
	}
	crdDirs, err := resolveCRDDirs(ctx, root, srcs)
	if err != nil {
		return nil, err
	}

	scheme := NewScheme()
	te := &envtest.Environment{
		Scheme:                scheme,
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     crdDirs,
		ErrorIfCRDPathMissing: true,
	}
	// KUBEBUILDER_ASSETS would override BinaryAssetsDirectory inside envtest;
	// pin the paths so what we resolved is what runs.
	te.ControlPlane.GetAPIServer().Path = filepath.Join(assets, "kube-apiserver")
	te.ControlPlane.Etcd = &envtest.Etcd{Path: filepath.Join(assets, "etcd")}
	te.ControlPlane.KubectlPath = filepath.Join(assets, "kubectl")

	cfg, err := te.Start()
	if err != nil {
		// Start may leave processes behind on a late failure (CRD install).
		_ = te.Stop()
		return nil, fmt.Errorf("starting envtest with binaries from %s: %w", assets, err)
	}

	e := &Env{
		Config:      cfg,
		Scheme:      scheme,
		Kubeconfig:  te.KubeConfig,
		AssetsDir:   assets,
		KubectlPath: te.ControlPlane.KubectlPath,
		env:         te,
	}
	if err := e.init(ctx, crdDirs); err != nil {
		_ = e.Stop()
		return nil, err
	}
	return e, nil
}

func (e *Env) init(ctx context.Context, crdDirs []string) error {
	var err error
	e.Client, err = client.New(e.Config, client.Options{Scheme: e.Scheme})
	if err != nil {
		return fmt.Errorf("creating client: %w", err)
	}
	if err := installManifests(ctx, e.Client, crdDirs); err != nil {
		return err
	}
	e.tmpDir, err = os.MkdirTemp("", "ocw-testenv-")
	if err != nil {
		return err
	}
	e.KubeconfigPath = filepath.Join(e.tmpDir, "kubeconfig")
	return e.WriteKubeconfig(e.KubeconfigPath)
}

// WriteKubeconfig writes a kubeconfig for the Env to path (mode 0600: it
// holds the admin client key).
func (e *Env) WriteKubeconfig(path string) error {
	return os.WriteFile(path, e.Kubeconfig, 0o600)
}

// Stop stops the API server and etcd and removes the Env's temp files.
func (e *Env) Stop() error {
	var errs []error
	if e.env != nil {
		errs = append(errs, e.env.Stop())
	}
	if e.tmpDir != "" {
		errs = append(errs, os.RemoveAll(e.tmpDir))
	}
	return errors.Join(errs...)
}

// CreateNamespace creates a namespace named prefix plus a random suffix, with
// the given labels, and returns its name. Tests sharing an Env use it to stay
// apart; namespaces are not deleted (nothing would finalize them).
func (e *Env) CreateNamespace(ctx context.Context, prefix string, labels map[string]string) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix, Labels: labels}}
	if err := e.Client.Create(ctx, ns); err != nil {
		return "", fmt.Errorf("creating namespace %q...: %w", prefix, err)
	}
	return ns.Name, nil
}

// Main is a TestMain body: it starts an Env, stores it in *env, runs the
// tests, stops the Env and exits. If the Env cannot start, every test in the
// package fails (it is not skipped).
//
// It discards controller-runtime's logs (envtest logs through them, and an
// unset logger prints a stack trace after 30s); the first SetLogger wins, so
// a package wanting those logs calls log.SetLogger before Main.
func Main(m *testing.M, env **Env, opts ...Option) {
	logf.SetLogger(logr.Discard())
	os.Exit(run(m, env, opts))
}

func run(m *testing.M, env **Env, opts []Option) (code int) {
	if !flag.Parsed() {
		flag.Parse() // for testing.Verbose; m.Run does not parse twice
	}
	// Generous: a cold hack/envtest-assets.sh build takes minutes.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	start := time.Now()
	e, err := Start(ctx, opts...)
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: testenv: %v\n", err)
		return 1
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "testenv: API server ready in %s\n", time.Since(start).Round(time.Millisecond))
	}
	*env = e
	// Deferred so a panic in this goroutine still stops the processes. A
	// panicking test or a -timeout kills the binary outright and leaves
	// kube-apiserver and etcd running: envtest cannot prevent that.
	defer func() {
		if err := e.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: stop: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}()
	return m.Run()
}
