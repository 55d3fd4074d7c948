// Package e2e proves on a real single-node Kubernetes (etcd, kube-apiserver,
// controller-manager, scheduler, kubelet, Debian's containerd + runc + bridge
// CNI; see hack/e2e) that rendered workspaces start and keep their state:
// clone over git smart-HTTP with a token, Copilot login seeding, password
// protected OpenCode, persistence across restarts, a failing clone reported
// in the termination message, and the user's path: headless Chromium over
// HTTPS through Traefik as the Gateway into each workspace. Run alone with:
//
//	go test -tags e2e -count=1 -timeout 30m -v ./test/e2e/
//
// Root is needed (containerd, kubelet, bridge). OCW_E2E_ROOT moves the working
// root (default ${OCW_CACHE:-$HOME/.cache/ocw}/e2e); OCW_E2E_KEEP=1 leaves the
// node running after the test; OCW_E2E_OCW names a prebuilt ocw binary;
// OCW_E2E_ARTIFACTS is where the screenshots go (default WORK/artifacts).
package e2e
