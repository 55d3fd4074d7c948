package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/opencode-workspaces/ocw/internal/status"
	"github.com/opencode-workspaces/ocw/internal/status/statustest"
)

func TestStatusCommand(t *testing.T) {
	ns := opsNamespace(t, "cli-status-")
	file := opsSpec(t, ns, "manual", "")
	sys := statustest.System(t, readFile(t, file))
	ws := sys.Workspaces[0]
	statustest.CreateWorkspace(t, kubeEnv.Client, ws)
	statustest.BindPVC(t, kubeEnv.Client, ws)
	statustest.CreatePod(t, kubeEnv.Client, ws, "app-1", statustest.HealthyStatus(ws, time.Now()))

	r := run(t, "", kubeArgs("status", "-f", file)...)
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if r.code != 0 || len(lines) != 2 {
		t.Fatalf("table: %+v", r)
	}
	for _, want := range []string{"NAME", "PHASE", "POD", "RESTARTS", "PVC", "CLONE", "COPILOT", "ROUTE", "BACKUP", "URL", "AGE", "REASON"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("header lacks %s: %s", want, lines[0])
		}
	}
	if f := strings.Fields(lines[1]); len(f) != 13 || f[0] != "app" || f[1] != "Ready" || f[2] != "app-1" ||
		f[4]+" "+f[5] != "Bound 5Gi" || f[6] != "cloned" || f[7] != "yes" || f[8] != "pending" || f[9] != "none" || f[10] != "https://app.example.test/" {
		t.Errorf("row: %q", lines[1])
	}

	for _, format := range []string{"json", "yaml"} {
		r = run(t, "", kubeArgs("status", "-f", file, "-o", format)...)
		if r.code != 0 || !strings.Contains(r.out, "namespace") {
			t.Fatalf("-o %s: %+v", format, r)
		}
	}
	r = run(t, "", kubeArgs("status", "-f", file, "-o", "json")...)
	var rep status.Report
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil || rep.Namespace != ns || rep.Workspaces[0].Phase != status.Ready {
		t.Fatalf("json: %v %+v", err, rep)
	}
	if r := run(t, "", kubeArgs("status", "-f", file, "-o", "xml")...); r.code != ExitFailure || !strings.Contains(r.err, "want one of table, json, yaml") {
		t.Errorf("-o xml: %+v", r)
	}
}
