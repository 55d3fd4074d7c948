package spec

import (
	"fmt"
	"strings"
)

// Error is one problem in a spec file, located by line, column and field path.
type Error struct {
	File   string
	Line   int
	Column int
	// Field is the dotted path of the field, e.g. "workspaces[1].repo".
	Field string
	Msg   string
}

func (e *Error) Error() string {
	s := e.File
	if e.Line > 0 {
		s += fmt.Sprintf(":%d", e.Line)
		if e.Column > 0 {
			s += fmt.Sprintf(":%d", e.Column)
		}
	}
	if e.Field != "" {
		s += ": " + e.Field
	}
	return s + ": " + e.Msg
}

// ErrorList is every problem found in one pass, in file order.
type ErrorList []*Error

func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// covers reports whether an error in the list is about field or one of
// its parents.
func (l ErrorList) covers(field string) bool {
	for _, e := range l {
		if field == e.Field || strings.HasPrefix(field, e.Field+".") || strings.HasPrefix(field, e.Field+"[") {
			return true
		}
	}
	return false
}
