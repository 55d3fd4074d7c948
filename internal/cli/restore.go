package cli

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/opencode-workspaces/ocw/internal/backup"
	"github.com/opencode-workspaces/ocw/internal/kube"
	"github.com/opencode-workspaces/ocw/internal/model"
)

type restoreOptions struct {
	backupFlags
	asOf string
}

func newRestoreCmd(s Streams) *cobra.Command {
	o := &restoreOptions{}
	cmd := &cobra.Command{
		Use:   "restore WORKSPACE -f FILE [--as-of TIME]",
		Short: "Restore a workspace's volume from its backups",
		Long: `Stop the workspace, restore its newest backup (or the newest at or before
--as-of) into its PVC, and start it again. The volume ends up as it was in
the snapshot: files written since are removed. A PVC that is gone is
re-created first (when ocw renders it).

The restore is a VolSync ReplicationDestination (copy method Direct, the
ReplicationSource's repository and mover identity), deleted when done.
Scheduled backups are paused meanwhile. When a Flux Kustomization deployed
the workspace it is suspended during the restore and resumed after, so
Flux does not start the workspace on a half-written volume. If the
restore fails once it began writing, the workspace stays stopped and the
error says what is still held; run ocw restore again.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeWorkspaces,
		RunE: func(cmd *cobra.Command, args []string) error {
			var asOf *time.Time
			if o.asOf != "" {
				t, err := backup.ParseAsOf(o.asOf)
				if err != nil {
					return err
				}
				asOf = &t
			}
			return o.run(cmd.Context(), s, args[0], func(ctx context.Context, c *kube.Clients, ws model.Workspace) error {
				snap, err := backup.Restore(ctx, c, ws, asOf, backup.Options{Progress: s.Err})
				if snap != nil {
					printSnapshot(s, "restored", snap)
				}
				return err
			})
		},
	}
	o.add(cmd, "how long to wait for the restore and the start")
	cmd.Flags().StringVar(&o.asOf, "as-of", "", "restore the newest backup taken at or before this RFC 3339 time")
	return cmd
}
