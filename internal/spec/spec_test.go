package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const header = "apiVersion: ocw.dev/v1alpha1\nkind: Workspaces\n"

func resolve(t *testing.T, body string) (*Resolved, error) {
	t.Helper()
	doc, err := Load("ws.yaml", []byte(body))
	if err != nil {
		return nil, err
	}
	return doc.Resolve()
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
		{"unknown fields", header + "domian: x\n" + okWS + "    Reloader: true\n", []string{
			"ws.yaml:3:1: domian: unknown field",
			`ws.yaml:7:5: workspaces[0].Reloader: unknown field (did you mean "reloader"?)`,
		}},
		{"type error", header + "domain: d.io\nworkspaces:\n  - name: a\n    repo: https://github.com/o/a\n    reloader: maybe\n",
			[]string{"ws.yaml:7: cannot unmarshal !!str `maybe` into bool"}},
		{"duplicate key", header + "domain: a.io\ndomain: b.io\n", []string{`ws.yaml:4: mapping key "domain" already defined at line 3`}},
		{"default namespace", header + "namespace: default\ndomain: d.io\n" + okWS, []string{
			`ws.yaml:3:12: namespace: "default" is the cluster's default namespace: ocw enforces Pod Security "restricted" on its namespace and owns it; use a namespace of its own (e.g. opencode)`}},
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
				`ws.yaml:5:11: workspaces[0].name: "Flux" is not a valid name: use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit`,
				"ws.yaml:6:11: workspaces[0].repo: must not contain credentials (user:token@): put the token in the git credentials Secret",
				"ws.yaml:8:11: workspaces[1].repo: http URLs send the token unencrypted: use https (or set git.allowHTTP: true)",
				`ws.yaml:9:11: workspaces[2].name: duplicate workspace name "b" (also workspaces[1])`,
				"ws.yaml:9:11: workspaces[2].name: hostname b.d.io (name.domain) is already used by workspaces[1]",
				"ws.yaml:10:11: workspaces[2].repo: SSH URLs are not supported: use the https URL (the token is sent by a credential helper)",
				`ws.yaml:11:11: workspaces[3].name: "secrets" is reserved for the shared secrets`,
				"ws.yaml:12:11: workspaces[3].repo: missing repository path",
				`ws.yaml:14:11: workspaces[4].repo: must be an https URL, got scheme "ftp"`,
			}},
		{"settings", header + "domain: d.io\ndefaults:\n  storage: {size: lots, storageClass: Fast}\n" +
			"  resources: {requests: {memory: 4Gi}}\n  images: {opencode: 'Bad Image'}\n" +
			"  backup: {mode: sometimes, schedule: hourly}\n  user: {uid: 0}\n" +
			"workspaces:\n  - name: a\n    repo: https://github.com/o/a\n    dir: .hidden\n    host: '*.d.io'\n" +
			"    git: {filter: blob:all, authorEmail: nobody}\n    clusterAccess: admin\n",
			[]string{
				`ws.yaml:5:19: defaults.storage.size: "lots" is not a quantity (e.g. 500m, 2Gi)`,
				`ws.yaml:5:39: defaults.storage.storageClass: "Fast" is not a valid name: use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit`,
				"ws.yaml:6:34: defaults.resources.requests.memory: request 4Gi is above the limit 2Gi",
				`ws.yaml:7:22: defaults.images.opencode: "Bad Image" is not a valid image reference`,
				`ws.yaml:8:18: defaults.backup.mode: "sometimes" is not one of none, component, inline`,
				`ws.yaml:8:39: defaults.backup.schedule: "hourly" is not a five-field cron schedule`,
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
				`ws.yaml:5:9: secrets.mode: "vault" is not one of manual, doppler`,
				`ws.yaml:6:22: secrets.serverAuth.name: Secret "opencode-git-credentials" is also used by secrets.gitCredentials: each needs its own Secret`,
				`ws.yaml:6:53: secrets.serverAuth.key: "a b" is not a valid Secret key: a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`,
				`ws.yaml:8:9: flux.path: "/abs" must be a clean relative path inside the repository (e.g. kubernetes/apps)`,
				`ws.yaml:9:13: flux.interval: "soon" is not a positive duration (e.g. 30m, 1h)`,
				`ws.yaml:10:21: flux.sourceRef.kind: "HelmRepository" is not one of GitRepository, OCIRepository, Bucket`,
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
		{"a.dir", a.Dir, "repo-a"},
		{"a.host", a.Host, "a.d.io"},
		{"a.size", *a.Storage.Size, "10Gi"},
		{"a.class", *a.Storage.StorageClass, ""},
		{"a.cpu limit", *a.Resources.Limits.CPU, ""},
		{"a.memory limit", *a.Resources.Limits.Memory, "2Gi"},
		{"a.image", *a.Images.OpenCode, DefaultOpenCodeImage},
		{"b.dir", b.Dir, "code"},
		{"b.host", b.Host, "b.example.org"},
		{"b.size", *b.Storage.Size, "10Gi"},
		{"b.class", *b.Storage.StorageClass, "fast"},
		{"secret", *r.Secrets.GitCredentials.Name, "opencode-git-credentials"},
		{"flux path", *r.Flux.Path, "kubernetes/apps"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if !*a.Reloader || *b.Reloader {
		t.Errorf("reloader: a=%v b=%v, want true false", *a.Reloader, *b.Reloader)
	}
	if got := a.ExternalDNS.Annotations; len(got) != 1 || got[DefaultExternalDNSKey] != "true" {
		t.Errorf("a annotations = %v", got)
	}
	if got := b.ExternalDNS.Annotations; len(got) != 1 || got["x.io/y"] != "1" || !*b.ExternalDNS.Enabled {
		t.Errorf("b annotations replace the inherited map whole: got %v", got)
	}
}

func TestStarterAndExampleAreValid(t *testing.T) {
	doc, err := Load("starter.yaml", Starter)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := doc.Resolve(); err != nil {
		t.Fatal(err)
	}
	matches, _ := filepath.Glob("../../examples/*.yaml")
	if len(matches) == 0 {
		t.Fatal("no examples found")
	}
	for _, m := range matches {
		doc, err := LoadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := doc.Resolve(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoadFileMissing(t *testing.T) {
	_, err := LoadFile(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !strings.Contains(err.Error(), "reading spec") || !os.IsNotExist(unwrapAll(err)) {
		t.Fatalf("got %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

// FuzzLoad: any input either loads and resolves, or fails with positioned
// errors; it never panics.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(header + "domain: d.io\nworkspaces:\n  - name: a\n    repo: https://github.com/o/a\n"))
	f.Add(Starter)
	f.Add([]byte(header + "workspaces: [{name: a, repo: 'https://x/y', storage: {size: 1Gi}}]\ndefaults: &d {reloader: true}\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := Load("f.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.yaml") {
				t.Fatalf("error without file name: %v", err)
			}
			return
		}
		r, err := doc.Resolve()
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "f.yaml:") {
					t.Fatalf("error line without position: %q", line)
				}
			}
			return
		}
		for _, w := range r.Workspaces {
			if w.Host == "" || w.Dir == "" || w.Images == nil || w.Storage.Size == nil {
				t.Fatalf("resolved workspace missing defaults: %+v", w)
			}
		}
	})
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
