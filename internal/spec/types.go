// Package spec holds the user-facing workspace spec: its versioned types, the
// strict loader that keeps YAML positions, and the defaults (validation is
// model.Resolve).
//
// Every optional field is a pointer (or a nil map/slice) so that "unset" is
// distinguishable from "set to the zero value": a workspace inherits each
// unset field from the spec's defaults, and then from ocw's built-in values.
// What each field means, and its default: docs/spec.md.
package spec

// APIVersion and Kind identify the only spec version this build reads.
const (
	Group      = "ocw.dev"
	Version    = "v1alpha1"
	APIVersion = Group + "/" + Version
	Kind       = "Workspaces"
)

// Workspaces is the root of a spec file.
type Workspaces struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`

	Namespace string `yaml:"namespace,omitempty"`
	Domain    string `yaml:"domain,omitempty"`

	Secrets Secrets `yaml:"secrets,omitempty"`
	Flux    Flux    `yaml:"flux,omitempty"`

	Defaults   Settings    `yaml:"defaults,omitempty"`
	Workspaces []Workspace `yaml:"workspaces"`
}

// Workspace is one OpenCode workspace: one repository, one PVC, one URL.
type Workspace struct {
	Name   string `yaml:"name"`
	Repo   string `yaml:"repo"`
	Dir    string `yaml:"dir,omitempty"`
	Branch string `yaml:"branch,omitempty"`
	Host   string `yaml:"host,omitempty"`

	Settings `yaml:",inline"`
}

// Settings are the fields a workspace can inherit from defaults.
type Settings struct {
	Images         *Images      `yaml:"images,omitempty"`
	Resources      *Resources   `yaml:"resources,omitempty"`
	Storage        *Storage     `yaml:"storage,omitempty"`
	Gateway        *Gateway     `yaml:"gateway,omitempty"`
	ExternalDNS    *ExternalDNS `yaml:"externalDNS,omitempty"`
	Certificate    *Certificate `yaml:"certificate,omitempty"`
	Backup         *Backup      `yaml:"backup,omitempty"`
	Git            *Git         `yaml:"git,omitempty"`
	Reloader       *bool        `yaml:"reloader,omitempty"`
	ClusterAccess  *string      `yaml:"clusterAccess,omitempty"`
	User           *User        `yaml:"user,omitempty"`
	ServerUsername *string      `yaml:"serverUsername,omitempty"`
}

// Images pins the three container images a workspace uses.
type Images struct {
	OpenCode *string `yaml:"opencode,omitempty"`
	Clone    *string `yaml:"clone,omitempty"`
	Seed     *string `yaml:"seed,omitempty"`
}

// Resources are the main container's requests and limits.
type Resources struct {
	Requests *ResourceList `yaml:"requests,omitempty"`
	Limits   *ResourceList `yaml:"limits,omitempty"`
}

// ResourceList holds Kubernetes quantities as strings.
type ResourceList struct {
	CPU    *string `yaml:"cpu,omitempty"`
	Memory *string `yaml:"memory,omitempty"`
}

// Storage describes the workspace PVC.
type Storage struct {
	Size         *string `yaml:"size,omitempty"`
	StorageClass *string `yaml:"storageClass,omitempty"`
	AccessMode   *string `yaml:"accessMode,omitempty"`
}

// Gateway is the Gateway API parent the HTTPRoute attaches to.
type Gateway struct {
	Name        *string `yaml:"name,omitempty"`
	Namespace   *string `yaml:"namespace,omitempty"`
	SectionName *string `yaml:"sectionName,omitempty"`
}

// ExternalDNS puts annotations on the HTTPRoute for external-dns.
type ExternalDNS struct {
	Enabled     *bool             `yaml:"enabled,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// Certificate asks for a cert-manager Certificate per workspace instead of
// relying on the Gateway's wildcard listener.
type Certificate struct {
	Enabled    *bool   `yaml:"enabled,omitempty"`
	IssuerName *string `yaml:"issuerName,omitempty"`
	IssuerKind *string `yaml:"issuerKind,omitempty"`
}

