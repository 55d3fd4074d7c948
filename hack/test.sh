#!/usr/bin/env bash
# The test command: installs what the tests need (idempotently), then runs
# every tier of tests. Runs on a fresh Debian machine as root, offline except
# for the Go module proxy, Debian's apt and the npm registry.
#
#   hack/test.sh            everything CI runs
#   hack/test.sh ./internal/spec/...   only these packages (setup still runs)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { echo "test.sh: $*" >&2; }

# Debian packages: git and busybox run the boot scripts as the images do;
# npm installs the pinned OpenCode; shellcheck lints the boot scripts; sqlite3
# checks OpenCode's session database after a stop; chromium (headless) and
# certutil (libnss3-tools: its trust store gets the test CA) are the browser
# of the real-node tier. Installed only when missing.
need=()
command -v git >/dev/null || need+=(git)
[ -x /bin/busybox ] || need+=(busybox)
command -v npm >/dev/null || need+=(npm)
command -v shellcheck >/dev/null || need+=(shellcheck)
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v chromium >/dev/null || need+=(chromium)
command -v certutil >/dev/null || need+=(libnss3-tools)
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]}"
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
fi

start=$(date +%s)
# The real-node and Gateway tiers' binaries (the GitOps controllers,
# Traefik, VolSync, restic and rest-server, then kubelet and friends, which
# wait for the envtest build's lock) are built from Go modules in the
# background while the other tiers build and run. With nothing cached the
# run is bound by the 2 cores wherever these builds start (40 min measured
# both ways); when they are cached this costs a second.
# Its own process group, so that a failing tier stops the whole build.
bg_pid=""
if [ $# -eq 0 ] && [ "$(id -u)" = 0 ]; then
	setsid bash -c 'hack/e2e/controllers.sh >/dev/null && hack/e2e/volsync.sh >/dev/null && hack/e2e/build.sh >/dev/null' &
	bg_pid=$!
	trap 'kill -- "-${bg_pid}" 2>/dev/null || true' EXIT
fi
KUBEBUILDER_ASSETS="$(hack/envtest-assets.sh)"
OCW_OPENCODE="$(hack/opencode.sh)"
export KUBEBUILDER_ASSETS OCW_OPENCODE
log "tools ready in $(($(date +%s) - start))s (envtest: $KUBEBUILDER_ASSETS)"

unformatted=$(gofmt -l cmd internal test hack 2>/dev/null || true)
if [ -n "$unformatted" ]; then
	log "not gofmt-formatted:"; echo "$unformatted" >&2; exit 1
fi
go vet ./...
go vet -tags gateway ./test/gateway/
shellcheck hack/*.sh hack/e2e/*.sh

pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)
go test -count=1 -timeout 25m "${pkgs[@]}"

if [ $# -eq 0 ]; then
	# A short fuzzing run of the spec loader on every CI run.
	go test -run '^$' -fuzz '^FuzzLoad$' -fuzztime 15s ./internal/model
	# Real Traefik against a real API server: doctor's route and Gateway
	# rules and status's ROUTE column. controllers.sh takes the background
	# build's lock, so this waits for its Traefik (then cached) rather than
	# building it twice, and runs while the node binaries still build.
	OCW_TRAEFIK="$(hack/e2e/controllers.sh traefik)/traefik"
	export OCW_TRAEFIK
	go test -tags gateway -count=1 -timeout 10m ./test/gateway/
	# Real node: a single-node Kubernetes (hack/e2e) runs two workspaces
	# applied by ocw, then two more through Flux and external-secrets.
	[ -z "${bg_pid}" ] || wait "${bg_pid}"
	go test -tags e2e -count=1 -timeout 35m ./test/e2e/
fi
log "done in $(($(date +%s) - start))s"
