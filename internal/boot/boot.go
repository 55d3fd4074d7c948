// Package boot holds the shell scripts a workspace pod runs before and while
// OpenCode serves, and the env contract between them and the renderer.
//
// The scripts are embedded from real .sh files so they can be linted and run
// as they are; the renderer puts the text verbatim into the Deployment
// (command ["sh", "-c", script]) and passes every path and setting through the
// env vars named by the Env* constants. Scripts assume no other paths.
//
// # Clone (CloneScript; init container "clone", alpine/git image)
//
// The seed's "skip if .git exists" kept a clone killed midway as a broken repo
// forever, and its https://<PAT>@host URL left the token in .git/config and
// in the process list. Instead:
//
//   - The repo is cloned into a temp dir under EnvStateDir (same volume, so
//     the final mv is an atomic rename) and only then moved to EnvRepoDir. The
//     temp dir is removed on success, failure and SIGTERM/SIGINT/SIGHUP; temp
//     dirs left by a SIGKILL are removed at the next start.
//   - Transient failures (connection, timeouts, HTTP 5xx/429, broken
//     transfers) are retried EnvCloneAttempts times with exponential backoff
//     starting at EnvCloneBackoff seconds. Auth failures, a missing repository
//     or branch and a full disk are not retried. Stalled transfers are cut by
//     git's low-speed limit (1 KB/s for 60 s unless GIT_HTTP_LOW_SPEED_* are
//     set).
//   - A repo already present whose origin equals EnvRepoURL (ignoring
//     userinfo, a trailing ".git" and slashes) is left untouched: no network,
//     no writes to it, only its .git/config is read. One exception: remote
//     URLs and push URLs carrying credentials (a clone made by the seed's
//     design; the userinfo ends at the last "@" before the host) are
//     rewritten to clean URLs, because the token must not stay on disk. A
//     .git/config git cannot parse is reported as such (ResultNotARepo),
//     never as a missing origin.
//   - Scratch output (git's stderr) goes to EnvScratchDir, the pod's
//     emptyDir: on a full volume it could not be written and the "no space
//     left" diagnosis would have nothing to read.
//   - An existing path that is not a git repo, or a repo with another origin,
//     stops the pod with a message saying so and what to do; nothing is
//     deleted. An empty directory counts as absent (rmdir, which cannot lose
//     data).
//   - The token reaches git only through the credential helper from
//     CredentialHelper, passed by env (GIT_CONFIG_COUNT/KEY/VALUE), so it is
//     never in a URL, argv, .git/config or the output. Without a token file
//     the clone is anonymous (public repos).
//   - The outcome goes to EnvStateDir/clone-status (key=value lines result,
//     time and message; replaced atomically) and, as "<result>: <message>",
//     to EnvTerminationLog. Exit status is 0 for ResultCloned and
//     ResultPresent, non-zero otherwise.
//
// # Auth seeding (SeedAuthScript; init container "seed-auth", busybox)
//
// Copying auth.json only when absent meant a re-seeded login never reached a
// restarted pod. Instead the sha256 of the Secret content last seeded is kept
// in "<EnvAuthDest>.ocw-seeded", and:
//
//   - auth.json absent: copy (AuthSeeded).
//   - Secret hash equal to the record: leave auth.json alone even if OpenCode
//     rewrote it (AuthUnchanged).
//   - Secret hash differs, or auth.json exists without a record: replace it
//     (AuthSeeded).
//
// Writes are temp file + rename, mode 0600, parents created 0700. A missing or
// empty Secret (AuthMissing) or one that is not a JSON object (AuthInvalid;
// checked cheaply: first and last non-blank characters are { and }) leaves any
// existing auth.json alone and exits 0: the workspace starts without Copilot
// rather than not at all, and the termination message says why. A full volume
// is no reason to keep the workspace down either (its terminal is where space
// gets freed): a write that fails for lack of space keeps the existing
// auth.json (AuthKept) or starts without one (AuthNoSpace), exit 0, and the
// message says "no space left".
//
// # Serve (ServeScript; main container "opencode", OpenCode image)
//
// The container's command is sh -c ServeScript with OpenCode's own command
// line as arguments. The script:
//
//   - refuses to start OpenCode when EnvServerPassword is empty (OpenCode 1.18
//     then serves with no login at all), writing "refused: <message>"
//     (ServeRefused) to EnvTerminationLog and exiting 1, so the pod never
//     becomes Ready and status/doctor show why;
//   - runs OpenCode as its child and stays PID 1, forwarding SIGTERM, SIGINT
//     and SIGHUP to it. OpenCode as PID 1 ignores SIGTERM (no handler, and the
//     kernel drops default-action signals to PID 1), so every stop used to
//     wait out the grace period and end in SIGKILL; as a child it exits in
//     seconds. The script exits with OpenCode's status.
//
// # Backup guard (DBHoldJS; started by ServeScript, OpenCode's Bun runtime)
//
// Scheduled VolSync backups run without ocw, so without ocw backup's hold on
// the session database. When EnvGuardJS is set, ServeScript also starts
// "BUN_BE_BUN=1 $1 -e $EnvGuardJS" ($1 is OpenCode's binary) in the
// background. From each minute the 5-field cron schedule EnvGuardSchedule
// names (in UTC, as VolSync's controller runs), it holds a read transaction
// on EnvGuardDB for EnvGuardWindow seconds, so a checkpoint cannot restart
// the WAL while the scheduled mover copies, and the WAL grows only for that
// window. A failed hold (no database yet) is reported on stderr and retried
// at the next scheduled time; a guard that dies leaves OpenCode serving.
// SIGTERM, SIGINT and HUP reach it too, and it is stopped when OpenCode
// exits.
//
// # Probe (ProbeScript; exec startup/readiness/liveness probe, OpenCode image)
//
// GET /global/health on 127.0.0.1:EnvPort twice: without credentials it must
// answer 401 (the server is password-protected; this also catches an image
// that ignores the password variable), and with basic auth from
// EnvServerPassword/EnvServerUsername it must answer HTTP 200 with
// "healthy":true. A hung OpenCode keeps its port open, so a TCP probe would
// pass. The requests are built with the shell's printf and sent with busybox
// nc so the password never appears in argv; timeout bounds each
// (EnvProbeTimeout seconds, default 4, below the probes' timeoutSeconds).
package boot

