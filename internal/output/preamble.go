package output

import "bytes"

// A file's preamble is its leading run of comment, blank and "---" lines.
// ocw's header lives there, next to the "---" and yaml-language-server
// schema comment home-ops files start with. Formatters and pre-commit
// hooks add or move those two, so ocw finds its header anywhere in the
// preamble and compares files without them.

// isPreamble reports whether line (without its newline) can precede the
// first YAML content of a file.
func isPreamble(line []byte) bool {
	line = bytes.TrimRight(line, " \t\r")
	return len(line) == 0 || bytes.Equal(line, []byte("---")) || line[0] == '#'
}

// isFormatting reports whether a preamble line is one a tool may add:
// a document start, a blank line or a schema comment.
func isFormatting(line []byte) bool {
	line = bytes.TrimRight(line, " \t\r")
	return len(line) == 0 || bytes.Equal(line, []byte("---")) || bytes.HasPrefix(line, []byte(SchemaPrefix))
}

// headerOf returns the ocw header line in data's preamble, without its
// newline, or "" when there is none.
func headerOf(data []byte) string {
	for line := range bytes.Lines(data) {
		trimmed := bytes.TrimRight(line, "\n")
		if len(trimmed) > 0 && !isPreamble(trimmed) {
			return ""
		}
		if bytes.HasPrefix(trimmed, []byte(HeaderPrefix)) {
			return string(bytes.TrimRight(trimmed, " \t\r"))
		}
	}
	return ""
}

// withoutFormatting drops the lines a formatter may add from data's
// preamble; the rest, header included, stays byte for byte.
func withoutFormatting(data []byte) []byte {
	out := make([]byte, 0, len(data))
	rest := data
	for line := range bytes.Lines(data) {
		trimmed := bytes.TrimRight(line, "\n")
		if len(trimmed) > 0 && !isPreamble(trimmed) {
			break
		}
		if !isFormatting(trimmed) {
			out = append(out, line...)
		}
		rest = rest[len(line):]
	}
	return append(out, rest...)
}

// sameContent reports whether two files differ at most in formatting
// lines of their preambles.
func sameContent(a, b []byte) bool {
	return bytes.Equal(a, b) || bytes.Equal(withoutFormatting(a), withoutFormatting(b))
}
