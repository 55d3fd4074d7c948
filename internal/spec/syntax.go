package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// syntaxError positions a YAML syntax error. yaml.v3 reports no column,
// and its line is sometimes that of the enclosing block, sometimes 0-based.
// The parser stops at the first problem, so the first line whose prefix of
// the file fails with the very same error is the line at fault; the field
// path is where that line's key sits in the lines above it.
func syntaxError(file string, data []byte, err error) error {
	lines := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	want := err.Error()
	fails := func(k int) bool {
		e := parseAll(prefix(lines, k))
		return e != nil && e.Error() == want
	}
	// Prefixes that include the fault fail with its error; shorter ones
	// parse or fail otherwise (cut mid-construct), so the search is monotone.
	// At most the whole stream (an error such as an unclosed quote at the
	// end needs all of it).
	k := min(sort.Search(len(lines), func(i int) bool { return fails(i + 1) })+1, len(lines))
	for k > 1 && strings.TrimSpace(lines[k-1]) == "" {
		k-- // an end-of-stream error belongs to the last line with text
	}
	text := strings.TrimRight(lines[k-1], "\r")
	col := len(text) - len(strings.TrimLeft(text, " ")) + 1
	msg := yamlLine.ReplaceAllString(strings.TrimPrefix(want, "yaml: "), "")
	if strings.HasPrefix(text[col-1:], "\t") {
		msg += " (a tab indents this line: YAML indents with spaces)"
	} else if strings.HasPrefix(msg, "did not find expected key") || strings.HasPrefix(msg, "did not find expected '-'") {
		msg += " (check the indentation of this line)"
	}
	return &Error{File: file, Line: k, Column: col, Field: pathAt(lines, k, col), Msg: msg}
}

// parseAll decodes every document of a stream and returns the first error.
func parseAll(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

func prefix(lines []string, k int) []byte {
	return []byte(strings.Join(lines[:k], "\n") + "\n")
}

// yamlLine is the position yaml.v3 puts at the start of its messages.
var yamlLine = regexp.MustCompile(`^line \d+: `)

var lineKey = regexp.MustCompile(`^\s*(-\s+)?([A-Za-z0-9_./-]+)\s*:(\s|$)`)

// pathAt is the field path of line k (1-based) indented to col: the lines
// above it are parsed (the longest prefix that parses), and the line is
// placed in the innermost open mapping or list its indentation fits.
func pathAt(lines []string, k, col int) string {
	var root yaml.Node
	for j := k - 1; j > 0; j-- {
		if err := yaml.Unmarshal(prefix(lines, j), &root); err == nil {
			break
		}
		root = yaml.Node{}
	}
	text := lines[k-1]
	tab := strings.Contains(text[:len(text)-len(strings.TrimLeft(text, " \t"))], "\t")
	key, item := "", false
	if m := lineKey.FindStringSubmatch(text); m != nil {
		key, item = m[2], m[1] != ""
	} else {
		item = strings.HasPrefix(strings.TrimSpace(text), "-")
	}

	// The open containers: the root, then each one's last entry, deeper.
	type open struct {
		n    *yaml.Node
		path string
	}
	var chain []open
	n, path := &root, ""
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	for n != nil && len(n.Content) > 0 && (n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode) {
		chain = append(chain, open{n, path})
		last := n.Content[len(n.Content)-1]
		if n.Kind == yaml.MappingNode {
			path = joinPath(path, n.Content[len(n.Content)-2].Value)
		} else {
			path = fmt.Sprintf("%s[%d]", path, len(n.Content)-1)
		}
		n = last
	}
	if tab && len(chain) > 0 {
		// A tab's width is unknown: the line is somewhere in the innermost
		// open block.
		return chain[len(chain)-1].path
	}
	for i := len(chain) - 1; i >= 0; i-- {
		c := chain[i]
		switch c.n.Kind {
		case yaml.MappingNode:
			lastKey, last := c.n.Content[len(c.n.Content)-2], c.n.Content[len(c.n.Content)-1]
			switch {
			case col > lastKey.Column && key != "" && !item && last.ShortTag() == "!!null":
				// The first key of a block that "field:" opened.
				return joinPath(joinPath(c.path, lastKey.Value), key)
			case col > lastKey.Column:
				return joinPath(c.path, lastKey.Value) // inside the last value
			case col == lastKey.Column && key != "" && !item:
				return joinPath(c.path, key)
			case col == lastKey.Column:
				return c.path
			}
		case yaml.SequenceNode:
			switch {
			case col > c.n.Column:
				return fmt.Sprintf("%s[%d]", c.path, len(c.n.Content)-1)
			case col == c.n.Column && item:
				p := fmt.Sprintf("%s[%d]", c.path, len(c.n.Content))
				if key != "" {
					p = joinPath(p, key)
				}
				return p
			}
		}
	}
	if !item {
		return key
	}
	return ""
}
