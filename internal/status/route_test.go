package status_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/opencode-workspaces/ocw/internal/build"
	"github.com/opencode-workspaces/ocw/internal/status"
	"github.com/opencode-workspaces/ocw/internal/status/statustest"
)

// TestRouteColumn reads the route's acceptance by the spec's Gateway into
// the ROUTE column, over in-memory routes.
func TestRouteColumn(t *testing.T) {
	sys := statustest.System(t, `apiVersion: ocw.dev/v1alpha1
kind: Workspaces
namespace: ns
domain: example.test
secrets: {mode: manual}
defaults:
  gateway: {name: gw, namespace: network, sectionName: https}
workspaces:
  - name: app
    repo: https://github.com/o/app
`)
	ws := sys.Workspaces[0]
	c := func(typ, st, reason string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: metav1.ConditionStatus(st), Reason: reason}
	}
	other := gatewayv1.ParentReference{Name: "other", Namespace: new(gatewayv1.Namespace("network"))}
	for _, tc := range []struct {
		name    string
		noRoute bool
		parent  *gatewayv1.ParentReference
		conds   []metav1.Condition
		want    string
	}{
		{name: "no HTTPRoute", noRoute: true, want: "missing"},
		{name: "no status yet", want: "pending"},
		{name: "status from another Gateway only", parent: &other, conds: []metav1.Condition{c("Accepted", "True", "Accepted")}, want: "pending"},
		{name: "accepted", conds: []metav1.Condition{c("Accepted", "True", "Accepted"), c("ResolvedRefs", "True", "ResolvedRefs")}, want: "accepted"},
		{name: "wrong section name", conds: []metav1.Condition{c("Accepted", "False", "NoMatchingParent"), c("ResolvedRefs", "True", "ResolvedRefs")}, want: "refused: NoMatchingParent"},
		{name: "hostname", conds: []metav1.Condition{c("Accepted", "False", "NoMatchingListenerHostname"), c("ResolvedRefs", "False", "BackendNotFound")}, want: "refused: NoMatchingListenerHostname"},
		{name: "backend grant", conds: []metav1.Condition{c("Accepted", "True", "Accepted"), c("ResolvedRefs", "False", "RefNotPermitted")}, want: "unresolved: RefNotPermitted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap := &status.Snapshot{Namespace: "ns"}
			if !tc.noRoute {
				r := build.HTTPRoute(ws)
				p := r.Spec.ParentRefs[0]
				if tc.parent != nil {
					p = *tc.parent
				}
				if tc.conds != nil {
					r.Status.Parents = []gatewayv1.RouteParentStatus{{ParentRef: p, Conditions: tc.conds}}
				}
				snap.Routes = []gatewayv1.HTTPRoute{*r}
			}
			rep := status.Build(sys, snap, time.Now())
			if got := rep.Workspaces[0].Route.Cell(); got != tc.want {
				t.Fatalf("ROUTE %q, want %q (%+v)", got, tc.want, rep.Workspaces[0].Route)
			}
			var b bytes.Buffer
			if err := rep.WriteTable(&b); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(b.String(), "\n")
			col := strings.Index(lines[0], "ROUTE")
			if col < 0 || !strings.HasPrefix(lines[1][col:], tc.want+" ") {
				t.Fatalf("no ROUTE %q under the header:\n%s", tc.want, b.String())
			}
		})
	}
}
