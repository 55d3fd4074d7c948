package doctor

import (
	"fmt"
	"strings"
	"time"

	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/status"
)

// volsyncJobs selects the mover Jobs and pods VolSync creates.
const volsyncJobs = "app.kubernetes.io/created-by=volsync"

// checkBackups judges the workspace's backups from status's reading of its
// ReplicationSource and the snapshot's Secret metadata: no backup asked
// for, no source, the repository Secret, VolSync's error, the last
// success older than two scheduled runs.
func (r *run) checkBackups(ws *model.Workspace) {
	if ws.Backup.Mode == model.BackupNone {
		r.add(ws.Name, "backup", Warn, "no backup configured (backup.mode: none): the uncommitted work, sessions and login on PVC "+ws.Name+" exist nowhere else",
			"set backup.mode in the spec (component: your repository's VolSync component; inline: a ReplicationSource ocw renders) and give it a restic repository Secret; see docs/gitops.md")
		return
	}
	b := r.row(ws.Name).Backup
	r.checkBackupRepository(ws, b)
	describe := r.kubectl("describe replicationsource " + ws.Name)
	switch {
	case r.snap.BackupsMissing:
		r.add(ws.Name, "backup", Fail, "VolSync is not installed: nothing is backed up", "see the volsync check")
		return
	case b.Source == "":
		fix := "ocw apply -f " + r.opts.SpecFile + ", or let Flux reconcile"
		if ws.Backup.Mode == model.BackupComponent {
			fix = "the VolSync component (" + ws.Backup.Component + ") must render a ReplicationSource named ${APP}: check the component and the flux check"
		}
		r.add(ws.Name, "backup", Fail, "ReplicationSource "+ws.Name+" not found: no backup runs", fix)
		return
	case b.Error != "":
		r.add(ws.Name, "backup", Fail, "backups fail: "+truncate(b.Error, 400)+lastBackup(b), r.backupFix(b, describe))
		return
	}

	var last time.Time
	if b.LastSync != nil {
		last = *b.LastSync
	}
	rs := r.snap.ReplicationSource(ws.Name)
	overdue, due, err := status.BackupOverdue(b.Schedule, last, rs.CreationTimestamp.Time, r.now)
	running := ""
	if b.Running {
		running = "; a backup is running now"
	}
	stuck := "check that the VolSync controller runs (its log says why it does not start a backup) and the mover's Job: " +
		r.kubectl("get jobs,pods -l "+volsyncJobs) + "; " + describe
	switch {
	case err != nil:
		r.add(ws.Name, "backup", Warn, "cannot judge the backups' age: "+err.Error(), "fix spec.trigger.schedule of the ReplicationSource (backup.schedule in the spec)")
	case b.LastSync == nil && overdue:
		r.add(ws.Name, "backup", Fail, fmt.Sprintf("no backup has completed since ReplicationSource %s was created %s ago (schedule %s)%s",
			ws.Name, status.Age(r.now.Sub(rs.CreationTimestamp.Time)), b.Schedule, running), stuck)
	case b.LastSync == nil:
		msg, fix := "no backup has completed yet", "wait for the first one; ocw doctor again then"
		switch {
		case b.Running:
			msg += ": the first one is running"
		case !due.IsZero():
			msg += ": the first one is due at " + due.UTC().Format(time.RFC3339)
		default:
			fix = "trigger one: ocw backup " + ws.Name + " (the source has no schedule)"
		}
		r.add(ws.Name, "backup", Warn, msg, fix)
	case overdue:
		r.add(ws.Name, "backup", Fail, fmt.Sprintf("the last successful backup is %s old: VolSync missed two runs of its schedule %s%s",
			b.LastSyncAge, b.Schedule, running), stuck)
	default:
		msg := "last backup " + b.LastSyncAge + " ago"
		if b.Duration != "" {
			msg += " (took " + b.Duration + ")"
		}
		if b.NextSync != nil {
			msg += ", next at " + b.NextSync.UTC().Format(time.RFC3339)
		}
		r.add(ws.Name, "backup", OK, msg, "")
	}
}

// checkBackupRepository: the restic repository Secret the source names
// (the spec's backup.repository until the source exists) must exist.
// Its keys are VolSync's to check: a missing RESTIC_PASSWORD shows as its
// error in the backup check.
func (r *run) checkBackupRepository(ws *model.Workspace, b status.BackupStatus) {
	name := b.Repository
	if r.snap.Secret(name) != nil {
		r.add(ws.Name, "backup-repository", OK, "restic repository Secret "+name+" exists", "")
		return
	}
	fix := "create Secret " + name + " with RESTIC_REPOSITORY, RESTIC_PASSWORD and the storage credentials, or set backup.repository in the spec"
	if ws.Backup.Mode == model.BackupComponent {
		fix = "the VolSync component makes Secret " + name + " (in home-ops, an ExternalSecret from your store: " +
			r.kubectl("get externalsecret") + "); check it and its store entry"
	}
	r.add(ws.Name, "backup-repository", Fail, "restic repository Secret "+name+" not found: VolSync cannot back up", fix)
}

// backupFix says what to do about what VolSync reported.
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

// lastBackup notes the last success under a failure: how much is at risk.
func lastBackup(b status.BackupStatus) string {
	if b.LastSync == nil {
		return " (no backup has ever completed)"
	}
	return " (last success " + b.LastSyncAge + " ago)"
}
