package model_test

import (
	"errors"
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/spec"
)

const header = "apiVersion: ocw.dev/v1alpha1\nkind: Workspaces\n"

func TestLoadFileMissing(t *testing.T) {
	_, err := model.LoadFile(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !strings.Contains(err.Error(), "reading spec") || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v", err)
	}
}

// FuzzLoad: any input either becomes a model, or fails with errors that
// each name the file, line and column, in words (no Go type names); the
// whole front of the pipeline never panics.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(header + "domain: d.io\nworkspaces:\n  - name: a\n    repo: https://github.com/o/a\n"))
	f.Add(spec.Starter)
	f.Add([]byte(header + "workspaces: [{name: a, repo: 'https://x/y', storage: {size: 1Gi}}]\ndefaults: &d {reloader: true}\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte(header + "workspaces:\n  - name: a\n\trepo: x: y\n"))
	f.Add([]byte(header + "workspaces: {name: 1}\ndefaults: {user: {uid: 1.5}, reloader: 3}\n"))
	// Every value the model takes parsed, invalid, in defaults and in a
	// workspace.
	f.Add([]byte(header + "domain: d.io\nsecrets: {refreshInterval: soon}\nflux: {interval: -1h, timeout: x}\n" +
		"defaults: {resources: {requests: {cpu: lots}, limits: {memory: ''}}, backup: {cacheCapacity: 1e9}}\n" +
		"workspaces:\n  - name: a\n    repo: 'https://x/%zz'\n    storage: {size: 10}\n    resources: {limits: {cpu: -1}}\n" +
		"  - name: b\n    repo: https://x/b\n    backup: {cacheCapacity: lots}\n    storage: {size: many}\n"))
	f.Add([]byte(header + "domain: d.io\nworkspaces:\n  - name: a\n    repo: https://x/a\n    backup: {cacheCapacity: lots}\n"))
	positioned := regexp.MustCompile(`^f\.yaml:[0-9]+:[0-9]+: `)
	// Go's words for types; quoted input is left out of the search.
	goTerms := regexp.MustCompile(`!!|unmarshal|spec\.[A-Z]|\bu?int(8|16|32|64)\b|\*string|map\[`)
	quoted := regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	f.Fuzz(func(t *testing.T, data []byte) {
		sys, err := model.Load("f.yaml", data)
		if err == nil {
			for _, w := range sys.Workspaces {
				if w.Host == "" || w.Repo.Dir == "" || w.Repo.Host == "" || w.Images.OpenCode == "" || w.Storage.Size.Sign() <= 0 {
					t.Fatalf("workspace missing resolved values: %+v", w)
				}
			}
			return
		}
		var list spec.ErrorList
		var one *spec.Error
		switch {
		case errors.As(err, &list):
		case errors.As(err, &one):
			list = spec.ErrorList{one}
		default:
			t.Fatalf("error of type %T: %v", err, err)
		}
		for _, e := range list {
			if !positioned.MatchString(e.Error()) {
				t.Fatalf("error without file:line:column: %q", e.Error())
			}
			if m := goTerms.FindString(quoted.ReplaceAllString(e.Msg, `""`)); m != "" {
				t.Fatalf("error in Go terms (%s): %q", m, e.Error())
			}
		}
	})
}

// The model takes the values validation parsed: what a workspace sets,
// else the defaults, else the built-in values; an empty limit is none.
func TestLoadParsedValues(t *testing.T) {
	sys, err := model.Load("ws.yaml", []byte(header+"domain: d.io\nsecrets: {refreshInterval: 15m}\nflux: {interval: 2h, timeout: 90s}\n"+
		"defaults:\n  resources: {requests: {cpu: 250m}, limits: {cpu: ''}}\n  storage: {size: 20Gi}\n"+
		"workspaces:\n  - name: a\n    repo: http://git.local:8080/o/a.git\n    git: {allowHTTP: true}\n    backup: {cacheCapacity: 3Gi}\n"+
		"  - name: b\n    repo: https://github.com/o/b\n    resources: {limits: {cpu: '4'}}\n    storage: {size: 1Ti}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := [3]string{sys.Secrets.RefreshInterval.String(), sys.Flux.Interval.String(), sys.Flux.Timeout.String()}; got != [3]string{"15m0s", "2h0m0s", "1m30s"} {
		t.Errorf("durations %v", got)
	}
	a, b := sys.Workspaces[0], sys.Workspaces[1]
	if a.Repo.Scheme != "http" || a.Repo.Host != "git.local:8080" || a.Repo.Dir != "a" {
		t.Errorf("repo %+v", a.Repo)
	}
	for _, c := range []struct {
		name string
		got  resource.Quantity
		want string
	}{
		{"a requests.cpu", *a.Resources.Requests.Cpu(), "250m"},
		{"a requests.memory", *a.Resources.Requests.Memory(), "768Mi"},
		{"a limits.memory", *a.Resources.Limits.Memory(), "2Gi"},
		{"b limits.cpu", *b.Resources.Limits.Cpu(), "4"},
		{"a storage", a.Storage.Size, "20Gi"},
		{"b storage", b.Storage.Size, "1Ti"},
		{"a cache", a.Backup.CacheCapacity, "3Gi"},
		{"b cache", b.Backup.CacheCapacity, "2Gi"},
	} {
		if c.got.String() != c.want {
			t.Errorf("%s = %s, want %s", c.name, c.got.String(), c.want)
		}
	}
	if _, set := a.Resources.Limits["cpu"]; set {
		t.Errorf("a: the empty cpu limit of the defaults is none, got %v", a.Resources.Limits)
	}
}
