package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newValidateCmd(s Streams) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "validate -f FILE",
		Short: "Check a spec; errors name the file, line and field",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			sys, err := loadSystem(s, file)
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Err, "%s: valid, %d workspace(s) in namespace %s\n", file, len(sys.Workspaces), sys.Namespace)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "spec file (- for stdin)")
	return cmd
}
