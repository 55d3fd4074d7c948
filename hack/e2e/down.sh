#!/usr/bin/env bash
# Stops what hack/e2e/up.sh started, by PID file only: removes the pods'
# containers from the harness's own containerd, releases the pod network
# namespaces that containerd created, unmounts what is mounted under the
# working root. WIPE=1 also deletes the cluster state (etcd, PVs, logs) and
# the bridge up.sh created; the built binaries, images and containerd's
# image store (WORK/containerd-root) are kept.
#
#   hack/e2e/down.sh [WORK_ROOT]   (default ${OCW_CACHE:-$HOME/.cache/ocw}/e2e)
set -uo pipefail

W="${1:-${OCW_E2E_ROOT:-${OCW_CACHE:-${HOME}/.cache/ocw}/e2e}}"
R="${W}/run"
SOCK="${R}/containerd/containerd.sock"
CTR=(ctr -a "${SOCK}" -n k8s.io)

stop() { # name: SIGTERM, then SIGKILL after 10 s
	local f="${R}/$1.pid" pid
	[ -f "${f}" ] || return 0
	pid="$(cat "${f}")"
	if kill "${pid}" 2>/dev/null; then
		for _ in $(seq 1 20); do kill -0 "${pid}" 2>/dev/null || break; sleep 0.5; done
		kill -KILL "${pid}" 2>/dev/null
	fi
	rm -f "${f}"
}

for n in traefik volsync rest-server external-secrets kustomize-controller source-controller kubelet kube-scheduler kube-controller-manager kube-apiserver; do stop "${n}"; done
if [ -S "${SOCK}" ] && "${CTR[@]}" version >/dev/null 2>&1; then
	ids="$("${CTR[@]}" containers ls -q)"
	netns="$(for id in ${ids}; do "${CTR[@]}" containers info "${id}"; done 2>/dev/null |
		grep -o '/var/run/netns/cni-[0-9a-f-]*' | sort -u)"
	for id in ${ids}; do "${CTR[@]}" tasks kill -s KILL "${id}" >/dev/null 2>&1; done
	sleep 1
	for id in ${ids}; do
		"${CTR[@]}" tasks rm -f "${id}" >/dev/null 2>&1
		"${CTR[@]}" containers rm "${id}" >/dev/null 2>&1
	done
	for ns in ${netns}; do umount "${ns}" 2>/dev/null; rm -f "${ns}"; done
	# libcni's result cache of our sandboxes (hard-coded under /var/lib/cni).
	for id in ${ids}; do rm -f /var/lib/cni/results/*-"${id}"-*; done
fi
stop containerd
stop etcd
# Mounts under the working root (volumes, overlay snapshots, shm), deepest first.
awk -v w="${W}/" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do umount -l "${m}" 2>/dev/null; done
# Empty kubepods cgroups the kubelet created (rmdir only removes empty ones).
for c in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
	[ -d "${c}" ] && find "${c}" -depth -type d -exec rmdir {} \; 2>/dev/null
done
if [ "${WIPE:-0}" = 1 ]; then
	if [ -f "${R}/bridge" ]; then ip link del "$(cat "${R}/bridge")" 2>/dev/null; fi
	rm -rf "${W:?}/var" "${W:?}/run" "${W:?}/log" "${W:?}/conf"
	# Folders the kubelet and containerd create at hard-coded paths: removed
	# only when empty (rmdir), so nothing of another user is touched.
	rm -f /var/lib/kubelet/device-plugins/kubelet.sock
	rmdir /var/lib/kubelet/device-plugins /var/lib/kubelet \
		/run/containerd/runc/k8s.io /run/containerd/runc /run/containerd/s /run/containerd 2>/dev/null
fi
echo "e2e/down: stopped" >&2
exit 0
