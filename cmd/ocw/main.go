// Command ocw renders, applies and diagnoses OpenCode workspaces.
package main

import (
	"os"

	"github.com/opencode-workspaces/ocw/internal/cli"
)

func main() {
	os.Exit(cli.Run(os.Args[1:], cli.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}))
}
