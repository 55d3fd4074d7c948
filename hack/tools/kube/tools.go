//go:build tools

// Package tools pins the kube-apiserver and kubectl main packages so this
// wrapper module's go.mod/go.sum cover everything needed to build them; it is
// never compiled (see hack/envtest-assets.sh).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
