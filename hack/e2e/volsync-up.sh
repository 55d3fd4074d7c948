#!/usr/bin/env bash
# Adds VolSync to the node of hack/e2e/up.sh: the snapshot and VolSync CRDs
# (from the Go module cache, at the versions ocw and the manager are built
# with), the VolSync manager v0.14.0 as a host process with the admin
# kubeconfig (like the Flux controllers of gitops-up.sh) using the restic
# mover image of images.sh, and a restic REST server as the backup
# repository, listening on the bridge address only (pods reach it, nothing
# outside the machine) with basic authentication.
#
# The REST server's user and a random password are written to
# WORK/volsync/rest-credentials (mode 0600, lines USER=, PASSWORD=, URL=);
# only its {SHA} hash goes to the server's htpasswd file. Nothing secret is
# printed or passed in argv.
#
# PID files go to WORK/run like up.sh's, so hack/e2e/down.sh stops them.
#
#   hack/e2e/volsync-up.sh [WORK_ROOT]
#
# Environment: OCW_E2E_PORT_BASE (17000: +70 REST server on the bridge,
# +71/+72 manager metrics/health on loopback).
# Prints REST_CREDENTIALS=<file> and MOVER_IMAGE=<image>.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
W="${1:-${OCW_E2E_ROOT:-${OCW_CACHE:-${HOME}/.cache/ocw}/e2e}}"
PB=${OCW_E2E_PORT_BASE:-17000}
GW="${OCW_E2E_SUBNET_PREFIX:-10.245.0}.1"
L="${W}/log" R="${W}/run" V="${W}/var"
export KUBECONFIG="${W}/pki/admin.kubeconfig"
MOVER_IMAGE=ocw.test/volsync-mover-restic:v0.14.0-restic0.18.1
log() { echo "e2e/volsync-up: $*" >&2; }

[ -f "${KUBECONFIG}" ] || { log "no cluster under ${W}: run hack/e2e/up.sh first"; exit 1; }
K="$("${REPO_ROOT}/hack/e2e/build.sh")/kubectl"
B="$("${REPO_ROOT}/hack/e2e/volsync.sh")"
export GOWORK=off

say() { log "$@"; }
# shellcheck source=hack/e2e/lib.sh
. "${REPO_ROOT}/hack/e2e/lib.sh"

vs="$(moddir - github.com/backube/volsync)"
# VolSync watches VolumeSnapshots (its copy methods Snapshot and Clone):
# without their CRDs the manager does not start.
for d in "${vs}/hack/crds" "${vs}/config/crd/bases"; do
	args=()
	for f in "${d}"/*.yaml; do [ "$(basename "${f}")" = kustomization.yaml ] || args+=(-f "${f}"); done
	"${K}" apply --server-side --force-conflicts "${args[@]}" >/dev/null
done
"${K}" wait --for=condition=Established crd --all --timeout=120s >/dev/null
"${K}" create namespace volsync-system --dry-run=client -o yaml | "${K}" apply -f - >/dev/null
log "CRDs installed"

# The repository server's credentials: made once per cluster state.
C="${V}/volsync"
mkdir -p "${C}/repos"
if [ ! -s "${C}/rest-credentials" ]; then
	umask 077
	pw="$(head -c 24 /dev/urandom | openssl base64 | tr -d '/+=\n')"
	printf 'ocw-e2e:{SHA}%s\n' "$(printf '%s' "${pw}" | openssl dgst -sha1 -binary | openssl base64)" >"${C}/htpasswd"
	printf 'USER=ocw-e2e\nPASSWORD=%s\nURL=http://%s:%s\n' "${pw}" "${GW}" "$((PB + 70))" >"${C}/rest-credentials.tmp"
	mv "${C}/rest-credentials.tmp" "${C}/rest-credentials"
	umask 022
fi

start rest-server "${B}/rest-server" --path="${C}/repos" --htpasswd-file="${C}/htpasswd" \
	--listen="${GW}:$((PB + 70))"
start volsync env VOLSYNC_NAMESPACE=volsync-system "${B}/manager" --kubeconfig="${KUBECONFIG}" \
	--restic-container-image="${MOVER_IMAGE}" --metrics-bind-address="127.0.0.1:$((PB + 71))" \
	--health-probe-bind-address="127.0.0.1:$((PB + 72))" --leader-elect=false
# 401 without credentials: the server is up and refuses strangers.
waitfor rest-server sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://${GW}:$((PB + 70))/)\" = 401 ]"
waitfor volsync curl -sf "http://127.0.0.1:$((PB + 72))/readyz"
log "VolSync and the REST server ready"
echo "REST_CREDENTIALS=${C}/rest-credentials"
echo "MOVER_IMAGE=${MOVER_IMAGE}"
