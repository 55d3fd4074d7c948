#!/bin/sh
# ocw seed-auth step (init container, busybox sh): copies OpenCode's
# auth.json from the Secret onto the volume when the Secret is new or changed
# since the last seeding. Contract and rationale: internal/boot/boot.go.
set -u
umask 077

src="${OCW_AUTH_SOURCE:-}"
dest="${OCW_AUTH_DEST:-}"
hint="${OCW_AUTH_SECRET_HINT:-the Copilot auth Secret}"
termlog="${OCW_TERMINATION_LOG:-}"
record="$dest.ocw-seeded"

# finish CODE MESSAGE EXIT
finish() {
	if [ -n "$termlog" ]; then
		printf '%s: %s\n' "$1" "$2" >"$termlog" 2>/dev/null || :
	fi
	printf 'ocw seed-auth: %s: %s\n' "$1" "$2"
	exit "$3"
}

[ -n "$dest" ] || finish failed "OCW_AUTH_DEST is not set" 1

if [ -e "$dest" ]; then
	kept="kept the existing $dest"
else
	kept="no auth.json on the volume"
fi

# A missing Secret is not fatal: the workspace starts without Copilot, and a
# login made later (UI or Secret + restart) still works.
if [ -z "$src" ] || ! [ -f "$src" ]; then
	finish missing "$hint is missing; the workspace starts without GitHub Copilot ($kept)" 0
fi
# Read once and derive everything from these bytes, so the hash recorded is
# the hash of what was written even if the Secret rotates meanwhile. The
# content stays in memory and pipes (builtin printf), never in argv.
content=$(cat "$src" && printf x) || finish failed "cannot read $src" 1
content=${content%x}
compact=$(printf '%s' "$content" | tr -d ' \t\r\n')
case "$compact" in
'') finish missing "$hint is empty; the workspace starts without GitHub Copilot ($kept)" 0 ;;
'{'*'}') ;;
*) finish invalid "$hint is not a JSON object; nothing seeded, the workspace starts with what it had ($kept)" 0 ;;
esac

hash=$(printf '%s' "$content" | sha256sum) || finish failed "cannot hash $src" 1
hash=${hash%% *}

if [ -f "$dest" ] && [ -f "$record" ]; then
	recorded=""
	IFS= read -r recorded <"$record" || :
	if [ "$recorded" = "$hash" ]; then
		finish unchanged "$hint unchanged since it was last seeded; left $dest as it is" 0
	fi
	why="$hint changed since the last seeding"
elif [ -e "$dest" ]; then
	why="$dest was not seeded by ocw before"
else
	why="first seeding"
fi

# full ERROR_TEXT: whether a write failed because the volume is full.
full() {
	case "$1" in
	*"No space"* | *"Disk quota"*) return 0 ;;
	esac
	return 1
}

# nospace ERROR_TEXT: stop trying and start anyway when the volume is full.
# The workspace is where the user frees space, so it must not crash-loop.
nospace() {
	full "$1" || return 0
	rm -f "$dest.ocw-tmp" "$record.tmp" 2>/dev/null
	if [ -f "$dest" ]; then
		finish kept "no space left on the volume: could not write the login from $hint to $dest ($why); kept the previous auth.json; free space on the volume, then restart the pod" 0
	fi
	finish no-space "no space left on the volume: could not write the login from $hint to $dest ($why); the workspace starts without GitHub Copilot; free space on the volume, then restart the pod" 0
}

parent=$(dirname "$dest")
err=$(mkdir -p "$parent" 2>&1) || { nospace "$err"; finish failed "cannot create $parent: $err" 1; }
# Temp file + rename: OpenCode never sees a half-written auth.json, and a
# kill between the two renames only makes the next start seed again. The
# content goes through the builtin printf and a pipe, never argv; cat does
# the writing because it reports a failed write (the builtin says nothing).
if ! err=$({ printf '%s' "$content" | cat >"$dest.ocw-tmp" && chmod 600 "$dest.ocw-tmp" && mv -f "$dest.ocw-tmp" "$dest"; } 2>&1); then
	rm -f "$dest.ocw-tmp"
	nospace "$err"
	finish failed "cannot write $dest: $err" 1
fi
if ! err=$({ printf '%s\n' "$hash" | cat >"$record.tmp" && mv -f "$record.tmp" "$record"; } 2>&1); then
	rm -f "$record.tmp"
	# auth.json is the new login already; without the record the next
	# start only seeds it again.
	if full "$err"; then
		finish seeded "copied $hint to $dest ($why); no space left on the volume to record it, so the next start copies it again" 0
	fi
	finish failed "cannot write $record: $err" 1
fi
finish seeded "copied $hint to $dest ($why)" 0
