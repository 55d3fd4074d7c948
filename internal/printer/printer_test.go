package printer

import (
	"encoding/json"
	"io"
	"strings"
	"testing"
)

type report struct {
	Name string `json:"name"`
}

func (r *report) WriteTable(w io.Writer) error {
	_, err := io.WriteString(w, "NAME\n"+r.Name+"\n")
	return err
}

func TestPrint(t *testing.T) {
	r := &report{Name: "app"}
	want := map[string]string{Table: "NAME\napp\n", JSON: "{\n  \"name\": \"app\"\n}\n", YAML: "name: app\n"}
	for _, f := range Formats() {
		var b strings.Builder
		if err := Print(&b, f, r); err != nil || b.String() != want[f] {
			t.Errorf("-o %s: %q, %v; want %q", f, b.String(), err, want[f])
		}
	}
	var back report
	var b strings.Builder
	if err := Print(&b, JSON, r); err != nil || json.Unmarshal([]byte(b.String()), &back) != nil || back != *r {
		t.Errorf("json round trip: %q", b.String())
	}
	for _, f := range []string{"text", "xml", ""} {
		if err := Print(io.Discard, f, r); err == nil || !strings.Contains(err.Error(), "want one of table, json, yaml") {
			t.Errorf("-o %q: %v", f, err)
		}
	}
}
