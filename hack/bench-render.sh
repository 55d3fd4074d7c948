#!/usr/bin/env bash
# Whole-process render benchmark: `ocw render` of N workspaces (default
# 1000) into a fresh folder, a re-render (nothing changes) and --check,
# each against a peer measured in the same run: `cp -r` of the same tree,
# the least any program pays to create those files on this disk.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
n=${1:-1000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/ocw" ./cmd/ocw
{
	printf 'apiVersion: ocw.dev/v1alpha1\nkind: Workspaces\ndomain: example.com\nsecrets: {mode: doppler}\nworkspaces:\n'
	for i in $(seq 0 $((n - 1))); do printf '  - name: ws%d\n    repo: https://github.com/o/r%d.git\n' "$i" "$i"; done
} >"$work/ws.yaml"

secs() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc; }
best() { # best of 3, fresh target each time
	local b=999 t
	for _ in 1 2 3; do rm -rf "$work/out" "$work/copy"; sync; t=$("$@"); b=$(echo "if ($t < $b) $t else $b" | bc); done
	echo "$b"
}
render_fresh() { secs "$work/ocw" render -f "$work/ws.yaml" -d "$work/out"; }
copy_fresh() { "$work/ocw" render -f "$work/ws.yaml" -d "$work/out" 2>/dev/null; sync; secs cp -r "$work/out" "$work/copy"; }

r=$(best render_fresh)
c=$(best copy_fresh)
"$work/ocw" render -f "$work/ws.yaml" -d "$work/out" 2>/dev/null
rr=$(secs "$work/ocw" render -f "$work/ws.yaml" -d "$work/out")
ck=$(secs "$work/ocw" render -f "$work/ws.yaml" -d "$work/out" --check)
files=$(find "$work/out" -type f | wc -l)
printf 'workspaces=%d files=%d\n' "$n" "$files"
printf 'render (fresh folder)   %6.2fs   peer cp -r %6.2fs   ratio %.2f\n' "$r" "$c" "$(echo "$r / $c" | bc -l)"
printf 're-render (no change)   %6.2fs\n' "$rr"
printf 'render --check          %6.2fs\n' "$ck"
