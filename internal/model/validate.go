package model

import (
	"cmp"
	"fmt"
	"maps"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/opencode-workspaces/ocw/internal/spec"
)

// SystemNamespace says why ocw must never take over namespace ns ("" when
// it may): "default" and the kube-* namespaces belong to Kubernetes, and
// ocw would force Pod Security "restricted" onto everything running there.
func SystemNamespace(ns string) string {
	switch {
	case ns == "default":
		return "is the cluster's default namespace"
	case strings.HasPrefix(ns, "kube-"):
		return "belongs to Kubernetes (kube-*)"
	}
	return ""
}

// Resolve applies the defaults to a loaded spec and validates it, handing
// the model the values it parsed; it reports every problem of the file
// with its position, the loader's and its own.
func Resolve(d *spec.Document) (*System, error) {
	v := &validator{doc: d, quantities: map[*string]*resource.Quantity{}, names: map[string]int{}, hosts: map[string]int{}}
	s := d.Spec
	sys := &System{Namespace: cmp.Or(s.Namespace, spec.DefaultNamespace)}
	nsOK := v.dnsLabel("namespace", sys.Namespace)
	if nsOK {
		if why := SystemNamespace(sys.Namespace); why != "" {
			v.errorf("namespace", "%q %s: ocw enforces Pod Security \"restricted\" on its namespace and owns it; use a namespace of its own (e.g. %s)", sys.Namespace, why, spec.DefaultNamespace)
		}
	}
	v.optName("domain", &s.Domain, true)
	builtin := spec.Builtin()
	secrets := spec.Merge(s.Secrets, builtin.Secrets)
	sys.Secrets = v.secrets(secrets)
	sys.Flux = v.flux(spec.Merge(s.Flux, builtin.Flux), sys.Secrets.External)
	// kustomize-controller labels every object it applies with its
	// Kustomization's name, and a label value holds at most 63 characters.
	if ks := SecretsKustomizationName(sys); nsOK && sys.Secrets.External && len(ks) > validation.LabelValueMaxLength {
		v.errorf("namespace", "at most %d characters with secrets.mode %s: Flux labels every object of Kustomization %q with its name, and a label value holds at most %d",
			validation.LabelValueMaxLength-len(secretsKustomizationSuffix), *secrets.Mode, ks, validation.LabelValueMaxLength)
	}

	// One copy of the built-in settings, validated once: merging keeps
	// the pointers, so v.quantities holds every merged quantity.
	v.settings("defaults", s.Defaults)
	v.settings("built-in defaults", builtin.Defaults)
	v.base = spec.Merge(s.Defaults, builtin.Defaults)
	if len(s.Workspaces) == 0 {
		v.errorf("workspaces", "at least one workspace is required")
	}
	for i, w := range s.Workspaces {
		sys.Workspaces = append(sys.Workspaces, v.workspace(i, w, sys, s.Domain))
	}
	if err := d.Errors(v.errs); err != nil {
		return nil, err
	}
	return sys, nil
}

