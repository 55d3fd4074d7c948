package spec

import "reflect"

// Built-in defaults. Each value here is explained in docs/spec.md; the
// resource figures come from OpenCode RSS measurements (docs/design.md,
// "Memory").
const (
	DefaultNamespace      = "opencode"
	DefaultOpenCodeImage  = "ghcr.io/anomalyco/opencode:1.18.33"
	DefaultCloneImage     = "docker.io/alpine/git:v2.49.1"
	DefaultSeedImage      = "docker.io/library/busybox:1.37.0"
	DefaultVolSyncPath    = "../../../../components/volsync"
	DefaultFluxPath       = "kubernetes/apps"
	DefaultExternalDNSKey = "external-dns.home.arpa/enabled"
)

// Builtin holds the value of every field a spec does not set; its
// Defaults are what a workspace gets for every field neither it nor the
// spec's defaults set. Flux's are home-ops apps' own (wait: false, timeout:
// 5m). The secret store's name and flux.dependsOn have no default here:
// they depend on the secrets mode (see model.Resolve).
func Builtin() Workspaces {
	return Workspaces{
		Defaults: Settings{
			Images: &Images{
				OpenCode: new(DefaultOpenCodeImage),
				Clone:    new(DefaultCloneImage),
				Seed:     new(DefaultSeedImage),
			},
			Resources: &Resources{
				Requests: &ResourceList{CPU: new("100m"), Memory: new("768Mi")},
				Limits:   &ResourceList{CPU: new("2"), Memory: new("2Gi")},
			},
			Storage:     &Storage{Size: new("5Gi"), StorageClass: new(""), AccessMode: new("ReadWriteOnce")},
			Gateway:     &Gateway{Name: new("envoy-internal"), Namespace: new("network"), SectionName: new("https")},
			ExternalDNS: &ExternalDNS{Enabled: new(false), Annotations: map[string]string{DefaultExternalDNSKey: "true"}},
			Certificate: &Certificate{Enabled: new(false), IssuerName: new("letsencrypt-production"), IssuerKind: new("ClusterIssuer")},
			Backup: &Backup{
				Mode:                new(BackupNone),
				Component:           new(DefaultVolSyncPath),
				PVCOwner:            new(PVCOwnerComponent),
				CopyMethod:          new("Snapshot"),
				Schedule:            new("0 * * * *"),
				Repository:          new("{name}-volsync-secret"),
				VolumeSnapshotClass: new("csi-ceph-blockpool"),
				CacheCapacity:       new("2Gi"),
				Retain:              &Retain{Hourly: new(int32(24)), Daily: new(int32(7))},
			},
			Git:            &Git{Filter: new(""), Username: new("x-access-token"), AuthorName: new(""), AuthorEmail: new(""), AllowHTTP: new(false)},
			Reloader:       new(true),
			ClusterAccess:  new(ClusterAccessNone),
			User:           &User{UID: new(int64(1000)), GID: new(int64(1000))},
			ServerUsername: new("opencode"),
		},
		Secrets: Secrets{
			Mode:            new(SecretsManual),
			Store:           &SecretStore{Kind: new("ClusterSecretStore"), Name: new("")},
			RefreshInterval: new("1h"),
			GitCredentials:  &SecretRef{Name: new("opencode-git-credentials"), Key: new("GITHUB_PAT"), RemoteKey: new("OPENCODE_GITHUB_PAT"), Property: new("")},
			ServerAuth:      &SecretRef{Name: new("opencode-server-auth"), Key: new("OPENCODE_SERVER_PASSWORD"), RemoteKey: new("OPENCODE_SERVER_PASSWORD"), Property: new("")},
			CopilotAuth:     &SecretRef{Name: new("opencode-copilot-auth"), Key: new("auth.json"), RemoteKey: new("OPENCODE_COPILOT_AUTH_JSON"), Property: new("")},
		},
		Flux: Flux{
			Path:            new(DefaultFluxPath),
			Interval:        new("1h"),
			Timeout:         new("5m"),
			Wait:            new(false),
			SourceRef:       &SourceRef{Kind: new("GitRepository"), Name: new("flux-system"), Namespace: new("flux-system")},
			RenderNamespace: new(true),
		},
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

// Merge returns over with every unset field taken from base, recursively
// through nested structs. Maps and slices are replaced whole, never
// merged key by key, so a workspace can remove an inherited entry.
func Merge[T any](over, base T) T {
	out := reflect.New(reflect.TypeOf(over)).Elem()
	mergeValue(out, reflect.ValueOf(over), reflect.ValueOf(base))
	return out.Interface().(T)
}

func mergeValue(out, over, base reflect.Value) {
	switch {
	case over.Kind() == reflect.Struct:
		for i := 0; i < over.NumField(); i++ {
			mergeValue(out.Field(i), over.Field(i), base.Field(i))
		}
	case over.Kind() == reflect.Pointer && !over.IsNil() && !base.IsNil() && over.Elem().Kind() == reflect.Struct:
		p := reflect.New(over.Elem().Type())
		mergeValue(p.Elem(), over.Elem(), base.Elem())
		out.Set(p)
	case over.IsZero(): // nil pointers, maps and slices too
		out.Set(base)
	default:
		out.Set(over)
	}
}
