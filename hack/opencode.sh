#!/usr/bin/env bash
# Installs the pinned OpenCode CLI from npm into a cache dir (idempotent) and
# prints the path of its binary on stdout, nothing else. Offline once installed.
set -euo pipefail

version=1.18.33
dir="${OCW_CACHE:-$HOME/.cache/ocw}/opencode-$version"
bin="$dir/node_modules/.bin/opencode"

if [ ! -x "$bin" ] || ! "$bin" --version 2>/dev/null | grep -qx "$version"; then
	command -v npm >/dev/null || { echo "opencode.sh: npm is required (apt-get install -y npm)" >&2; exit 1; }
	mkdir -p "$dir"
	# A private package.json keeps npm from walking up into an unrelated project.
	[ -f "$dir/package.json" ] || printf '{"name":"ocw-opencode","private":true}\n' >"$dir/package.json"
	npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "opencode-ai@$version" >&2
	"$bin" --version >/dev/null
fi
printf '%s\n' "$bin"