// workspace validates workspace i and resolves it over the defaults.
func (v *validator) workspace(i int, w spec.Workspace, sys *System, domain string) Workspace {
	p := fmt.Sprintf("workspaces[%d]", i)
	v.settings(p, w.Settings)
	s := spec.Merge(w.Settings, v.base)
	v.workspaceName(p+".name", w.Name, sys.Namespace, i)
	repo := Repo{URL: w.Repo, Dir: w.Dir, Branch: w.Branch, Filter: *s.Git.Filter}
	if u := v.repoURL(p+".repo", w.Repo, *s.Git.AllowHTTP); u != nil {
		repo.Scheme, repo.Host = u.Scheme, u.Host
		if repo.Dir == "" {
			repo.Dir = strings.TrimSuffix(path.Base(strings.TrimSuffix(u.Path, "/")), ".git")
			if !validDir(repo.Dir) {
				v.errorf(p+".repo", "cannot derive a folder name from %q: set dir", w.Repo)
			}
		}
	}
	if w.Dir != "" && !validDir(w.Dir) {
		v.errorf(p+".dir", "must be one folder name of letters, digits, '.', '_' or '-' that does not start with '.'")
	}
	if w.Branch != "" && !validBranch(w.Branch) {
		v.errorf(p+".branch", "%q is not a valid branch name", w.Branch)
	}
	host := w.Host
	switch {
	case strings.HasPrefix(host, "*"):
		v.errorf(p+".host", "wildcard hostnames are not allowed: a workspace needs its own hostname")
	case host != "":
		v.dnsSubdomain(p+".host", host)
	case domain != "" && w.Name != "":
		host = w.Name + "." + domain
	default:
		v.errorf(p, "no hostname: set host on the workspace or domain at the top level")
	}
	if host != "" {
		if j, dup := v.hosts[host]; dup && w.Host != "" {
			v.errorf(p+".host", "hostname %s is already used by workspaces[%d]", host, j)
		} else if dup {
			v.errorf(p+".name", "hostname %s (name.domain) is already used by workspaces[%d]", host, j)
		} else {
			v.hosts[host] = i
		}
	}
	v.requestsWithinLimits(p, w.Settings, s)
	return v.newWorkspace(sys, w.Name, host, repo, s)
}

// newWorkspace is the model of a workspace whose settings s are merged
// and validated.
func (v *validator) newWorkspace(sys *System, name, host string, repo Repo, s spec.Settings) Workspace {
	out := Workspace{
		Name:      name,
		Namespace: sys.Namespace,
		Host:      host,
		Repo:      repo,
		Images:    Images{OpenCode: *s.Images.OpenCode, Clone: *s.Images.Clone, Seed: *s.Images.Seed},
		Resources: corev1.ResourceRequirements{
			Requests: v.resourceList(s.Resources.Requests),
			Limits:   v.resourceList(s.Resources.Limits),
		},
		Storage: Storage{Size: v.quantityOf(s.Storage.Size), StorageClass: *s.Storage.StorageClass,
			AccessMode: corev1.PersistentVolumeAccessMode(*s.Storage.AccessMode)},
		Gateway:        Gateway{Name: *s.Gateway.Name, Namespace: *s.Gateway.Namespace, SectionName: *s.Gateway.SectionName},
		Git:            Git{Username: *s.Git.Username, AuthorName: *s.Git.AuthorName, AuthorEmail: *s.Git.AuthorEmail},
		Reloader:       *s.Reloader,
		ClusterAccess:  *s.ClusterAccess,
		UID:            *s.User.UID,
		GID:            *s.User.GID,
		ServerUsername: *s.ServerUsername,
		Secrets:        sys.Secrets,
	}
	if *s.ExternalDNS.Enabled {
		out.ExternalDNS = s.ExternalDNS.Annotations
	}
	if c := s.Certificate; *c.Enabled {
		out.Certificate = &Certificate{IssuerName: *c.IssuerName, IssuerKind: *c.IssuerKind}
	}
	b := s.Backup
	out.Backup = Backup{
		Mode:             *b.Mode,
		Component:        *b.Component,
		ComponentOwnsPVC: *b.PVCOwner == spec.PVCOwnerComponent,
		Variables:        b.Variables,
		Schedule:         cmp.Or(b.Variables[volsyncScheduleVar], *b.Schedule),
		Repository:       strings.ReplaceAll(*b.Repository, "{name}", name),
		SnapshotClass:    *b.VolumeSnapshotClass,
		CopyMethod:       *b.CopyMethod,
		CacheCapacity:    v.quantityOf(b.CacheCapacity),
	}
	if r := b.Retain; r != nil {
		out.Backup.Retain = Retain{Hourly: r.Hourly, Daily: r.Daily, Weekly: r.Weekly, Within: r.Within}
	}
	return out
}

// resourceList holds the quantities of l that are set and valid; ""
// (none) is left out.
func (v *validator) resourceList(l *spec.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for name, s := range map[corev1.ResourceName]*string{corev1.ResourceCPU: l.CPU, corev1.ResourceMemory: l.Memory} {
		if q := v.quantities[s]; q != nil {
			out[name] = q.DeepCopy()
		}
	}
	return out
}

