package status

import (
	"cmp"
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteTable prints the report as a table, one line per workspace.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPHASE\tPOD\tRESTARTS\tPVC\tCLONE\tCOPILOT\tROUTE\tBACKUP\tURL\tAGE\tREASON")
	for _, ws := range r.Workspaces {
		name := ws.Name
		if !ws.InSpec {
			name += " (not in spec)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			name, ws.Phase, cmp.Or(ws.Pod, "-"), ws.Restarts, pvcCell(ws.PVC), cloneCell(ws.Clone),
			ws.Copilot.Seeded, ws.Route.Cell(), ws.Backup.State(), cmp.Or(ws.URL, "-"), ws.Age, cmp.Or(ws.Reason, "-"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	return nil
}

func pvcCell(p PVCStatus) string {
	switch {
	case p.Phase == "":
		return "missing"
	case p.Capacity != "":
		return p.Phase + " " + p.Capacity
	}
	return p.Phase
}

func cloneCell(s *Step) string {
	if s == nil {
		return "-"
	}
	return s.Code
}
