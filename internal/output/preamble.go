package output

import (
	"bytes"
	"iter"
)

// A file's preamble is its leading run of comment, blank and "---" lines.
// ocw's header lives there, next to the "---" and yaml-language-server
// schema comment home-ops files start with. Formatters and pre-commit
// hooks add or move those two, so ocw finds its header anywhere in the
// preamble and compares files without them.

// preamble yields the lines of data's preamble, each with its newline.
func preamble(data []byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for line := range bytes.Lines(data) {
			t := trim(line)
			if len(t) > 0 && !bytes.Equal(t, []byte("---")) && t[0] != '#' || !yield(line) {
				return
			}
		}
	}
}

func trim(line []byte) []byte { return bytes.TrimRight(line, " \t\r\n") }

// headerOf returns the ocw header line in data's preamble, without its
// newline, or "" when there is none.
func headerOf(data []byte) string {
	for line := range preamble(data) {
		if bytes.HasPrefix(line, []byte(HeaderPrefix)) {
			return string(trim(line))
		}
	}
	return ""
}

// withoutFormatting drops the lines a formatter may add (a document
// start, a blank line or a schema comment) from data's preamble; the rest,
// header included, stays byte for byte.
func withoutFormatting(data []byte) []byte {
	var out []byte
	n := 0
	for line := range preamble(data) {
		n += len(line)
		if t := trim(line); len(t) > 0 && !bytes.Equal(t, []byte("---")) && !bytes.HasPrefix(t, []byte(SchemaPrefix)) {
			out = append(out, line...)
		}
	}
	return append(out, data[n:]...)
}

// sameContent reports whether two files differ at most in formatting
// lines of their preambles.
func sameContent(a, b []byte) bool {
	return bytes.Equal(a, b) || bytes.Equal(withoutFormatting(a), withoutFormatting(b))
}
