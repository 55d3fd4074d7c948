package cli

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencode-workspaces/ocw/internal/doctor"
	"github.com/opencode-workspaces/ocw/internal/status/statustest"
)

// The command end to end: a namespace with nothing applied fails (exit 1),
// every non-ok line has a fix, and -o json is machine-readable. The rules
// themselves are tested in internal/doctor.
func TestDoctorCommand(t *testing.T) {
	ns := opsNamespace(t, "cli-doctor-")
	file := opsSpec(t, ns, "manual", "")
	r := run(t, "", kubeArgs("doctor", "-f", file)...)
	if r.code != ExitFindings || !strings.Contains(r.out, "Workspace app\n") || !strings.Contains(r.out, "fail  deployment") ||
		!strings.Contains(r.out, "fix: ocw apply -f "+file) || !strings.Contains(r.err, "doctor: ") {
		t.Fatalf("doctor: %+v", r)
	}
	r = run(t, "", kubeArgs("doctor", "app", "-f", file, "-o", "json")...)
	var rep doctor.Report
	if err := json.Unmarshal([]byte(r.out), &rep); r.code != ExitFindings || err != nil || findCheck(rep, "app", "deployment").Verdict != doctor.Fail {
		t.Fatalf("json: %v %+v", err, r)
	}
	// -o means the same as for status: table, json or yaml.
	if r := run(t, "", kubeArgs("doctor", "-f", file, "-o", "table")...); r.code != ExitFindings || !strings.Contains(r.out, "Workspace app\n") {
		t.Fatalf("-o table: %+v", r)
	}
	if r := run(t, "", kubeArgs("doctor", "-f", file, "-o", "text")...); r.code != ExitFailure || !strings.Contains(r.err, "-o text: want one of table, json, yaml") {
		t.Fatalf("-o text: %+v", r)
	}
	if r := run(t, "", kubeArgs("doctor", "nope", "-f", file)...); r.code != ExitFailure || !strings.Contains(r.err, `no workspace "nope" in the spec`) {
		t.Fatalf("unknown workspace: %+v", r)
	}

	// A running pod: the real pods/exec request reaches the API server,
	// which has no kubelet here, so the git check cannot conclude.
	sys := statustest.System(t, readFile(t, file))
	statustest.CreateWorkspace(t, kubeEnv.Client, sys.Workspaces[0])
	statustest.CreatePod(t, kubeEnv.Client, sys.Workspaces[0], "app-1", statustest.HealthyStatus(sys.Workspaces[0], time.Now()))
	r = run(t, "", kubeArgs("doctor", "app", "-f", file, "-o", "json")...)
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
		t.Fatal(err)
	}
	if c := findCheck(rep, "app", "git"); c == nil || c.Verdict != doctor.Warn || !strings.Contains(c.Message, "could not run git --version in pod app-1") ||
		!strings.Contains(c.Fix, "exec app-1 -c opencode -- git --version") {
		t.Fatalf("git check without a kubelet: %+v", c)
	}
}

// Warn policy: warnings alone exit 0, unless --strict.
func TestDoctorExitPolicy(t *testing.T) {
	rep := &doctor.Report{Checks: []doctor.Check{{ID: "a", Verdict: doctor.OK}, {ID: "b", Verdict: doctor.Warn}}}
	var errb bytes.Buffer
	s := Streams{Err: &errb}
	if err := doctorVerdict(s, rep, false); err != nil || !strings.Contains(errb.String(), "doctor: 1 ok, 1 warn, 0 fail") {
		t.Fatalf("warn only: %v %q", err, errb.String())
	}
	if err := doctorVerdict(s, rep, true); err == nil || err.(*ExitError).Code != 1 {
		t.Fatalf("--strict: %v", err)
	}
	rep.Checks = append(rep.Checks, doctor.Check{ID: "c", Verdict: doctor.Fail})
	if err := doctorVerdict(s, rep, false); err == nil || err.(*ExitError).Code != 1 || err.Error() != "doctor: 1 ok, 1 warn, 1 fail" {
		t.Fatalf("fail: %v", err)
	}
}

// findCheck returns the check of scope and id, or nil.
func findCheck(rep doctor.Report, scope, id string) *doctor.Check {
	i := slices.IndexFunc(rep.Checks, func(c doctor.Check) bool { return c.Scope == scope && c.ID == id })
	if i < 0 {
		return nil
	}
	return &rep.Checks[i]
}
