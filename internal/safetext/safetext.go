// Package safetext makes text that ocw did not write (termination
// messages, events, server replies) safe to print on a terminal, where an
// escape sequence could move the cursor, rewrite lines or hide text: it
// removes escape sequences whole, the other control characters and the
// bidirectional overrides, and replaces invalid UTF-8.
package safetext

import (
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Line returns s as one line: line breaks and tabs become spaces.
func Line(s string) string { return clean(s, false) }

// Text returns s with its line breaks ("\n", "\r\n") and tabs kept.
func Text(s string) string { return clean(s, true) }

// clean is Line or Text.
func clean(s string, multiline bool) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			b.WriteRune(utf8.RuneError)
		case r == 0x1b:
			i = skipEscape(s, i+size)
			continue
		case r == 0x9b: // C1 CSI
			i = skipCSI(s, i+size)
			continue
		case r == 0x90 || r == 0x98 || r == 0x9d || r == 0x9e || r == 0x9f: // C1 DCS, SOS, OSC, PM, APC
			i = skipString(s, i+size)
			continue
		case r == '\n' || r == '\t':
			if multiline {
				b.WriteRune(r)
			} else {
				b.WriteByte(' ')
			}
		case r == '\r' || r == '\v' || r == '\f':
			// A carriage return lets later text overwrite the line.
			if !multiline {
				b.WriteByte(' ')
			}
		// Other C0 and C1 controls and DEL, and the bidirectional
		// embeddings, overrides and isolates.
		case unicode.IsControl(r), r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// skipEscape returns the index after the escape sequence whose ESC ends
// just before i (ECMA-48: CSI, the string commands, or ESC with
// intermediates and one final byte).
func skipEscape(s string, i int) int {
	if i >= len(s) {
		return i
	}
	switch s[i] {
	case '[':
		return skipCSI(s, i+1)
	case ']', 'P', 'X', '^', '_':
		return skipString(s, i+1)
	}
	for i < len(s) && s[i] >= 0x20 && s[i] <= 0x2f {
		i++
	}
	if i < len(s) && s[i] >= 0x30 && s[i] <= 0x7e {
		i++
	}
	return i
}

// skipCSI skips parameter and intermediate bytes and the final byte.
func skipCSI(s string, i int) int {
	for i < len(s) && s[i] >= 0x20 && s[i] <= 0x3f {
		i++
	}
	if i < len(s) && s[i] >= 0x40 && s[i] <= 0x7e {
		i++
	}
	return i
}

// skipString skips a control string up to its terminator: BEL, ESC \ or
// the C1 ST, or the end of s.
func skipString(s string, i int) int {
	for i < len(s) {
		switch {
		case s[i] == 0x07:
			return i + 1
		case s[i] == 0x1b:
			if i+1 < len(s) && s[i+1] == '\\' {
				return i + 2
			}
			return i + 1
		case strings.HasPrefix(s[i:], "\u009c"):
			return i + len("\u009c")
		}
		i++
	}
	return i
}

// Lines makes every string reachable from v (a pointer to a report:
// structs, pointers, slices, maps of strings) one safe line, in place, so
// that a report holds no unsafe text whatever format prints it.
func Lines(v any) {
	walk(reflect.ValueOf(v))
}

func walk(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walk(v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				walk(v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			walk(v.Index(i))
		}
	case reflect.Map:
		if v.Type().Elem().Kind() != reflect.String {
			return // no report holds a map of anything else
		}
		for _, k := range v.MapKeys() {
			v.SetMapIndex(k, reflect.ValueOf(Line(v.MapIndex(k).String())).Convert(v.Type().Elem()))
		}
	case reflect.String:
		if v.CanSet() {
			v.SetString(Line(v.String()))
		}
	}
}
