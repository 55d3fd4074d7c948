package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Document is a loaded spec with the positions of its fields, so that
// validation errors can name file:line:column.
type Document struct {
	File string
	Spec *Workspaces
	pos  map[string]position
}

type position struct{ line, col int }

// LoadFile reads and strictly decodes a spec file.
func LoadFile(path string) (*Document, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading spec: %w", err)
	}
	return Load(path, data)
}

// Load strictly decodes a spec: exactly one YAML document, a known
// apiVersion and kind, and no unknown fields anywhere.
func Load(name string, data []byte) (*Document, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: name, Line: 1, Column: 1, Msg: "empty spec: expected apiVersion " + APIVersion + ", kind " + Kind}
		}
		return nil, yamlError(name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &Error{File: name, Line: extra.Line, Column: extra.Column, Msg: "more than one YAML document: a spec is one document"}
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlError(name, err)
	}

	doc := &Document{File: name, pos: map[string]position{}}
	top := &root
	if top.Kind == yaml.DocumentNode && len(top.Content) == 1 {
		top = top.Content[0]
	}
	if top.Kind != yaml.MappingNode {
		return nil, &Error{File: name, Line: top.Line, Column: top.Column, Msg: "a spec must be a YAML mapping"}
	}
	doc.index(top, "")

	if err := doc.checkVersion(top); err != nil {
		return nil, err
	}
	var errs ErrorList
	doc.checkKnown(top, reflect.TypeOf(Workspaces{}), "", &errs)
	if len(errs) > 0 {
		return nil, errs
	}
	var ws Workspaces
	if err := top.Decode(&ws); err != nil {
		return nil, yamlError(name, err)
	}
	doc.Spec = &ws
	return doc, nil
}

func (d *Document) checkVersion(top *yaml.Node) error {
	get := func(key string) (string, position, bool) {
		for i := 0; i+1 < len(top.Content); i += 2 {
			if top.Content[i].Value == key {
				v := top.Content[i+1]
				return v.Value, position{v.Line, v.Column}, true
			}
		}
		return "", position{top.Line, top.Column}, false
	}
	av, p, ok := get("apiVersion")
	switch {
	case !ok:
		return d.errAt(p, "apiVersion", "required: set apiVersion: "+APIVersion)
	case av != APIVersion:
		return d.errAt(p, "apiVersion", fmt.Sprintf("unsupported version %q: this ocw reads %s", av, APIVersion))
	}
	k, p, ok := get("kind")
	switch {
	case !ok:
		return d.errAt(p, "kind", "required: set kind: "+Kind)
	case k != Kind:
		return d.errAt(p, "kind", fmt.Sprintf("unsupported kind %q: expected %s", k, Kind))
	}
	return nil
}

// index records the position of every value node by its field path.
func (d *Document) index(n *yaml.Node, path string) {
	d.pos[path] = position{n.Line, n.Column}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			d.index(n.Content[i+1], joinPath(path, n.Content[i].Value))
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			d.index(c, fmt.Sprintf("%s[%d]", path, i))
		}
	case yaml.AliasNode:
		// Aliases are resolved by Decode; their fields keep the alias position.
	}
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// checkKnown walks the YAML tree next to the Go type and reports every
// mapping key the type does not declare, with its path and position.
func (d *Document) checkKnown(n *yaml.Node, t reflect.Type, path string, errs *ErrorList) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // Decode reports the type mismatch with its line.
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			fp := joinPath(path, k.Value)
			ft, ok := fields[k.Value]
			if !ok {
				*errs = append(*errs, &Error{File: d.File, Line: k.Line, Column: k.Column, Field: fp,
					Msg: "unknown field" + suggest(k.Value, fields)})
				continue
			}
			d.checkKnown(v, ft, fp, errs)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, c := range n.Content {
			d.checkKnown(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	}
}

// yamlFields maps YAML keys to field types, flattening ",inline" fields.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "inline") {
			for k, v := range yamlFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" || name == "-" {
			continue
		}
		out[name] = f.Type
	}
	return out
}

// suggest names a known field that differs only by case, a common typo.
func suggest(key string, fields map[string]reflect.Type) string {
	for k := range fields {
		if strings.EqualFold(k, key) {
			return fmt.Sprintf(" (did you mean %q?)", k)
		}
	}
	return ""
}

var yamlLine = regexp.MustCompile(`line (\d+): `)

// yamlError turns a yaml.v3 error into positioned Errors.
func yamlError(file string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		var errs ErrorList
		for _, e := range te.Errors {
			errs = append(errs, lineError(file, e))
		}
		return errs
	}
	return lineError(file, strings.TrimPrefix(err.Error(), "yaml: "))
}

func lineError(file, msg string) *Error {
	e := &Error{File: file, Msg: msg}
	if m := yamlLine.FindStringSubmatchIndex(msg); m != nil {
		e.Line, _ = strconv.Atoi(msg[m[2]:m[3]])
		e.Msg = msg[:m[0]] + msg[m[1]:]
	}
	return e
}

// errAt builds an Error at a field path, falling back to the nearest
// ancestor that exists in the file (for fields that are missing).
func (d *Document) errAt(p position, field, msg string) *Error {
	return &Error{File: d.File, Line: p.line, Column: p.col, Field: field, Msg: msg}
}

// At returns the position of a field path, or of its nearest ancestor.
func (d *Document) at(path string) position {
	for {
		if p, ok := d.pos[path]; ok {
			return p
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return d.pos[""]
		}
		path = path[:i]
	}
}

// fieldError is how validation reports a problem with a field path.
func (d *Document) fieldError(path, format string, args ...any) *Error {
	return d.errAt(d.at(path), path, fmt.Sprintf(format, args...))
}