// Backup configures VolSync.
type Backup struct {
	Mode                *string           `yaml:"mode,omitempty"`
	Component           *string           `yaml:"component,omitempty"`
	PVCOwner            *string           `yaml:"pvcOwner,omitempty"`
	CopyMethod          *string           `yaml:"copyMethod,omitempty"`
	Variables           map[string]string `yaml:"variables,omitempty"`
	Schedule            *string           `yaml:"schedule,omitempty"`
	Repository          *string           `yaml:"repository,omitempty"`
	VolumeSnapshotClass *string           `yaml:"volumeSnapshotClass,omitempty"`
	CacheCapacity       *string           `yaml:"cacheCapacity,omitempty"`
	Retain              *Retain           `yaml:"retain,omitempty"`
}

// Retain is restic's retention policy.
type Retain struct {
	Hourly *int32  `yaml:"hourly,omitempty"`
	Daily  *int32  `yaml:"daily,omitempty"`
	Weekly *int32  `yaml:"weekly,omitempty"`
	Within *string `yaml:"within,omitempty"`
}

// Git configures the clone and git inside the workspace.
type Git struct {
	Filter      *string `yaml:"filter,omitempty"`
	Username    *string `yaml:"username,omitempty"`
	AuthorName  *string `yaml:"authorName,omitempty"`
	AuthorEmail *string `yaml:"authorEmail,omitempty"`
	AllowHTTP   *bool   `yaml:"allowHTTP,omitempty"`
}

// User is the workspace's uid and gid.
type User struct {
	UID *int64 `yaml:"uid,omitempty"`
	GID *int64 `yaml:"gid,omitempty"`
}

// Secrets says where the three shared Secrets come from.
type Secrets struct {
	Mode            *string      `yaml:"mode,omitempty"`
	Store           *SecretStore `yaml:"store,omitempty"`
	RefreshInterval *string      `yaml:"refreshInterval,omitempty"`
	GitCredentials  *SecretRef   `yaml:"gitCredentials,omitempty"`
	ServerAuth      *SecretRef   `yaml:"serverAuth,omitempty"`
	CopilotAuth     *SecretRef   `yaml:"copilotAuth,omitempty"`
}

// SecretStore is the external-secrets store the ExternalSecrets read from.
type SecretStore struct {
	Kind *string `yaml:"kind,omitempty"`
	Name *string `yaml:"name,omitempty"`
}

// SecretRef names a Secret, the key in it, and (external-secrets modes)
// where the store keeps the value.
type SecretRef struct {
	Name      *string `yaml:"name,omitempty"`
	Key       *string `yaml:"key,omitempty"`
	RemoteKey *string `yaml:"remoteKey,omitempty"`
	Property  *string `yaml:"property,omitempty"`
}

// Flux configures the Flux Kustomizations (ks.yaml) and the namespace
// folder's kustomization.yaml.
type Flux struct {
	Path                *string               `yaml:"path,omitempty"`
	Interval            *string               `yaml:"interval,omitempty"`
	Timeout             *string               `yaml:"timeout,omitempty"`
	Wait                *bool                 `yaml:"wait,omitempty"`
	SourceRef           *SourceRef            `yaml:"sourceRef,omitempty"`
	DependsOn           []Dependency          `yaml:"dependsOn,omitempty"`
	SubstituteFrom      []SubstituteReference `yaml:"substituteFrom,omitempty"`
	NamespaceComponents []string              `yaml:"namespaceComponents,omitempty"`
	RenderNamespace     *bool                 `yaml:"renderNamespace,omitempty"`
}

// SubstituteReference is a ConfigMap or Secret whose data Flux reads as
// post-build variables.
type SubstituteReference struct {
	Kind     string `yaml:"kind"`
	Name     string `yaml:"name"`
	Optional bool   `yaml:"optional,omitempty"`
}

// SourceRef is the Flux source the Kustomizations build from.
type SourceRef struct {
	Kind      *string `yaml:"kind,omitempty"`
	Name      *string `yaml:"name,omitempty"`
	Namespace *string `yaml:"namespace,omitempty"`
}

// Dependency is one Flux Kustomization dependsOn entry.
type Dependency struct {
	Name      string `yaml:"name"`
	Namespace string `yaml:"namespace,omitempty"`
}
