package secrets

import "github.com/opencode-workspaces/ocw/internal/model"

// Names of the three Secrets every workspace of a namespace shares.
const (
	RoleGit     = "git"
	RoleServer  = "server"
	RoleCopilot = "copilot"
)

// Role is one of the shared Secrets: what it holds, which ocw command
// creates it and what the workspaces do without it. apply's hints,
// doctor's checks and the commands' messages all read this one table.
type Role struct {
	Name string
	// Command is the ocw command that creates it ("secrets password").
	Command string
	// Reads says where Command takes the value from, when it asks for one.
	Reads string
	// Required: the workspaces do not start without it.
	Required bool
	// Holds is what the Secret holds.
	Holds string
	// File is what a file for kubectl create secret --from-file holds.
	File string
	// Absent is what the workspaces do without it; Empty with an empty key
	// ("" = the same as Absent).
	Absent, Empty string
}

// Roles returns the shared Secrets in the order model.Secrets lists them.
func Roles() []Role {
	return []Role{
		{Name: RoleGit, Command: "secrets git-token", Reads: "reads the token from stdin",
			Holds:  "the git token used to clone and push private repositories",
			File:   "a file holding only the token",
			Absent: "clones are anonymous: a private repository fails with auth-failed"},
		{Name: RoleServer, Command: "secrets password", Required: true,
			Holds:  "the password of the OpenCode web UI and API; workspaces do not start without it",
			File:   "a file holding only the password",
			Absent: "OpenCode cannot start without its password (CreateContainerConfigError)",
			Empty:  "the workspaces refuse to start (OpenCode would serve without a login)"},
		{Name: RoleCopilot, Command: "auth seed",
			Holds:  "the GitHub Copilot login, OpenCode's auth.json",
			File:   "~/.local/share/opencode/auth.json after `opencode auth login`",
			Absent: "workspaces start without GitHub Copilot"},
	}
}

// RoleNamed returns the role called name (one of the Role constants).
func RoleNamed(name string) Role {
	for _, r := range Roles() {
		if r.Name == name {
			return r
		}
	}
	return Role{Name: name}
}

// Ref is the role's Secret in s.
func (r Role) Ref(s model.Secrets) model.SecretRef {
	switch r.Name {
	case RoleGit:
		return s.Git
	case RoleServer:
		return s.Server
	}
	return s.Copilot
}
