package spec

import (
	"reflect"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

// The type walk covers every scalar kind a future field may use, so no
// Go type name can reach a user through the decoder's error.
func TestCheckNodeKinds(t *testing.T) {
	type fields struct {
		U  uint           `yaml:"u"`
		N  int            `yaml:"n"`
		F  float64        `yaml:"f"`
		A  any            `yaml:"a"`
		M  map[string]int `yaml:"m"`
		SS []string       `yaml:"ss"`
	}
	var root yaml.Node
	if err := yaml.Unmarshal([]byte("u: -1\nn: x\nf: fast\na: {any: [thing]}\nm: {k: 1.5}\nss: [a, [b]]\n"), &root); err != nil {
		t.Fatal(err)
	}
	d := &Document{File: "f.yaml", pos: map[string]position{}}
	d.checkNode(root.Content[0], reflect.TypeOf(fields{}), "", false)
	want := []string{
		`f.yaml:1:4: u: "-1" is out of range`,
		`f.yaml:2:4: n: "x" is not a whole number`,
		`f.yaml:3:4: f: "fast" is not a number`,
		`f.yaml:5:8: m.k: "1.5" is not a whole number`,
		`f.yaml:6:9: ss[1]: must be a string, got a list`,
	}
	if got := d.fieldErrs.Error(); got != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}
