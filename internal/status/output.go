package status

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"sigs.k8s.io/yaml"
)

// Formats of Write.
const (
	FormatTable = "table"
	FormatJSON  = "json"
	FormatYAML  = "yaml"
)

// Formats lists the accepted -o values.
var Formats = []string{FormatTable, FormatJSON, FormatYAML}

// Write prints the report in format.
func Write(w io.Writer, r *Report, format string) error {
	switch format {
	case FormatTable, "":
		return writeTable(w, r)
	case FormatJSON:
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case FormatYAML:
		b, err := yaml.Marshal(r)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	return fmt.Errorf("unknown output format %q (want %s)", format, strings.Join(Formats, ", "))
}

func writeTable(w io.Writer, r *Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPHASE\tPOD\tRESTARTS\tPVC\tCLONE\tCOPILOT\tURL\tAGE\tREASON")
	for _, ws := range r.Workspaces {
		name := ws.Name
		if !ws.InSpec {
			name += " (not in spec)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n",
			name, ws.Phase, dash(ws.Pod), ws.Restarts, pvcCell(ws.PVC), cloneCell(ws.Clone),
			ws.Copilot.Seeded, dash(ws.URL), ws.Age, dash(ws.Reason))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
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
