package model

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/opencode-workspaces/ocw/internal/spec"
)

const header = "apiVersion: ocw.dev/v1alpha1\nkind: Workspaces\n"

func resolve(t *testing.T, body string) (*System, error) {
	t.Helper()
	return Load("ws.yaml", []byte(body))
}

func TestValidationErrors(t *testing.T) {
	okWS := "workspaces:\n  - name: a\n    repo: https://github.com/o/a.git\n"
	cases := []struct {
		name string
		body string
		want []string // every line of the error, in order
	}{
		{"empty", "", []string{"ws.yaml:1:1: empty spec: expected apiVersion ocw.dev/v1alpha1, kind Workspaces"}},
		{"not a mapping", "- a\n", []string{"ws.yaml:1:1: a spec must be a YAML mapping"}},
		{"missing apiVersion", "kind: Workspaces\n", []string{"ws.yaml:1:1: apiVersion: required: set apiVersion: ocw.dev/v1alpha1"}},
		{"wrong apiVersion", "apiVersion: ocw.dev/v2\nkind: Workspaces\n", []string{`ws.yaml:1:13: apiVersion: unsupported version "ocw.dev/v2": this ocw reads ocw.dev/v1alpha1`}},
		{"wrong kind", "apiVersion: ocw.dev/v1alpha1\nkind: Workspace\n", []string{`ws.yaml:2:7: kind: unsupported kind "Workspace": expected Workspaces`}},
		{"two documents", header + okWS + "---\n" + header, []string{"ws.yaml:6:1: more than one YAML document: a spec is one document"}},
		// An unknown field does not hide the other problems of the file.
		{"unknown fields", header + "domian: x\n" + okWS + "    Reloader: true\n    branch: '-x'\n", []string{
			"ws.yaml:3:1: domian: unknown field",
			"ws.yaml:5:5: workspaces[0]: no hostname: set host on the workspace or domain at the top level",
			`ws.yaml:7:5: workspaces[0].Reloader: unknown field (did you mean "reloader"?)`,
			`ws.yaml:8:13: workspaces[0].branch: "-x" is not a valid branch name`,
		}},
		{"type errors", header + "domain: [d.io]\nworkspaces:\n  - name: a\n    repo: https://github.com/o/a\n    reloader: maybe\n" +
			"    images: ghcr.io/x\n    externalDNS: {annotations: {a: [1]}}\n    backup: {retain: {hourly: 1.5, daily: '7'}}\n" +
			"    user: {uid: 99999999999999999999}\n    host: a.d.io\n  - just-a-name\n",
			[]string{
				`ws.yaml:3:9: domain: must be a string, got a list`,
				`ws.yaml:7:15: workspaces[0].reloader: "maybe" is not a boolean: use true or false`,
				`ws.yaml:8:13: workspaces[0].images: must be a mapping (field: value), got "ghcr.io/x"`,
				`ws.yaml:9:36: workspaces[0].externalDNS.annotations.a: must be a string, got a list`,
				`ws.yaml:10:31: workspaces[0].backup.retain.hourly: "1.5" is not a whole number`,
				`ws.yaml:10:43: workspaces[0].backup.retain.daily: "7" is a string, not a number: write it without quotes`,
				`ws.yaml:11:17: workspaces[0].user.uid: "99999999999999999999" is out of range`,
				`ws.yaml:13:5: workspaces[1]: must be a mapping (field: value), got "just-a-name"`,
			}},
		{"not a list", header + "domain: d.io\nworkspaces: {name: a}\n", []string{
			"ws.yaml:4:13: workspaces: must be a list (- item), got a mapping",
		}},
		{"duplicate key", header + "domain: a.io\ndomain: b.io\n", []string{
			"ws.yaml:1:1: workspaces: at least one workspace is required",
			"ws.yaml:4:1: domain: set twice (first at line 3)",
		}},
		{"syntax: mapping in a value", header + "domain: d.io\nworkspaces:\n  - name: a\n    repo: https://x: y\n", []string{
			"ws.yaml:6:5: workspaces[0].repo: mapping values are not allowed in this context",
		}},
		{"syntax: tab", header + "domain: d.io\nworkspaces:\n  - name: a\n\trepo: https://github.com/o/a\n", []string{
			"ws.yaml:6:1: workspaces[0]: found a tab character that violates indentation (a tab indents this line: YAML indents with spaces)",
		}},
		{"syntax: indentation", header + "domain: d.io\ndefaults:\n  storage:\n    size: 1Gi\n   storageClass: x\nworkspaces: []\n", []string{
			"ws.yaml:7:4: defaults.storage: did not find expected key (check the indentation of this line)",
		}},
		{"syntax: missing colon", header + "domain: d.io\nworkspaces:\n  - name: a\n    repo\n    host: a.d.io\n", []string{
			"ws.yaml:6:5: workspaces[0]: could not find expected ':'",
		}},
		{"syntax: flow", header + "domain: d.io\ndefaults:\n  storage: {size: 1Gi,, x}\nworkspaces: []\n", []string{
			"ws.yaml:5:3: defaults.storage: did not find expected node content",
		}},
		{"syntax: next item", header + "domain: d.io\nworkspaces:\n  - name: a\n    repo: https://github.com/o/a\n  - name: b: c\n", []string{
			"ws.yaml:7:3: workspaces[1].name: mapping values are not allowed in this context",
		}},
		{"syntax: unclosed quote", header + "domain: 'd.io\nworkspaces: []\n", []string{
			"ws.yaml:3:1: domain: found unexpected end of stream",
		}},
		{"default namespace", header + "namespace: default\ndomain: d.io\n" + okWS, []string{
			`ws.yaml:3:12: namespace: "default" is the cluster's default namespace: ocw enforces Pod Security "restricted" on its namespace and owns it; use a namespace of its own (e.g. opencode)`}},
		// Flux labels each object with its Kustomization's name, at most 63
		// characters: <namespace>-secrets must fit (56 characters here).
		{"namespace too long for the secrets Kustomization", header + "namespace: " + strings.Repeat("n", 56) + "\ndomain: d.io\nsecrets: {mode: doppler}\n" + okWS, []string{
			`ws.yaml:3:12: namespace: at most 55 characters with secrets.mode doppler: Flux labels every object of Kustomization "` + strings.Repeat("n", 56) + `-secrets" with its name, and a label value holds at most 63`}},
		{"kube-system namespace", header + "domain: d.io\nnamespace: kube-system\n" + okWS, []string{
			`ws.yaml:4:12: namespace: "kube-system" belongs to Kubernetes (kube-*): ocw enforces Pod Security "restricted" on its namespace and owns it; use a namespace of its own (e.g. opencode)`}},
		{"kube-public namespace", header + "namespace: kube-public\ndomain: d.io\n" + okWS, []string{
			`ws.yaml:3:12: namespace: "kube-public" belongs to Kubernetes (kube-*): ocw enforces Pod Security "restricted" on its namespace and owns it; use a namespace of its own (e.g. opencode)`}},
		{"kube-node-lease namespace", header + "namespace: kube-node-lease\ndomain: d.io\n" + okWS, []string{
			`ws.yaml:3:12: namespace: "kube-node-lease" belongs to Kubernetes (kube-*): ocw enforces Pod Security "restricted" on its namespace and owns it; use a namespace of its own (e.g. opencode)`}},
		{"any kube- namespace", header + "namespace: kube-tools\ndomain: d.io\n" + okWS, []string{
			`ws.yaml:3:12: namespace: "kube-tools" belongs to Kubernetes (kube-*): ocw enforces Pod Security "restricted" on its namespace and owns it; use a namespace of its own (e.g. opencode)`}},
		{"no workspaces", header + "domain: d.io\n", []string{"ws.yaml:1:1: workspaces: at least one workspace is required"}},
		{"no host", header + okWS, []string{"ws.yaml:4:5: workspaces[0]: no hostname: set host on the workspace or domain at the top level"}},
		{"names and urls", header + "domain: d.io\nworkspaces:\n" +
			"  - name: Flux\n    repo: https://me:tok@github.com/o/a.git\n" +
			"  - name: b\n    repo: http://github.com/o/b\n" +
			"  - name: b\n    repo: git@github.com:o/c.git\n" +
			"  - name: secrets\n    repo: https://github.com/\n" +
			"  - name: e\n    repo: ftp://h/x\n",
			[]string{
				`ws.yaml:5:11: workspaces[0].name: "Flux" is not a valid name: use at most 40 lowercase letters, digits and '-', starting with a letter and ending with a letter or digit`,
				"ws.yaml:6:11: workspaces[0].repo: must not contain credentials (user:token@): put the token in the git credentials Secret",
				"ws.yaml:8:11: workspaces[1].repo: http URLs send the token unencrypted: use https (or set git.allowHTTP: true)",
				`ws.yaml:9:11: workspaces[2].name: duplicate workspace name "b" (also workspaces[1])`,
				"ws.yaml:9:11: workspaces[2].name: hostname b.d.io (name.domain) is already used by workspaces[1]",
				"ws.yaml:10:11: workspaces[2].repo: SSH URLs are not supported: use the https URL (the token is sent by a credential helper)",
				`ws.yaml:11:11: workspaces[3].name: "secrets" is reserved for the shared secrets`,
				"ws.yaml:12:11: workspaces[3].repo: missing repository path",
				`ws.yaml:14:11: workspaces[4].repo: must be an https URL, got scheme "ftp"`,
			}},
		{"workspace names", header + "domain: d.io\nworkspaces:\n" +
			"  - name: 3dprint\n    repo: https://github.com/o/a\n" +
			"  - name: " + strings.Repeat("a", 41) + "\n    repo: https://github.com/o/b\n" +
			"  - name: " + strings.Repeat("b", 40) + "\n    repo: https://github.com/o/c\n" +
			"  - name: x-\n    repo: https://github.com/o/d\n",
			[]string{
				`ws.yaml:5:11: workspaces[0].name: "3dprint" is not a valid name: use at most 40 lowercase letters, digits and '-', starting with a letter and ending with a letter or digit`,
				`ws.yaml:7:11: workspaces[1].name: "` + strings.Repeat("a", 41) + `" is longer than 40 characters`,
				`ws.yaml:11:11: workspaces[3].name: "x-" is not a valid name: use at most 40 lowercase letters, digits and '-', starting with a letter and ending with a letter or digit`,
			}},
		{"sizes", header + "domain: d.io\ndefaults:\n  storage: {size: 10}\n  resources: {requests: {memory: 500m, cpu: 5000}, limits: {memory: 2Ti}}\n" +
			"  backup: {cacheCapacity: 1e9}\n" +
			"workspaces:\n  - name: a\n    repo: https://github.com/o/a\n    storage: {size: 99999999999999999999999Ei}\n" +
			"  - name: b\n    repo: https://github.com/o/b\n    storage: {size: 512Mi}\n    resources: {limits: {cpu: 0.0001}}\n",
			[]string{
				`ws.yaml:5:19: defaults.storage.size: "10" needs a unit: a bare number is bytes; use Mi, Gi or Ti (e.g. 1Gi)`,
				`ws.yaml:6:34: defaults.resources.requests.memory: "500m" needs a unit: a bare number is bytes; use Mi, Gi or Ti (e.g. 64Mi)`,
				`ws.yaml:6:45: defaults.resources.requests.cpu: "5000" is out of range: use 1m to 1024`,
				`ws.yaml:6:69: defaults.resources.limits.memory: "2Ti" is out of range: use 64Mi to 1Ti`,
				`ws.yaml:7:27: defaults.backup.cacheCapacity: "1e9" needs a unit: a bare number is bytes; use Mi, Gi or Ti (e.g. 100Mi)`,
				`ws.yaml:11:21: workspaces[0].storage.size: "99999999999999999999999Ei" is out of range: use 1Gi to 64Ti`,
				`ws.yaml:14:21: workspaces[1].storage.size: "512Mi" is out of range: use 1Gi to 64Ti`,
				`ws.yaml:15:31: workspaces[1].resources.limits.cpu: "0.0001" is out of range: use 1m to 1024`,
			}},
		{"settings", header + "domain: d.io\ndefaults:\n  storage: {size: lots, storageClass: Fast}\n" +
			"  resources: {requests: {memory: 4Gi}}\n  images: {opencode: 'Bad Image'}\n" +
			"  backup: {mode: sometimes, schedule: hourly, retain: {within: 3days}}\n  user: {uid: 0}\n" +
			"workspaces:\n  - name: a\n    repo: https://github.com/o/a\n    dir: .hidden\n    host: '*.d.io'\n" +
			"    git: {filter: blob:all, authorEmail: nobody}\n    clusterAccess: admin\n",
			[]string{
				`ws.yaml:5:19: defaults.storage.size: "lots" is not a quantity (e.g. 500m, 2Gi)`,
				`ws.yaml:5:39: defaults.storage.storageClass: "Fast" is not a valid name: use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit`,
				"ws.yaml:6:34: defaults.resources.requests.memory: request 4Gi is above the limit 2Gi",
				`ws.yaml:7:22: defaults.images.opencode: "Bad Image" is not a valid image reference`,
				`ws.yaml:8:18: defaults.backup.mode: "sometimes" is not one of none, component, inline`,
				`ws.yaml:8:39: defaults.backup.schedule: "hourly" is not a five-field cron schedule`,
				`ws.yaml:8:64: defaults.backup.retain.within: "3days" is not a restic duration such as 1d, 12h or 1y2m3d4h`,
				"ws.yaml:9:15: defaults.user.uid: must be between 1 and 2147483647 (workspaces never run as root)",
				"ws.yaml:13:10: workspaces[0].dir: must be one folder name of letters, digits, '.', '_' or '-' that does not start with '.'",
				"ws.yaml:14:11: workspaces[0].host: wildcard hostnames are not allowed: a workspace needs its own hostname",
				`ws.yaml:15:19: workspaces[0].git.filter: "blob:all" is not one of , blob:none, tree:0`,
				`ws.yaml:15:42: workspaces[0].git.authorEmail: "nobody" is not an email address`,
				`ws.yaml:16:20: workspaces[0].clusterAccess: "admin" is not one of none, namespace, cluster`,
			}},
		{"secrets and flux", header + "domain: d.io\nsecrets:\n  mode: vault\n  serverAuth: {name: opencode-git-credentials, key: 'a b'}\n" +
			"flux:\n  path: /abs\n  interval: soon\n  sourceRef: {kind: HelmRepository}\n" + okWS,
			[]string{
				`ws.yaml:5:9: secrets.mode: "vault" is not one of manual, external-secrets, doppler`,
				`ws.yaml:6:22: secrets.serverAuth.name: Secret "opencode-git-credentials" is also used by secrets.gitCredentials: each needs its own Secret`,
				`ws.yaml:6:53: secrets.serverAuth.key: "a b" is not a valid Secret key: a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`,
				`ws.yaml:8:9: flux.path: "/abs" must be a clean relative path inside the repository (e.g. kubernetes/apps)`,
				`ws.yaml:9:13: flux.interval: "soon" is not a positive duration (e.g. 30m, 1h)`,
				`ws.yaml:10:21: flux.sourceRef.kind: "HelmRepository" is not one of GitRepository, OCIRepository, Bucket`,
			}},
		{"drop-in fields", header + "domain: d.io\nsecrets:\n  mode: external-secrets\n  copilotAuth: {property: \"a\\nb\"}\n" +
			"flux:\n  substituteFrom: [{kind: Vault, name: x}, {kind: Secret, name: Bad_Name}]\n" +
			"  namespaceComponents: [/abs/sops]\n" +
			"defaults:\n  storage: {accessMode: ReadOnlyMany}\n  backup: {pvcOwner: nobody, copyMethod: Rsync}\n" + okWS,
			[]string{
				"ws.yaml:5:3: secrets.store.name: required with mode external-secrets: the name of the ClusterSecretStore the ExternalSecrets read",
				"ws.yaml:6:27: secrets.copilotAuth.property: must not contain newlines",
				`ws.yaml:8:27: flux.substituteFrom[0].kind: "Vault" is not one of Secret, ConfigMap`,
				`ws.yaml:8:65: flux.substituteFrom[1].name: "Bad_Name" is not a valid name: use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit`,
				`ws.yaml:9:25: flux.namespaceComponents[0]: "/abs/sops" must be a clean path relative to the namespace folder (e.g. ../../components/sops)`,
				`ws.yaml:11:25: defaults.storage.accessMode: "ReadOnlyMany" is not one of ReadWriteOnce, ReadWriteOncePod, ReadWriteMany`,
				`ws.yaml:12:22: defaults.backup.pvcOwner: "nobody" is not one of component, ocw`,
				`ws.yaml:12:42: defaults.backup.copyMethod: "Rsync" is not one of Snapshot, Clone, Direct`,
			}},
		// The workspace's backup guard must know when backups run: only the
		// cron syntax it matches is accepted, also from a component variable.
		{"cron", header + "domain: d.io\ndefaults:\n  backup: {mode: component, schedule: '0 9 * * MON',\n" +
			"    variables: {VOLSYNC_SCHEDULE: '@daily'}}\n" + okWS,
			[]string{
				`ws.yaml:5:39: defaults.backup.schedule: "MON" in "0 9 * * MON" is not a number, *, range or step (names, ? and @descriptors are not supported)`,
				`ws.yaml:6:35: defaults.backup.variables.VOLSYNC_SCHEDULE: "@daily" is not a five-field cron schedule`,
			}},
		{"namespace from nowhere", header + "domain: d.io\nflux: {renderNamespace: false}\n" + okWS, []string{
			"ws.yaml:4:25: flux.renderNamespace: false needs a namespace component that brings the Namespace (flux.namespaceComponents)",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := resolve(t, c.body)
			if err == nil {
				t.Fatalf("expected errors, got none")
			}
			got := strings.Split(err.Error(), "\n")
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

func TestDefaultsAndOverrides(t *testing.T) {
	r, err := resolve(t, header+`domain: d.io
defaults:
  storage: {size: 10Gi}
  resources: {limits: {cpu: ""}}
  externalDNS: {enabled: true}
workspaces:
  - name: a
    repo: https://github.com/o/repo-a.git/
  - name: b
    repo: https://github.com/o/b
    dir: code
    host: b.example.org
    storage: {storageClass: fast}
    externalDNS: {annotations: {x.io/y: "1"}}
    reloader: false
`)
	if err != nil {
		t.Fatal(err)
	}
	a, b := r.Workspaces[0], r.Workspaces[1]
	checks := []struct{ name, got, want string }{
		{"namespace", r.Namespace, "opencode"},
		{"a.dir", a.Repo.Dir, "repo-a"},
		{"a.host", a.Host, "a.d.io"},
		{"a.size", a.Storage.Size.String(), "10Gi"},
		{"a.class", a.Storage.StorageClass, ""},
		{"a.cpu limit", a.Resources.Limits.Cpu().String(), "0"},
		{"a.memory limit", a.Resources.Limits.Memory().String(), "2Gi"},
		{"a.image", a.Images.OpenCode, spec.DefaultOpenCodeImage},
		{"b.dir", b.Repo.Dir, "code"},
		{"b.host", b.Host, "b.example.org"},
		{"b.size", b.Storage.Size.String(), "10Gi"},
		{"b.class", b.Storage.StorageClass, "fast"},
		{"secret", r.Secrets.Git.Name, "opencode-git-credentials"},
		{"flux path", r.Flux.AppsPath, "kubernetes/apps"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if _, set := a.Resources.Limits[corev1.ResourceCPU]; set {
		t.Errorf("a: an empty cpu limit is none, got %v", a.Resources.Limits)
	}
	if !a.Reloader || b.Reloader {
		t.Errorf("reloader: a=%v b=%v, want true false", a.Reloader, b.Reloader)
	}
	if got := a.ExternalDNS; len(got) != 1 || got[spec.DefaultExternalDNSKey] != "true" {
		t.Errorf("a annotations = %v", got)
	}
	if got := b.ExternalDNS; len(got) != 1 || got["x.io/y"] != "1" {
		t.Errorf("b annotations replace the inherited map whole: got %v", got)
	}
}

// The secret modes: doppler is external-secrets with the seed's store
// name unless the spec names one; the Flux settings default to what
// home-ops apps use.
func TestSecretModesAndFluxDefaults(t *testing.T) {
	ws := "domain: d.io\nworkspaces:\n  - name: a\n    repo: https://github.com/o/a\n"
	for _, c := range []struct{ secrets, kind, name string }{
		{"secrets: {mode: doppler}\n", "ClusterSecretStore", "doppler"},
		{"secrets: {mode: doppler, store: {name: doppler-prod}}\n", "ClusterSecretStore", "doppler-prod"},
		{"secrets: {mode: external-secrets, store: {kind: SecretStore, name: vault}}\n", "SecretStore", "vault"},
		{"", "ClusterSecretStore", ""},
	} {
		r, err := resolve(t, header+c.secrets+ws)
		if err != nil {
			t.Fatal(err)
		}
		if r.Secrets.StoreKind != c.kind || r.Secrets.StoreName != c.name {
			t.Errorf("%q: store %s %s, want %s %s", c.secrets, r.Secrets.StoreKind, r.Secrets.StoreName, c.kind, c.name)
		}
		f := r.Flux
		if f.Wait || f.Timeout != 5*time.Minute || f.Interval != time.Hour || !f.RenderNamespace || f.SubstituteFrom != nil || f.NamespaceComponents != nil {
			t.Errorf("flux defaults: wait %v timeout %s interval %s", f.Wait, f.Timeout, f.Interval)
		}
		w := r.Workspaces[0]
		if !w.Backup.ComponentOwnsPVC || w.Backup.CopyMethod != "Snapshot" || w.Storage.AccessMode != corev1.ReadWriteOnce {
			t.Errorf("backup defaults: component owns PVC %v copyMethod %s", w.Backup.ComponentOwnsPVC, w.Backup.CopyMethod)
		}
	}
}

func TestStarterAndExampleAreValid(t *testing.T) {
	if _, err := Load("starter.yaml", spec.Starter); err != nil {
		t.Fatal(err)
	}
	matches, _ := filepath.Glob("../../examples/*.yaml")
	if len(matches) == 0 {
		t.Fatal("no examples found")
	}
	for _, m := range matches {
		if _, err := LoadFile(m); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSystemNamespace(t *testing.T) {
	for ns, refused := range map[string]bool{
		"default": true, "kube-system": true, "kube-public": true, "kube-node-lease": true, "kube-x": true,
		"opencode": false, "kube": false, "kubeflow": false, "my-kube-tools": false, "defaults": false,
	} {
		if got := SystemNamespace(ns) != ""; got != refused {
			t.Errorf("SystemNamespace(%q) refuses: %v, want %v", ns, got, refused)
		}
	}
}

// In component mode a VOLSYNC_SCHEDULE variable wins over backup.schedule
// (it is substituted last), so it is the schedule the backup guard gets.
func TestComponentScheduleVariableWins(t *testing.T) {
	r, err := resolve(t, header+"domain: d.io\ndefaults:\n  backup: {mode: component, schedule: '0 * * * *',\n"+
		"    variables: {VOLSYNC_SCHEDULE: '30 2 * * *'}}\n"+
		"workspaces:\n  - name: a\n    repo: https://github.com/o/a.git\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Workspaces[0].Backup.Schedule; got != "30 2 * * *" {
		t.Errorf("schedule %q, want the variable's", got)
	}
}
