package backup

import (
	"context"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/opencode-workspaces/ocw/internal/boot"
	"github.com/opencode-workspaces/ocw/internal/kube"
	"github.com/opencode-workspaces/ocw/internal/model"
)

// HoldCommand is the command that holds a read transaction on db for at
// most max, marking held once it holds and ending when release appears. A
// reader pins SQLite's WAL: while it reads, a checkpoint cannot restart the
// WAL, so opencode.db and opencode.db-wal copied in any order during the
// hold are one consistent state. It runs boot.DBHoldJS in OpenCode's own
// binary (a Bun executable), so the image needs nothing more.
func HoldCommand(opencode, db, held, release string, max time.Duration) []string {
	return []string{"sh", "-c",
		`OCW_MODE=hold OCW_DB="$1" OCW_HELD="$2" OCW_RELEASE="$3" OCW_SECS="$4" BUN_BE_BUN=1 exec "$5" -e "$0"`,
		boot.DBHoldJS, db, held, release, strconv.Itoa(int(max.Seconds())), opencode}
}

// hold holds a read transaction on the workspace's session database while
// the returned release function is not called. Without a running pod there
// is nothing to hold (nothing writes); when the hold cannot be taken (no
// pods/exec permission, an OpenCode that is not Bun) the backup goes on and
// says so: the copy is then as consistent as a crash.
func hold(ctx context.Context, c *kube.Clients, ws model.Workspace, token string, max time.Duration, o Options) func() {
	none := func() {}
	pods, err := listPods(ctx, c, ws)
	if err != nil {
		o.say("warning: not holding the session database (listing pods: %v)", err)
		return none
	}
	pod := ""
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			pod = p.Name
		}
	}
	if pod == "" {
		return none
	}
	held, release := "/tmp/ocw-hold-"+token, "/tmp/ocw-release-"+token
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() {
		_, stderr, err := c.Exec(hctx, ws.Namespace, pod, model.ContainerOpenCode, HoldCommand("opencode", model.SessionDB, held, release, max))
		if err != nil && stderr != "" {
			err = fmt.Errorf("%w: %s", err, stderr)
		}
		done <- err
	}()
	exec := func(ctx context.Context, cmd string) error {
		_, _, err := c.Exec(ctx, ws.Namespace, pod, model.ContainerOpenCode, []string{"sh", "-c", cmd})
		return err
	}
	err = wait.PollUntilContextTimeout(ctx, o.Poll, time.Minute, true, func(ctx context.Context) (bool, error) {
		select {
		case err := <-done:
			return false, fmt.Errorf("the hold ended at once: %v", err)
		default:
		}
		return exec(ctx, "test -e "+held) == nil, nil
	})
	if err != nil {
		cancel()
		o.say("warning: not holding the session database, the copy is as consistent as after a crash: %v", err)
		return none
	}
	o.say("holding a read transaction on %s in pod %s while the mover copies it", model.SessionDB, pod)
	return func() {
		ctx, stop := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer stop()
		if err := exec(ctx, "touch "+release); err != nil {
			o.say("warning: could not end the hold on the session database (it ends by itself within %s): %v", max, err)
		}
		select {
		case <-done:
		case <-ctx.Done():
		}
		cancel()
	}
}

func listPods(ctx context.Context, c *kube.Clients, ws model.Workspace) (*corev1.PodList, error) {
	sel := labels.SelectorFromSet(labels.Set{model.LabelWorkspace: ws.Name}).String()
	return c.Kube.CoreV1().Pods(ws.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
}
