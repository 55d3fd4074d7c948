package model

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// BackupGuardWindow is how long the workspace's backup guard holds the
// session database from each scheduled backup time: long enough for a
// mover to start and copy a workspace volume, short enough that the WAL,
// which cannot restart meanwhile, stays small. A mover still copying after
// it is exposed again to the (narrow) tear window.
const BackupGuardWindow = 10 * time.Minute

// volsyncScheduleVar is the home-ops component's schedule variable;
// backup.variables may set it.
const volsyncScheduleVar = "VOLSYNC_SCHEDULE"

// cronItemRE is one item of a cron field: *, n or n-m, with an optional
// step.
var cronItemRE = regexp.MustCompile(`^(\*|\d+(?:-\d+)?)(?:/(\d+))?$`)

// cronBounds are the ranges of minute, hour, day of month, month and day of
// week.
var cronBounds = [5][2]int{{0, 59}, {0, 23}, {1, 31}, {1, 12}, {0, 6}}

// ValidCron checks a five-field cron schedule in the syntax the workspace's
// backup guard (boot.DBHoldJS) matches: numbers, *, lists, ranges and steps.
// VolSync accepts more (names, ?, @descriptors); the guard could not know
// when those fire, so they are refused. test/boot's cron table keeps the two
// in step.
func ValidCron(expr string) error {
	fields := strings.Fields(expr)
	if len(fields) != 5 {
		return fmt.Errorf("%q is not a five-field cron schedule", expr)
	}
	for i, field := range fields {
		lo, hi := cronBounds[i][0], cronBounds[i][1]
		for item := range strings.SplitSeq(field, ",") {
			m := cronItemRE.FindStringSubmatch(item)
			if m == nil {
				return fmt.Errorf("%q in %q is not a number, *, range or step (names, ? and @descriptors are not supported)", item, expr)
			}
			a, b, step := lo, hi, 1
			if m[2] != "" {
				step = atoiOr(m[2], 0)
			}
			if m[1] != "*" {
				lohi := strings.Split(m[1], "-")
				a = atoiOr(lohi[0], -1)
				switch {
				case len(lohi) == 2:
					b = atoiOr(lohi[1], -1)
				case m[2] == "":
					b = a
				}
			}
			if a < lo || b > hi || a > b || step < 1 {
				return fmt.Errorf("%q in %q is out of range %d-%d", item, expr, lo, hi)
			}
		}
	}
	return nil
}

// atoiOr is s as a number, or bad when it does not fit.
func atoiOr(s string, bad int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return bad
	}
	return n
}
