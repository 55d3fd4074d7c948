package spec

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Document is a loaded spec with the positions of its fields, so that
// validation errors can name file:line:column.
type Document struct {
	File string
	Spec *Workspaces
	pos  map[string]position
	// fieldErrs are the problems of single fields found while loading
	// (unknown, duplicate, wrong type); Errors reports them together with
	// the validation errors, so one run shows everything.
	fieldErrs ErrorList
}

type position struct{ line, col int }

// Load decodes a spec: exactly one YAML document with a known apiVersion
// and kind. A document that cannot be read as a spec at all (bad YAML,
// another version) is an error here; unknown fields and values of the
// wrong type are reported by Errors, with every other problem of the file.
func Load(name string, data []byte) (*Document, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: name, Line: 1, Column: 1, Msg: "empty spec: expected apiVersion " + APIVersion + ", kind " + Kind}
		}
		return nil, syntaxError(name, data, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &Error{File: name, Line: extra.Line, Column: extra.Column, Msg: "more than one YAML document: a spec is one document"}
	} else if !errors.Is(err, io.EOF) {
		return nil, syntaxError(name, data, err)
	}

	doc := &Document{File: name, pos: map[string]position{}}
	top := &root
	if top.Kind == yaml.DocumentNode && len(top.Content) == 1 {
		top = top.Content[0]
	}
	if top.Kind != yaml.MappingNode {
		return nil, &Error{File: name, Line: top.Line, Column: top.Column, Msg: "a spec must be a YAML mapping"}
	}

	if err := doc.checkVersion(top); err != nil {
		return nil, err
	}
	doc.checkNode(top, reflect.TypeOf(Workspaces{}), "", false)
	var ws Workspaces
	// Decoding is lenient (unknown fields are skipped, mistyped ones left
	// unset): checkNode has reported both with their positions.
	if err := top.Decode(&ws); err != nil && len(doc.fieldErrs) == 0 {
		// checkNode mirrors the decoder; this is a guard, not a path.
		return nil, &Error{File: name, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
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
	for _, f := range []struct{ key, want, unsupported string }{
		{"apiVersion", APIVersion, "unsupported version %q: this ocw reads %s"},
		{"kind", Kind, "unsupported kind %q: expected %s"},
	} {
		v, p, ok := get(f.key)
		switch {
		case !ok:
			return d.errAt(p, f.key, "required: set "+f.key+": "+f.want)
		case v != f.want:
			return d.errAt(p, f.key, fmt.Sprintf(f.unsupported, v, f.want))
		}
	}
	return nil
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// checkNode walks the YAML tree next to the Go type, recording each field
// path's position (inside an alias, the alias's) and each unknown or
// repeated key and mistyped value. Null is "unset". The Go type does not
// recurse, so aliases cannot make the walk loop.
func (d *Document) checkNode(n *yaml.Node, t reflect.Type, path string, aliased bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	at := position{n.Line, n.Column}
	if !aliased {
		d.pos[path] = at
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return
		}
		n, aliased = n.Alias, true
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return
	}
	fail := func(format string, args ...any) {
		d.fieldErrs = append(d.fieldErrs, d.errAt(at, path, fmt.Sprintf(format, args...)))
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		if n.Kind != yaml.MappingNode {
			fail("must be a mapping (field: value), got %s", describe(n))
			return
		}
		var fields map[string]reflect.Type
		if t.Kind() == reflect.Struct {
			fields = yamlFields(t)
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			fp := joinPath(path, k.Value)
			kerr := func(msg string) {
				d.fieldErrs = append(d.fieldErrs, &Error{File: d.File, Line: k.Line, Column: k.Column, Field: fp, Msg: msg})
			}
			if k.Kind != yaml.ScalarNode {
				kerr("a key must be a plain name, got " + describe(k))
				continue
			}
			if line, dup := seen[k.Value]; dup {
				kerr(fmt.Sprintf("set twice (first at line %d)", line))
				continue
			}
			seen[k.Value] = k.Line
			var ft reflect.Type
			if fields == nil {
				ft = t.Elem() // a map's values
			} else if ft = fields[k.Value]; ft == nil {
				kerr("unknown field" + suggest(k.Value, fields))
				continue
			}
			d.checkNode(v, ft, fp, aliased)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			fail("must be a list (- item), got %s", describe(n))
			return
		}
		for i, c := range n.Content {
			d.checkNode(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), aliased)
		}
	case reflect.Interface:
		// Free-form: any YAML goes.
	default:
		checkScalar(n, t, fail)
	}
}

// checkScalar reports a value that is not the scalar type t holds.
func checkScalar(n *yaml.Node, t reflect.Type, fail func(format string, args ...any)) {
	if n.Kind != yaml.ScalarNode {
		fail("must be %s, got %s", kindName(t), describe(n))
		return
	}
	tag := n.ShortTag()
	switch kindName(t) {
	case "true or false":
		if tag != "!!bool" {
			fail("%q is not a boolean: use true or false", n.Value)
		}
	case "a whole number":
		// Only YAML integers: the decoder would also truncate 1.5.
		whole := digits.MatchString(n.Value)
		switch {
		case tag == "!!str" && whole:
			fail("%q is a string, not a number: write it without quotes", n.Value)
		case tag != "!!int" && !(tag == "!!float" && whole):
			fail("%q is not a whole number", n.Value)
		case n.Decode(reflect.New(t).Interface()) != nil:
			fail("%q is out of range", n.Value)
		}
	case "a number":
		if tag != "!!int" && tag != "!!float" {
			fail("%q is not a number", n.Value)
		}
	}
}

// digits is an integer too big for YAML's int (resolved as a float).
var digits = regexp.MustCompile(`^[-+]?[0-9]+$`)

// describe names what a YAML node holds, for type errors.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}

// kindName says in YAML terms what a scalar field holds.
func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a string"
}

// yamlFields maps YAML keys to field types, flattening ",inline" fields.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "inline") {
			maps.Copy(out, yamlFields(f.Type))
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

// errAt builds an Error at a position.
func (d *Document) errAt(p position, field, msg string) *Error {
	return &Error{File: d.File, Line: p.line, Column: p.col, Field: field, Msg: msg}
}

// at returns the position of a field path, or of its nearest ancestor
// that is in the file (for fields that are missing).
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

// FieldError is how validation reports a problem with a field path.
func (d *Document) FieldError(path, format string, args ...any) *Error {
	return d.errAt(d.at(path), path, fmt.Sprintf(format, args...))
}

// Errors is every problem of the file in file order, nil if none: the
// field errors of loading, then validation's, except those about a field
// that could not be loaded (a mistyped field is left unset, which would be
// reported again).
func (d *Document) Errors(validation ErrorList) error {
	errs := append(ErrorList(nil), d.fieldErrs...)
	for _, e := range validation {
		if !d.fieldErrs.covers(e.Field) {
			errs = append(errs, e)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	slices.SortStableFunc(errs, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	return errs
}
