package build

import "testing"

func TestClusterRoleBindingWorkspace(t *testing.T) {
	for _, c := range []struct{ ns, ws string }{{"dev", "tools"}, {"dev", "x-y"}, {"dev-x", "y"}, {"a", "view"}} {
		name := ClusterRoleBindingName(c.ns, c.ws)
		if ws, ok := ClusterRoleBindingWorkspace(c.ns, name); !ok || ws != c.ws {
			t.Errorf("%s in %s: got %q, %v; want %q", name, c.ns, ws, ok, c.ws)
		}
	}
	for _, name := range []string{"dev-view", "dev--view", "devx-tools-view", "dev-tools", "dev-Tools-view", "cluster-admin", "dev-tools-view-view-"} {
		if ws, ok := ClusterRoleBindingWorkspace("dev", name); ok {
			t.Errorf("%s: ocw does not generate it for dev, got workspace %q", name, ws)
		}
	}
}
