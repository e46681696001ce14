package federation

import (
	"bytes"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/mockops/mockops/internal/jsonbody"
	"github.com/mockops/mockops/internal/problem"
	"github.com/mockops/mockops/store"
)

// requestFile names a JSON request body in the positions of its problems.
const requestFile = "request"

// readBody reads r's body, bounded by MaxBodyBytes; on failure it answers
// (413 when too large, 400 otherwise) and returns false.
func (h *handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	return jsonbody.Read(w, r, h.maxBody)
}

// positionsOf turns a definition's ErrorList into the problems of an answer.
func positionsOf(l ErrorList) []problem.Position {
	out := make([]problem.Position, len(l))
	for i, e := range l {
		out[i] = problem.Position{File: e.Pos.File, Line: e.Pos.Line, Column: e.Pos.Col, Message: e.Msg, Path: e.Path}
	}
	return out
}

// decodeDefinition returns the YAML definition a request carries: the
// body itself for a YAML media type, the "source" member of a JSON one.
func decodeDefinition(contentType string, body []byte) ([]byte, error) {
	mt := "application/json"
	if contentType != "" {
		m, _, err := mime.ParseMediaType(contentType)
		if err != nil {
			return nil, &problem.ClientError{Status: http.StatusUnsupportedMediaType, Detail: "malformed Content-Type"}
		}
		mt = m
	}
	switch mt {
	case "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml":
		if len(bytes.TrimSpace(body)) == 0 {
			return nil, &problem.ClientError{Status: http.StatusBadRequest, Detail: "empty definition"}
		}
		return body, nil
	case "application/json":
		var in struct {
			Source *string `json:"source"`
		}
		if err := decodeJSON(body, &in); err != nil {
			return nil, err
		}
		if in.Source == nil || strings.TrimSpace(*in.Source) == "" {
			return nil, &problem.ClientError{Status: http.StatusBadRequest, Detail: `body needs a "source" member holding the definition`}
		}
		return []byte(*in.Source), nil
	}
	return nil, &problem.ClientError{Status: http.StatusUnsupportedMediaType,
		Detail: `a definition is sent as application/yaml, or as application/json {"source": ...}; not ` + clip(mt)}
}

// decodeJSON decodes exactly one JSON value into v, refusing unknown
// members and trailing data; a syntax or type error carries its line and
// column.
func decodeJSON(body []byte, v any) error {
	err := jsonbody.Decode(body, v)
	if se, ok := errors.AsType[*jsonbody.SyntaxError](err); ok {
		return &problem.ClientError{Status: http.StatusBadRequest, Detail: "malformed JSON body: " + se.Msg,
			Problems: []problem.Position{{File: requestFile, Line: se.Line, Column: se.Column, Message: se.Msg}}}
	}
	if err != nil { // jsonbody.ErrEmpty
		return &problem.ClientError{Status: http.StatusBadRequest, Detail: "empty request body: a JSON object is expected"}
	}
	return nil
}

// etag renders a version as an entity tag.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// errPrecondition is a precondition header the handler cannot read.
var errPrecondition = &problem.ClientError{Status: http.StatusBadRequest, Detail: `If-Match and If-None-Match take one quoted version ("3") or *`}

// precondition turns If-Match / If-None-Match into the version a Put or
// Delete expects: store.AnyVersion without one, 0 for If-None-Match: *,
// the version for If-Match: "n"; mustExist is set for If-Match: *. given
// says whether a precondition was sent (a conflict is then 412).
func precondition(r *http.Request, allowNoneMatch bool) (version int64, mustExist, given bool, err error) {
	im, inm := r.Header.Get("If-Match"), r.Header.Get("If-None-Match")
	switch {
	case im != "" && inm != "":
		return 0, false, false, errPrecondition
	case inm != "":
		if !allowNoneMatch || strings.TrimSpace(inm) != "*" {
			return 0, false, false, errPrecondition
		}
		return 0, false, true, nil
	case im != "":
		im = strings.TrimSpace(im)
		if im == "*" {
			return store.AnyVersion, true, true, nil
		}
		unq, ok := strings.CutPrefix(strings.TrimPrefix(im, "W/"), `"`)
		unq, ok2 := strings.CutSuffix(unq, `"`)
		n, perr := parseCount(unq)
		if !ok || !ok2 || perr != nil || n <= 0 {
			return 0, false, false, errPrecondition
		}
		return int64(n), false, true, nil
	}
	return store.AnyVersion, false, false, nil
}

// quote quotes a name from a request for a detail, clipped.
func quote(s string) string { return strconv.Quote(clip(s)) }
