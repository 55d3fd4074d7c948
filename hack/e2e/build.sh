#!/usr/bin/env bash
# Builds the node binaries for the real-node e2e tier (kubelet,
# kube-controller-manager, kube-scheduler) from Go modules, reusing
# kube-apiserver, kubectl and etcd from hack/envtest-assets.sh, and installs
# the Debian packages the node needs (only when missing). Idempotent and
# cached; prints the folder holding all six binaries on stdout, nothing else.
#
#   hack/e2e/build.sh            build if needed, print the bin folder
set -euo pipefail

KUBE_VERSION=v1.36.3
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE_ROOT="${OCW_CACHE:-${HOME}/.cache/ocw}/e2e"
BIN_DIR="${CACHE_ROOT}/bin-${KUBE_VERSION}"
NODE_CMDS=(kubelet kube-controller-manager kube-scheduler)

export GOWORK=off CGO_ENABLED=0
log() { echo "e2e/build: $*" >&2; }

# Debian packages: the container runtime, CNI plugins and a static busybox
# (also the base of the images). Installed only when missing.
need=()
command -v containerd >/dev/null || need+=(containerd)
command -v runc >/dev/null || need+=(runc)
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
dpkg-query -W -f '${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' || need+=(busybox-static)
command -v openssl >/dev/null || need+=(openssl)
command -v git >/dev/null || need+=(git)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]}"
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

mkdir -p "${CACHE_ROOT}"
exec 9>"${CACHE_ROOT}/.build.lock"
command -v flock >/dev/null && flock 9

ok() { # binary: reports the expected version
	local out
	[ -x "$1" ] || return 1
	out="$("$1" --version 2>/dev/null)" || return 1
	[ "${out}" = "Kubernetes ${KUBE_VERSION}" ]
}

# kube-apiserver, kubectl, etcd: the envtest build (same versions).
ENVTEST="$("${REPO_ROOT}/hack/envtest-assets.sh")"
grep -q "^KUBE_VERSION=${KUBE_VERSION}$" "${REPO_ROOT}/hack/envtest-assets.sh" ||
	{ log "hack/envtest-assets.sh builds another Kubernetes version than ${KUBE_VERSION}"; exit 1; }
mkdir -p "${BIN_DIR}"
for b in kube-apiserver kubectl etcd; do
	ln -sf "${ENVTEST}/${b}" "${BIN_DIR}/${b}"
done

missing=()
for c in "${NODE_CMDS[@]}"; do ok "${BIN_DIR}/${c}" || missing+=("${c}"); done
if [ ${#missing[@]} -eq 0 ]; then
	echo "${BIN_DIR}"
	exit 0
fi

# A scratch copy of the envtest wrapper module, extended to the node commands.
tmp="$(mktemp -d "${CACHE_ROOT}/.build.XXXXXX")"
trap 'rm -rf "${tmp}"' EXIT
trap 'exit 130' INT TERM
cp -R "${REPO_ROOT}/hack/tools/kube/." "${tmp}/"
{
	echo '//go:build tools'
	echo
	echo 'package tools'
	echo
	echo 'import ('
	for c in kube-apiserver kubectl "${NODE_CMDS[@]}"; do echo "	_ \"k8s.io/kubernetes/cmd/${c}\""; done
	echo ')'
} >"${tmp}/tools.go"
cd "${tmp}"
log "resolving modules for ${missing[*]}"
go mod tidy -e >&2
build_date="$(go list -m -json k8s.io/kubernetes | sed -n 's/^[[:space:]]*"Time": "\(.*\)",\{0,1\}$/\1/p')"
minor="${KUBE_VERSION#v1.}"
minor="${minor%%.*}"
ldflags="-s -w"
for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
	ldflags+=" -X ${pkg}.gitVersion=${KUBE_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor}"
	ldflags+=" -X ${pkg}.buildDate=${build_date} -X ${pkg}.gitTreeState=clean"
done
for c in "${missing[@]}"; do
	s=$(date +%s)
	log "building ${c} ${KUBE_VERSION}"
	go build -mod=mod -trimpath -ldflags "${ldflags}" -o "${tmp}/${c}" "k8s.io/kubernetes/cmd/${c}" >&2
	ok "${tmp}/${c}" || { log "${c} does not report ${KUBE_VERSION}"; exit 1; }
	mv "${tmp}/${c}" "${BIN_DIR}/${c}"
	log "${c} built in $(($(date +%s) - s))s"
done
echo "${BIN_DIR}"
