#!/usr/bin/env bash
# Assembles the images the rendered manifests use as OCI image-layout
# tarballs, from Debian's binaries (no registry needed), under the exact names
# of the spec defaults:
#   docker.io/alpine/git:v2.49.1         busybox sh + Debian's git and its libraries
#   docker.io/library/busybox:1.37.0     Debian's busybox-static with applet links
#   ghcr.io/anomalyco/opencode:1.18.33   the pinned npm OpenCode + git + busybox
#   registry.k8s.io/pause:3.10           a tiny static Go program (hack/e2e/pause)
#   ocw.test/volsync-mover-restic:v0.14.0-restic0.18.1
#                                        VolSync's restic mover: its entry.sh with
#                                        Debian's bash, coreutils, grep and awk, and
#                                        restic built static (hack/e2e/volsync.sh).
#                                        Tagged, never latest: VolSync sets no pull
#                                        policy, and latest would mean Always.
# Prints the folder holding the tarballs (one per image) on stdout. Cached:
# rebuilt only when this script, the pause source or the inputs change.
#
#   hack/e2e/images.sh [WORK_ROOT]   (default ${OCW_CACHE:-$HOME/.cache/ocw}/e2e)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORK="${1:-${OCW_E2E_ROOT:-${OCW_CACHE:-${HOME}/.cache/ocw}/e2e}}"
OUT="${WORK}/images"
log() { echo "e2e/images: $*" >&2; }

IMG_GIT=docker.io/alpine/git:v2.49.1
IMG_BUSYBOX=docker.io/library/busybox:1.37.0
IMG_OPENCODE=ghcr.io/anomalyco/opencode:1.18.33
IMG_PAUSE=registry.k8s.io/pause:3.10
IMG_MOVER=ocw.test/volsync-mover-restic:v0.14.0-restic0.18.1

OPENCODE="$(readlink -f "$("${REPO_ROOT}/hack/opencode.sh")")"
[ -x /bin/busybox ] || { log "/bin/busybox missing (apt-get install busybox-static)"; exit 1; }
command -v git >/dev/null || { log "git missing (apt-get install git)"; exit 1; }
RESTIC="$("${REPO_ROOT}/hack/e2e/volsync.sh")/restic"
ENTRY="$(cd "${REPO_ROOT}" && GOWORK=off go list -m -f '{{.Dir}}' github.com/backube/volsync)/mover-restic/entry.sh"

key="$( {
	cat "${REPO_ROOT}/hack/e2e/images.sh" "${REPO_ROOT}/hack/e2e/pause/main.go"
	dpkg-query -W busybox-static git bash coreutils grep mawk 2>/dev/null || true
	stat -c '%s %Y' "${OPENCODE}" "${RESTIC}"
	cat "${ENTRY}"
} | sha256sum | cut -d' ' -f1)"
if [ -f "${OUT}/key" ] && [ "$(cat "${OUT}/key")" = "${key}" ]; then
	echo "${OUT}"
	exit 0
fi

mkdir -p "${WORK}"
tmp="$(mktemp -d "${WORK}/.images.XXXXXX")"
trap 'rm -rf "${tmp}"' EXIT
trap 'exit 130' INT TERM
mkdir -p "${tmp}/out"

# mkimage NAME ROOTFS OUT.tar ENTRYPOINT_JSON CMD_JSON: one uncompressed layer,
# hand-written config/manifest/index; the name is the containerd annotation.
mkimage() {
	local name=$1 root=$2 out=$3 ep=$4 cmd=$5 w
	w="$(mktemp -d "${tmp}/oci.XXXXXX")"
	mkdir -p "${w}/blobs/sha256"
	tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "${root}" -cf "${w}/layer" .
	local l ls c cs m ms
	l="$(sha256sum "${w}/layer" | cut -d' ' -f1)"
	ls="$(stat -c %s "${w}/layer")"
	mv "${w}/layer" "${w}/blobs/sha256/${l}"
	printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Entrypoint":%s,"Cmd":%s,"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
		"${ep}" "${cmd}" "${l}" >"${w}/config"
	c="$(sha256sum "${w}/config" | cut -d' ' -f1)"
	cs="$(stat -c %s "${w}/config")"
	mv "${w}/config" "${w}/blobs/sha256/${c}"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
		"${c}" "${cs}" "${l}" "${ls}" >"${w}/manifest"
	m="$(sha256sum "${w}/manifest" | cut -d' ' -f1)"
	ms="$(stat -c %s "${w}/manifest")"
	mv "${w}/manifest" "${w}/blobs/sha256/${m}"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
		"${m}" "${ms}" "${name}" "${name##*:}" >"${w}/index.json"
	echo '{"imageLayoutVersion":"1.0.0"}' >"${w}/oci-layout"
	tar --owner=0 --group=0 -C "${w}" -cf "${out}" oci-layout index.json blobs
	rm -rf "${w}"
	log "${name}: $(du -h "${out}" | cut -f1)"
}

