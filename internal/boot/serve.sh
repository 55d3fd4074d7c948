#!/bin/sh
# ocw serve step (main container, OpenCode image: busybox sh). Runs
# "$@" (opencode serve ...) as a child and stays PID 1 itself.
# Contract and rationale: internal/boot/boot.go.
set -u

termlog="${OCW_TERMINATION_LOG:-}"
hint="${OCW_SERVER_SECRET_HINT:-the server password Secret}"

# OpenCode 1.18 serves everything (a shell, the git token, the Copilot
# login) to anyone when OPENCODE_SERVER_PASSWORD is empty. Never start so;
# a blank value (a stray newline from a file or a store) counts as empty.
case "${OPENCODE_SERVER_PASSWORD:-}" in
*[![:space:]]*) ;;
*)
	msg="OPENCODE_SERVER_PASSWORD is empty ($hint): OpenCode would serve without a login, so it was not started; set a password (ocw secrets password, or the key in your secret store) and the pod starts on its next restart"
	if [ -n "$termlog" ]; then
		printf 'refused: %s\n' "$msg" >"$termlog" 2>/dev/null || :
	fi
	printf 'ocw serve: refused: %s\n' "$msg" >&2
	exit 1
	;;
esac
[ $# -gt 0 ] || {
	echo "ocw serve: no command to run" >&2
	exit 1
}

# As PID 1 of the container OpenCode ignores SIGTERM (the kernel drops
# signals PID 1 has no handler for), so every stop waited for the grace
# period and ended in SIGKILL. The shell handles TERM/INT and passes them
# on; OpenCode, not PID 1, stops within seconds.
child=""
guard=""
forward() {
	[ -n "$guard" ] && kill "-$1" "$guard" 2>/dev/null
	[ -n "$child" ] && kill "-$1" "$child" 2>/dev/null
}
trap 'forward TERM' TERM
trap 'forward INT' INT
trap 'forward HUP' HUP

# Scheduled backups copy the volume without ocw: the guard holds a read
# transaction on the session database around each scheduled time, in
# OpenCode's own Bun runtime. It reports its own failures on stderr; its
# end never ends OpenCode.
if [ -n "${OCW_BACKUP_GUARD:-}" ]; then
	OCW_MODE=guard BUN_BE_BUN=1 "$1" -e "$OCW_BACKUP_GUARD" &
	guard=$!
fi

"$@" &
child=$!
# wait returns early (status > 128) when a trapped signal arrives; keep
# waiting until the child is really gone (a zombie still answers kill -0).
while :; do
	wait "$child"
	rc=$?
	if ! kill -0 "$child" 2>/dev/null; then
		if [ -n "$guard" ]; then
			kill "$guard" 2>/dev/null
			wait "$guard"
		fi
		exit "$rc"
	fi
done
