#!/usr/bin/env bash
# Whole-process render benchmark: `ocw render` of N workspaces (default
# 100) against the peer a home-ops user would otherwise use, `helm
# template` of the bjw-s app-template chart with the same workspaces,
# measured side by side in this run.
#
#   hack/bench-render.sh CHART [N]
#
# CHART is an unpacked app-template chart with its `common` dependency
# under charts/ (see docs/testing.md for how to get it); the chart is not
# part of this repository. $OCW_APP_TEMPLATE may name it instead.
#
# helm is built from its Go module (hack/tools/helm) and cached in
# ${OCW_CACHE:-~/.cache/ocw}/helm by the hash of that module's go.mod and
# go.sum. Each workspace is what ocw renders for it: a Deployment with the
# clone and seed-auth init containers (the same scripts) and the OpenCode
# container with its probes, a Service, an HTTPRoute and a PVC. Like a
# home-ops repository (one HelmRelease per app), each workspace is one
# release: app-template's time grows with the square of the controllers in
# a release (100 in one took minutes). helm skips schema validation: the
# chart's schema references remote files.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
chart=${1:-${OCW_APP_TEMPLATE:-}}
n=${2:-100}
if [ -z "${chart}" ] || [ ! -f "${chart}/Chart.yaml" ] || [ ! -d "${chart}/charts/common" ]; then
	echo "usage: $0 CHART [N]: CHART is the app-template chart folder, its common library in CHART/charts/common (docs/testing.md)" >&2
	exit 2
fi
export GOWORK=off CGO_ENABLED=0

# helm, built once per version of the wrapper module.
cache="${OCW_CACHE:-${HOME}/.cache/ocw}/helm"
src=hack/tools/helm
key=$(cat "${src}/go.mod" "${src}/go.sum" | sha256sum | cut -d' ' -f1)
helm="${cache}/helm"
if [ ! -x "${helm}" ] || [ "$(cat "${helm}.key" 2>/dev/null)" != "${key}" ]; then
	mkdir -p "${cache}"
	tmp=$(mktemp -d "${cache}/.build.XXXXXX")
	cp -R "${src}/." "${tmp}/"
	echo "bench-render: building helm ($(cd "${src}" && go list -m -f '{{.Version}}' helm.sh/helm/v4))" >&2
	(cd "${tmp}" && go build -mod=mod -trimpath -ldflags "-s -w" -o "${tmp}/helm" helm.sh/helm/v4/cmd/helm) >&2
	mv "${tmp}/helm" "${helm}"
	echo "${key}" >"${helm}.key"
	rm -rf "${tmp}"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/ocw" ./cmd/ocw

{
	printf 'apiVersion: ocw.dev/v1alpha1\nkind: Workspaces\ndomain: example.com\nsecrets: {mode: doppler}\nworkspaces:\n'
	for i in $(seq 0 $((n - 1))); do printf '  - name: ws%d\n    repo: https://github.com/o/r%d.git\n' "$i" "$i"; done
} >"$work/ws.yaml"

