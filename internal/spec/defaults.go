package spec

import "reflect"

// Built-in defaults. Each value here is explained in docs/spec.md; the
// resource figures come from OpenCode RSS measurements (docs/sizing.md).
const (
	DefaultNamespace      = "opencode"
	DefaultOpenCodeImage  = "ghcr.io/anomalyco/opencode:1.18.33"
	DefaultCloneImage     = "docker.io/alpine/git:v2.49.1"
	DefaultSeedImage      = "docker.io/library/busybox:1.37.0"
	DefaultVolSyncPath    = "../../../../components/volsync"
	DefaultFluxPath       = "kubernetes/apps"
	DefaultExternalDNSKey = "external-dns.home.arpa/enabled"
)

func ptr[T any](v T) *T { return &v }

// BuiltinSettings are the values a workspace gets for every field that
// neither it nor the spec's defaults set.
func BuiltinSettings() Settings {
	return Settings{
		Images: &Images{
			OpenCode: ptr(DefaultOpenCodeImage),
			Clone:    ptr(DefaultCloneImage),
			Seed:     ptr(DefaultSeedImage),
		},
		Resources: &Resources{
			Requests: &ResourceList{CPU: ptr("100m"), Memory: ptr("768Mi")},
			Limits:   &ResourceList{CPU: ptr("2"), Memory: ptr("2Gi")},
		},
		Storage:     &Storage{Size: ptr("5Gi"), StorageClass: ptr(""), AccessMode: ptr("ReadWriteOnce")},
		Gateway:     &Gateway{Name: ptr("envoy-internal"), Namespace: ptr("network"), SectionName: ptr("https")},
		ExternalDNS: &ExternalDNS{Enabled: ptr(false), Annotations: map[string]string{DefaultExternalDNSKey: "true"}},
		Certificate: &Certificate{Enabled: ptr(false), IssuerName: ptr("letsencrypt-production"), IssuerKind: ptr("ClusterIssuer")},
		Backup: &Backup{
			Mode:                ptr(BackupNone),
			Component:           ptr(DefaultVolSyncPath),
			PVCOwner:            ptr(PVCOwnerComponent),
			CopyMethod:          ptr("Snapshot"),
			Schedule:            ptr("0 * * * *"),
			Repository:          ptr("{name}-volsync-secret"),
			VolumeSnapshotClass: ptr("csi-ceph-blockpool"),
			CacheCapacity:       ptr("2Gi"),
			Retain:              &Retain{Hourly: ptr[int32](24), Daily: ptr[int32](7)},
		},
		Git:            &Git{Filter: ptr(""), Username: ptr("x-access-token"), AuthorName: ptr(""), AuthorEmail: ptr(""), AllowHTTP: ptr(false)},
		Reloader:       ptr(true),
		ClusterAccess:  ptr(ClusterAccessNone),
		User:           &User{UID: ptr[int64](1000), GID: ptr[int64](1000)},
		ServerUsername: ptr("opencode"),
	}
}

// Secret modes. "doppler" is the seed's name for the external-secrets
// mode; it only changes the store's default name.
const (
	SecretsManual          = "manual"
	SecretsExternalSecrets = "external-secrets"
	SecretsDoppler         = "doppler"
	// DopplerStore is the store "doppler" mode reads unless the spec names one.
	DopplerStore = "doppler"
)

// Backup modes.
const (
	BackupNone      = "none"
	BackupComponent = "component"
	BackupInline    = "inline"
)

// Cluster access levels: the workspace's ServiceAccount gets no token, or
// the "view" ClusterRole in its namespace or cluster-wide.
const (
	ClusterAccessNone      = "none"
	ClusterAccessNamespace = "namespace"
	ClusterAccessCluster   = "cluster"
)

// Owners of the workspace PVC in backup mode "component".
const (
	PVCOwnerComponent = "component"
	PVCOwnerOcw       = "ocw"
)

// BuiltinSecrets are the seed's Secret names and keys. The store's name
// has no default: it depends on the mode (see Resolve).
func BuiltinSecrets() Secrets {
	return Secrets{
		Mode:            ptr(SecretsManual),
		Store:           &SecretStore{Kind: ptr("ClusterSecretStore"), Name: ptr("")},
		RefreshInterval: ptr("1h"),
		GitCredentials:  &SecretRef{Name: ptr("opencode-git-credentials"), Key: ptr("GITHUB_PAT"), RemoteKey: ptr("OPENCODE_GITHUB_PAT"), Property: ptr("")},
		ServerAuth:      &SecretRef{Name: ptr("opencode-server-auth"), Key: ptr("OPENCODE_SERVER_PASSWORD"), RemoteKey: ptr("OPENCODE_SERVER_PASSWORD"), Property: ptr("")},
		CopilotAuth:     &SecretRef{Name: ptr("opencode-copilot-auth"), Key: ptr("auth.json"), RemoteKey: ptr("OPENCODE_COPILOT_AUTH_JSON"), Property: ptr("")},
	}
}

// BuiltinFlux are home-ops' usual Kustomization settings: apps there have
// wait: false and timeout: 5m. DependsOn is left nil: its default depends
// on the secrets mode (see model).
func BuiltinFlux() Flux {
	return Flux{
		Path:            ptr(DefaultFluxPath),
		Interval:        ptr("1h"),
		Timeout:         ptr("5m"),
		Wait:            ptr(false),
		SourceRef:       &SourceRef{Kind: ptr("GitRepository"), Name: ptr("flux-system"), Namespace: ptr("flux-system")},
		RenderNamespace: ptr(true),
	}
}

// Merge returns over with every unset field taken from base, recursively
// through nested structs. Maps and slices are replaced whole, never
// merged key by key, so a workspace can remove an inherited entry.
func Merge[T any](over, base T) T {
	out := reflect.New(reflect.TypeOf(over)).Elem()
	mergeValue(out, reflect.ValueOf(over), reflect.ValueOf(base))
	return out.Interface().(T)
}

func mergeValue(out, over, base reflect.Value) {
	switch over.Kind() {
	case reflect.Struct:
		for i := 0; i < over.NumField(); i++ {
			mergeValue(out.Field(i), over.Field(i), base.Field(i))
		}
	case reflect.Pointer:
		switch {
		case over.IsNil():
			out.Set(base)
		case base.IsNil() || over.Elem().Kind() != reflect.Struct:
			out.Set(over)
		default:
			p := reflect.New(over.Elem().Type())
			mergeValue(p.Elem(), over.Elem(), base.Elem())
			out.Set(p)
		}
	case reflect.Map, reflect.Slice:
		if over.IsNil() {
			out.Set(base)
		} else {
			out.Set(over)
		}
	default:
		if over.IsZero() {
			out.Set(base)
		} else {
			out.Set(over)
		}
	}
}
