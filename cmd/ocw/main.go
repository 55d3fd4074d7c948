// Command ocw renders, applies and diagnoses OpenCode workspaces.
package main

import (
	"os"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"

	"github.com/opencode-workspaces/ocw/internal/cli"
)

func main() {
	// client-go logs to stderr through klog (e.g. exec streams torn down
	// after a deadline); ocw reports every failure itself, once.
	klog.SetLogger(logr.Discard())
	os.Exit(cli.Run(os.Args[1:], cli.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}))
}
