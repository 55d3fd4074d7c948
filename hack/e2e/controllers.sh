#!/usr/bin/env bash
# Builds the controllers of the e2e tiers from Go modules: Flux
# source-controller and kustomize-controller, external-secrets (its built-in
# fake provider stands in for Doppler) and Traefik (the Gateway API
# implementation; Envoy is C++ and cannot be built here). Nothing can be
# downloaded but Go modules here, so they are compiled from the wrapper
# modules in hack/tools/flux, hack/tools/external-secrets and
# hack/tools/traefik (tidied with
# `go mod tidy -e`: plain tidy fails on test-only dependencies the module
# proxy refuses). Idempotent and cached (keyed by the wrapper's go.mod and
# go.sum); prints the folder holding the four binaries on stdout, nothing
# else.
#
# stakater Reloader is not built: the module proxy refuses every version of
# github.com/stakater/Reloader (see docs/gitops.md for what stands in).
#
#   hack/e2e/controllers.sh            build if needed, print the bin folder
#   hack/e2e/controllers.sh traefik    only these (binary names), the same
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE_ROOT="${OCW_CACHE:-${HOME}/.cache/ocw}/e2e"
BIN_DIR="${CACHE_ROOT}/controllers"
# wrapper=main package (the controllers' main packages are their module
# roots); the binary is named after the package's last element.
CONTROLLERS=(
	flux=github.com/fluxcd/source-controller
	flux=github.com/fluxcd/kustomize-controller
	external-secrets=github.com/external-secrets/external-secrets
	traefik=github.com/traefik/traefik/v3/cmd/traefik
)

export GOWORK=off CGO_ENABLED=0
log() { echo "e2e/controllers: $*" >&2; }

mkdir -p "${BIN_DIR}"
exec 9>"${CACHE_ROOT}/.controllers.lock"
command -v flock >/dev/null && flock 9

tmp=""
trap '[ -z "${tmp}" ] || rm -rf "${tmp}"' EXIT
trap 'exit 130' INT TERM
for c in "${CONTROLLERS[@]}"; do
	pkg="${c#*=}"
	name="${pkg##*/}"
	if [ $# -gt 0 ] && [[ " $* " != *" ${name} "* ]]; then
		continue
	fi
	src="${REPO_ROOT}/hack/tools/${c%%=*}"
	key="$(cat "${src}/go.mod" "${src}/go.sum" | sha256sum | cut -d' ' -f1)"
	if [ -x "${BIN_DIR}/${name}" ] && [ "$(cat "${BIN_DIR}/${name}.key" 2>/dev/null)" = "${key}" ]; then
		continue
	fi
	# A scratch copy: -mod=mod may add go.sum lines the build needs; the
	# committed module stays as it is.
	tmp="$(mktemp -d "${CACHE_ROOT}/.controllers.XXXXXX")"
	cp -R "${src}/." "${tmp}/"
	s=$(date +%s)
	log "building ${name} ($(cd "${src}" && go list -f '{{.Module.Version}}' "${pkg}"))"
	(cd "${tmp}" && go build -mod=mod -trimpath -ldflags "-s -w" -o "${tmp}/${name}" "${pkg}") >&2
	mv "${tmp}/${name}" "${BIN_DIR}/${name}"
	echo "${key}" >"${BIN_DIR}/${name}.key"
	rm -rf "${tmp}"
	tmp=""
	log "${name} built in $(($(date +%s) - s))s"
done
echo "${BIN_DIR}"
