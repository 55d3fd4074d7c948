#!/usr/bin/env bash
# Builds what the real-node backup scenario needs from Go modules: the VolSync
# manager (v0.14.0), restic (v0.18.1, static: the restic mover image runs it)
# and restic's rest-server (v0.14.0, the backup repository on the node).
# Each is built inside a copy of its own module at an exact version (the
# module proxy refuses version lists, and `go install` of VolSync fails on its
# deprecation lookup), so no wrapper module is needed. Idempotent and cached
# (keyed by module and version); prints the folder holding the three binaries
# on stdout, nothing else.
#
#   hack/e2e/volsync.sh     build if needed, print the bin folder
set -euo pipefail

CACHE_ROOT="${OCW_CACHE:-${HOME}/.cache/ocw}/e2e"
BIN_DIR="${CACHE_ROOT}/volsync"
# binary=module@version=main package inside the module (=extra ldflags)
BUILDS=(
	"manager=github.com/backube/volsync@v0.14.0=./cmd=-X=main.volsyncVersion=v0.14.0"
	"restic=github.com/restic/restic@v0.18.1=./cmd/restic="
	"rest-server=github.com/restic/rest-server@v0.14.0=./cmd/rest-server="
)

export GOWORK=off CGO_ENABLED=0 GOFLAGS=-mod=mod
log() { echo "e2e/volsync: $*" >&2; }

mkdir -p "${BIN_DIR}"
exec 9>"${CACHE_ROOT}/.volsync.lock"
command -v flock >/dev/null && flock 9

tmp=""
trap '[ -z "${tmp}" ] || rm -rf "${tmp}"' EXIT
trap 'exit 130' INT TERM
for b in "${BUILDS[@]}"; do
	IFS='=' read -r name mod pkg ldx <<<"${b}"
	if [ -x "${BIN_DIR}/${name}" ] && [ "$(cat "${BIN_DIR}/${name}.key" 2>/dev/null)" = "${b}" ]; then
		continue
	fi
	s=$(date +%s)
	log "building ${name} (${mod})"
	dir="$(go mod download -json "${mod}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
	[ -d "${dir}" ] || { log "go mod download ${mod} gave no folder"; exit 1; }
	# The module cache is read-only, and the build may add go.sum lines.
	tmp="$(mktemp -d "${CACHE_ROOT}/.volsync.XXXXXX")"
	cp -R "${dir}/." "${tmp}/"
	chmod -R u+w "${tmp}"
	(cd "${tmp}" && go build -trimpath -ldflags "-s -w ${ldx}" -o "${tmp}/${name}.bin" "${pkg}") >&2
	mv "${tmp}/${name}.bin" "${BIN_DIR}/${name}"
	echo "${b}" >"${BIN_DIR}/${name}.key"
	rm -rf "${tmp}"
	tmp=""
	log "${name} built in $(($(date +%s) - s))s"
done
echo "${BIN_DIR}"
