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

parent=$(dirname "$dest")
mkdir -p "$parent" || finish failed "cannot create $parent" 1
# Temp file + rename: OpenCode never sees a half-written auth.json, and a
# kill between the two renames only makes the next start seed again.
if ! { printf '%s' "$content" >"$dest.ocw-tmp" && chmod 600 "$dest.ocw-tmp" && mv -f "$dest.ocw-tmp" "$dest"; }; then
	rm -f "$dest.ocw-tmp"
	finish failed "cannot write $dest" 1
fi
if ! { printf '%s\n' "$hash" >"$record.tmp" && mv -f "$record.tmp" "$record"; }; then
	rm -f "$record.tmp"
	finish failed "cannot write $record" 1
fi
finish seeded "copied $hint to $dest ($why)" 0
