package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/opencode-workspaces/ocw/internal/backup"
	"github.com/opencode-workspaces/ocw/internal/kube"
)

type backupOptions struct {
	file    string
	timeout time.Duration
	kube    *kube.Flags
}

func newBackupCmd(s Streams) *cobra.Command {
	o := &backupOptions{}
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
			ws, c, err := backupTarget(s, o.file, args[0], o.kube)
			if err != nil {
				return err
			}
			ctx, cancel := withTimeout(cmd.Context(), o.timeout)
			defer cancel()
			snap, err := backup.Backup(ctx, c, ws, backup.Options{Progress: s.Err})
			if err != nil {
				return err
			}
			printSnapshot(s, "saved", snap)
			return nil
		},
	}
	cmd.Flags().StringVarP(&o.file, "file", "f", "", "spec file (- for stdin)")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 30*time.Minute, "how long to wait for the backup")
	o.kube = bindKube(cmd)
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