# base ROOT: busybox-static with applet links, /etc/passwd with the workspace
# user (uid/gid 1000), a sticky /tmp.
base() {
	local r=$1 a
	mkdir -p "${r}"/{bin,usr/bin,etc,tmp,proc,sys,dev,root,home}
	cp /bin/busybox "${r}/bin/busybox"
	for a in $(/bin/busybox --list); do
		[ "${a}" = busybox ] || [ -e "${r}/bin/${a}" ] || ln -s busybox "${r}/bin/${a}"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"${r}/etc/passwd"
	printf 'root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n' >"${r}/etc/group"
	chmod 1777 "${r}/tmp"
}

# libs ROOT FILE...: copies the shared libraries the ELF files need (and the
# dynamic loader), keeping their paths.
libs() {
	local r=$1 f lib
	shift
	for f in "$@"; do
		# ldd fails on static binaries and scripts: nothing to copy then.
		ldd "${f}" 2>/dev/null | grep -o '/[^ ]*' || true
	done | sort -u | while read -r lib; do
		[ -e "${r}${lib}" ] && continue
		mkdir -p "${r}$(dirname "${lib}")"
		cp -L "${lib}" "${r}${lib}"
	done
}

# addgit ROOT: Debian's git, its helpers (remote-http(s) included), templates
# and libraries. Busybox's applets stay in /bin; git goes to /usr/bin.
addgit() {
	local r=$1
	mkdir -p "${r}/usr/lib" "${r}/usr/share"
	cp /usr/bin/git "${r}/usr/bin/git"
	cp -a /usr/lib/git-core "${r}/usr/lib/"
	[ -d /usr/share/git-core ] && cp -a /usr/share/git-core "${r}/usr/share/"
	local helpers
	mapfile -t helpers < <(find /usr/lib/git-core -maxdepth 1 -type f -perm -u+x)
	libs "${r}" /usr/bin/git "${helpers[@]}"
}

log "building pause"
(cd "${REPO_ROOT}" && GOWORK=off CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "${tmp}/pause" ./hack/e2e/pause)
mkdir -p "${tmp}/r-pause"
cp "${tmp}/pause" "${tmp}/r-pause/pause"
mkimage "${IMG_PAUSE}" "${tmp}/r-pause" "${tmp}/out/pause.tar" '["/pause"]' null

base "${tmp}/r-busybox"
mkimage "${IMG_BUSYBOX}" "${tmp}/r-busybox" "${tmp}/out/busybox.tar" null '["sh"]'

base "${tmp}/r-git"
addgit "${tmp}/r-git"
mkimage "${IMG_GIT}" "${tmp}/r-git" "${tmp}/out/git.tar" '["git"]' null

base "${tmp}/r-opencode"
addgit "${tmp}/r-opencode"
cp "${OPENCODE}" "${tmp}/r-opencode/usr/bin/opencode"
libs "${tmp}/r-opencode" "${OPENCODE}"
# The terminal: OpenCode writes bun-pty's native library to /tmp and loads
# it; besides what the binary needs, it links libutil (openpty).
# (awk reads all of ldconfig's output: exiting early would kill ldconfig
# with SIGPIPE, which pipefail turns into a failure.)
libutil="$(ldconfig -p | awk '$1 == "libutil.so.1" && /x86-64/ && !n++ {print $NF}')"
[ -n "${libutil}" ] || { log "libutil.so.1 not found (ldconfig -p)"; exit 1; }
mkdir -p "${tmp}/r-opencode$(dirname "${libutil}")"
cp -L "${libutil}" "${tmp}/r-opencode${libutil}"
mkimage "${IMG_OPENCODE}" "${tmp}/r-opencode" "${tmp}/out/opencode.tar" '["opencode"]' null

# The mover: GNU tools, not busybox (entry.sh uses ls --ignore, date
# --date, sync -f, timeout); /bin is /usr/bin as on Debian, for its
# #!/bin/bash.
r="${tmp}/r-mover"
mkdir -p "${r}"/{usr/bin,usr/local/bin,etc,tmp,proc,sys,dev,mover-restic}
ln -s usr/bin "${r}/bin"
printf 'root:x:0:0:root:/root:/bin/bash\nuser:x:1000:1000:user:/tmp:/bin/bash\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"${r}/etc/passwd"
printf 'root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n' >"${r}/etc/group"
chmod 1777 "${r}/tmp"
tools=("$(command -v bash)" "$(command -v grep)" "$(readlink -f "$(command -v awk)")")
mapfile -t -O ${#tools[@]} tools < <(dpkg -L coreutils | grep -E '/s?bin/[^/]+$' | while read -r f; do [ -f "${f}" ] && [ -x "${f}" ] && echo "${f}"; done)
for f in "${tools[@]}"; do cp -L "${f}" "${r}/usr/bin/$(basename "${f}")"; done
ln -sf "$(basename "${tools[2]}")" "${r}/usr/bin/awk"
libs "${r}" "${tools[@]}"
cp "${RESTIC}" "${r}/usr/local/bin/restic"
install -m 0755 "${ENTRY}" "${r}/mover-restic/entry.sh"
mkimage "${IMG_MOVER}" "${r}" "${tmp}/out/volsync-mover.tar" '["/mover-restic/entry.sh"]' null

echo "${key}" >"${tmp}/out/key"
rm -rf "${OUT}"
mv "${tmp}/out" "${OUT}"
echo "${OUT}"
