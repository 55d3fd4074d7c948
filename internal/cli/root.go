// Package cli is ocw's command line, one file per command; see
// docs/architecture.md.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/spf13/cobra"

	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/safetext"
)

// Streams are the command's standard streams: data goes to Out, messages
// for people to Err.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// Exit codes, the same for every command, as diff and kubectl diff use
// them: a check that ran and found something is not an error.
const (
	// ExitFindings: the command ran and found what it checks for (render
	// --check: stale files; doctor: a failed check).
	ExitFindings = 1
	// ExitFailure: the command could not do its job (a bad spec or flag,
	// an unreadable file, an unreachable cluster, a refused write).
	ExitFailure = 2
)

// ExitError ends a command with an exit code other than ExitFailure, and
// Msg on stderr (e.g. ExitFindings when render --check found stale files).
type ExitError struct {
	Code int
	Msg  string
}

func (e *ExitError) Error() string { return e.Msg }

func newRoot(s Streams) *cobra.Command {
	root := &cobra.Command{
		Use:           "ocw",
		Short:         "OpenCode workspaces on your own Kubernetes cluster, the GitOps way",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.AddCommand(
		newInitCmd(s),
		newValidateCmd(s),
		newRenderCmd(s),
		newApplyCmd(s),
		newVersionCmd(s),
		newSecretsCmd(s),
		newAuthCmd(s),
		newStatusCmd(s),
		newDoctorCmd(s),
		newBackupCmd(s),
		newRestoreCmd(s),
	)
	return root
}

// Run executes ocw with args and returns the process exit code: 0,
// ExitFindings or ExitFailure. Ctrl-C cancels the command's context, so
// a command stops its requests and cleans up (apply, port-forwards)
// instead of dying halfway.
func Run(args []string, s Streams) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	root := newRoot(s)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var exit *ExitError
	if errors.As(err, &exit) {
		if exit.Msg != "" {
			fmt.Fprintln(s.Err, safetext.Text(exit.Msg))
		}
		return exit.Code
	}
	// Errors quote servers (the API server, OpenCode, git through a pod).
	fmt.Fprintln(s.Err, "error:", safetext.Text(err.Error()))
	return ExitFailure
}

// loadSystem reads the spec (a file, or stdin for "-") through the front
// of the pipeline: load, default, validate, model.
func loadSystem(s Streams, file string) (*model.System, error) {
	switch file {
	case "":
		return nil, errors.New("no spec: pass -f FILE (ocw init writes a starter spec)")
	case "-":
		data, err := io.ReadAll(s.In)
		if err != nil {
			return nil, fmt.Errorf("reading spec from stdin: %w", err)
		}
		return model.Load("<stdin>", data)
	}
	return model.LoadFile(file)
}
