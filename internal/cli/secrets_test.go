package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// opsSpec writes a spec for namespace ns with one workspace "app";
// secretsMode is manual, external-secrets or doppler; extra continues the
// secrets mapping.
func opsSpec(t *testing.T, ns, secretsMode, extra string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "ws.yaml")
	writeFile(t, file, fmt.Sprintf(`apiVersion: ocw.dev/v1alpha1
kind: Workspaces
namespace: %s
domain: example.test
secrets:
  mode: %s
%sworkspaces:
  - name: app
    repo: https://github.com/o/app
`, ns, secretsMode, extra))
	return file
}

func opsNamespace(t *testing.T, prefix string) string {
	t.Helper()
	ns, err := kubeEnv.CreateNamespace(t.Context(), prefix, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func kubeArgs(args ...string) []string {
	return append(args, "--kubeconfig", kubeEnv.KubeconfigPath)
}

// getSecret returns the Secret, or nil when it does not exist.
func getSecret(t *testing.T, ns, name string) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{}
	if err := kubeEnv.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return nil
		}
		t.Fatal(err)
	}
	return s
}

// noLeak fails when any captured output contains one of the secrets.
func noLeak(t *testing.T, outputs []result, secrets ...string) {
	t.Helper()
	for i, r := range outputs {
		for _, s := range secrets {
			if strings.Contains(r.out, s) || strings.Contains(r.err, s) {
				t.Errorf("output %d reveals a secret value:\nstdout: %s\nstderr: %s", i, r.out, r.err)
			}
		}
	}
}

func TestSecretsGitToken(t *testing.T) {
	ns := opsNamespace(t, "cli-token-")
	file := opsSpec(t, ns, "manual", "")
	t.Setenv(defaultTokenEnv, "")
	const tok1, tok2, tok3 = "ghp_TOKENONE1234567890", "ghp_TOKENTWO1234567890", "ghp_TOKENTHREE12345678"
	args := kubeArgs("secrets", "git-token", "-f", file)
	var all []result

	r := run(t, tok1+"\n", args...)
	all = append(all, r)
	if r.code != 0 || r.out != "" || !strings.Contains(r.err, "Secret "+ns+"/opencode-git-credentials key GITHUB_PAT created") {
		t.Fatalf("first: %+v", r)
	}
	sec := getSecret(t, ns, "opencode-git-credentials")
	if string(sec.Data["GITHUB_PAT"]) != tok1 {
		t.Fatal("token not stored")
	}

	// Same token again: nothing written.
	r = run(t, tok1+"\n", args...)
	all = append(all, r)
	if r.code != 0 || !strings.Contains(r.err, "key GITHUB_PAT unchanged") {
		t.Fatalf("second: %+v", r)
	}
	if rv := getSecret(t, ns, "opencode-git-credentials").ResourceVersion; rv != sec.ResourceVersion {
		t.Fatalf("second run wrote the Secret: %s -> %s", sec.ResourceVersion, rv)
	}

	t.Setenv("MY_PAT", tok2)
	r = run(t, "", append(args, "--from-env", "MY_PAT")...)
	all = append(all, r)
	if r.code != 0 || !strings.Contains(r.err, "updated") || string(getSecret(t, ns, "opencode-git-credentials").Data["GITHUB_PAT"]) != tok2 {
		t.Fatalf("--from-env: %+v", r)
	}
	t.Setenv(defaultTokenEnv, tok3)
	r = run(t, "", args...)
	all = append(all, r)
	if r.code != 0 || !strings.Contains(r.err, "reading the git token from $OCW_GIT_TOKEN") ||
		string(getSecret(t, ns, "opencode-git-credentials").Data["GITHUB_PAT"]) != tok3 {
		t.Fatalf("$OCW_GIT_TOKEN: %+v", r)
	}
	t.Setenv(defaultTokenEnv, "")

	for _, bad := range []struct{ stdin, want string }{
		{"", "no git token on stdin"},
		{tok1 + "\n" + tok2 + "\n", "more than one line"},
		{"ghp_with space\n", "without spaces"},
	} {
		r = run(t, bad.stdin, args...)
		all = append(all, r)
		if r.code != ExitFailure || !strings.Contains(r.err, bad.want) {
			t.Errorf("stdin %q: %+v", bad.stdin, r)
		}
	}
	if r := run(t, "", append(args, "--from-env", "UNSET_VAR_FOR_TEST")...); r.code != ExitFailure || !strings.Contains(r.err, "UNSET_VAR_FOR_TEST is unset or empty") {
		t.Errorf("unset env: %+v", r)
	}
	if r := run(t, tok1, "secrets", "git-token", "-f", "-"); r.code != ExitFailure || !strings.Contains(r.err, "stdin carries the secret") {
		t.Errorf("-f -: %+v", r)
	}
	noLeak(t, all, tok1, tok2, tok3, "ghp_with")
}

