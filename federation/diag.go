package federation

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/mockops/mockops/internal/yamlpos"
)

// Pos is a position in a federation definition's source. Line and Col
// are 1-based; zero means unknown (a value built in Go).
type Pos struct {
	File string
	Line int
	Col  int
}

// IsValid reports whether the position is known.
func (p Pos) IsValid() bool { return p.Line > 0 }

// String renders file:line:col, leaving out what is unknown ("-" when
// nothing is known).
func (p Pos) String() string {
	return yamlpos.Pos(p).String()
}

// Error is one diagnostic of a federation definition.
type Error struct {
	// Pos is where the value was written; it is unknown (zero Line) for
	// values built or modified in Go.
	Pos Pos
	// Path names the value the diagnostic is about, such as
	// "services[orders].timeout" or "scenarios[outage].services[auth].reality";
	// "" when the diagnostic is about the source itself (YAML syntax).
	Path string
	// Msg says what is wrong.
	Msg string
}

// Error renders "file:line:col: message", or "path: message" when the
// position is unknown, so a federation built in Go still says which
// service and field is wrong.
func (e *Error) Error() string {
	if !e.Pos.IsValid() && e.Path != "" {
		if e.Pos.File != "" {
			return e.Pos.File + ": " + e.Path + ": " + e.Msg
		}
		return e.Path + ": " + e.Msg
	}
	return e.Pos.String() + ": " + e.Msg
}

// ErrorList is every diagnostic of a definition. Parse, Validate,
// NewRouter and Update return one (possibly wrapped), so that errors.As
// reaches each problem, its position and its path.
type ErrorList []*Error

// Len returns the number of diagnostics.
func (l ErrorList) Len() int { return len(l) }

// Sort orders the list by file, line and column, keeping the order of
// diagnostics at the same (or an unknown) position.
func (l ErrorList) Sort() {
	slices.SortStableFunc(l, func(a, b *Error) int { return yamlpos.Compare(yamlpos.Pos(a.Pos), yamlpos.Pos(b.Pos)) })
}

// Error renders every diagnostic, one per line.
func (l ErrorList) Error() string { return yamlpos.Join(l) }

// Unwrap exposes the diagnostics to errors.Is and errors.As.
func (l ErrorList) Unwrap() []error { return yamlpos.Errors(l) }

// Err returns the sorted list as an error, or nil when it is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	l.Sort()
	return l
}

// spot is where a diagnostic points: the value's position, when it came
// from Parse, and its path, always.
type spot struct {
	pos  yamlpos.Pos
	path string
}

// String names the spot for a message: its position when known, else its path.
func (s spot) String() string {
	if s.pos.Line > 0 {
		return s.pos.String()
	}
	return s.path
}

// located is the positions of one value together with its path.
type located struct {
	at   *positions
	path string
}

func (p *positions) in(path string) located { return located{p, path} }

// self is the value itself.
func (l located) self() spot { return spot{l.at.self, l.path} }

// of is one field of the value; key is a positions key ("latency.p",
// "depends_on.0").
func (l located) of(key string) spot {
	return spot{l.at.of(key), joinPath(l.path, keyPath(key))}
}

func (l located) failed(key string) bool { return l.at.failed(key) }

// indexSegment matches the list indexes of a positions key.
var indexSegment = regexp.MustCompile(`\.(\d+)(\.|$)`)

// keyPath turns a positions key into path form: "depends_on.0" is
// "depends_on[0]".
func keyPath(key string) string {
	if !strings.ContainsAny(key, "0123456789") {
		return key
	}
	return indexSegment.ReplaceAllString(key, "[$1]$2")
}

func joinPath(base, key string) string {
	if base == "" {
		return key
	}
	return base + "." + key
}

// itemPath names the i-th item of a list by its name, or by its index
// when it has none.
func itemPath(list, name string, i int) string {
	if !namePattern.MatchString(name) {
		return list + "[" + strconv.Itoa(i) + "]"
	}
	return list + "[" + name + "]"
}

// report collects the diagnostics of one Parse or Validate. The mechanics
// (positions, sorting, rendering, caps) are yamlpos's; report adds the
// path of each validation diagnostic, and err converts the result to the
// public ErrorList at the API boundary.
type report struct {
	list  yamlpos.ErrorList
	paths map[*yamlpos.Error]string
}

// Add reports a diagnostic about the value at sp.
func (r *report) Add(sp spot, format string, args ...any) {
	n := len(r.list)
	r.list.Add(sp.pos, format, args...)
	if len(r.list) == n+1 && sp.path != "" { // yamlpos may have capped the list
		if r.paths == nil {
			r.paths = make(map[*yamlpos.Error]string)
		}
		r.paths[r.list[n]] = sp.path
	}
}

// err returns the diagnostics as an ErrorList, or nil.
func (r *report) err() error { return publicErrors(r.list.Err(), r.paths) }

// publicErrors converts a yamlpos error (an ErrorList, possibly wrapped)
// into this package's ErrorList; any other error is returned as is.
func publicErrors(err error, paths map[*yamlpos.Error]string) error {
	if err == nil {
		return nil
	}
	var yl yamlpos.ErrorList
	if !errors.As(err, &yl) {
		return err
	}
	out := make(ErrorList, len(yl))
	for i, e := range yl {
		out[i] = &Error{Pos: Pos{File: e.Pos.File, Line: e.Pos.Line, Col: e.Pos.Col}, Path: paths[e], Msg: e.Msg}
	}
	if len(out) == 0 {
		return fmt.Errorf("federation: %w", err)
	}
	return out
}
