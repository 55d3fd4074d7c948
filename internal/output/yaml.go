package output

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// encodeYAML writes the JSON-shaped value v (maps, slices, strings, int64,
// float64, bool, nil) as block-style YAML: keys sorted, two-space indent,
// multi-line strings as literal blocks. It exists because rendering 1,000
// workspaces spent most of its time in a general YAML emitter analysing the
// same embedded scripts again and again; this one does only what ocw
// needs, and a round-trip test plus a fuzz target hold it to what YAML
// decoders read back.
func encodeYAML(buf *bytes.Buffer, v any) {
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 0 {
			buf.WriteString("{}\n")
			return
		}
		writeMap(buf, t, 0)
	case []any:
		if len(t) == 0 {
			buf.WriteString("[]\n")
			return
		}
		writeSeq(buf, t, 0)
	default:
		writeScalar(buf, v, 0)
		buf.WriteByte('\n')
	}
}

func indent(buf *bytes.Buffer, n int) {
	for i := 0; i < n; i++ {
		buf.WriteByte(' ')
	}
}

// writeMap writes a mapping whose first key is already positioned (at
// column n) and whose other keys start new lines at column n.
func writeMap(buf *bytes.Buffer, m map[string]any, n int) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i > 0 {
			indent(buf, n)
		}
		writeString(buf, k, n, true)
		buf.WriteByte(':')
		writeValue(buf, m[k], n)
	}
}

// writeValue writes what follows "key:" or "-": a nested block on the next
// lines, or a scalar on this line.
func writeValue(buf *bytes.Buffer, v any, n int) {
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 0 {
			buf.WriteString(" {}\n")
			return
		}
		buf.WriteByte('\n')
		indent(buf, n+2)
		writeMap(buf, t, n+2)
	case []any:
		if len(t) == 0 {
			buf.WriteString(" []\n")
			return
		}
		buf.WriteByte('\n')
		indent(buf, n+2)
		writeSeq(buf, t, n+2)
	default:
		buf.WriteByte(' ')
		writeScalar(buf, v, n)
		buf.WriteByte('\n')
	}
}

func writeSeq(buf *bytes.Buffer, s []any, n int) {
	for i, item := range s {
		if i > 0 {
			indent(buf, n)
		}
		buf.WriteByte('-')
		switch t := item.(type) {
		case map[string]any:
			if len(t) == 0 {
				buf.WriteString(" {}\n")
				continue
			}
			buf.WriteByte(' ')
			writeMap(buf, t, n+2)
		case []any:
			if len(t) == 0 {
				buf.WriteString(" []\n")
				continue
			}
			buf.WriteByte(' ')
			writeSeq(buf, t, n+2)
		default:
			buf.WriteByte(' ')
			writeScalar(buf, item, n)
			buf.WriteByte('\n')
		}
	}
}

// writeScalar writes a scalar; n is the indentation of the line it is on,
// which a literal block's content is indented past.
func writeScalar(buf *bytes.Buffer, v any, n int) {
	switch t := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		buf.WriteString(strconv.FormatBool(t))
	case int64:
		buf.WriteString(strconv.FormatInt(t, 10))
	case float64:
		buf.WriteString(strconv.FormatFloat(t, 'g', -1, 64))
	case string:
		writeString(buf, t, n, false)
	default:
		panic(fmt.Sprintf("output: cannot encode %T as YAML", v))
	}
}

func writeString(buf *bytes.Buffer, s string, n int, key bool) {
	switch {
	case isPlain(s):
		buf.WriteString(s)
	case !key && isLiteral(s):
		buf.WriteByte('|')
		switch {
		case !strings.HasSuffix(s, "\n"):
			buf.WriteByte('-')
		case strings.HasSuffix(s, "\n\n"):
			buf.WriteByte('+')
		}
		buf.WriteByte('\n')
		for _, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
			if line != "" {
				indent(buf, n+2)
				buf.WriteString(line)
			}
			buf.WriteByte('\n')
		}
		// The caller ends the line: take back the last newline.
		buf.Truncate(buf.Len() - 1)
	default:
		writeQuoted(buf, s)
	}
}

// writeQuoted writes a double-quoted scalar, escaping everything YAML does
// not allow raw in a document.
func writeQuoted(buf *bytes.Buffer, s string) {
	buf.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			buf.WriteByte('\\')
			buf.WriteRune(r)
		case r == '\n':
			buf.WriteString(`\n`)
		case r == '\t':
			buf.WriteString(`\t`)
		case !printable(r):
			fmt.Fprintf(buf, `\u%04X`, r)
		default:
			buf.WriteRune(r)
		}
	}
	buf.WriteByte('"')
}

// printable is YAML's printable set, less the line separators that
// decoders treat as line breaks.
func printable(r rune) bool {
	switch {
	case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
		return false
	case r == '\u2028' || r == '\u2029' || r == '\uFEFF' || r == 0xFFFE || r == 0xFFFF:
		return false
	}
	return r <= 0x10FFFF
}

var (
	// Anything a YAML 1.1 or 1.2 decoder could read as a number, a
	// timestamp or a sexagesimal value, broadly: such strings get quotes.
	numberish = regexp.MustCompile(`^[-+.]?[0-9][0-9a-fA-FxXoObB_.:+-]*$`)
	timestamp = regexp.MustCompile(`^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}`)
	special   = map[string]bool{
		"y": true, "yes": true, "n": true, "no": true, "true": true, "false": true,
		"on": true, "off": true, "null": true, "~": true, ".inf": true, ".nan": true,
	}
)

// isPlain reports whether s can be written without quotes and read back
// as the same string by YAML 1.1 and 1.2 decoders.
func isPlain(s string) bool {
	if !plainChars(s) || strings.HasSuffix(s, ":") || strings.Contains(s, ": ") || strings.Contains(s, "::") {
		return false
	}
	if numberish.MatchString(s) || timestamp.MatchString(s) || special[strings.ToLower(s)] {
		return false
	}
	if strings.HasPrefix(s, "<<") || s == "=" {
		return false
	}
	return true
}

// plainChars: a conservative character set, single inner spaces, and a
// first character that is no YAML indicator ("-" only before a letter, as
// in "--port").
func plainChars(s string) bool {
	if s == "" {
		return false
	}
	lead := strings.TrimLeft(s, "-")
	if lead != s && (lead == "" || !isLetter(lead[0])) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isLetter(c) || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '/':
		case c == ':' || c == '@' || c == '+' || c == '=' || c == '%' || c == '-':
			if i == 0 && c != '-' {
				return false
			}
		case c == ' ':
			if i == 0 || i == len(s)-1 || s[i-1] == ' ' {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// isLiteral reports whether s reads back exactly from a literal block:
// several lines of printable text, no trailing spaces, no leading space or
// tab on the first line (which would need an indentation indicator).
func isLiteral(s string) bool {
	if !strings.Contains(strings.TrimSuffix(s, "\n"), "\n") || strings.HasPrefix(s, " ") || strings.HasPrefix(s, "\t") || strings.HasPrefix(s, "\n") {
		return false
	}
	for _, line := range strings.Split(s, "\n") {
		if strings.HasSuffix(line, " ") || strings.HasSuffix(line, "\t") {
			return false
		}
	}
	for _, r := range s {
		if r != '\n' && r != '\t' && !printable(r) {
			return false
		}
	}
	return true
}
