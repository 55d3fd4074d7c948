# shellcheck shell=bash
# Sourced by up.sh, gitops-up.sh and volsync-up.sh: starts processes with a PID file in
# ${R} and a log in ${L} (down.sh stops exactly those), and polls until
# something is ready. The caller sets R and L and defines say (its logger).

running() { [ -f "${R}/$1.pid" ] && kill -0 "$(cat "${R}/$1.pid")" 2>/dev/null; }

# start NAME CMD...: runs CMD in the background unless NAME already runs.
start() {
	local n=$1
	shift
	if running "${n}"; then say "${n} already running"; return 0; fi
	nohup "$@" >"${L}/${n}.log" 2>&1 &
	echo $! >"${R}/${n}.pid"
	say "started ${n} (pid $!)"
}

# waitfor WHAT CMD...: polls CMD every 0.5 s for up to 2 minutes; on a
# timeout prints the tail of WHAT's log, or of every log.
waitfor() {
	local what=$1
	shift
	for _ in $(seq 1 240); do
		if "$@" >/dev/null 2>&1; then say "${what} ready"; return 0; fi
		sleep 0.5
	done
	say "TIMEOUT waiting for ${what}; tail of logs:"
	if [ -f "${L}/${what}.log" ]; then
		tail -n 30 "${L}/${what}.log" >&2
	else
		tail -n 20 "${L}"/*.log >&2
	fi
	return 1
}

# moddir WRAPPER MODULE (the caller sets REPO_ROOT): the module's folder in the cache, at the version the
# wrapper (hack/tools/WRAPPER) or, for "-", ocw's own go.mod requires.
moddir() {
	local dir="${REPO_ROOT}"
	[ "$1" = - ] || dir="${REPO_ROOT}/hack/tools/$1"
	(cd "${dir}" && go mod download "$2" && go list -m -f '{{.Dir}}' "$2")
}