import (
	_ "embed"
	"strings"
)

// CloneScript is clone.sh: POSIX sh for the alpine/git image (busybox + git).
//
//go:embed clone.sh
var CloneScript string

// SeedAuthScript is seed-auth.sh: busybox sh.
//
//go:embed seed-auth.sh
var SeedAuthScript string

// ServeScript is serve.sh: busybox sh in the OpenCode image.
//
//go:embed serve.sh
var ServeScript string

// DBHoldJS is dbhold.js: the read transactions on OpenCode's session
// database, run in OpenCode's own Bun runtime (ocw backup's hold and the
// scheduled backups' guard).
//
//go:embed dbhold.js
var DBHoldJS string

// ProbeScript is probe.sh: busybox sh in the OpenCode image.
//
//go:embed probe.sh
var ProbeScript string

// Env vars read by CloneScript.
const (
	EnvRepoURL        = "OCW_REPO_URL"        // https URL without credentials
	EnvRepoDir        = "OCW_REPO_DIR"        // /workspace/<dir>
	EnvStateDir       = "OCW_STATE_DIR"       // /workspace/.ocw: status file and temp clones
	EnvGitTokenFile   = "OCW_GIT_TOKEN_FILE"  // may be absent: anonymous clone
	EnvGitSecretHint  = "OCW_GIT_SECRET_HINT" // "Secret <name> key <key>", for messages
	EnvCloneBranch    = "OCW_CLONE_BRANCH"    // optional
	EnvCloneFilter    = "OCW_CLONE_FILTER"    // "" or "blob:none"
	EnvCloneAttempts  = "OCW_CLONE_ATTEMPTS"  // default 4
	EnvCloneBackoff   = "OCW_CLONE_BACKOFF"   // first retry delay in seconds, doubled each time; default 2
	EnvTerminationLog = "OCW_TERMINATION_LOG" // /dev/termination-log (also used by SeedAuthScript)
	EnvScratchDir     = "OCW_SCRATCH_DIR"     // the pod's emptyDir: git's stderr, never the volume; default /tmp
)

