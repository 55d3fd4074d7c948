package doctor

import (
	"net"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opencode-workspaces/ocw/internal/kube"
	"github.com/opencode-workspaces/ocw/internal/status/statustest"
	"github.com/opencode-workspaces/ocw/internal/testenv"
)

// A kubelet that accepts the exec the API server forwards and never
// answers (a hung node; the only requests it gets are execs): doctor's git check gives up after its deadline
// with a warn, and every other check still reports.
func TestExecDeadline(t *testing.T) {
	kubelet, execs := testenv.StalledServer(t)
	_, portText, err := net.SplitHostPort(kubelet.Listener.Addr().String())
	must(t, err)
	port, err := strconv.Atoi(portText)
	must(t, err)

	f := newFixture(t, fixtureOpts{noPod: true})
	ctx := t.Context()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "hung-" + f.ns}}
	must(t, env.Client.Create(ctx, node))
	node.Status = corev1.NodeStatus{
		Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(port)}},
	}
	statustest.UpdateStatus(t, env.Client, node)
	f.pod = statustest.CreatePodOn(t, env.Client, f.ws, "app-7d9f-hung1", node.Name, statustest.HealthyStatus(f.ws, time.Now()))

	c, err := kube.NewClients(env.Config)
	must(t, err)
	done := make(chan *Report, 1)
	go func() {
		rep, err := Run(ctx, c, f.sys, Options{Exec: c, SpecFile: "ws.yaml", Timeout: 2 * time.Second})
		if err != nil {
			t.Error(err)
		}
		done <- rep
	}()
	var rep *Report
	select {
	case rep = <-done:
	// Not a speed target: a hang guard sixty times the deadline.
	case <-time.After(2 * time.Minute):
		t.Fatal("doctor still waiting on a hung kubelet after 2 minutes")
	}
	if rep == nil {
		t.FailNow()
	}
	if execs.Load() == 0 {
		t.Fatal("the exec never reached the kubelet: the test proves nothing")
	}
	check := expect(t, rep, "app", "git", Warn, "kubectl -n "+f.ns+" exec app-7d9f-hung1 -c opencode -- git --version (ocw doctor --request-timeout allows more time)")
	if check.Message != "git --version in pod app-7d9f-hung1 did not finish within 2s" {
		t.Errorf("git check: %q", check.Message)
	}
	expect(t, rep, "app", "pod", OK, "")
	expect(t, rep, ScopeNamespace, "secret-server", OK, "")
}
