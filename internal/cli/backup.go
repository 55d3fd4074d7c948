package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/opencode-workspaces/ocw/internal/backup"
	"github.com/opencode-workspaces/ocw/internal/kube"
	"github.com/opencode-workspaces/ocw/internal/model"
)

// backupFlags are the flags ocw backup and ocw restore share.
type backupFlags struct {
	file    string
	timeout time.Duration
	kube    *kube.Flags
}

func (f *backupFlags) add(cmd *cobra.Command, timeoutHelp string) {
	cmd.Flags().StringVarP(&f.file, "file", "f", "", "spec file (- for stdin)")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 30*time.Minute, timeoutHelp)
	f.kube = bindKube(cmd)
}

// run runs do on the workspace called name, within --timeout (0: no bound).
func (f *backupFlags) run(ctx context.Context, s Streams, name string, do func(context.Context, *kube.Clients, model.Workspace) error) error {
	sys, err := loadSystem(s, f.file)
	if err != nil {
		return err
	}
	ws, err := backup.Workspace(sys, name)
	if err != nil {
		return err
	}
	c, err := f.kube.Clients()
	if err != nil {
		return err
	}
	cancel := context.CancelFunc(func() {})
	if f.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, f.timeout)
	}
	defer cancel()
	return do(ctx, c, ws)
}

func newBackupCmd(s Streams) *cobra.Command {
	o := &backupFlags{}
	cmd := &cobra.Command{
		Use:   "backup WORKSPACE -f FILE",
		Short: "Back a workspace up now and print the snapshot",
		Long: `Run the workspace's VolSync backup now: set a manual trigger on its
ReplicationSource, wait for the restic mover to finish, print the snapshot
(ID and time, the time --as-of of ocw restore takes), and give the trigger
back so the schedule runs again.

The workspace keeps running. OpenCode's session database is copied
consistently (see docs/commands.md).`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeWorkspaces,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), s, args[0], func(ctx context.Context, c *kube.Clients, ws model.Workspace) error {
				snap, err := backup.Backup(ctx, c, ws, backup.Options{Progress: s.Err})
				if err != nil {
					return err
				}
				printSnapshot(s, "saved", snap)
				return nil
			})
		},
	}
	o.add(cmd, "how long to wait for the backup")
	return cmd
}

// printSnapshot prints a snapshot line on stdout: data a script can read.
func printSnapshot(s Streams, verb string, snap *backup.Snapshot) {
	id := snap.ID
	if id == "" {
		id = "?"
	}
	fmt.Fprintf(s.Out, "%s\tsnapshot %s %s\t%s\t%s\n", snap.Workspace, id, verb,
		snap.Time.UTC().Format(time.RFC3339), snap.Duration.Round(time.Second))
}
