package layout_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/opencode-workspaces/ocw/internal/layout"
	"github.com/opencode-workspaces/ocw/internal/layout/layouttest"
	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/spec"
)

// renovateConfig is the Renovate configuration docs/gitops.md gives: the
// first JSON block there that has customManagers.
type renovateConfig struct {
	CustomManagers []struct {
		CustomType          string   `json:"customType"`
		ManagerFilePatterns []string `json:"managerFilePatterns"`
		MatchStrings        []string `json:"matchStrings"`
	} `json:"customManagers"`
	IgnorePaths []string `json:"ignorePaths"`
}

func documentedRenovate(t *testing.T) renovateConfig {
	t.Helper()
	doc, err := os.ReadFile("../../docs/gitops.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, block := range strings.Split(string(doc), "```json\n")[1:] {
		block, _, _ = strings.Cut(block, "```")
		if !strings.Contains(block, "customManagers") {
			continue
		}
		var c renovateConfig
		if err := json.Unmarshal([]byte(block), &c); err != nil {
			t.Fatalf("docs/gitops.md: the Renovate configuration is not JSON: %v", err)
		}
		if len(c.CustomManagers) != 1 || c.CustomManagers[0].CustomType != "regex" || len(c.CustomManagers[0].MatchStrings) != 1 {
			t.Fatalf("docs/gitops.md: want one regex custom manager with one matchString: %+v", c)
		}
		return c
	}
	t.Fatal("docs/gitops.md has no Renovate configuration")
	return renovateConfig{}
}

// The regex manager docs/gitops.md documents finds every image field that
// `ocw init` and the examples print, with the name and tag Renovate needs
// to bump it. Renovate reads matchStrings as RE2 with (?<name>) groups,
// which Go's regexp (also RE2) compiles as they are.
func TestRenovateFindsSpecImages(t *testing.T) {
	m := documentedRenovate(t).CustomManagers[0]
	re, err := regexp.Compile(m.MatchStrings[0])
	if err != nil {
		t.Fatalf("matchString does not compile: %v", err)
	}
	files := map[string][]byte{"ocw init": spec.Starter}
	examples, _ := filepath.Glob("../../examples/*.yaml")
	for _, e := range examples {
		b, err := os.ReadFile(e)
		if err != nil {
			t.Fatal(err)
		}
		files[e] = b
	}
	for name, data := range files {
		var images []string
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), ": "); ok && (k == "opencode" || k == "clone" || k == "seed") && strings.Contains(v, ":") {
				images = append(images, v)
			}
		}
		if len(images) == 0 {
			t.Errorf("%s: no image fields", name)
		}
		found := map[string]bool{}
		for _, match := range re.FindAllStringSubmatch(string(data), -1) {
			g := map[string]string{}
			for i, n := range re.SubexpNames() {
				g[n] = match[i]
			}
			if g["datasource"] != "docker" {
				t.Errorf("%s: datasource %q", name, g["datasource"])
			}
			found[g["depName"]+":"+g["currentValue"]] = true
		}
		for _, img := range images {
			if !found[img] {
				t.Errorf("%s: Renovate would not bump image %s (found %v)", name, img, found)
			}
		}
	}
	// ocw init pins the images ocw is tested with.
	for _, want := range []string{spec.DefaultOpenCodeImage, spec.DefaultCloneImage, spec.DefaultSeedImage} {
		if !strings.Contains(string(spec.Starter), ": "+want+"\n") {
			t.Errorf("ocw init does not pin %s", want)
		}
	}
}

// The documented ignorePaths keep Renovate out of every file ocw renders
// for the starter spec, and the documented file pattern takes the spec.
func TestRenovateIgnoresGeneratedFiles(t *testing.T) {
	c := documentedRenovate(t)
	if len(c.IgnorePaths) != 1 || !strings.HasSuffix(c.IgnorePaths[0], "/**") {
		t.Fatalf("ignorePaths %q: want one folder glob", c.IgnorePaths)
	}
	dir := strings.TrimSuffix(c.IgnorePaths[0], "**")
	sys, err := model.Load("starter.yaml", spec.Starter)
	if err != nil {
		t.Fatal(err)
	}
	for p := range layouttest.Render(t, sys, layout.Flux) {
		if !strings.HasPrefix(p, dir) {
			t.Errorf("Renovate would manage generated file %s (ignorePaths %q)", p, c.IgnorePaths)
		}
	}
	pattern := c.CustomManagers[0].ManagerFilePatterns
	if len(pattern) != 1 || !strings.HasPrefix(pattern[0], "/") || !strings.HasSuffix(pattern[0], "/") {
		t.Fatalf("managerFilePatterns %q: want one /regex/", pattern)
	}
	re := regexp.MustCompile(strings.Trim(pattern[0], "/"))
	for _, p := range []string{"workspaces.yaml", "ocw/workspaces.yaml"} {
		if !re.MatchString(p) || strings.HasPrefix(p, dir) {
			t.Errorf("the spec at %s is not managed by the custom manager", p)
		}
	}
}
