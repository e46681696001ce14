package coverage

import (
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/mockops/mockops/internal/yamlpos"
)

// Sentinels for what callers branch on. Every diagnostic of a document
// that cannot be loaded wraps ErrInvalidSpec (or ErrUnsupportedVersion,
// which wraps it too).
var (
	// ErrInvalidSpec reports an OpenAPI document that cannot be loaded:
	// malformed JSON or YAML, an unresolvable $ref, a malformed path
	// template, server URL or response key.
	ErrInvalidSpec = errors.New("coverage: invalid OpenAPI document")
	// ErrUnsupportedVersion reports a document whose "openapi" field is
	// not 3.0.x or 3.1.x (Swagger 2.0, OpenAPI 3.2, a missing field).
	ErrUnsupportedVersion = fmt.Errorf("coverage: unsupported OpenAPI version: %w", ErrInvalidSpec)

	// ErrPathNotFound is returned by Spec.Match for a path that no path
	// template of the document matches.
	ErrPathNotFound = errors.New("coverage: path not in the OpenAPI document")
	// ErrMethodNotAllowed is returned by Spec.Match for a path that a
	// template matches but whose path item has no operation for the method.
	ErrMethodNotAllowed = errors.New("coverage: method not declared for the path")
)

// Pos is a position in an OpenAPI document's source. Line and Col are
// 1-based; zero means unknown.
type Pos struct {
	File string
	Line int
	Col  int
}

// IsValid reports whether the line is known.
func (p Pos) IsValid() bool { return p.Line > 0 }

// String renders file:line:col, leaving out what is unknown.
func (p Pos) String() string { return yamlpos.Pos(p).String() }

// Error is one diagnostic of an OpenAPI document.
type Error struct {
	// Pos is where the value was written, when known: YAML and JSON
	// syntax errors and path templates carry a line; problems kin-openapi
	// reports while resolving $refs carry only the file name.
	Pos Pos
	// Msg says what is wrong.
	Msg string
	// Err is the sentinel the diagnostic wraps: ErrInvalidSpec or
	// ErrUnsupportedVersion.
	Err error
}

// Error renders "file:line:col: message".
func (e *Error) Error() string {
	if s := e.Pos.String(); s != "" && s != "-" {
		return s + ": " + e.Msg
	}
	return e.Msg
}

// Unwrap returns the sentinel, for errors.Is.
func (e *Error) Unwrap() error { return e.Err }

// ErrorList is every diagnostic of a document: LoadOpenAPIFile reports
// all the problems it found at once.
type ErrorList []*Error

// Error renders every diagnostic, one per line.
func (l ErrorList) Error() string { return yamlpos.Join(l) }

// Unwrap exposes the diagnostics to errors.Is and errors.As.
func (l ErrorList) Unwrap() []error { return yamlpos.Errors(l) }

// Err returns the list sorted by position as an error, or nil when it is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	slices.SortStableFunc(l, func(a, b *Error) int { return yamlpos.Compare(yamlpos.Pos(a.Pos), yamlpos.Pos(b.Pos)) })
	if len(l) > yamlpos.MaxErrorsPerFile {
		n := len(l) - yamlpos.MaxErrorsPerFile
		first := l[yamlpos.MaxErrorsPerFile]
		l = append(l[:yamlpos.MaxErrorsPerFile:yamlpos.MaxErrorsPerFile], &Error{Pos: first.Pos, Msg: "coverage: and " + strconv.Itoa(n) + " more problems", Err: ErrInvalidSpec})
	}
	return l
}

func (l *ErrorList) add(pos Pos, err error, msg string) {
	*l = append(*l, &Error{Pos: pos, Msg: "coverage: " + msg, Err: err})
}
