// Package boot holds the scripts a workspace pod runs before and while
// OpenCode serves, embedded from real files so they can be linted and run
// as they are, and their contract with the renderer: every path and
// setting reaches a script through the env vars named by the Env*
// constants, and each script reports a result code (Result*, Auth*,
// ServeRefused) as "<code>: <message>" in EnvTerminationLog. Why each
// works as it does is in docs/design.md; the contract's details follow.
//
// # Clone
//
// CloneScript (init container "clone", alpine/git image) clones into a
// temp dir under EnvStateDir (same volume: the final mv is a rename) and
// moves it to EnvRepoDir; temp dirs are removed on every exit path, and
// those a SIGKILL left at the next start. Connection failures, timeouts,
// HTTP 5xx/429 and broken transfers are retried with backoff; auth
// failures, a missing repository or branch and a full disk are not. A
// repository whose origin equals EnvRepoURL (ignoring userinfo, a trailing
// ".git" and slashes) is only read, except that credentials in its remote
// and push URLs (the userinfo ends at the last "@" before the host) are
// removed; a .git/config git cannot parse is ResultNotARepo. An empty
// directory counts as absent (rmdir, which cannot lose data); any other
// path that is not this repository stops the pod, and nothing is deleted.
// git's stderr goes to EnvScratchDir, the pod's emptyDir, so a full volume
// can still be diagnosed. The outcome also goes to
// EnvStateDir/clone-status (result, time and message lines, replaced
// atomically); the exit status is 0 for ResultCloned and ResultPresent.
//
// # Auth seeding
//
// SeedAuthScript (init container "seed-auth", busybox) keeps the sha256 of
// the Secret content last seeded in "<EnvAuthDest>.ocw-seeded" and writes
// auth.json (temp file + rename, mode 0600, parents 0700) when it is
// absent, has no record or the Secret's hash differs from the record. A
// missing or empty Secret (AuthMissing), one that is not a JSON object
// (AuthInvalid: its first and last non-blank characters are not { and })
// and a full volume (AuthKept, AuthNoSpace) leave any auth.json alone and
// exit 0; only AuthFailed exits non-zero.
//
// # Serve
//
// ServeScript (main container) runs OpenCode as its child and stays PID 1
// (docs/design.md, "Stopping takes seconds"); it refuses (ServeRefused,
// exit 1) when EnvServerPassword is empty or blank.
//
// # Backup guard
//
// When EnvGuardJS is set, ServeScript also runs DBHoldJS in OpenCode's Bun
// runtime ("BUN_BE_BUN=1 $1 -e"), holding EnvGuardDB from each minute
// EnvGuardSchedule names for EnvGuardWindow seconds (docs/design.md,
// "Backups that restore"); the guard never takes OpenCode down.
//
// # Probe
//
// ProbeScript: see its header and docs/design.md, "Health checks that
// detect a hung server".
package boot

import (
	_ "embed"
	"strings"
)

// The scripts of the package doc, embedded from their files. DBHoldJS also
// holds the session database for ocw backup.
var (
	//go:embed clone.sh
	CloneScript string
	//go:embed seed-auth.sh
	SeedAuthScript string
	//go:embed serve.sh
	ServeScript string
	//go:embed dbhold.js
	DBHoldJS string
	//go:embed probe.sh
	ProbeScript string
)

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
