#!/usr/bin/env bash
# Compares `ocw apply` with `kubectl apply --server-side` on the objects of 50
# workspaces against one envtest API server (internal/apply's
# BenchmarkApplyVsKubectl), and prints both times, their ratio, the no-op
# re-apply time and its write count. Not part of `go test ./...` (about a
# minute with the build of ocw).
#
#   hack/bench-apply.sh        3 rounds
#   hack/bench-apply.sh 5x     5 rounds
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
KUBEBUILDER_ASSETS="$(hack/envtest-assets.sh)"
export KUBEBUILDER_ASSETS
exec go test -run '^$' -bench '^BenchmarkApplyVsKubectl$' -benchtime "${1:-3x}" -timeout 20m -v ./internal/apply
