// Package model is the resolved, concrete form of a spec: every default
// applied, every name and path derived, quantities parsed. The object
// builders read only this, never the spec.
package model

import (
	"fmt"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/opencode-workspaces/ocw/internal/spec"
)

// Paths inside the workspace containers. HOME, and with it the XDG dirs,
// is a PVC mount: OpenCode's data, config, state and cache survive restarts
// and are writable by the non-root user (docs/design.md, "Non-root with a
// writable home").
const (
	WorkspaceMount  = "/workspace"
	HomeMount       = "/home/opencode"
	StateDir        = WorkspaceMount + "/.ocw"
	GitSecretMount  = "/var/run/secrets/ocw/git"
	AuthSecretMount = "/var/run/secrets/ocw/copilot"
	// SubPaths on the workspace PVC.
	WorkspaceSubPath = "workspace"
	HomeSubPath      = "home"
	// Port OpenCode serves its API and web UI on.
	Port = 4096

	XDGDataHome   = HomeMount + "/.local/share"
	XDGConfigHome = HomeMount + "/.config"
	XDGStateHome  = HomeMount + "/.local/state"
	XDGCacheHome  = HomeMount + "/.cache"
	// AuthPath is where OpenCode reads auth.json inside the workspace.
	AuthPath = XDGDataHome + "/opencode/auth.json"
	// SessionDB is OpenCode's session database (SQLite, WAL mode).
	SessionDB = XDGDataHome + "/opencode/opencode.db"
)

// Container names of the workspace pod; status and doctor find containers
// by them.
const (
	ContainerClone    = "clone"
	ContainerSeedAuth = "seed-auth"
	ContainerOpenCode = "opencode"
)

// FieldManager is the server-side apply field manager of every write ocw
// makes (apply, secrets, pod annotations).
const FieldManager = "ocw"

// Label keys ocw puts on every object it owns.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelWorkspace = "ocw.dev/workspace"
	// LabelNamespace names the owning namespace on cluster-scoped objects,
	// whose names all namespaces share.
	LabelNamespace = "ocw.dev/namespace"
	ManagedBy      = "ocw"
	AppName        = "opencode"
)

// System is everything one spec describes.
type System struct {
	Namespace  string
	Secrets    Secrets
	Flux       Flux
	Workspaces []Workspace
}

// Secrets are the three Secrets every workspace in the namespace shares.
type Secrets struct {
	// External is true when ExternalSecrets create the Secrets from the
	// store (modes external-secrets and doppler).
	External        bool
	StoreKind       string
	StoreName       string
	RefreshInterval time.Duration
	Git             SecretRef
	Server          SecretRef
	Copilot         SecretRef
}

// Store is how messages name the secret store, e.g. "ClusterSecretStore
// doppler".
func (s Secrets) Store() string { return s.StoreKind + " " + s.StoreName }

// SecretRef is one Secret and the key ocw reads from it, and where the
// store keeps its value.
type SecretRef struct {
	Name, Key, RemoteKey string
	// Property is the field of the store's entry ("" for the whole entry).
	Property string
}

// Hint is how messages name the Secret key for a person to fix.
func (r SecretRef) Hint() string { return "Secret " + r.Name + " key " + r.Key }

// Remote is how messages name the value's place in the store, e.g.
// "key OPENCODE_GITHUB_PAT" or "key opencode, property github-pat".
func (r SecretRef) Remote() string {
	if r.Property != "" {
		return "key " + r.RemoteKey + ", property " + r.Property
	}
	return "key " + r.RemoteKey
}

// Flux holds the Kustomization (ks.yaml) settings and those of the
// namespace folder's kustomization.yaml.
type Flux struct {
	AppsPath string
	Interval time.Duration
	Timeout  time.Duration
	// Wait is the workspace Kustomizations' spec.wait.
	Wait           bool
	SourceRef      SourceRef
	DependsOn      []Dependency
	SubstituteFrom []SubstituteReference
	// NamespaceComponents go into the namespace kustomization.yaml.
	NamespaceComponents []string
	// RenderNamespace is false when a namespace component brings the
	// Namespace object.
	RenderNamespace bool
}

// SubstituteReference is a postBuild.substituteFrom entry.
type SubstituteReference struct {
	Kind, Name string
	Optional   bool
}

// SourceRef is the Flux source of the cluster repo.
type SourceRef struct{ Kind, Name, Namespace string }

// Dependency is a Flux dependsOn entry.
type Dependency struct{ Name, Namespace string }

