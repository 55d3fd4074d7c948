package conformance_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencode-workspaces/ocw/internal/layout"
	"github.com/opencode-workspaces/ocw/internal/layout/layouttest"
	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/output"
	"github.com/opencode-workspaces/ocw/internal/spec"
)

// An axis is one option a user picks, with the spec text each choice
// adds. Choices are written as YAML fragments so that a refused
// combination is reported at a real line and column.
type axis struct {
	name    string
	choices []string
}

// The axes of the sweep (docs/spec.md). Each choice of a workspace axis is
// a settings fragment written under defaults; the second workspace
// overrides the axes in overridden with the next choice, so that per
// workspace overrides meet every default.
var (
	// The first choice of an overridden axis spells the built-in default
	// out, so that a workspace can also switch an option back off.
	axBackup = axis{"backup", []string{
		"backup: {mode: none}",
		"backup: {mode: inline}",
		"backup: {mode: component, pvcOwner: ocw, component: ../../../../components/volsync-backup}",
		// The fixture's component reads SECRET_DOMAIN, which home-ops
		// feeds from cluster-secrets; backup.variables can feed it too.
		"backup: {mode: component, pvcOwner: component, component: ../../../../components/volsync, variables: {SECRET_DOMAIN: backups.example.test}}",
	}}
	axCopy     = axis{"copyMethod", []string{"", "backup: {copyMethod: Clone}", "backup: {copyMethod: Direct}"}}
	axSchedule = axis{"schedule", []string{"", `backup: {schedule: "*/15 * * * *"}`, `backup: {schedule: "0,30 1-5 * * *"}`, `backup: {schedule: "10/20 */2 * * 1-5"}`}}
	axRetain   = axis{"retain", []string{"", "backup: {retain: {hourly: 0, daily: 14, weekly: 8}}", "backup: {retain: {within: 1y2m3d4h}}"}}
	axAccess   = axis{"clusterAccess", []string{"clusterAccess: none", "clusterAccess: namespace", "clusterAccess: cluster"}}
	axCert     = axis{"certificate", []string{"certificate: {enabled: false}", "certificate: {enabled: true, issuerName: ca, issuerKind: Issuer}", "certificate: {enabled: true}"}}
	axDNS      = axis{"externalDNS", []string{"externalDNS: {enabled: false}", "externalDNS: {enabled: true}", `externalDNS: {enabled: true, annotations: {external-dns.alpha.kubernetes.io/target: gw.example.test}}`}}
	axReloader = axis{"reloader", []string{"reloader: true", "reloader: false"}}
	axGateway  = axis{"gateway", []string{"", `gateway: {sectionName: ""}`, "gateway: {name: internal, namespace: gateways, sectionName: websecure}"}}
	axStorage  = axis{"storage", []string{"", "storage: {storageClass: ceph-block, size: 1Gi}", "storage: {accessMode: ReadWriteOncePod}", "storage: {accessMode: ReadWriteMany, storageClass: nfs, size: 64Ti}"}}
	axRes      = axis{"resources", []string{"", `resources: {limits: {cpu: "", memory: ""}}`, `resources: {requests: {cpu: "1", memory: 64Mi}, limits: {cpu: ""}}`, `resources: {requests: {cpu: 1m}, limits: {cpu: "1024", memory: 1Ti}}`}}
	axGit      = axis{"git", []string{"", "git: {filter: blob:none, username: oauth2}", "git: {filter: tree:0, authorName: A Person, authorEmail: a@example.test}", "git: {allowHTTP: true}"}}
	axUser     = axis{"user", []string{"", "user: {uid: 2000, gid: 3000}", "user: {uid: 65534}"}}
	axServer   = axis{"serverUsername", []string{"", "serverUsername: dev"}}

	// System-wide axes.
	axHost     = axis{"host", []string{"domain", "host", "hostOnly"}}
	axCheckout = axis{"checkout", []string{"", "branch", "dir", "both"}}
	axSecrets  = axis{"secrets", []string{"manual", "external-secrets", "doppler", "external-secrets-namespaced"}}
	axFluxNS   = axis{"fluxNamespace", []string{"", "sops", "common"}}
	axFluxRun  = axis{"fluxRun", []string{"", "wait", "dependsOn"}}
	// Names at their limits: the longest namespace, 40-character
	// workspace names, from which ocw derives longer ones.
	axNames = axis{"names", []string{"", "long"}}

	sweepAxes = []axis{axBackup, axCopy, axSchedule, axRetain, axAccess, axCert, axDNS, axReloader, axGateway,
		axStorage, axRes, axGit, axUser, axServer, axHost, axCheckout, axSecrets, axFluxNS, axFluxRun, axNames}
	// Axes the second workspace overrides with the next choice.
	overridden = map[string]bool{"backup": true, "clusterAccess": true, "certificate": true, "resources": true,
		"storage": true, "reloader": true, "externalDNS": true, "user": true}
)

