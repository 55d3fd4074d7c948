package statustest

import (
	volsyncv1alpha1 "github.com/backube/volsync/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// What VolSync v0.14.0 writes into a ReplicationSource's status (from its
// source): the Synchronizing condition and a mover's status with its pod
// log's tail, as the restic mover's entry.sh and restic 0.18 print it.
var (
	// Syncing: a backup is running, or its Job is being retried.
	Syncing = metav1.Condition{Type: volsyncv1alpha1.ConditionSynchronizing, Status: metav1.ConditionTrue,
		Reason: volsyncv1alpha1.SynchronizingReasonSync, Message: "Synchronization in-progress"}
	// Scheduled: idle until the next run.
	Scheduled = metav1.Condition{Type: volsyncv1alpha1.ConditionSynchronizing, Status: metav1.ConditionFalse,
		Reason: volsyncv1alpha1.SynchronizingReasonSched, Message: "Waiting for next scheduled synchronization"}
	// Succeeded is the mover status of a successful backup.
	Succeeded = &volsyncv1alpha1.MoverStatus{Result: volsyncv1alpha1.MoverResultSuccessful,
		Logs: "processed 1520 files, 212.345 MiB in 0:41\nsnapshot 8f3c2a1d saved"}
)

// ControllerError is the condition VolSync sets when it cannot start a
// mover, with err's text (`Secret "NAME" not found`, `secret is missing
// field: RESTIC_PASSWORD`).
func ControllerError(msg string) metav1.Condition {
	return metav1.Condition{Type: volsyncv1alpha1.ConditionSynchronizing, Status: metav1.ConditionFalse,
		Reason: volsyncv1alpha1.SynchronizingReasonError, Message: msg}
}

// MoverFailed is the mover status of a Job that reached its backoff limit.
func MoverFailed(log string) *volsyncv1alpha1.MoverStatus {
	return &volsyncv1alpha1.MoverStatus{Result: volsyncv1alpha1.MoverResultFailed, Logs: moverPrologue + log}
}

// moverPrologue is what every restic mover run prints first.
const moverPrologue = "Starting container\nVolSync restic container version: v0.14.0\nbackup\n" +
	"restic 0.18.1 compiled with go1.25.4 on linux/amd64\nTesting mandatory env variables\n" +
	"== Checking directory for content ===\n=== Check for dir initialized ===\n"

// Mover logs of failed backups.
const (
	// WrongPassword: RESTIC_PASSWORD does not open the repository (restic
	// exit 12).
	WrongPassword = "Fatal: wrong password or no key found\nERROR: failure connecting to repository, incorrect password\n"
	// Locked: a mover killed mid-run left its lock (restic exit 11).
	Locked = "Fatal: unable to create lock in backend: repository is already locked exclusively by PID 27 on volsync-src-app-x2k9p by  (UID 1000, GID 1000)\n" +
		"ERROR: failure locking repository\n"
	// Unreachable: the repository's server does not answer; the script
	// then tries restic init, which fails too.
	Unreachable = "=== Initialize Dir ===\n" +
		"Fatal: create repository at rest:http://10.245.0.1:8000/app failed: Fatal: unable to open repository: dial tcp 10.245.0.1:8000: connect: connection refused\n"
)