// quantityOf is the quantity parsed from s, zero if it was invalid.
func (v *validator) quantityOf(s *string) resource.Quantity {
	if q := v.quantities[s]; q != nil {
		return q.DeepCopy()
	}
	return resource.Quantity{}
}

type validator struct {
	doc  *spec.Document
	errs spec.ErrorList
	// quantities are the values of the quantity fields, parsed where a
	// block sets them (so an error names that block) and keyed by the
	// field's pointer, which merging keeps; none for "" or an invalid one.
	quantities map[*string]*resource.Quantity
	// base is the merged defaults; names and hosts map each workspace name
	// and host to the index of the workspace that took it.
	base         spec.Settings
	names, hosts map[string]int
}

// errorf records a problem once: a bad default is seen by every workspace.
func (v *validator) errorf(field, format string, args ...any) {
	e := v.doc.FieldError(field, format, args...)
	if !slices.ContainsFunc(v.errs, func(o *spec.Error) bool { return *o == *e }) {
		v.errs = append(v.errs, e)
	}
}

func (v *validator) dnsLabel(field, s string) bool {
	if len(validation.IsDNS1123Label(s)) > 0 {
		v.errorf(field, "%q is not a valid name: use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit", s)
		return false
	}
	return true
}

func (v *validator) dnsSubdomain(field, s string) bool {
	if len(validation.IsDNS1123Subdomain(s)) > 0 {
		v.errorf(field, "%q is not a valid name: use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit", s)
		return false
	}
	return true
}

// maxNameLen leaves room for the suffixes ocw adds to object names.
const maxNameLen = 40

// dns1035 is the character rule of a DNS-1035 label (length apart).
var dns1035 = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)

// workspaceName checks a workspace name: it names a Service, which must be
// a DNS-1035 label (starting with a letter), and other objects with
// suffixes, hence the shorter limit.
func (v *validator) workspaceName(field, name, namespace string, i int) {
	switch {
	case name == "":
		v.errorf(field, "required")
		return
	case !dns1035.MatchString(name):
		v.errorf(field, "%q is not a valid name: use at most %d lowercase letters, digits and '-', starting with a letter and ending with a letter or digit", name, maxNameLen)
		return
	case len(name) > maxNameLen:
		v.errorf(field, "%q is longer than %d characters", name, maxNameLen)
		return
	}
	// The Flux layout's secrets folder and Kustomization take these names.
	if name == "secrets" || name == namespace+secretsKustomizationSuffix {
		v.errorf(field, "%q is reserved for the shared secrets", name)
	}
	if j, dup := v.names[name]; dup {
		v.errorf(field, "duplicate workspace name %q (also workspaces[%d])", name, j)
		return
	}
	v.names[name] = i
}

// repoURL accepts https (and, when allowed, http) URLs with a host and a
// path, and rejects embedded credentials: they would end up in
// .git/config and in the process list.
func (v *validator) repoURL(field, s string, allowHTTP bool) *url.URL {
	if s == "" {
		v.errorf(field, "required: the https URL of the git repository")
		return nil
	}
	if strings.HasPrefix(s, "git@") || strings.HasPrefix(s, "ssh://") {
		v.errorf(field, "SSH URLs are not supported: use the https URL (the token is sent by a credential helper)")
		return nil
	}
	u, err := url.Parse(s)
	if err != nil {
		v.errorf(field, "not a URL: %v", err)
		return nil
	}
	switch {
	case u.User != nil:
		v.errorf(field, "must not contain credentials (user:token@): put the token in the git credentials Secret")
	case u.Scheme == "http" && !allowHTTP:
		v.errorf(field, "http URLs send the token unencrypted: use https (or set git.allowHTTP: true)")
	case u.Scheme != "https" && u.Scheme != "http":
		v.errorf(field, "must be an https URL, got scheme %q", u.Scheme)
	case u.Host == "":
		v.errorf(field, "missing host")
	case strings.Trim(u.Path, "/") == "":
		v.errorf(field, "missing repository path")
	case u.RawQuery != "" || u.Fragment != "":
		v.errorf(field, "must not have a query or fragment")
	default:
		return u
	}
	return nil
}