// pairwise returns rows (a choice index per axis) that together hold
// every pair of choices of every two axes. It is greedy and deterministic:
// each row takes, axis by axis, the choice covering the most pairs not yet
// covered, the least used choice on a tie.
func pairwise(axes []axis) [][]int {
	type pair struct{ a, ca, b, cb int }
	open := map[pair]bool{}
	for a := range axes {
		for b := a + 1; b < len(axes); b++ {
			for ca := range axes[a].choices {
				for cb := range axes[b].choices {
					open[pair{a, ca, b, cb}] = true
				}
			}
		}
	}
	used := make([][]int, len(axes))
	for a := range axes {
		used[a] = make([]int, len(axes[a].choices))
	}
	var rows [][]int
	for len(open) > 0 {
		row := make([]int, len(axes))
		// Seed the row with the first open pair, so every row covers one.
		var first *pair
		for a := range axes {
			for b := a + 1; b < len(axes) && first == nil; b++ {
				for ca := range axes[a].choices {
					for cb := range axes[b].choices {
						if p := (pair{a, ca, b, cb}); first == nil && open[p] {
							first = &p
						}
					}
				}
			}
		}
		for a := range axes {
			if a == first.a {
				row[a] = first.ca
				continue
			}
			if a == first.b {
				row[a] = first.cb
				continue
			}
			best, bestGain := 0, -1
			for c := range axes[a].choices {
				gain := 0
				for b := 0; b < a; b++ {
					if open[pair{b, row[b], a, c}] {
						gain++
					}
				}
				if b := first.b; b > a && open[pair{a, c, b, first.cb}] {
					gain++
				}
				if gain > bestGain || (gain == bestGain && used[a][c] < used[a][best]) {
					best, bestGain = c, gain
				}
			}
			row[a] = best
		}
		for a := range axes {
			used[a][row[a]]++
			for b := a + 1; b < len(axes); b++ {
				delete(open, pair{a, row[a], b, row[b]})
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// uncovered counts the pairs of choices no row holds.
func uncovered(axes []axis, rows [][]int) int {
	n := 0
	for a := range axes {
		for b := a + 1; b < len(axes); b++ {
			for ca := range axes[a].choices {
				for cb := range axes[b].choices {
					if !slices.ContainsFunc(rows, func(r []int) bool { return r[a] == ca && r[b] == cb }) {
						n++
					}
				}
			}
		}
	}
	return n
}

// sweepSpec writes the spec of one row. Fragments of the same top key
// (backup: ...) are merged into one mapping.
func sweepSpec(ns string, row []int) string {
	pick := func(ax axis) string {
		for i, a := range sweepAxes {
			if a.name == ax.name {
				return ax.choices[row[i]]
			}
		}
		panic(ax.name)
	}
	settings := func(next bool) string {
		groups := map[string][]string{}
		var order []string
		for i, a := range sweepAxes {
			if !isSettings(a.name) {
				continue
			}
			c := row[i]
			if next {
				if !overridden[a.name] {
					continue
				}
				c = (c + 1) % len(a.choices)
			}
			frag := a.choices[c]
			if frag == "" {
				continue
			}
			key, val, _ := strings.Cut(frag, ": ")
			if _, ok := groups[key]; !ok {
				order = append(order, key)
			}
			groups[key] = append(groups[key], val)
		}
		var b strings.Builder
		for _, k := range order {
			vals := groups[k]
			if !strings.HasPrefix(vals[0], "{") {
				fmt.Fprintf(&b, "%s: %s\n", k, vals[0])
				continue
			}
			var inner []string
			for _, v := range vals {
				inner = append(inner, strings.TrimSuffix(strings.TrimPrefix(v, "{"), "}"))
			}
			fmt.Fprintf(&b, "%s: {%s}\n", k, strings.Join(inner, ", "))
		}
		return b.String()
	}
	indent := func(s, by string) string {
		if s == "" {
			return ""
		}
		return by + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n"+by) + "\n"
	}

	names := []string{"alpha", "beta-2"}
	if pick(axNames) == "long" {
		// 55 characters with ExternalSecrets: their Kustomization is
		// <namespace>-secrets, and Flux puts that name in a label.
		limit := 63
		if pick(axSecrets) != "manual" {
			limit = 55
		}
		ns += "-" + strings.Repeat("n", limit-1-len(ns))
		names = []string{"a" + strings.Repeat("l", 38) + "a", "b" + strings.Repeat("2", 38) + "b"}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: ocw.dev/v1alpha1\nkind: Workspaces\nnamespace: %s\n", ns)
	host := pick(axHost)
	if host != "hostOnly" {
		b.WriteString("domain: ws.example.test\n")
	}
	switch pick(axSecrets) {
	case "manual":
	case "doppler":
		b.WriteString("secrets: {mode: doppler, refreshInterval: 15m}\n")
	case "external-secrets":
		b.WriteString("secrets:\n  mode: external-secrets\n  store: {kind: ClusterSecretStore, name: onepassword}\n" +
			"  gitCredentials: {remoteKey: dev, property: git-token}\n  copilotAuth: {name: copilot, key: auth.json, remoteKey: dev, property: auth}\n")
	case "external-secrets-namespaced":
		b.WriteString("secrets: {mode: external-secrets, store: {kind: SecretStore, name: vault}}\n")
	}
	var flux []string
	switch pick(axFluxNS) {
	case "sops":
		flux = append(flux, "namespaceComponents: [../../components/sops]", "substituteFrom: [{kind: Secret, name: cluster-secrets}, {kind: ConfigMap, name: absent, optional: true}]")
	case "common":
		flux = append(flux, "namespaceComponents: [../../components/common]", "renderNamespace: false")
	}
	switch pick(axFluxRun) {
	case "wait":
		flux = append(flux, "wait: true", "timeout: 20m", "interval: 30m")
	case "dependsOn":
		flux = append(flux, "dependsOn: [{name: stores, namespace: flux-system}, {name: databases}]")
	}
	if len(flux) > 0 {
		b.WriteString("flux:\n" + indent(strings.Join(flux, "\n"), "  "))
	}
	if d := settings(false); d != "" {
		b.WriteString("defaults:\n" + indent(d, "  "))
	}
	b.WriteString("workspaces:\n")
	for i, name := range names {
		repo := "https://git.example.test/team/" + name + ".git"
		if strings.Contains(pick(axGit), "allowHTTP") {
			repo = "http://gitea-http.gitea.svc:3000/team/" + name
		}
		fmt.Fprintf(&b, "  - name: %s\n    repo: %s\n", name, repo)
		if host != "domain" && (i == 0 || host == "hostOnly") {
			fmt.Fprintf(&b, "    host: %s.other.example.test\n", name)
		}
		if i == 0 {
			switch pick(axCheckout) {
			case "branch":
				b.WriteString("    branch: release/v1.2\n")
			case "dir":
				b.WriteString("    dir: src.d\n")
			case "both":
				b.WriteString("    branch: develop\n    dir: mono_repo\n")
			}
			continue
		}
		b.WriteString(indent(settings(true), "    "))
	}
	return b.String()
}

func isSettings(name string) bool {
	switch name {
	case "host", "checkout", "secrets", "fluxNamespace", "fluxRun", "names":
		return false
	}
	return true
}

// Every pairwise combination of the options a user may pick (two
// workspaces each, the second overriding some defaults) resolves, renders
// in both layouts, re-renders into the same folder with no change, and is
// accepted by the API server the way the examples are (checkVariant);
// ocw apply's object set goes in as well and a second apply writes
// nothing.
func TestOptionCombinationsAreAccepted(t *testing.T) {
	installCertManagerCRD(t)
	rows := pairwise(sweepAxes)
	if n := uncovered(sweepAxes, rows); n > 0 {
		t.Fatalf("%d pairs of choices in no variant", n)
	}
	t.Logf("%d axes, %d variants, 2 layouts and ocw apply each", len(sweepAxes), len(rows))
	for i, row := range rows {
		for _, lay := range layout.Names {
			ns := fmt.Sprintf("comb-%d-%s", i, lay)
			text := sweepSpec(ns, row)
			t.Run(fmt.Sprintf("%d/%s", i, lay), func(t *testing.T) {
				logSpecOnFailure(t, text)
				sys := resolveText(t, text)
				checkRerender(t, sys, lay, text)
				checkSystem(t, sys, lay)
			})
		}
		// ocw apply's object set goes in whole too, and a second apply
		// writes nothing.
		text := sweepSpec(fmt.Sprintf("comb-%d-apply", i), row)
		t.Run(fmt.Sprintf("%d/apply", i), func(t *testing.T) {
			logSpecOnFailure(t, text)
			checkApply(t, resolveText(t, text))
		})
	}
}

func logSpecOnFailure(t *testing.T, text string) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("spec:\n%s", text)
		}
	})
}

func resolveText(t *testing.T, text string) *model.System {
	t.Helper()
	doc, err := spec.Load("spec.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	sys, err := model.Resolve(doc)
	if err != nil {
		t.Fatal(err)
	}
	return sys
}

// checkRerender writes the rendered tree with ocw's writer, resolves the
// spec text anew and renders again into the same folder: nothing changes.
func checkRerender(t *testing.T, sys *model.System, lay, text string) {
	t.Helper()
	dir := t.TempDir()
	plan, err := output.NewPlan(dir, sys.Namespace, layouttest.Render(t, sys, lay))
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Write(); err != nil {
		t.Fatal(err)
	}
	again, err := output.NewPlan(dir, sys.Namespace, layouttest.Render(t, resolveText(t, text), lay))
	if err != nil {
		t.Fatal(err)
	}
	if again.Changed() {
		t.Errorf("re-render changes the tree: %s\n%s", again.Summary(), again.Diff())
	}
}

// backupOnlyComponent is a VolSync component that backs up but creates no
// PVC, the kind backup.pvcOwner: ocw is for: the fixture's own
// ReplicationSource only.
func writeBackupOnlyComponent(t *testing.T, root string) {
	t.Helper()
	rs, err := os.ReadFile(filepath.Join(root, "kubernetes/components/volsync/replicationsource.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	layouttest.WriteFiles(t, root, map[string][]byte{
		"kubernetes/components/volsync-backup/replicationsource.yaml": rs,
		"kubernetes/components/volsync-backup/kustomization.yaml": []byte(`apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
resources:
  - ./replicationsource.yaml
`),
	})
}

// Combinations validation refuses: each is one error naming the file,
// line and column of the field at fault and its path. (backup.pvcOwner
// outside component mode is accepted and has no effect: defaults may set
// it for the workspaces that use the component.)
func TestOptionCombinationsRefused(t *testing.T) {
	const base = `apiVersion: ocw.dev/v1alpha1
kind: Workspaces
namespace: refused
domain: ws.example.test
defaults:
  resources: {requests: {cpu: "2", memory: 1Gi}}
  backup: {mode: inline}
workspaces:
  - name: alpha
    repo: https://git.example.test/team/alpha.git
`
	for _, c := range []struct {
		name, add, want string
	}{
		{"renderNamespace without components", "flux: {renderNamespace: false}\n", "spec.yaml:8:25: flux.renderNamespace: "},
		{"http repo without allowHTTP", "  - name: beta\n    repo: http://git.example.test/beta\n", "spec.yaml:12:11: workspaces[1].repo: "},
		{"http repo with allowHTTP off in the workspace", "  - name: beta\n    repo: http://git.example.test/beta\n    git: {allowHTTP: false}\n", "spec.yaml:12:11: workspaces[1].repo: "},
		{"limit below the inherited request", "  - name: beta\n    repo: https://git.example.test/beta\n    resources: {limits: {cpu: 500m}}\n", "spec.yaml:13:16: workspaces[1].resources.requests.cpu: "},
		{"host of another workspace", "  - name: beta\n    repo: https://git.example.test/beta\n    host: alpha.ws.example.test\n", "spec.yaml:13:11: workspaces[1].host: "},
		{"bad schedule variable", "  - name: beta\n    repo: https://git.example.test/beta\n    backup: {mode: component, variables: {VOLSYNC_SCHEDULE: \"@hourly\"}}\n", "spec.yaml:13:61: workspaces[1].backup.variables.VOLSYNC_SCHEDULE: "},
		{"reserved name", "  - name: secrets\n    repo: https://git.example.test/beta\n", "spec.yaml:11:11: workspaces[1].name: "},
		{"dir out of the workspace", "  - name: beta\n    repo: https://git.example.test/beta\n    dir: ../etc\n", "spec.yaml:13:10: workspaces[1].dir: "},
		{"root user", "  - name: beta\n    repo: https://git.example.test/beta\n    user: {uid: 0}\n", "spec.yaml:13:17: workspaces[1].user.uid: "},
		{"issuerKind", "  - name: beta\n    repo: https://git.example.test/beta\n    certificate: {enabled: true, issuerKind: Cluster}\n", "spec.yaml:13:46: workspaces[1].certificate.issuerKind: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			text := base + c.add
			if strings.HasPrefix(c.add, "flux:") {
				text = strings.Replace(base, "workspaces:\n", c.add+"workspaces:\n", 1)
			}
			doc, err := spec.Load("spec.yaml", []byte(text))
			if err == nil {
				_, err = model.Resolve(doc)
			}
			if err == nil {
				t.Fatalf("accepted:\n%s", text)
			}
			if !strings.HasPrefix(err.Error(), c.want) || strings.Count(err.Error(), "\n") > 0 {
				t.Errorf("error %q, want one line starting %q", err, c.want)
			}
		})
	}
}
