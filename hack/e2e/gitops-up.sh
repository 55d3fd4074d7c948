#!/usr/bin/env bash
# Adds the GitOps controllers to the node of hack/e2e/up.sh: installs the CRDs
# (Flux source and kustomize, external-secrets, Gateway API, VolSync, all from
# the Go module cache at the versions the binaries and ocw are built with) and
# starts Flux source-controller, kustomize-controller and external-secrets as
# host processes with the admin kubeconfig.
#
# Processes, not pods: the node has no kube-proxy and no cluster DNS, so a pod
# could reach neither the API server's Service nor source-controller's
# artifact server; on the host every controller talks over loopback, exactly
# as it would through those Services. The controllers' code is the same.
#
# PID files go to WORK/run like up.sh's, so hack/e2e/down.sh stops them.
#
#   hack/e2e/gitops-up.sh [WORK_ROOT]
#
# Environment: OCW_E2E_PORT_BASE (17000: controllers use +60 to +69).
# Prints ARTIFACTS=<source-controller storage URL> and CONTROLLERS=<bin dir>.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
W="${1:-${OCW_E2E_ROOT:-${OCW_CACHE:-${HOME}/.cache/ocw}/e2e}}"
PB=${OCW_E2E_PORT_BASE:-17000}
L="${W}/log" R="${W}/run" V="${W}/var"
export KUBECONFIG="${W}/pki/admin.kubeconfig"
log() { echo "e2e/gitops-up: $*" >&2; }

[ -f "${KUBECONFIG}" ] || { log "no cluster under ${W}: run hack/e2e/up.sh first"; exit 1; }
K="$("${REPO_ROOT}/hack/e2e/build.sh")/kubectl"
B="$("${REPO_ROOT}/hack/e2e/controllers.sh")"
export GOWORK=off

say() { log "$@"; }
# shellcheck source=hack/e2e/lib.sh
. "${REPO_ROOT}/hack/e2e/lib.sh"

crds=(
	"$(moddir flux github.com/fluxcd/source-controller)/config/crd/bases"
	"$(moddir flux github.com/fluxcd/kustomize-controller)/config/crd/bases"
	"$(moddir external-secrets github.com/external-secrets/external-secrets)/config/crds/bases"
	"$(moddir - sigs.k8s.io/gateway-api)/config/crd/standard"
	"$(moddir - github.com/backube/volsync)/config/crd/bases"
)
for d in "${crds[@]}"; do
	# Every manifest but the folder's own kustomization.yaml.
	args=()
	for f in "${d}"/*.yaml; do [ "$(basename "${f}")" = kustomization.yaml ] || args+=(-f "${f}"); done
	"${K}" apply --server-side --force-conflicts "${args[@]}" >/dev/null
done
"${K}" wait --for=condition=Established crd --all --timeout=120s >/dev/null
log "CRDs installed"
"${K}" create namespace flux-system --dry-run=client -o yaml | "${K}" apply -f - >/dev/null

mkdir -p "${V}/flux-artifacts"
start source-controller env RUNTIME_NAMESPACE=flux-system "${B}/source-controller" \
	--storage-path="${V}/flux-artifacts" --storage-addr="127.0.0.1:$((PB + 60))" \
	--storage-adv-addr="127.0.0.1:$((PB + 60))" --metrics-addr="127.0.0.1:$((PB + 61))" \
	--health-addr="127.0.0.1:$((PB + 62))" --enable-leader-election=false --log-level=info
# --requeue-dependency: how soon a Kustomization re-checks a dependency that
# was not ready (30 s by default); shorter here so the scenario runs faster.
start kustomize-controller env RUNTIME_NAMESPACE=flux-system "${B}/kustomize-controller" \
	--metrics-addr="127.0.0.1:$((PB + 63))" --health-addr="127.0.0.1:$((PB + 64))" \
	--enable-leader-election=false --requeue-dependency=5s --no-remote-bases=true --log-level=info
# --concurrent=1 (the default) matters: the fake provider keeps its entries
# in a map without a lock, and two ExternalSecret workers calling it at once
# kill the process ("fatal error: concurrent map writes", seen here with 2).
# Doppler's provider has no such state.
start external-secrets "${B}/external-secrets" --metrics-addr="127.0.0.1:$((PB + 65))" \
	--enable-leader-election=false --concurrent=1 --loglevel=info
waitfor source-controller curl -sf "http://127.0.0.1:$((PB + 62))/readyz"
waitfor kustomize-controller curl -sf "http://127.0.0.1:$((PB + 64))/readyz"
waitfor external-secrets curl -sf "http://127.0.0.1:$((PB + 65))/metrics"
log "controllers ready"
echo "ARTIFACTS=http://127.0.0.1:$((PB + 60))"
echo "CONTROLLERS=${B}"