var dirRE = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]*$`)

func validDir(s string) bool { return dirRE.MatchString(s) && len(s) <= 255 }

var branchRE = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)

// validBranch is a conservative subset of git check-ref-format.
func validBranch(s string) bool {
	return branchRE.MatchString(s) && !strings.HasPrefix(s, "-") && !strings.HasPrefix(s, "/") &&
		!strings.HasSuffix(s, "/") && !strings.HasSuffix(s, ".lock") && !strings.Contains(s, "..") &&
		!strings.Contains(s, "//") && !strings.HasSuffix(s, ".")
}

// imageRE follows the distribution reference grammar closely enough to catch
// typos: [registry[:port]/]path[:tag][@digest], lowercase path components.
var imageRE = regexp.MustCompile(`^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)?` +
	`[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*` +
	`(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$`)

func (v *validator) image(field string, s *string) {
	if s != nil && !imageRE.MatchString(*s) {
		v.errorf(field, "%q is not a valid image reference", *s)
	}
}

// quantityRange is the sane range of a quantity field: a value outside it
// is a unit mistake (2Mi for 2Gi) or a typo, never a real need. Kubernetes
// would also silently clamp a huge value to the largest one it holds.
type quantityRange struct {
	min, max resource.Quantity
	// bytes requires a unit: a bare number of bytes is always a mistake.
	bytes bool
}

var (
	memoryRange  = quantityRange{resource.MustParse("64Mi"), resource.MustParse("1Ti"), true}
	storageRange = quantityRange{resource.MustParse("1Gi"), resource.MustParse("64Ti"), true}
	cacheRange   = quantityRange{resource.MustParse("100Mi"), resource.MustParse("64Ti"), true}
	cpuRange     = quantityRange{resource.MustParse("1m"), resource.MustParse("1024"), false}
)

// byteUnit is a decimal number with one of the byte suffixes: no exponent
// (1e9), no milli (500m is half a byte).
var byteUnit = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)$`)

// quantity parses a quantity field into v.quantities; unset, an allowed
// "" (a limit: none) and an invalid value (reported) are left out.
func (v *validator) quantity(field string, s *string, allowEmpty bool, rng quantityRange) {
	if s == nil {
		return
	}
	if *s == "" {
		if !allowEmpty {
			v.errorf(field, "must not be empty")
		}
		return
	}
	q, err := resource.ParseQuantity(*s)
	switch {
	case err != nil:
		v.errorf(field, "%q is not a quantity (e.g. 500m, 2Gi)", *s)
	case q.Sign() <= 0:
		v.errorf(field, "must be greater than zero")
	case rng.bytes && !byteUnit.MatchString(*s):
		v.errorf(field, "%q needs a unit: a bare number is bytes; use Mi, Gi or Ti (e.g. %s)", *s, rng.min.String())
	case q.Cmp(rng.min) < 0 || q.Cmp(rng.max) > 0:
		v.errorf(field, "%q is out of range: use %s to %s", *s, rng.min.String(), rng.max.String())
	default:
		v.quantities[s] = &q
	}
}

func (v *validator) oneOf(field string, s *string, allowed ...string) {
	if s != nil && !slices.Contains(allowed, *s) {
		v.errorf(field, "%q is not one of %s", *s, strings.Join(allowed, ", "))
	}
}

// optName checks a name field that is set; emptyOK: "" means none.
func (v *validator) optName(field string, s *string, emptyOK bool) {
	if s != nil && (*s != "" || !emptyOK) {
		v.dnsSubdomain(field, *s)
	}
}

// duration parses a positive duration; 0 when it is unset or invalid (and
// reported).
func (v *validator) duration(field string, s *string) time.Duration {
	if s == nil {
		return 0
	}
	d, err := time.ParseDuration(*s)
	if err != nil || d <= 0 {
		v.errorf(field, "%q is not a positive duration (e.g. 30m, 1h)", *s)
		return 0
	}
	return d
}

var envVarRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// settings validates the fields one Settings block sets (defaults or a
// workspace); unset fields are checked where they are set.
func (v *validator) settings(p string, s spec.Settings) {
	if i := s.Images; i != nil {
		v.image(p+".images.opencode", i.OpenCode)
		v.image(p+".images.clone", i.Clone)
		v.image(p+".images.seed", i.Seed)
	}
	if r := s.Resources; r != nil {
		if l := r.Requests; l != nil {
			v.quantity(p+".resources.requests.cpu", l.CPU, false, cpuRange)
			v.quantity(p+".resources.requests.memory", l.Memory, false, memoryRange)
		}
		if l := r.Limits; l != nil {
			// "" in a limit means none.
			v.quantity(p+".resources.limits.cpu", l.CPU, true, cpuRange)
			v.quantity(p+".resources.limits.memory", l.Memory, true, memoryRange)
		}
	}
	if st := s.Storage; st != nil {
		v.quantity(p+".storage.size", st.Size, false, storageRange)
		v.optName(p+".storage.storageClass", st.StorageClass, true)
		v.oneOf(p+".storage.accessMode", st.AccessMode, "ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany")
	}
	if g := s.Gateway; g != nil {
		v.optName(p+".gateway.name", g.Name, false)
		if g.Namespace != nil {
			v.dnsLabel(p+".gateway.namespace", *g.Namespace)
		}
		v.optName(p+".gateway.sectionName", g.SectionName, true)
	}
	if e := s.ExternalDNS; e != nil {
		for _, k := range slices.Sorted(maps.Keys(e.Annotations)) {
			if errs := validation.IsQualifiedName(k); len(errs) > 0 {
				v.errorf(p+".externalDNS.annotations."+k, "not a valid annotation key: %s", errs[0])
			}
		}
	}
	if c := s.Certificate; c != nil {
		v.optName(p+".certificate.issuerName", c.IssuerName, false)
		v.oneOf(p+".certificate.issuerKind", c.IssuerKind, "ClusterIssuer", "Issuer")
	}
	if b := s.Backup; b != nil {
		v.quantity(p+".backup.cacheCapacity", b.CacheCapacity, false, cacheRange)
		v.backup(p+".backup", b)
	}
	v.git(p+".git", s.Git)
	v.oneOf(p+".clusterAccess", s.ClusterAccess, ClusterAccessNone, ClusterAccessNamespace, ClusterAccessCluster)
	if u := s.User; u != nil {
		if u.UID != nil && (*u.UID < 1 || *u.UID > 2147483647) {
			v.errorf(p+".user.uid", "must be between 1 and 2147483647 (workspaces never run as root)")
		}
		if u.GID != nil && (*u.GID < 1 || *u.GID > 2147483647) {
			v.errorf(p+".user.gid", "must be between 1 and 2147483647")
		}
	}
	v.userName(p+".serverUsername", s.ServerUsername)
}

// userName checks a user name sent with a password, which ':' or a newline
// would cut.
func (v *validator) userName(field string, s *string) {
	if s != nil && (*s == "" || strings.ContainsAny(*s, ":\n")) {
		v.errorf(field, "must be non-empty without ':' or newlines")
	}
}

// backup checks every backup field but the cache capacity (a quantity).
func (v *validator) backup(p string, b *spec.Backup) {
	v.oneOf(p+".mode", b.Mode, BackupNone, BackupComponent, BackupInline)
	if b.Component != nil && (*b.Component == "" || path.IsAbs(*b.Component)) {
		v.errorf(p+".component", "must be a path relative to the workspace's app folder")
	}
	v.oneOf(p+".pvcOwner", b.PVCOwner, spec.PVCOwnerComponent, spec.PVCOwnerOcw)
	v.oneOf(p+".copyMethod", b.CopyMethod, "Snapshot", "Clone", "Direct")
	for _, k := range slices.Sorted(maps.Keys(b.Variables)) {
		if !envVarRE.MatchString(k) {
			v.errorf(p+".variables."+k, "not a valid variable name")
		}
	}
	if b.Schedule != nil {
		if err := ValidCron(*b.Schedule); err != nil {
			v.errorf(p+".schedule", "%v", err)
		}
	}
	// The component's schedule, when a variable sets it, is the one the
	// workspace's backup guard must know.
	if s, ok := b.Variables[volsyncScheduleVar]; ok {
		if err := ValidCron(s); err != nil {
			v.errorf(p+".variables."+volsyncScheduleVar, "%v", err)
		}
	}
	if b.Repository != nil {
		v.dnsSubdomain(p+".repository", strings.ReplaceAll(*b.Repository, "{name}", "x"))
	}
	v.optName(p+".volumeSnapshotClass", b.VolumeSnapshotClass, false)
	if r := b.Retain; r != nil {
		for name, n := range map[string]*int32{"hourly": r.Hourly, "daily": r.Daily, "weekly": r.Weekly} {
			if n != nil && *n < 0 {
				v.errorf(p+".retain."+name, "must not be negative")
			}
		}
		if r.Within != nil && !resticDuration.MatchString(*r.Within) {
			v.errorf(p+".retain.within", "%q is not a restic duration such as 1d, 12h or 1y2m3d4h", *r.Within)
		}
	}
}

// resticDuration is what restic forget --keep-within takes.
var resticDuration = regexp.MustCompile(`^([0-9]+[ymdh])+$`)

func (v *validator) git(p string, g *spec.Git) {
	if g == nil {
		return
	}
	v.oneOf(p+".filter", g.Filter, "", "blob:none", "tree:0")
	v.userName(p+".username", g.Username)
	if g.AuthorName != nil && strings.ContainsAny(*g.AuthorName, "\n<>") {
		v.errorf(p+".authorName", "must not contain newlines or angle brackets")
	}
	if e := g.AuthorEmail; e != nil && *e != "" && (!strings.Contains(*e, "@") || strings.ContainsAny(*e, " \n<>")) {
		v.errorf(p+".authorEmail", "%q is not an email address", *e)
	}
}

// requestsWithinLimits compares a workspace's merged requests and limits;
// an invalid value or no limit is skipped.
func (v *validator) requestsWithinLimits(p string, own, merged spec.Settings) {
	req, lim := merged.Resources.Requests, merged.Resources.Limits
	for _, c := range []struct {
		name     string
		req, lim *string
	}{{"cpu", req.CPU, lim.CPU}, {"memory", req.Memory, lim.Memory}} {
		r, l := v.quantities[c.req], v.quantities[c.lim]
		if r == nil || l == nil || r.Cmp(*l) <= 0 {
			continue
		}
		field := p + ".resources.requests." + c.name
		if own.Resources == nil {
			field = "defaults.resources.requests." + c.name
		}
		v.errorf(field, "request %s is above the limit %s", *c.req, *c.lim)
	}
}

// secrets validates the merged secrets settings and resolves them, with
// the store name "doppler" mode implies.
func (v *validator) secrets(s spec.Secrets) Secrets {
	v.oneOf("secrets.mode", s.Mode, spec.SecretsManual, spec.SecretsExternalSecrets, spec.SecretsDoppler)
	v.oneOf("secrets.store.kind", s.Store.Kind, "ClusterSecretStore", "SecretStore")
	switch {
	case *s.Store.Name != "":
		v.dnsSubdomain("secrets.store.name", *s.Store.Name)
	case *s.Mode == spec.SecretsDoppler:
		s.Store.Name = new(spec.DopplerStore)
	case *s.Mode == spec.SecretsExternalSecrets:
		v.errorf("secrets.store.name", "required with mode %s: the name of the %s the ExternalSecrets read", spec.SecretsExternalSecrets, *s.Store.Kind)
	}
	out := Secrets{
		External:        *s.Mode != spec.SecretsManual,
		StoreKind:       *s.Store.Kind,
		StoreName:       *s.Store.Name,
		RefreshInterval: v.duration("secrets.refreshInterval", s.RefreshInterval),
	}
	seen := map[string]string{}
	for _, r := range []struct {
		field string
		ref   *spec.SecretRef
		out   *SecretRef
	}{{"gitCredentials", s.GitCredentials, &out.Git}, {"serverAuth", s.ServerAuth, &out.Server}, {"copilotAuth", s.CopilotAuth, &out.Copilot}} {
		*r.out = SecretRef{Name: *r.ref.Name, Key: *r.ref.Key, RemoteKey: *r.ref.RemoteKey, Property: *r.ref.Property}
		p := "secrets." + r.field
		if v.dnsSubdomain(p+".name", *r.ref.Name) {
			if other, dup := seen[*r.ref.Name]; dup {
				v.errorf(p+".name", "Secret %q is also used by secrets.%s: each needs its own Secret", *r.ref.Name, other)
			}
			seen[*r.ref.Name] = r.field
		}
		if errs := validation.IsConfigMapKey(*r.ref.Key); len(errs) > 0 {
			v.errorf(p+".key", "%q is not a valid Secret key: %s", *r.ref.Key, errs[0])
		}
		if *r.ref.RemoteKey == "" {
			v.errorf(p+".remoteKey", "must not be empty")
		}
		if strings.ContainsAny(*r.ref.Property, "\n") {
			v.errorf(p+".property", "must not contain newlines")
		}
	}
	return out
}

// flux validates the merged Flux settings and resolves them; without
// dependsOn, the ExternalSecrets (external) wait for the store as in
// home-ops.
func (v *validator) flux(f spec.Flux, external bool) Flux {
	p := *f.Path
	if p == "" || path.IsAbs(p) || path.Clean(p) != p || strings.HasPrefix(p, "..") {
		v.errorf("flux.path", "%q must be a clean relative path inside the repository (e.g. kubernetes/apps)", p)
	}
	out := Flux{
		AppsPath:            p,
		Interval:            v.duration("flux.interval", f.Interval),
		Timeout:             v.duration("flux.timeout", f.Timeout),
		Wait:                *f.Wait,
		SourceRef:           SourceRef{Kind: *f.SourceRef.Kind, Name: *f.SourceRef.Name, Namespace: *f.SourceRef.Namespace},
		NamespaceComponents: f.NamespaceComponents,
		RenderNamespace:     *f.RenderNamespace,
	}
	v.oneOf("flux.sourceRef.kind", f.SourceRef.Kind, "GitRepository", "OCIRepository", "Bucket")
	v.optName("flux.sourceRef.name", f.SourceRef.Name, false)
	if ns := f.SourceRef.Namespace; ns != nil && *ns != "" {
		v.dnsLabel("flux.sourceRef.namespace", *ns)
	}
	for i, d := range f.DependsOn {
		v.dnsSubdomain(fmt.Sprintf("flux.dependsOn[%d].name", i), d.Name)
		if d.Namespace != "" {
			v.dnsLabel(fmt.Sprintf("flux.dependsOn[%d].namespace", i), d.Namespace)
		}
		out.DependsOn = append(out.DependsOn, Dependency{Name: d.Name, Namespace: d.Namespace})
	}
	if f.DependsOn == nil && external {
		out.DependsOn = []Dependency{{Name: "external-secrets-stores", Namespace: "external-secrets"}}
	}
	for i, r := range f.SubstituteFrom {
		kind := r.Kind
		v.oneOf(fmt.Sprintf("flux.substituteFrom[%d].kind", i), &kind, "Secret", "ConfigMap")
		v.dnsSubdomain(fmt.Sprintf("flux.substituteFrom[%d].name", i), r.Name)
		out.SubstituteFrom = append(out.SubstituteFrom, SubstituteReference{Kind: r.Kind, Name: r.Name, Optional: r.Optional})
	}
	for i, c := range f.NamespaceComponents {
		if c == "" || path.IsAbs(c) || path.Clean(c) != c {
			v.errorf(fmt.Sprintf("flux.namespaceComponents[%d]", i), "%q must be a clean path relative to the namespace folder (e.g. ../../components/sops)", c)
		}
	}
	if !*f.RenderNamespace && len(f.NamespaceComponents) == 0 {
		v.errorf("flux.renderNamespace", "false needs a namespace component that brings the Namespace (flux.namespaceComponents)")
	}
	return out
}
