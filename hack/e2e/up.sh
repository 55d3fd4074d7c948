#!/usr/bin/env bash
# Brings up a single-node Kubernetes for the real-node e2e tier, all on
# loopback plus the harness's own bridge: etcd, kube-apiserver, containerd
# (Debian's, private root/socket), kube-controller-manager, kube-scheduler and
# a kubelet whose node is named "localhost"; imports the images of
# hack/e2e/images.sh and creates a StorageClass backed by static local PVs.
# Every process started is recorded in WORK/run/*.pid; hack/e2e/down.sh stops
# exactly those. Root needed.
#
#   hack/e2e/up.sh [WORK_ROOT]   (default ${OCW_CACHE:-$HOME/.cache/ocw}/e2e)
#
# Environment (defaults): OCW_E2E_PORT_BASE (17000: etcd +0/+1/+2, apiserver
# +43, kubelet +50/+48), OCW_E2E_BRIDGE (ocwe2e0), OCW_E2E_SUBNET_PREFIX
# (10.245.0: the bridge is .1), OCW_E2E_PVS (12), OCW_E2E_STORAGECLASS
# (ocw-e2e-local). Prints KUBECONFIG=..., the gateway address and the bin dir.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
W="${1:-${OCW_E2E_ROOT:-${OCW_CACHE:-${HOME}/.cache/ocw}/e2e}}"
PB=${OCW_E2E_PORT_BASE:-17000}
BR=${OCW_E2E_BRIDGE:-ocwe2e0}
NET=${OCW_E2E_SUBNET_PREFIX:-10.245.0}
NPV=${OCW_E2E_PVS:-12}
SC=${OCW_E2E_STORAGECLASS:-ocw-e2e-local}
GW="${NET}.1"
P="${W}/pki" L="${W}/log" R="${W}/run" V="${W}/var" C="${W}/conf"
log() { echo "e2e/up: $*" >&2; }

B="$("${REPO_ROOT}/hack/e2e/build.sh")"
IMAGES="$("${REPO_ROOT}/hack/e2e/images.sh" "${W}")"
mkdir -p "${L}" "${R}" "${V}"/{etcd,kubelet,pods-log,cni-ipam,plugins,pv} "${C}/net.d"
t0=$(date +%s%N)
ts() { log "[$(( ($(date +%s%N) - t0) / 1000000 ))ms] $*"; }
say() { ts "$@"; }
# shellcheck source=hack/e2e/lib.sh
. "${REPO_ROOT}/hack/e2e/lib.sh"