func TestSecretsPassword(t *testing.T) {
	ns := opsNamespace(t, "cli-pw-")
	file := opsSpec(t, ns, "manual", "")
	args := kubeArgs("secrets", "password", "-f", file)

	r := run(t, "", args...)
	pw := strings.TrimSpace(r.out)
	if r.code != 0 || len(pw) != 43 || r.out != pw+"\n" || !strings.Contains(r.err, "key OPENCODE_SERVER_PASSWORD created") {
		t.Fatalf("create: %+v", r)
	}
	if strings.Contains(r.err, pw) {
		t.Fatal("password on stderr")
	}
	sec := getSecret(t, ns, "opencode-server-auth")
	if string(sec.Data["OPENCODE_SERVER_PASSWORD"]) != pw {
		t.Fatal("stored password differs from the printed one")
	}

	// Generated once: a second run changes and prints nothing.
	r2 := run(t, "", args...)
	if r2.code != 0 || r2.out != "" || !strings.Contains(r2.err, "already holds a password; nothing changed") {
		t.Fatalf("second: %+v", r2)
	}
	if rv := getSecret(t, ns, "opencode-server-auth").ResourceVersion; rv != sec.ResourceVersion {
		t.Fatalf("second run wrote: %s -> %s", sec.ResourceVersion, rv)
	}

	r3 := run(t, "", append(args, "--show")...)
	if r3.code != 0 || r3.out != pw+"\n" {
		t.Fatalf("--show: %+v", r3)
	}

	r4 := run(t, "", append(args, "--rotate")...)
	pw2 := strings.TrimSpace(r4.out)
	if r4.code != 0 || len(pw2) != 43 || pw2 == pw || !strings.Contains(r4.err, "rotated") {
		t.Fatalf("--rotate: %+v", r4)
	}
	if string(getSecret(t, ns, "opencode-server-auth").Data["OPENCODE_SERVER_PASSWORD"]) != pw2 {
		t.Fatal("rotated password not stored")
	}
	noLeak(t, []result{r2, {err: r.err}, {err: r3.err}, {err: r4.err}}, pw, pw2)

	if r := run(t, "", append(args, "--show", "--rotate")...); r.code != ExitFailure || !strings.Contains(r.err, "none of the others can be") {
		t.Errorf("--show --rotate: %+v", r)
	}
	empty := opsSpec(t, opsNamespace(t, "cli-pw-empty-"), "manual", "")
	if r := run(t, "", kubeArgs("secrets", "password", "-f", empty, "--show")...); r.code != ExitFailure || !strings.Contains(r.err, "is not set: ocw secrets password -f FILE creates it") {
		t.Errorf("--show without Secret: %+v", r)
	}
}

// Doppler mode writes nothing and reads stdin only when asked to.
func TestSecretsDopplerMode(t *testing.T) {
	file := opsSpec(t, "dop", "doppler", "")
	// No cluster: a kubeconfig that does not exist proves none is needed.
	noKube := []string{"--kubeconfig", filepath.Join(t.TempDir(), "none")}
	t.Setenv(defaultTokenEnv, "")
	const tok = "ghp_DOPPLERTOKEN123456"

	r := run(t, tok+"\n", append([]string{"secrets", "git-token", "-f", file}, noKube...)...)
	if r.code != 0 || r.out != "" || !strings.Contains(r.err, "Put the git token (PAT) in ClusterSecretStore doppler under key OPENCODE_GITHUB_PAT") ||
		!strings.Contains(r.err, "ExternalSecret dop/opencode-git-credentials (store ClusterSecretStore doppler)") {
		t.Fatalf("hint: %+v", r)
	}
	noLeak(t, []result{r}, tok)

	r = run(t, tok+"\n", append([]string{"secrets", "git-token", "-f", file, "--print-value"}, noKube...)...)
	if r.code != 0 || r.out != tok {
		t.Fatalf("--print-value: %+v", r)
	}

	r = run(t, "", append([]string{"secrets", "password", "-f", file}, noKube...)...)
	if r.code != 0 || r.out != "" || !strings.Contains(r.err, "key OPENCODE_SERVER_PASSWORD") {
		t.Fatalf("password hint: %+v", r)
	}
	r = run(t, "", append([]string{"secrets", "password", "-f", file, "--print-value"}, noKube...)...)
	if r.code != 0 || len(r.out) != 43 {
		t.Fatalf("password --print-value: %+v", r)
	}
	if r := run(t, "", append([]string{"secrets", "password", "-f", file, "--rotate"}, noKube...)...); r.code != ExitFailure || !strings.Contains(r.err, "the Secrets come from ClusterSecretStore doppler: rotate the password there (key OPENCODE_SERVER_PASSWORD)") {
		t.Fatalf("--rotate: %+v", r)
	}

	manual := opsSpec(t, "man", "manual", "")
	if r := run(t, tok, append([]string{"secrets", "git-token", "-f", manual, "--print-value"}, noKube...)...); r.code != ExitFailure || !strings.Contains(r.err, "--print-value is for secrets.mode external-secrets or doppler") || strings.Contains(r.out+r.err, tok) {
		t.Fatalf("manual --print-value: %+v", r)
	}
}

