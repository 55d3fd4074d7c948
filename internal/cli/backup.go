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

// target is the workspace the command acts on, and clients.
func (f *backupFlags) target(s Streams, name string) (model.Workspace, *kube.Clients, error) {
	sys, err := loadSystem(s, f.file)
	if err != nil {
		return model.Workspace{}, nil, err
	}
	ws, err := backup.Workspace(sys, name)
	if err != nil {
		return model.Workspace{}, nil, err
	}
	c, err := f.kube.Clients()
	return ws, c, err
}

// withTimeout bounds ctx by --timeout (0: no bound).
func (f *backupFlags) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if f.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, f.timeout)
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
			ws, c, err := o.target(s, args[0])
			if err != nil {
				return err
			}
			ctx, cancel := o.withTimeout(cmd.Context())
			defer cancel()
			snap, err := backup.Backup(ctx, c, ws, backup.Options{Progress: s.Err})
			if err != nil {
				return err
			}
			printSnapshot(s, "saved", snap)
			return nil
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
