package boottest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opencode-workspaces/ocw/internal/boot"
)

// cloneStatus is the content of clone.sh's status file.
type cloneStatus struct {
	Result  string // one of the boot.Result* codes
	Time    time.Time
	Message string
}

// parseStatus reads the clone status file (key=value lines).
func parseStatus(data []byte) (cloneStatus, error) {
	var st cloneStatus
	for line := range strings.Lines(string(data)) {
		k, v, ok := strings.Cut(strings.TrimRight(line, "\r\n"), "=")
		if !ok {
			continue
		}
		switch k {
		case "result":
			st.Result = v
		case "time":
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return st, fmt.Errorf("clone status: bad time %q: %w", v, err)
			}
			st.Time = t
		case "message":
			st.Message = v
		}
	}
	if st.Result == "" {
		return st, fmt.Errorf("clone status: no result line")
	}
	return st, nil
}

func TestParseStatus(t *testing.T) {
	st, err := parseStatus([]byte("result=auth-failed\ntime=2026-01-02T03:04:05Z\nmessage=authentication failed for https://github.com/o/r.git: check Secret s key k\n"))
	if err != nil || st.Result != boot.ResultAuthFailed || !st.Time.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) ||
		st.Message != "authentication failed for https://github.com/o/r.git: check Secret s key k" {
		t.Errorf("%+v %v", st, err)
	}
	if _, err := parseStatus([]byte("garbage")); err == nil {
		t.Error("no error for a file without result")
	}
	if _, err := parseStatus([]byte("result=cloned\ntime=yesterday\n")); err == nil {
		t.Error("no error for a bad time")
	}
}
