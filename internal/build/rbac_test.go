package build

import (
	"testing"

	"github.com/opencode-workspaces/ocw/internal/model"
)

func TestClusterRoleBindingWorkspace(t *testing.T) {
	for _, c := range []struct{ ns, ws string }{{"dev", "tools"}, {"dev", "x-y"}, {"dev-x", "y"}, {"a", "view"}} {
		name := model.Workspace{Namespace: c.ns, Name: c.ws}.ClusterBindingName()
		if ws, ok := ClusterRoleBindingWorkspace(c.ns, name); !ok || ws != c.ws {
			t.Errorf("%s in %s: got %q, %v; want %q", name, c.ns, ws, ok, c.ws)
		}
	}
	for _, name := range []string{"ocw:dev:view", "ocw:dev::view", "ocw:devx:tools:view", "ocw:dev-x:y:view", "ocw:dev:tools",
		"ocw:dev:Tools:view", "cluster-admin", "dev-tools-view", "ocw:dev:tools:view:view", "ocw:dev:a:b:view"} {
		if ws, ok := ClusterRoleBindingWorkspace("dev", name); ok {
			t.Errorf("%s: ocw does not generate it for dev, got workspace %q", name, ws)
		}
	}
}
