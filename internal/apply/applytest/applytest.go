// Package applytest helps tests prove what `ocw apply` did and did not
// write to a real API server.
package applytest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/opencode-workspaces/ocw/internal/model"
)

// State is every object of a namespace (of every listable kind the server
// serves), the Namespace itself, and every cluster-scoped object labelled
// as ocw's for the namespace (model.LabelNamespace), each mapped to its
// resourceVersion. Two equal States mean
// nothing in that part of the cluster was written in between.
type State map[string]string

// Snapshot reads the State of namespace.
func Snapshot(t testing.TB, cfg *rest.Config, namespace string) State {
	t.Helper()
	ctx := context.Background()
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = rest.NoWarnings{} // deprecated kinds listed on purpose
	cfg.QPS = -1
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	lists, err := dc.ServerPreferredResources()
	if err != nil {
		t.Fatal(err)
	}
	s := State{}
	nsObj, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Get(ctx, namespace, metav1.GetOptions{})
	switch {
	case err == nil:
		s["Namespace/"+namespace] = nsObj.GetResourceVersion()
	case !apierrors.IsNotFound(err):
		t.Fatal(err)
	}
	type list struct {
		gv schema.GroupVersion
		r  metav1.APIResource
	}
	var todo []list
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range l.APIResources {
			// Events are written by the API server itself; ComponentStatus
			// probes components envtest does not run (a 20 s timeout).
			if !slices.Contains(r.Verbs, "list") || strings.Contains(r.Name, "/") || r.Kind == "Event" || r.Kind == "ComponentStatus" {
				continue
			}
			if r.Namespaced && s["Namespace/"+namespace] == "" {
				continue
			}
			todo = append(todo, list{gv, r})
		}
	}
	// Concurrently: the first list of a custom resource waits about a
	// second for the API server to set up its storage.
	var mu sync.Mutex
	var g errgroup.Group
	for _, l := range todo {
		g.Go(func() error {
			res := dyn.Resource(l.gv.WithResource(l.r.Name))
			var opts metav1.ListOptions
			var ri dynamic.ResourceInterface = res
			if l.r.Namespaced {
				ri = res.Namespace(namespace)
			} else {
				// ocw's cluster-scoped objects name their namespace in a label.
				opts.LabelSelector = model.LabelManagedBy + "=" + model.ManagedBy + "," + model.LabelNamespace + "=" + namespace
			}
			items, err := ri.List(ctx, opts)
			if err != nil {
				return fmt.Errorf("listing %s: %w", l.r.Name, err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, o := range items.Items {
				if !l.r.Namespaced && l.r.Kind == "Namespace" {
					continue
				}
				s[l.r.Kind+"."+l.gv.Group+"/"+o.GetNamespace()+"/"+o.GetName()] = o.GetResourceVersion()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	return s
}

// Diff lists how b differs from a, one line per object.
func Diff(a, b State) []string {
	var out []string
	for k, v := range a {
		switch w, ok := b[k]; {
		case !ok:
			out = append(out, "removed "+k)
		case w != v:
			out = append(out, fmt.Sprintf("changed %s (resourceVersion %s -> %s)", k, v, w))
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, "added "+k)
		}
	}
	sort.Strings(out)
	return out
}

// Equal fails t when b differs from a.
func Equal(t testing.TB, what string, a, b State) {
	t.Helper()
	if d := Diff(a, b); len(d) > 0 {
		t.Errorf("%s wrote to the cluster:\n  %s", what, strings.Join(d, "\n  "))
	}
}
