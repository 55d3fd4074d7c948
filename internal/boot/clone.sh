#!/bin/sh
# ocw clone step (init container, alpine/git image: busybox + git).
# Contract and rationale: internal/boot/boot.go. Everything comes from env.
set -u

export GIT_TERMINAL_PROMPT=0
# Abort a transfer that stalls (1 KB/s for 60 s) instead of hanging the pod.
export GIT_HTTP_LOW_SPEED_LIMIT="${GIT_HTTP_LOW_SPEED_LIMIT:-1000}"
export GIT_HTTP_LOW_SPEED_TIME="${GIT_HTTP_LOW_SPEED_TIME:-60}"

dir="${OCW_REPO_DIR:-}"
state="${OCW_STATE_DIR:-}"
tokenfile="${OCW_GIT_TOKEN_FILE:-}"
hint="${OCW_GIT_SECRET_HINT:-the git credentials Secret}"
branch="${OCW_CLONE_BRANCH:-}"
filter="${OCW_CLONE_FILTER:-}"
attempts="${OCW_CLONE_ATTEMPTS:-4}"
backoff="${OCW_CLONE_BACKOFF:-2}"
termlog="${OCW_TERMINATION_LOG:-}"
# Scratch output (git's stderr) goes to the pod's emptyDir, never the
# workspace volume: on a full volume it could not be written, and the
# "no space" diagnosis would read an empty file.
scratch="${OCW_SCRATCH_DIR:-/tmp}"
tmp=""
child=""
sleeper=""

# strip_userinfo URL: scheme://user:secret@host/... -> scheme://host/...
# The userinfo ends at the last "@" before the path (a password may itself
# hold "@"). Input goes through a pipe, never argv: a legacy URL may embed a
# token.
strip_userinfo() {
	printf '%s\n' "$1" | sed -e 's#^\([A-Za-z][A-Za-z0-9+.-]*://\)[^/]*@#\1#'
}

# normalise URL: the form compared to decide "same repo".
normalise() {
	strip_userinfo "$1" | sed -e 's#/*$##' -e 's#\.git$##' -e 's#/*$##'
}

# clean_remotes CONFIG: rewrite every remote URL and push URL in CONFIG that
# embeds credentials (a clone made by the seed's design) to the clean URL.
# Values are read through git's output, never argv; only clean URLs are
# written. Prints how many values were cleaned.
clean_remotes() {
	cleaned=0
	# One value per line; no globbing of URL characters.
	set -f
	oldifs=$IFS
	IFS='
'
	for key in $(git config --file "$1" --name-only --get-regexp '^remote\..*\.(url|pushurl)$' 2>/dev/null | sort -u); do
		vals=$(git config --file "$1" --get-all "$key") || continue
		dirty=0
		for v in $vals; do
			[ "$(strip_userinfo "$v")" = "$v" ] || dirty=1
		done
		[ "$dirty" -eq 1 ] || continue
		git config --file "$1" --unset-all "$key" || return 1
		for v in $vals; do
			c=$(strip_userinfo "$v")
			[ "$c" = "$v" ] || cleaned=$((cleaned + 1))
			git config --file "$1" --add "$key" "$c" || return 1
		done
	done
	IFS=$oldifs
	set +f
	echo "$cleaned"
}

# finish CODE MESSAGE EXIT: record the outcome (status file + termination
# message) and exit. The status file is replaced by rename, so readers never
# see half of it.
finish() {
	msg=$(printf '%s' "$2" | tr '\n\r' '  ' | cut -c1-900)
	if [ -n "$state" ] && mkdir -p "$state" 2>/dev/null; then
		printf 'result=%s\ntime=%s\nmessage=%s\n' "$1" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$msg" \
			>"$state/clone-status.tmp" 2>/dev/null &&
			mv -f "$state/clone-status.tmp" "$state/clone-status" 2>/dev/null
	fi
	if [ -n "$termlog" ]; then
		printf '%s: %s\n' "$1" "$msg" >"$termlog" 2>/dev/null || :
	fi
	if [ "$3" -eq 0 ]; then
		printf 'ocw clone: %s: %s\n' "$1" "$msg"
	else
		printf 'ocw clone: %s: %s\n' "$1" "$msg" >&2
	fi
	exit "$3"
}

