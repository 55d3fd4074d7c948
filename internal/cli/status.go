package cli

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/opencode-workspaces/ocw/internal/printer"
	"github.com/opencode-workspaces/ocw/internal/status"
)

func newStatusCmd(s Streams) *cobra.Command {
	o := &reportFlags{}
	cmd := &cobra.Command{
		Use:   "status -f FILE [-o table|json|yaml]",
		Short: "Show every workspace: phase, pod, volume, clone, Copilot login, route, URL",
		Long: `Show one line per workspace of the spec (and per workspace found in the
namespace but no longer in the spec).

PHASE is Ready (OpenCode answers its health check), Starting (scheduling,
cloning, seeding or OpenCode's first start; nothing failed), Failing
(something needs you: REASON says what, ocw doctor says how to fix it),
Stopped (scaled to 0) or Missing (not applied). CLONE is the clone step's
result (cloned, present, auth-failed, not-found, not-a-repo,
origin-mismatch, network, failed). COPILOT is yes (the workspace uses the
login in the Secret), no (none was seeded), changed (the Secret changed
after the pod seeded it: restart, or ocw auth push) or - (not run yet).
ROUTE is the HTTPRoute's acceptance by the spec's Gateway: accepted,
refused: REASON, unresolved: REASON (the backend), pending (no Gateway
controller has reported) or missing.

The data comes from five LIST calls in the namespace, however many
workspaces there are.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sys, c, err := o.load(s)
			if err != nil {
				return err
			}
			rep, err := status.Collect(cmd.Context(), c, sys, time.Now())
			if err != nil {
				return err
			}
			return printer.Print(s.Out, o.output, rep)
		},
	}
	o.add(cmd)
	return cmd
}