# The values: the pod options every workspace shares, then one file per
# workspace with its controller (the scripts inline, as in ocw's
# Deployment), service, route and claim.
cat >"$work/base.yaml" <<'EOF'
defaultPodOptions:
  automountServiceAccountToken: false
  enableServiceLinks: false
  securityContext: {runAsUser: 2000, runAsGroup: 2000, fsGroup: 2000, fsGroupChangePolicy: OnRootMismatch, runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
EOF
script() { sed "s/^/$2/" "internal/boot/$1"; } # the body of a literal block
clone=$(script clone.sh '            ')
seed=$(script seed-auth.sh '            ')
serve=$(script serve.sh '            ')
probe=$(script probe.sh '                    ')
probe() { # name, period, timeout, failures
	cat <<EOF
          $1:
            enabled: true
            custom: true
            spec:
              periodSeconds: $2
              timeoutSeconds: $3
              failureThreshold: $4
              exec:
                command:
                  - /bin/sh
                  - -c
                  - |
$probe
EOF
}
probes=$(probe liveness 30 10 5; probe readiness 10 5 3; probe startup 5 5 60)
for i in $(seq 0 $((n - 1))); do
	cat >"$work/ws$i.yaml" <<EOF
controllers:
  ws$i:
    strategy: Recreate
    revisionHistoryLimit: 3
    annotations: {reloader.stakater.com/auto: "true"}
    initContainers:
      clone:
        image: {repository: docker.io/alpine/git, tag: v2.49.1}
        command:
          - /bin/sh
          - -c
          - |
$clone
          - ocw-clone
        env: {OCW_REPO_URL: "https://github.com/o/r$i.git", OCW_REPO_DIR: /workspace/r$i, OCW_STATE_DIR: /workspace/.ocw, OCW_GIT_TOKEN_FILE: /var/run/secrets/ocw/git/token, OCW_TERMINATION_LOG: /dev/termination-log, HOME: /tmp, GIT_TERMINAL_PROMPT: "0"}
        securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
        resources: {requests: {cpu: 50m, memory: 64Mi}, limits: {memory: 512Mi}}
      seed-auth:
        image: {repository: docker.io/library/busybox, tag: 1.37.0}
        command:
          - /bin/sh
          - -c
          - |
$seed
          - ocw-seed-auth
        env: {OCW_AUTH_SOURCE: /var/run/secrets/ocw/copilot/auth.json, OCW_AUTH_PATH: /home/opencode/.local/share/opencode/auth.json}
        securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
    containers:
      opencode:
        image: {repository: ghcr.io/anomalyco/opencode, tag: 1.18.33}
        command:
          - /bin/sh
          - -c
          - |
$serve
          - ocw-serve
        args: [opencode, serve, --hostname, 0.0.0.0, --port, "4096"]
        workingDir: /workspace/r$i
        env: {HOME: /home/opencode, XDG_DATA_HOME: /home/opencode/.local/share, OCW_PORT: "4096", GIT_TERMINAL_PROMPT: "0"}
        probes:
$probes
        securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
        resources: {requests: {cpu: 100m, memory: 512Mi}, limits: {memory: 4Gi}}
service:
  ws$i: {controller: ws$i, ports: {http: {port: 4096}}}
route:
  ws$i: {parentRefs: [{name: envoy-internal, namespace: network, sectionName: https}], hostnames: [ws$i.example.com], rules: [{backendRefs: [{identifier: ws$i, port: 4096}], timeouts: {request: 0s}}]}
persistence:
  ws$i: {type: persistentVolumeClaim, accessMode: ReadWriteOnce, size: 5Gi, retain: true, advancedMounts: {ws$i: {clone: [{path: /workspace}], seed-auth: [{path: /home/opencode, subPath: home}], opencode: [{path: /workspace}, {path: /home/opencode, subPath: home}]}}}
EOF
done

secs() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc; }
best() { # best of 3, fresh target each time
	local b=999 t
	for _ in 1 2 3; do rm -rf "$work/out"; t=$("$@"); b=$(echo "if ($t < $b) $t else $b" | bc); done
	echo "$b"
}
ocw_stream() { secs "$work/ocw" render -f "$work/ws.yaml"; }
ocw_folder() { secs "$work/ocw" render -f "$work/ws.yaml" -d "$work/out"; }
helm_one() { "$helm" template "ws$1" "$chart" -n opencode --skip-schema-validation -f "$work/base.yaml" -f "$work/ws$1.yaml"; }
helm_all() { for i in $(seq 0 $((n - 1))); do helm_one "$i"; done; }

# Both must succeed and render every workspace's Deployment before they are timed.
got=$("$work/ocw" render -f "$work/ws.yaml" | grep -c '^kind: Deployment$')
[ "$got" = "$n" ] || { echo "ocw rendered $got Deployments, want $n" >&2; exit 1; }
got=$(helm_all | grep -c '^kind: Deployment$')
[ "$got" = "$n" ] || { echo "helm rendered $got Deployments, want $n" >&2; exit 1; }

s=$(best ocw_stream)
h=$(secs helm_all) # N processes: once is enough
f=$(best ocw_folder)
"$work/ocw" render -f "$work/ws.yaml" -d "$work/out" 2>/dev/null
rr=$(secs "$work/ocw" render -f "$work/ws.yaml" -d "$work/out")
files=$(find "$work/out" -type f | wc -l)
printf 'workspaces=%d files=%d (%s)\n' "$n" "$files" "$("$helm" version --template '{{.Version}}') app-template $(sed -n 's/^version: //p' "$chart/Chart.yaml")"
printf 'ocw render (stream)          %6.3fs  %6.2fms/workspace\n' "$s" "$(echo "$s * 1000 / $n" | bc -l)"
printf 'helm template (stream)       %6.3fs  %6.2fms/workspace\n' "$h" "$(echo "$h * 1000 / $n" | bc -l)"
printf 'ratio helm/ocw per workspace %6.1fx (goal >= 10)\n' "$(echo "$h / $s" | bc -l)"
printf 'ocw render into a new folder %6.3fs (goal: %d workspaces well under 1s)\n' "$f" "$n"
printf 'ocw re-render (no change)    %6.3fs\n' "$rr"
