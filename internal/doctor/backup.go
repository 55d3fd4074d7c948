package doctor

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/utils/ptr"

	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/status"
)

// volsyncJobs selects the mover Jobs and pods VolSync creates.
const volsyncJobs = "app.kubernetes.io/created-by=volsync"

// checkBackups judges status's reading of the ReplicationSource: none asked
// for, no source, VolSync's error, a last success two scheduled runs old.
func (r *run) checkBackups(ws *model.Workspace) Check {
	if ws.Backup.Mode == model.BackupNone {
		return warn("no backup configured (backup.mode: none): the uncommitted work, sessions and login on PVC "+ws.Name+" exist nowhere else",
			"set backup.mode in the spec (component: your repository's VolSync component; inline: a ReplicationSource ocw renders) and give it a restic repository Secret; see docs/gitops.md")
	}
	b := r.rows[ws.Name].Backup
	describe := r.kubectl("describe replicationsource " + ws.Name)
	switch {
	case r.snap.BackupsMissing:
		return fail("VolSync is not installed: nothing is backed up", "see the volsync check")
	case b.Source == "":
		fix := "ocw apply -f " + r.opts.SpecFile + ", or let Flux reconcile"
		if ws.Backup.Mode == model.BackupComponent {
			fix = "the VolSync component (" + ws.Backup.Component + ") must render a ReplicationSource named ${APP}: check the component and the flux check"
		}
		return fail("ReplicationSource "+ws.Name+" not found: no backup runs", fix)
	case b.Error != "":
		// The last success says how much is at risk.
		last := " (no backup has ever completed)"
		if b.LastSync != nil {
			last = " (last success " + b.LastSyncAge + " ago)"
		}
		return fail("backups fail: "+truncate(b.Error, 400)+last, r.backupFix(b, describe))
	}

	created := r.snap.ReplicationSource(ws.Name).CreationTimestamp.Time
	overdue, due, err := status.BackupOverdue(b.Schedule, ptr.Deref(b.LastSync, time.Time{}), created, r.now)
	running := ""
	if b.Running {
		running = "; a backup is running now"
	}
	stuck := "check that the VolSync controller runs (its log says why it does not start a backup) and the mover's Job: " +
		r.kubectl("get jobs,pods -l "+volsyncJobs) + "; " + describe
	switch {
	case err != nil:
		return warn("cannot judge the backups' age: "+err.Error(), "fix spec.trigger.schedule of the ReplicationSource (backup.schedule in the spec)")
	case b.LastSync == nil && overdue:
		return fail(fmt.Sprintf("no backup has completed since ReplicationSource %s was created %s ago (schedule %s)%s",
			ws.Name, status.Age(r.now.Sub(created)), b.Schedule, running), stuck)
	case b.LastSync == nil && b.Running:
		return warn("no backup has completed yet: the first one is running", "wait for the first one; ocw doctor again then")
	case b.LastSync == nil && !due.IsZero():
		return warn("no backup has completed yet: the first one is due at "+due.UTC().Format(time.RFC3339), "wait for the first one; ocw doctor again then")
	case b.LastSync == nil:
		return warn("no backup has completed yet", "trigger one: ocw backup "+ws.Name+" (the source has no schedule)")
	case overdue:
		return fail(fmt.Sprintf("the last successful backup is %s old: VolSync missed two runs of its schedule %s%s",
			b.LastSyncAge, b.Schedule, running), stuck)
	}
	msg := "last backup " + b.LastSyncAge + " ago"
	if b.Duration != "" {
		msg += " (took " + b.Duration + ")"
	}
	if b.NextSync != nil {
		msg += ", next at " + b.NextSync.UTC().Format(time.RFC3339)
	}
	return ok(msg)
}

// checkBackupRepository: the restic repository Secret the source names
// must exist; its keys are VolSync's to check (see the backup check).
func (r *run) checkBackupRepository(ws *model.Workspace) Check {
	name := r.rows[ws.Name].Backup.Repository
	if r.snap.Secret(name) != nil {
		return ok("restic repository Secret " + name + " exists")
	}
	fix := "create Secret " + name + " with RESTIC_REPOSITORY, RESTIC_PASSWORD and the storage credentials, or set backup.repository in the spec"
	if ws.Backup.Mode == model.BackupComponent {
		fix = "the VolSync component makes Secret " + name + " (in home-ops, an ExternalSecret from your store: " +
			r.kubectl("get externalsecret") + "); check it and its store entry"
	}
	return fail("restic repository Secret "+name+" not found: VolSync cannot back up", fix)
}

func (r *run) backupFix(b status.BackupStatus, describe string) string {
	e := strings.ToLower(b.Error)
	secret := "Secret " + b.Repository
	switch {
	case strings.Contains(e, "secret") && strings.Contains(e, "not found"):
		return "see the backup-repository check"
	case strings.Contains(e, "secret is missing field") || strings.Contains(e, "secret should have fields"):
		return secret + " must hold RESTIC_REPOSITORY and RESTIC_PASSWORD (plus the storage's credentials); VolSync retries on its own"
	case strings.Contains(e, "wrong password") || strings.Contains(e, "incorrect password"):
		return "RESTIC_PASSWORD in " + secret + " does not open the repository at its RESTIC_REPOSITORY: put back the password the repository was made with (a new password needs a new, empty repository)"
	case strings.Contains(e, "locking repository") || strings.Contains(e, "already locked"):
		return "a stale restic lock (a mover killed mid-run): " + r.kubectl("patch replicationsource "+b.Source+` --type merge -p '{"spec":{"restic":{"unlock":"`+r.now.UTC().Format("20060102T150405")+`"}}}'`) +
			" makes the next mover run restic unlock first"
	case strings.HasPrefix(e, "mover failed"):
		return "the mover's log tail is in status.latestMoverStatus.logs (" + describe + "); fix what restic says (RESTIC_REPOSITORY unreachable, credentials, a full repository); the next scheduled run retries"
	}
	return describe + " and the VolSync controller's log"
}