# git runs in its own process group (setsid) so that a SIGTERM stops its
# helpers (remote-https, index-pack) too, before the temp dir is removed.
group=""
command -v setsid >/dev/null 2>&1 && group=setsid

cleanup() {
	if [ -n "$child" ]; then
		if [ -n "$group" ]; then
			kill -TERM "-$child" 2>/dev/null
		else
			kill -TERM "$child" 2>/dev/null
		fi
		wait "$child" 2>/dev/null
		i=0
		while [ -n "$group" ] && [ "$i" -lt 50 ] && kill -0 "-$child" 2>/dev/null; do
			sleep 0.1
			i=$((i + 1))
		done
		child=""
	fi
	if [ -n "$sleeper" ]; then
		kill "$sleeper" 2>/dev/null
		sleeper=""
	fi
	if [ -n "$tmp" ]; then
		rm -rf "$tmp"
		tmp=""
	fi
}

on_signal() {
	trap - TERM INT HUP
	cleanup
	finish failed "clone of $url interrupted by $1; the next start retries" 143
}

[ -n "$dir" ] || finish failed "OCW_REPO_DIR is not set" 1
[ -n "$state" ] || finish failed "OCW_STATE_DIR is not set" 1
[ -n "${OCW_REPO_URL:-}" ] || finish failed "OCW_REPO_URL is not set" 1
url=$(strip_userinfo "$OCW_REPO_URL")
want=$(normalise "$url")
case "$attempts" in '' | *[!0-9]*) attempts=4 ;; esac
[ "$attempts" -ge 1 ] || attempts=1
case "$backoff" in '' | *[!0-9]*) backoff=2 ;; esac

mkdir -p "$scratch" || finish failed "cannot create scratch dir $scratch" 1
mkdir -p "$state" 2>"$scratch/mkdir-err" || finish failed "cannot create state dir $state: $(head -n 1 "$scratch/mkdir-err")" 1

# Temp dirs of a killed earlier attempt (SIGKILL cannot be trapped) hold
# nothing of value: a clone only becomes the repo by the final rename.
for old in "$state"/clone.*; do
	[ -e "$old" ] && rm -rf "$old"
done

# Already there: decide from the files alone (no network, no writes to the
# repo, no safe.directory dependence, no index refresh).
if [ -e "$dir" ] || [ -L "$dir" ]; then
	if [ -d "$dir/.git" ] && [ -f "$dir/.git/HEAD" ] && [ -f "$dir/.git/config" ]; then
		# git config exits 1 for a missing key and 3 for a file it cannot
		# parse: a corrupt config is not "no origin".
		origin=$(git config --file "$dir/.git/config" --get remote.origin.url 2>"$scratch/config-err")
		rc=$?
		if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
			why=$(head -n 1 "$scratch/config-err")
			finish not-a-repo "$dir/.git/config cannot be read (${why:-git config exit $rc}); nothing was changed: repair or restore that file from the workspace terminal or a pod that mounts the volume, then restart" 1
		fi
		if [ -z "$origin" ]; then
			finish origin-mismatch "$dir is a git repository without an origin remote but the spec asks for $url; nothing was changed: add it (git remote add origin $url) or move the directory aside on the volume, then restart" 1
		fi
		clean=$(strip_userinfo "$origin")
		if [ "$(normalise "$clean")" != "$want" ]; then
			finish origin-mismatch "$dir is a clone of $clean but the spec asks for $url; nothing was changed: fix the repository URL in the spec, or move the directory aside on the volume, or run git remote set-url origin $url if it is the same repository, then restart" 1
		fi
		# A clone made with a token in its URL keeps that token in
		# .git/config (origin, its push URL, other remotes); credentials
		# now come from the helper.
		n=$(clean_remotes "$dir/.git/config") ||
			finish failed "cannot remove credentials from the remote URLs in $dir/.git/config" 1
		if [ "${n:-0}" -gt 0 ]; then
			finish present "$dir already holds $url; removed credentials embedded in $n remote URL(s) of .git/config" 0
		fi
		finish present "$dir already holds $url; left untouched" 0
	fi
	# An empty directory holds nothing to lose; rmdir refuses anything else.
	if ! [ -d "$dir" ] || [ -L "$dir" ] || ! rmdir "$dir" 2>/dev/null; then
		finish not-a-repo "$dir exists but is not a git repository; nothing was changed: move or delete it on the volume (for example from a debug pod that mounts the PVC) or choose another directory in the spec, then restart" 1
	fi
