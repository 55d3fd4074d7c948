package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/opencode-workspaces/ocw/internal/doctor"
	"github.com/opencode-workspaces/ocw/internal/printer"
)

func newDoctorCmd(s Streams) *cobra.Command {
	o := &reportFlags{}
	var strict bool
	cmd := &cobra.Command{
		Use:   "doctor -f FILE [WORKSPACE] [-o table|json|yaml] [--strict]",
		Short: "Check the cluster and the workspaces; say how to fix what is wrong",
		Long: `Check the cluster prerequisites (Gateway API and the Gateway's listener,
external-secrets and the store in the external-secrets modes, Reloader, VolSync and the
VolumeSnapshotClass when backups are on, the storage class), the shared
Secrets, and each workspace (or only WORKSPACE): PVC, HTTPRoute, pod
scheduling, image pulls, the clone and auth seeding steps, OOM kills, and
git inside the running OpenCode container (through pods/exec).

Every check prints ok, warn or fail; anything not ok comes with a fix line.
A warn is something to look at that does not break the workspace, or that
ocw cannot verify (a pod still starting, Reloader not found under its usual
names, a workspace without a git token).

Exit status: 0 when no check failed (warnings allowed; with --strict only
when every check is ok), 1 when one did, 2 when doctor could not run (a bad
spec, an unreachable cluster).`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeWorkspaces,
		RunE: func(cmd *cobra.Command, args []string) error {
			sys, c, err := o.load(s)
			if err != nil {
				return err
			}
			opts := doctor.Options{Exec: c, SpecFile: o.file, Timeout: c.Config.Timeout}
			if len(args) == 1 {
				opts.Workspace = args[0]
			}
			rep, err := doctor.Run(cmd.Context(), c, sys, opts)
			if err != nil {
				return err
			}
			if err := printer.Print(s.Out, o.output, rep); err != nil {
				return err
			}
			return doctorVerdict(s, rep, strict)
		},
	}
	o.add(cmd)
	cmd.Flags().BoolVar(&strict, "strict", false, "exit 1 on warnings too")
	return cmd
}

// doctorVerdict turns the report into the exit status: failures always
// fail; warnings only with --strict.
func doctorVerdict(s Streams, rep *doctor.Report, strict bool) error {
	n := map[doctor.Verdict]int{}
	for _, c := range rep.Checks {
		n[c.Verdict]++
	}
	summary := fmt.Sprintf("doctor: %d ok, %d warn, %d fail", n[doctor.OK], n[doctor.Warn], n[doctor.Fail])
	if n[doctor.Fail] > 0 || strict && n[doctor.Warn] > 0 {
		return &ExitError{Code: ExitFindings, Msg: summary}
	}
	fmt.Fprintln(s.Err, summary)
	return nil
}
