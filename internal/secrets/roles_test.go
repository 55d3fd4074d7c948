package secrets

import (
	"testing"

	"github.com/opencode-workspaces/ocw/internal/model"
)

// Each role names its own Secret of the spec, and apply, doctor and the
// commands find every role by name.
func TestRoles(t *testing.T) {
	s := model.Secrets{Git: model.SecretRef{Name: "g"}, Server: model.SecretRef{Name: "s"}, Copilot: model.SecretRef{Name: "c"}}
	want := map[string]string{RoleGit: "g", RoleServer: "s", RoleCopilot: "c"}
	roles := Roles()
	if len(roles) != len(want) {
		t.Fatalf("%d roles, want %d", len(roles), len(want))
	}
	for _, r := range roles {
		if got := r.Ref(s).Name; got != want[r.Name] {
			t.Errorf("role %s: Secret %q, want %q", r.Name, got, want[r.Name])
		}
		if RoleNamed(r.Name) != r {
			t.Errorf("RoleNamed(%s) differs", r.Name)
		}
		if r.Command == "" || r.Holds == "" || r.Absent == "" || r.File == "" {
			t.Errorf("role %s: incomplete: %+v", r.Name, r)
		}
		if r.Required != (r.Name == RoleServer) {
			t.Errorf("role %s: required %v; only the server password is", r.Name, r.Required)
		}
	}
}