fi

trap 'on_signal SIGTERM' TERM
trap 'on_signal SIGINT' INT
trap 'on_signal SIGHUP' HUP
trap cleanup EXIT

notoken=""
if [ -z "$tokenfile" ] || ! [ -s "$tokenfile" ]; then
	notoken=" (no token: ${tokenfile:-OCW_GIT_TOKEN_FILE} is missing or empty)"
fi

mkdir -p "$(dirname "$dir")" || finish failed "cannot create $(dirname "$dir")" 1

n=1
delay=$backoff
while :; do
	tmp=$(mktemp -d "$state/clone.XXXXXX" 2>"$scratch/mktemp-err") || {
		why=$(head -n 1 "$scratch/mktemp-err")
		case "$why" in
		*"No space"* | *"Disk quota"*) finish failed "no space left on the volume: cannot create a temp dir in $state to clone $url ($why); free space on the volume, then restart" 1 ;;
		esac
		finish failed "cannot create a temp dir in $state: $why" 1
	}
	set -- clone --quiet
	[ -n "$branch" ] && set -- "$@" --branch "$branch"
	[ -n "$filter" ] && set -- "$@" --filter="$filter"
	# Background + wait: a trapped SIGTERM interrupts wait at once, whereas
	# a foreground child would delay the trap until git finished.
	$group git "$@" -- "$url" "$tmp/repo" 2>"$scratch/clone-err" &
	child=$!
	wait "$child"
	rc=$?
	child=""
	if [ "$rc" -eq 0 ]; then
		if [ -e "$dir" ]; then
			finish failed "$dir appeared while cloning; nothing was changed" 1
		fi
		# The rename is the commit point; a signal after it must not report
		# the clone as interrupted.
		trap '' TERM INT HUP
		mv "$tmp/repo" "$dir" || finish failed "cannot move the clone into $dir" 1
		cleanup
		finish cloned "cloned $url into $dir${branch:+ (branch $branch)}${filter:+ (filter $filter)}" 0
	fi
	err=$(cat "$scratch/clone-err")
	printf '%s\n' "$err" >&2
	last=$(printf '%s\n' "$err" | grep -v '^[[:space:]]*$' | tail -n 1)
	rm -rf "$tmp"
	tmp=""
	case "$err" in
	*"Authentication failed"* | *"could not read Username"* | *"could not read Password"* | *"returned error: 401"* | *"returned error: 403"*)
		finish auth-failed "authentication failed for $url: check $hint$notoken" 1 ;;
	*"not found"* | *"returned error: 404"* | *"does not appear to be a git repository"*)
		case "$err" in
		*"Remote branch"*) finish failed "branch $branch does not exist in $url: fix the branch in the spec" 1 ;;
		esac
		finish not-found "repository $url not found: check the URL, and that the token in $hint can read it$notoken" 1 ;;
	*"No space left"* | *"Disk quota"*)
		finish failed "no space left on the volume while cloning $url ($last); free space on the volume or raise the PVC size, then restart" 1 ;;
	*"Could not resolve"* | *"Failed to connect"* | *"Connection refused"* | *"onnection reset"* | *"timed out"* | *"Timeout"* | *"returned error: 5"* | *"returned error: 429"* | *"RPC failed"* | *"early EOF"* | *"unexpected disconnect"* | *"remote end hung up"* | *"transfer closed"* | *"SSL"* | *"TLS"* | *"gnutls"* | *"too slow"* | *"curl "*)
		if [ "$n" -ge "$attempts" ]; then
			finish network "could not fetch $url after $n attempts: $last" 1
		fi ;;
	*)
		finish failed "git clone of $url failed: $last" 1 ;;
	esac
	printf 'ocw clone: attempt %s/%s failed (%s); retrying in %ss\n' "$n" "$attempts" "$last" "$delay" >&2
	sleep "$delay" &
	sleeper=$!
	wait "$sleeper"
	sleeper=""
	n=$((n + 1))
	delay=$((delay * 2))
done
