#!/bin/sh
# ocw health probe (exec probe in the OpenCode image: alpine busybox).
# Passes only on HTTP 200 with "healthy":true from GET /global/health on
# 127.0.0.1 with basic auth. A hung server keeps its port open, so a TCP check
# is not enough. The password must never reach argv: the request is built with
# the builtin printf, base64 reads stdin, and nc gets it through a pipe.
# Bounded by timeout in case the server accepts and never answers.
set -u
user="${OPENCODE_SERVER_USERNAME:-opencode}"
port="${OCW_PORT:-4096}"
limit="${OCW_PROBE_TIMEOUT:-4}"

cred=$(printf '%s:%s' "$user" "${OPENCODE_SERVER_PASSWORD:-}" | base64 | tr -d '\n')
resp=$(printf 'GET /global/health HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nAuthorization: Basic %s\r\nAccept: application/json\r\nConnection: close\r\n\r\n' "$port" "$cred" |
	timeout "$limit" nc 127.0.0.1 "$port" 2>/dev/null)
status=$(printf '%s\n' "$resp" | head -n 1 | tr -d '\r')
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