// Env vars read by SeedAuthScript.
const (
	EnvAuthSource     = "OCW_AUTH_SOURCE"      // auth.json in the mounted Secret
	EnvAuthDest       = "OCW_AUTH_DEST"        // auth.json on the volume
	EnvAuthSecretHint = "OCW_AUTH_SECRET_HINT" // "Secret <name> key <key>", for messages
)

// Env vars read by ServeScript and ProbeScript (OpenCode reads the first two
// itself; ServeScript also reads EnvTerminationLog).
const (
	EnvServerPassword = "OPENCODE_SERVER_PASSWORD"
	EnvServerUsername = "OPENCODE_SERVER_USERNAME" // unset: "opencode"
	EnvPort           = "OCW_PORT"                 // default 4096
	EnvProbeTimeout   = "OCW_PROBE_TIMEOUT"        // seconds, default 4
	// EnvServerSecretHint is "Secret <name> key <key>", for messages.
	EnvServerSecretHint = "OCW_SERVER_SECRET_HINT"
)

// Env vars read by ServeScript and DBHoldJS for the backup guard; without
// EnvGuardJS no guard runs.
const (
	EnvGuardJS       = "OCW_BACKUP_GUARD" // DBHoldJS
	EnvGuardMode     = "OCW_MODE"         // "guard"
	EnvGuardSchedule = "OCW_SCHEDULE"     // the backups' 5-field cron schedule
	EnvGuardWindow   = "OCW_WINDOW"       // seconds to hold from each scheduled time
	EnvGuardDB       = "OCW_DB"           // opencode.db
)

// ServeRefused is ServeScript's termination code when it will not start
// OpenCode (no password).
const ServeRefused = "refused"

// Result codes of CloneScript, in the status file and termination message.
const (
	ResultCloned         = "cloned"
	ResultPresent        = "present"
	ResultAuthFailed     = "auth-failed"
	ResultNotFound       = "not-found"
	ResultNotARepo       = "not-a-repo"
	ResultOriginMismatch = "origin-mismatch"
	ResultNetwork        = "network"
	ResultFailed         = "failed"
)

// Result codes of SeedAuthScript, in its termination message.
const (
	AuthSeeded    = "seeded"
	AuthUnchanged = "unchanged"
	AuthMissing   = "missing"
	AuthInvalid   = "invalid"
	AuthKept      = "kept"     // the new login could not be written (no space); the previous auth.json stays
	AuthNoSpace   = "no-space" // no auth.json, and none could be written (no space)
	AuthFailed    = "failed"   // could not write on the volume for another reason; the only non-zero exit
)

// CredentialHelper returns a git credential.helper value that answers "get"
// with username and the first line of tokenFile, read with shell builtins at
// use time, so the token is never in argv and a rotated Secret applies
// without a restart. It prints nothing when the file is missing or empty
// (git then fails or goes anonymous). Other actions (store, erase) are
// ignored: the Secret is read-only.
func CredentialHelper(tokenFile, username string) string {
	return "!f() { test \"$1\" = get || return 0; t=; " +
		"read -r t 2>/dev/null <" + shQuote(tokenFile) + "; " +
		"test -n \"$t\" || return 0; " +
		"printf 'username=%s\\npassword=%s\\n' " + shQuote(username) + " \"$t\"; }; f"
}

// shQuote quotes s for POSIX sh.
func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ParseTerminationMessage splits "<code>: <message>" as written by the
// clone and seed-auth scripts.
func ParseTerminationMessage(s string) (code, message string) {
	code, message, _ = strings.Cut(strings.TrimSpace(s), ": ")
	return code, message
}