// The external-secrets mode names the store of the spec, and the item and
// field a 1Password or Bitwarden store reads, in every hint.
func TestSecretsExternalStoreNamed(t *testing.T) {
	file := opsSpec(t, "op", "external-secrets", `  store: {kind: ClusterSecretStore, name: onepassword}
  gitCredentials: {remoteKey: opencode, property: github-pat}
  serverAuth: {remoteKey: opencode, property: password}
`)
	noKube := []string{"--kubeconfig", filepath.Join(t.TempDir(), "none")}
	t.Setenv(defaultTokenEnv, "")
	const tok = "ghp_ONEPASSWORDTOKEN123"
	r := run(t, tok+"\n", append([]string{"secrets", "git-token", "-f", file}, noKube...)...)
	if r.code != 0 || r.out != "" ||
		!strings.Contains(r.err, "Put the git token (PAT) in ClusterSecretStore onepassword under key opencode, property github-pat.") ||
		!strings.Contains(r.err, "ExternalSecret op/opencode-git-credentials (store ClusterSecretStore onepassword)") ||
		strings.Contains(strings.ToLower(r.err), "doppler") {
		t.Fatalf("hint: %+v", r)
	}
	noLeak(t, []result{r}, tok)
	r = run(t, "", append([]string{"secrets", "password", "-f", file, "--rotate"}, noKube...)...)
	if r.code != ExitFailure || !strings.Contains(r.err, "the Secrets come from ClusterSecretStore onepassword: rotate the password there (key opencode, property password)") {
		t.Fatalf("--rotate: %+v", r)
	}
}

// Before the first ocw apply the namespace does not exist: the secret
// commands say what to run first, create nothing, and print no value.
func TestSecretsBeforeApply(t *testing.T) {
	ns := "cli-not-applied"
	file := opsSpec(t, ns, "manual", "")
	t.Setenv(defaultTokenEnv, "")
	writeLocalAuth(t, localRefresh)
	const tok = "ghp_BEFOREAPPLY12345678"
	want := "namespace " + ns + " does not exist yet: create it with ocw apply -f " + file +
		" (or, with Flux, commit the rendered tree and let Flux create it), then run this again"
	var all []result
	for _, c := range []struct {
		stdin string
		args  []string
	}{
		{tok + "\n", []string{"secrets", "git-token", "-f", file}},
		{"", []string{"secrets", "password", "-f", file}},
		{"", []string{"secrets", "password", "-f", file, "--rotate"}},
		{"", []string{"auth", "seed", "-f", file}},
	} {
		r := run(t, c.stdin, kubeArgs(c.args...)...)
		all = append(all, r)
		if r.code != ExitFailure || r.out != "" || !strings.Contains(r.err, want) || strings.Contains(r.err, "not found") {
			t.Errorf("%v: want exit %d and %q, got %+v", c.args[:2], ExitFailure, want, r)
		}
	}
	if err := kubeEnv.Client.Get(t.Context(), client.ObjectKey{Name: ns}, &corev1.Namespace{}); client.IgnoreNotFound(err) != nil || err == nil {
		t.Errorf("namespace %s: want not found, got %v", ns, err)
	}
	noLeak(t, all, tok, localRefresh)
}
