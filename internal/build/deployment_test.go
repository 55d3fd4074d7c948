package build

import (
	"testing"

	"github.com/opencode-workspaces/ocw/internal/boot"
	"github.com/opencode-workspaces/ocw/internal/model"
)

// The backup guard runs only when backups are on, with the workspace's
// schedule.
func TestBackupGuardOnlyWithBackups(t *testing.T) {
	guard := func(mode string) map[string]string {
		ws := model.Workspace{Name: "a", Namespace: "dev", Backup: model.Backup{Mode: mode, Schedule: "30 2 * * *"}}
		got := map[string]string{}
		for _, c := range Deployment(ws).Spec.Template.Spec.Containers {
			for _, e := range c.Env {
				switch e.Name {
				case boot.EnvGuardJS, boot.EnvGuardSchedule, boot.EnvGuardWindow, boot.EnvGuardDB:
					got[e.Name] = e.Value
				}
			}
		}
		return got
	}
	if got := guard(model.BackupNone); len(got) != 0 {
		t.Errorf("without backups the guard is configured: %v", got)
	}
	for _, mode := range []string{model.BackupInline, model.BackupComponent} {
		got := guard(mode)
		if got[boot.EnvGuardJS] != boot.DBHoldJS || got[boot.EnvGuardSchedule] != "30 2 * * *" ||
			got[boot.EnvGuardWindow] != "600" || got[boot.EnvGuardDB] != model.SessionDB {
			t.Errorf("%s: guard env %v", mode, got)
		}
	}
}
