// Package jsonbody reads the request bodies of the admin APIs: bounded
// by a size limit (answering 413 or 400 as RFC 9457 problems when it is
// over or unreadable), and decoded as exactly one JSON value with no
// unknown members, where an error says at which line and column of the
// body the JSON stops being what was expected. The admin APIs of pipeline
// and federation wrap it in their own error types, so that each answers
// the positions in its documented shape.
package jsonbody

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mockops/mockops/internal/problem"
)

// Read reads r's body, bounded by limit bytes. On failure it answers
// (413 when the body is too large, 400 otherwise) and returns false.
func Read(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	if r.ContentLength > limit {
		problem.Error(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body of %d bytes is over the limit of %d", r.ContentLength, limit))
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			problem.Error(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is over the limit of %d bytes", limit))
			return nil, false
		}
		problem.Error(w, http.StatusBadRequest, "reading the request body failed")
		return nil, false
	}
	return body, true
}

// ErrEmpty is returned by Decode for a body that holds no JSON value.
var ErrEmpty = errors.New("jsonbody: empty request body: a JSON object is expected")

// SyntaxError is a body that is not the JSON expected: not JSON, a member
// of the wrong type, an unknown member, or data after the value.
type SyntaxError struct {
	Offset int64  // byte offset of the culprit in the body
	Line   int    // 1-based
	Column int    // 1-based, in characters
	Msg    string // what is wrong, without position
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("jsonbody: %d:%d: %s", e.Line, e.Column, e.Msg)
}

// Decode decodes exactly one JSON value of body into v, refusing unknown
// members and trailing data. Its errors are ErrEmpty or a *SyntaxError.
func Decode(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		end := dec.InputOffset()
		if _, terr := dec.Token(); terr != io.EOF {
			// Point at the first byte after the value that is not space.
			rest := bytes.TrimLeft(body[end:], " \t\r\n")
			return syntaxError(body, int64(len(body)-len(rest)), "unexpected data after the JSON value")
		}
		return nil
	}
	if errors.Is(err, io.EOF) {
		return ErrEmpty
	}
	// The decoder's offsets count the bytes read, the culprit included:
	// the culprit is the byte before.
	off := dec.InputOffset()
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		off = se.Offset - 1
	} else if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		off = te.Offset - 1
		msg = "member " + strconv.Quote(te.Field) + " must be " + kindName(te.Type.Kind().String())
	} else if errors.Is(err, io.ErrUnexpectedEOF) {
		off = int64(len(body))
		msg = "unexpected end of JSON input"
	} else if name, ok := strings.CutPrefix(msg, "unknown field "); ok {
		// No offset for an unknown member: point at its first key.
		if i := bytes.Index(body, []byte(name)); i >= 0 {
			off = int64(i)
		}
	}
	return syntaxError(body, max(off, 0), msg)
}

func kindName(k string) string {
	switch k {
	case "string":
		return "a string"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "bool":
		return "a boolean"
	}
	return "a " + k
}

func syntaxError(body []byte, off int64, msg string) *SyntaxError {
	off = min(off, int64(len(body)))
	line, col := LineCol(body, off)
	return &SyntaxError{Offset: off, Line: line, Column: col, Msg: msg}
}

// LineCol converts a byte offset of body into a 1-based line and column
// (counted in characters); an offset out of range gives 0, 0.
func LineCol(body []byte, off int64) (line, col int) {
	if off < 0 || off > int64(len(body)) {
		return 0, 0
	}
	before := body[:off]
	line = bytes.Count(before, []byte{'\n'}) + 1
	start := bytes.LastIndexByte(before, '\n') + 1
	return line, utf8.RuneCount(before[start:]) + 1
}
