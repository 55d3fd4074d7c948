package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// The backup commands refuse what they cannot act on before touching a
// cluster: a bad --as-of, an unknown workspace, a workspace without backup.
func TestBackupCommandsRefuseBadInput(t *testing.T) {
	spec := filepath.Join(t.TempDir(), "w.yaml")
	writeFile(t, spec, "apiVersion: ocw.dev/v1alpha1\nkind: Workspaces\nnamespace: n\ndomain: example.test\nworkspaces:\n"+
		"  - name: a\n    repo: https://github.com/o/a\n  - name: b\n    repo: https://github.com/o/b\n    backup: {mode: inline}\n")
	// An unreachable server: any request would fail differently.
	kc := []string{"--kubeconfig", filepath.Join(t.TempDir(), "none")}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"restore", "b", "-f", spec, "--as-of", "yesterday"}, "RFC 3339"},
		{[]string{"restore", "c", "-f", spec}, `no workspace "c"`},
		{[]string{"backup", "a", "-f", spec}, "backup.mode"},
		{[]string{"backup", "b"}, "no spec"},
	} {
		r := run(t, "", append(tc.args, kc...)...)
		if r.code != ExitFailure || !strings.Contains(r.err, tc.want) || r.out != "" {
			t.Errorf("ocw %s: code %d, stdout %q, stderr %q; want %d and %q", strings.Join(tc.args, " "), r.code, r.out, r.err, ExitFailure, tc.want)
		}
	}
}
