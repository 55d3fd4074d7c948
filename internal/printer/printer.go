// Package printer prints the status and doctor reports as -o asks: a
// table for people, JSON or YAML for programs.
package printer

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// Formats -o accepts.
const (
	Table = "table"
	JSON  = "json"
	YAML  = "yaml"
)

// Formats lists the accepted -o values, the default first.
func Formats() []string { return []string{Table, JSON, YAML} }

// Check says whether format is one of Formats.
func Check(format string) error {
	if !slices.Contains(Formats(), format) {
		return fmt.Errorf("-o %s: want one of %s", format, strings.Join(Formats(), ", "))
	}
	return nil
}

// Tabler is a report that prints itself as a table.
type Tabler interface {
	WriteTable(w io.Writer) error
}

// Print writes r to w in format.
func Print(w io.Writer, format string, r Tabler) error {
	var b []byte
	var err error
	switch format {
	case Table:
		return r.WriteTable(w)
	case JSON:
		b, err = json.MarshalIndent(r, "", "  ")
		b = append(b, '\n')
	case YAML:
		b, err = yaml.Marshal(r)
	default:
		return Check(format)
	}
	if err != nil {
		return fmt.Errorf("printing the report as %s: %w", format, err)
	}
	_, err = w.Write(b)
	return err
}
