package pipeline

import (
	"errors"
	"slices"

	"github.com/mockops/mockops/internal/yamlpos"
)

// Pos is a position in a definition: the file name given to Parse, a
// 1-based line and a 1-based column counted in characters. Zero means
// unknown.
type Pos struct {
	File string
	Line int
	Col  int
}

// String renders file:line:col, leaving out what is unknown ("-" when
// nothing is known).
func (p Pos) String() string { return yamlpos.Pos(p).String() }

// Error is one diagnostic of a definition: where, and what is wrong.
type Error struct {
	Pos Pos
	Msg string
}

// Error renders "file:line:col: message".
func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// ErrorList is every diagnostic of a definition (or, from LoadDir, of
// every file), in the style of go/scanner. Parse and LoadDir return one,
// sorted by position, so that errors.As can reach the list or each *Error.
// A file with more than 100 problems lists the first 100, then one
// diagnostic saying how many more there were.
type ErrorList []*Error

// Len returns the number of diagnostics.
func (l ErrorList) Len() int { return len(l) }

// Sort orders the list by file, line and column, keeping the order of
// diagnostics at the same position.
func (l ErrorList) Sort() {
	slices.SortStableFunc(l, func(a, b *Error) int { return yamlpos.Compare(yamlpos.Pos(a.Pos), yamlpos.Pos(b.Pos)) })
}

// Error renders every diagnostic, one per line.
func (l ErrorList) Error() string { return yamlpos.Join(l) }

// Unwrap exposes the diagnostics to errors.Is and errors.As.
func (l ErrorList) Unwrap() []error { return yamlpos.Errors(l) }

// Err returns the sorted list as an error, or nil when it is empty; a file
// with too many diagnostics is trimmed as ErrorList describes.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	l.Sort()
	y := l.toYAML()
	capped, _ := y.Err().(yamlpos.ErrorList)
	if len(capped) == len(l) {
		return l
	}
	return fromYAML(capped)
}

func (l ErrorList) toYAML() yamlpos.ErrorList {
	out := make(yamlpos.ErrorList, len(l))
	for i, e := range l {
		out[i] = &yamlpos.Error{Pos: yamlpos.Pos(e.Pos), Msg: e.Msg}
	}
	return out
}

func fromYAML(l yamlpos.ErrorList) ErrorList {
	out := make(ErrorList, len(l))
	for i, e := range l {
		out[i] = &Error{Pos: Pos(e.Pos), Msg: e.Msg}
	}
	return out
}

// exportErr turns the diagnostics the parser collects (yamlpos's) into the
// package's own ErrorList at the API boundary; other errors pass through.
func exportErr(err error) error {
	var l yamlpos.ErrorList
	if err == nil || !errors.As(err, &l) {
		return err
	}
	return fromYAML(l)
}