# --- PKI (once) -------------------------------------------------------------
if [ ! -f "${P}/admin.kubeconfig" ]; then
	rm -rf "${P}"
	mkdir -p "${P}"
	(
		cd "${P}"
		openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj "/CN=ocw-e2e-ca" 2>/dev/null
		cert() { # name CN O [SANs]
			local n=$1 cn=$2 o=$3 san=${4:-}
			openssl req -newkey rsa:2048 -nodes -keyout "${n}.key" -out "${n}.csr" -subj "/CN=${cn}${o:+/O=${o}}" 2>/dev/null
			{
				echo "basicConstraints=CA:FALSE"
				echo "keyUsage=digitalSignature,keyEncipherment"
				if [ -n "${san}" ]; then
					echo "extendedKeyUsage=serverAuth,clientAuth"
					echo "subjectAltName=${san}"
				else echo "extendedKeyUsage=clientAuth"; fi
			} >"${n}.ext"
			openssl x509 -req -in "${n}.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "${n}.crt" -days 3650 -extfile "${n}.ext" 2>/dev/null
			rm -f "${n}.csr" "${n}.ext"
		}
		cert apiserver kube-apiserver "" "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:127.0.0.1,IP:10.96.0.1"
		cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
		cert admin ocw-e2e-admin system:masters
		cert controller-manager system:kube-controller-manager ""
		cert scheduler system:kube-scheduler ""
		cert kubelet system:node:localhost system:nodes
		cert kubelet-serving localhost "" "DNS:localhost,IP:127.0.0.1"
		openssl genrsa -out sa.key 2048 2>/dev/null
		openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
		for kc in admin controller-manager scheduler kubelet; do
			cat >"${kc}.kubeconfig" <<K
apiVersion: v1
kind: Config
clusters:
- cluster: {certificate-authority: ${P}/ca.crt, server: https://127.0.0.1:$((PB + 43))}
  name: e2e
users:
- name: ${kc}
  user: {client-certificate: ${P}/${kc}.crt, client-key: ${P}/${kc}.key}
contexts:
- context: {cluster: e2e, user: ${kc}}
  name: e2e
current-context: e2e
K
		done
	)
	ts "pki generated"
fi

# --- configs ----------------------------------------------------------------
cat >"${C}/containerd.toml" <<EOT
version = 2
root = "${W}/containerd-root"
state = "${R}/containerd"
[grpc]
  address = "${R}/containerd/containerd.sock"
[ttrpc]
  address = "${R}/containerd/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "${V}/containerd-opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  # The VM lacks CAP_SYS_RESOURCE: without this runc fails with
  # "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${C}/net.d"
EOT
cat >"${C}/net.d/10-ocw-e2e.conflist" <<EOT
{
  "cniVersion": "0.4.0",
  "name": "ocw-e2e",
  "plugins": [
    {"type": "bridge", "bridge": "${BR}", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "${NET}.0/24", "gateway": "${GW}"}]],
              "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "${V}/cni-ipam"}}
  ]
}
EOT
cat >"${C}/kubelet.yaml" <<EOT
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://${R}/containerd/containerd.sock
address: 127.0.0.1
port: $((PB + 50))
healthzBindAddress: 127.0.0.1
healthzPort: $((PB + 48))
readOnlyPort: 0
tlsCertFile: ${P}/kubelet-serving.crt
tlsPrivateKeyFile: ${P}/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: ${P}/ca.crt}
authorization: {mode: Webhook}
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
podLogsDir: ${V}/pods-log
failSwapOn: false
evictionHard: {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
volumePluginDir: ${V}/plugins
syncFrequency: 10s
fileCheckFrequency: 10s
nodeStatusReportFrequency: 10s
EOT

# The bridge exists before the first pod so a host server can bind to its
# gateway address (the only address pods use to reach the host).
if ! ip link show "${BR}" >/dev/null 2>&1; then
	ip link add "${BR}" type bridge
	echo "${BR}" >"${R}/bridge"
fi
ip addr show dev "${BR}" | grep -q "inet ${GW}/" || ip addr add "${GW}/24" dev "${BR}"
ip link set "${BR}" up

# --- processes --------------------------------------------------------------
start etcd "${B}/etcd" --data-dir "${V}/etcd" --name ocw-e2e \
	--listen-client-urls "http://127.0.0.1:${PB}" --advertise-client-urls "http://127.0.0.1:${PB}" \
	--listen-peer-urls "http://127.0.0.1:$((PB + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((PB + 1))" \
	--initial-cluster "ocw-e2e=http://127.0.0.1:$((PB + 1))" --listen-metrics-urls "http://127.0.0.1:$((PB + 2))" \
	--unsafe-no-fsync --quota-backend-bytes 2147483648
start containerd containerd --config "${C}/containerd.toml"
waitfor etcd curl -sf "http://127.0.0.1:${PB}/health"
start kube-apiserver "${B}/kube-apiserver" --etcd-servers="http://127.0.0.1:${PB}" \
	--bind-address=127.0.0.1 --secure-port=$((PB + 43)) --advertise-address=192.0.2.2 \
	--client-ca-file="${P}/ca.crt" --tls-cert-file="${P}/apiserver.crt" --tls-private-key-file="${P}/apiserver.key" \
	--kubelet-client-certificate="${P}/apiserver-kubelet-client.crt" --kubelet-client-key="${P}/apiserver-kubelet-client.key" \
	--kubelet-preferred-address-types=Hostname,InternalIP --kubelet-port=$((PB + 50)) \
	--service-account-issuer=https://kubernetes.default.svc.cluster.local \
	--service-account-key-file="${P}/sa.pub" --service-account-signing-key-file="${P}/sa.key" \
	--service-cluster-ip-range=10.96.0.0/24 --authorization-mode=Node,RBAC \
	--enable-priority-and-fairness=false --profiling=false --endpoint-reconciler-type=none
CTR=(ctr -a "${R}/containerd/containerd.sock" -n k8s.io)
waitfor containerd "${CTR[@]}" version
# containerd's root survives WIPE=1: import only when the images changed.
if ! cmp -s "${IMAGES}/key" "${W}/containerd-root/ocw-images.key"; then
	for t in "${IMAGES}"/*.tar; do "${CTR[@]}" images import "${t}" >/dev/null; done
	cp "${IMAGES}/key" "${W}/containerd-root/ocw-images.key"
	ts "images imported"
fi
waitfor kube-apiserver curl -sf --cacert "${P}/ca.crt" --cert "${P}/admin.crt" --key "${P}/admin.key" "https://127.0.0.1:$((PB + 43))/readyz"
start kube-controller-manager "${B}/kube-controller-manager" --kubeconfig="${P}/controller-manager.kubeconfig" \
	--authentication-kubeconfig="${P}/controller-manager.kubeconfig" --authorization-kubeconfig="${P}/controller-manager.kubeconfig" \
	--bind-address=127.0.0.1 --secure-port=$((PB + 57)) --leader-elect=false --use-service-account-credentials=true \
	--flex-volume-plugin-dir="${V}/plugins" \
	--service-account-private-key-file="${P}/sa.key" --root-ca-file="${P}/ca.crt" \
	--cluster-signing-cert-file="${P}/ca.crt" --cluster-signing-key-file="${P}/ca.key"
start kube-scheduler "${B}/kube-scheduler" --kubeconfig="${P}/scheduler.kubeconfig" \
	--authentication-kubeconfig="${P}/scheduler.kubeconfig" --authorization-kubeconfig="${P}/scheduler.kubeconfig" \
	--bind-address=127.0.0.1 --secure-port=$((PB + 59)) --leader-elect=false
start kubelet "${B}/kubelet" --config="${C}/kubelet.yaml" --kubeconfig="${P}/kubelet.kubeconfig" \
	--root-dir="${V}/kubelet" --hostname-override=localhost --cert-dir="${V}/kubelet/pki" --v=2
export KUBECONFIG="${P}/admin.kubeconfig"
K="${B}/kubectl"
waitfor node-registered "${K}" get node localhost
waitfor node-Ready "${K}" wait --for=condition=Ready node/localhost --timeout=1s

# --- storage: static local PVs (honour fsGroup, unlike hostPath) ------------
{
	cat <<EOT
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: ${SC}}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Retain
EOT
	for i in $(seq 1 "${NPV}"); do
		mkdir -p "${V}/pv/pv${i}"
		cat <<EOT
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: ocw-e2e-pv${i}}
spec:
  capacity: {storage: 20Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ${SC}
  local: {path: ${V}/pv/pv${i}}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - {key: kubernetes.io/hostname, operator: In, values: [localhost]}
EOT
	done
} | "${K}" apply -f - >/dev/null
ts "cluster up (storage class ${SC}, ${NPV} local PVs)"
echo "KUBECONFIG=${KUBECONFIG}"
echo "GATEWAY=${GW}"
echo "BIN=${B}"
