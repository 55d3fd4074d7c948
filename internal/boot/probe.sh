#!/bin/sh
# ocw health probe (exec probe in the OpenCode image: alpine busybox).
# Passes only when GET /global/health on 127.0.0.1 is refused without
# credentials (401: the server is password-protected; this also catches an
# image that ignores OPENCODE_SERVER_PASSWORD) and answers HTTP 200 with
# "healthy":true with basic auth. A hung server keeps its port open, so a
# TCP check is not enough. The password must never reach argv: the request
# is built with the builtin printf, base64 reads stdin, and nc gets it
# through a pipe. Each request is bounded by timeout in case the server
# accepts and never answers.
set -u
user="${OPENCODE_SERVER_USERNAME:-opencode}"
port="${OCW_PORT:-4096}"
limit="${OCW_PROBE_TIMEOUT:-4}"

# get [CREDENTIALS]: the raw response to GET /global/health, with basic
# auth when CREDENTIALS (base64, so safe inside the format) is given.
get() {
	auth=""
	[ -n "${1:-}" ] && auth="Authorization: Basic $1\r\n"
	# shellcheck disable=SC2059 # the format carries the header on purpose
	printf "GET /global/health HTTP/1.1\r\nHost: 127.0.0.1:%s\r\n${auth}Accept: application/json\r\nConnection: close\r\n\r\n" "$port" |
		timeout "$limit" nc 127.0.0.1 "$port" 2>/dev/null
}
status_of() { printf '%s\n' "$1" | head -n 1 | tr -d '\r'; }

status=$(status_of "$(get)")
case "$status" in
"HTTP/1."[01]" 401"*) ;;
"") echo "ocw probe: no HTTP answer from 127.0.0.1:$port within ${limit}s" >&2; exit 1 ;;
"HTTP/1."[01]" 2"*) echo "ocw probe: /global/health answered without credentials ($status): the server is not password-protected" >&2; exit 1 ;;
*) echo "ocw probe: /global/health without credentials answered $status, want 401" >&2; exit 1 ;;
esac

cred=$(printf '%s:%s' "$user" "${OPENCODE_SERVER_PASSWORD:-}" | base64 | tr -d '\n')
resp=$(get "$cred")
status=$(status_of "$resp")
case "$status" in
"HTTP/1."[01]" 200"*) ;;
"") echo "ocw probe: no HTTP answer from 127.0.0.1:$port within ${limit}s" >&2; exit 1 ;;
*) echo "ocw probe: /global/health answered: $status" >&2; exit 1 ;;
esac
case "$resp" in
*'"healthy":true'*) exit 0 ;;
esac
echo "ocw probe: /global/health did not report healthy" >&2
exit 1