// Workspace is one fully resolved workspace.
type Workspace struct {
	Name      string
	Namespace string
	Host      string
	Repo      Repo
	Images    Images
	Resources corev1.ResourceRequirements
	Storage   Storage
	Gateway   Gateway
	// ExternalDNS holds the route annotations; nil when disabled.
	ExternalDNS map[string]string
	// Certificate is nil unless a cert-manager Certificate is wanted.
	Certificate *Certificate
	Backup      Backup
	Git         Git
	Reloader    bool
	// ClusterAccess is one of the ClusterAccess* levels.
	ClusterAccess  string
	UID, GID       int64
	ServerUsername string
	Secrets        Secrets
}

// Repo is the git repository a workspace clones.
type Repo struct {
	URL    string
	Scheme string
	Host   string
	Dir    string
	Branch string
	// Filter is a partial-clone filter ("" for a full clone).
	Filter string
}

// Path is the repo's folder in the containers, OpenCode's working dir.
func (r Repo) Path() string { return WorkspaceMount + "/" + r.Dir }

// Images of the three containers.
type Images struct{ OpenCode, Clone, Seed string }

// Storage is the PVC's size, class ("" = cluster default) and access mode.
type Storage struct {
	Size         resource.Quantity
	StorageClass string
	AccessMode   corev1.PersistentVolumeAccessMode
}

// Gateway is the HTTPRoute's parent.
type Gateway struct{ Name, Namespace, SectionName string }

// Certificate is a cert-manager Certificate for the workspace host.
type Certificate struct{ IssuerName, IssuerKind string }

// Backup modes (spec's vocabulary, named here for the builders).
const (
	BackupNone      = spec.BackupNone
	BackupComponent = spec.BackupComponent
	BackupInline    = spec.BackupInline
)

// Cluster access levels of a workspace's ServiceAccount.
const (
	ClusterAccessNone      = spec.ClusterAccessNone
	ClusterAccessNamespace = spec.ClusterAccessNamespace
	ClusterAccessCluster   = spec.ClusterAccessCluster
)

// Backup is the VolSync configuration.
type Backup struct {
	Mode      string
	Component string
	// ComponentOwnsPVC: in component mode, the component creates the PVC
	// (named ${APP}) and ocw renders none.
	ComponentOwnsPVC bool
	Variables        map[string]string
	Schedule         string
	Repository       string
	SnapshotClass    string
	CopyMethod       string
	CacheCapacity    resource.Quantity
	Retain           Retain
}

// RendersPVC reports whether ocw renders the workspace PVC itself rather
// than the cluster's VolSync component.
func (w Workspace) RendersPVC() bool {
	return w.Backup.Mode != BackupComponent || !w.Backup.ComponentOwnsPVC
}

// Retain is restic's retention; nil means unset.
type Retain struct {
	Hourly, Daily, Weekly *int32
	Within                *string
}

// Git holds the settings of git inside the workspace.
type Git struct {
	Username    string
	AuthorName  string
	AuthorEmail string
}

// Labels are the labels on every object of the workspace.
func (w Workspace) Labels() map[string]string {
	return map[string]string{
		LabelName:      AppName,
		LabelInstance:  w.Name,
		LabelManagedBy: ManagedBy,
		LabelWorkspace: w.Name,
	}
}

// SelectorLabels select the workspace's pod; they never change.
func (w Workspace) SelectorLabels() map[string]string {
	return map[string]string{LabelName: AppName, LabelInstance: w.Name}
}

// ClusterNamePrefix starts the name of every cluster-scoped object ocw
// makes for a namespace. Cluster-scoped names share one space across
// namespaces, so the parts are joined with ':', which neither a namespace
// nor a workspace name can hold: "dev"/"x-y" and "dev-x"/"y" never meet.
func ClusterNamePrefix(namespace string) string { return "ocw:" + namespace + ":" }

// ClusterBindingName names the workspace's ClusterRoleBinding
// (clusterAccess: cluster).
func (w Workspace) ClusterBindingName() string {
	return ClusterNamePrefix(w.Namespace) + w.Name + ":view"
}

// SecretsKustomizationName is the Flux Kustomization of the shared
// ExternalSecrets; workspaces depend on it.
func SecretsKustomizationName(sys *System) string { return sys.Namespace + secretsKustomizationSuffix }

const secretsKustomizationSuffix = "-secrets"

// URL is where a person opens the workspace.
func (w Workspace) URL() string { return "https://" + w.Host + "/" }

// SharedLabels go on namespace-level objects (namespace, shared secrets).
func SharedLabels() map[string]string {
	return map[string]string{LabelManagedBy: ManagedBy}
}

// Load runs the front of the pipeline on spec text: strict load, defaults,
// validation, model. name is the file name errors report.
func Load(name string, data []byte) (*System, error) {
	doc, err := spec.Load(name, data)
	if err != nil {
		return nil, err
	}
	return Resolve(doc)
}

// LoadFile is Load on a file.
func LoadFile(path string) (*System, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading spec: %w", err)
	}
	return Load(path, data)
}
