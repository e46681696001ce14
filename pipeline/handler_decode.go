package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/internal/jsonbody"
	"github.com/mockops/mockops/internal/problem"
)

// requestFile names a JSON request body in the positions of its problems.
const requestFile = "request"

// defaultDefinitionFile names a definition sent without a file name.
const defaultDefinitionFile = "definition.yaml"

// readBody reads r's body, bounded by the handler's MaxBodyBytes, and on
// failure answers (413 when too large, 400 otherwise) and returns false.
func (h *handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	return jsonbody.Read(w, r, h.maxBody)
}

// positions turns a definition's ErrorList into the problems of an answer.
func positions(l ErrorList) []problem.Position {
	out := make([]problem.Position, len(l))
	for i, e := range l {
		out[i] = problem.Position{File: e.Pos.File, Line: e.Pos.Line, Column: e.Pos.Col, Message: e.Msg}
	}
	return out
}

// definitionInput is the JSON form of a definition in a request.
type definitionInput struct {
	Source *string `json:"source"`
	File   string  `json:"file"`
}

// decodeDefinition returns the definition a request carries and the file
// name its diagnostics use (fallback when the request names none).
func decodeDefinition(contentType string, body []byte, fallback string) (file string, src []byte, err error) {
	mt := "application/json"
	if contentType != "" {
		m, _, perr := mime.ParseMediaType(contentType)
		if perr != nil {
			return "", nil, &problem.ClientError{Status: http.StatusUnsupportedMediaType, Detail: "malformed Content-Type"}
		}
		mt = m
	}
	switch mt {
	case "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml":
		if len(bytes.TrimSpace(body)) == 0 {
			return "", nil, &problem.ClientError{Status: http.StatusBadRequest, Detail: "empty definition"}
		}
		return fallback, body, nil
	case "application/json":
		var in definitionInput
		if err := decodeJSON(body, &in); err != nil {
			return "", nil, err
		}
		if in.Source == nil || strings.TrimSpace(*in.Source) == "" {
			return "", nil, &problem.ClientError{Status: http.StatusBadRequest, Detail: `body needs a "source" member holding the definition`}
		}
		file = in.File
		if file == "" {
			file = fallback
		}
		if len(file) > 256 || !utf8.ValidString(file) || strings.ContainsAny(file, "\n\r") {
			return "", nil, &problem.ClientError{Status: http.StatusBadRequest, Detail: `"file" must be one line of at most 256 bytes`}
		}
		return file, []byte(*in.Source), nil
	}
	return "", nil, &problem.ClientError{Status: http.StatusUnsupportedMediaType,
		Detail: "a definition is sent as application/yaml, or as application/json {\"source\": ...}; not " + mt}
}

// decodeJSON decodes exactly one JSON value into v, refusing unknown
// members; a syntax or type error carries its line and column.
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

// definitionHeader reads the top-level name and workspace of a definition
// that did not validate, so that its problems are shown only to a caller
// allowed in its workspace. It never fails: what it cannot read is "".
func definitionHeader(src []byte) (name, workspace string) {
	if len(src) > MaxSourceSize {
		return "", ""
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil || doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return "", ""
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return "", ""
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if v.Kind != yaml.ScalarNode {
			continue
		}
		switch k.Value {
		case "name":
			name = v.Value
		case "workspace":
			workspace = v.Value
		}
	}
	return name, workspace
}

// eventInput is the JSON form of an event in a trigger or test request:
// the fields of events.Event, all optional (the CloudEvents attributes
// specversion and datacontenttype are accepted and checked, so a
// structured-mode CloudEvent may be sent as it is).
type eventInput struct {
	SpecVersion     string            `json:"specversion"`
	DataContentType string            `json:"datacontenttype"`
	ID              string            `json:"id"`
	Type            string            `json:"type"`
	Source          string            `json:"source"`
	Subject         string            `json:"subject"`
	Workspace       string            `json:"workspace"`
	Org             string            `json:"org"`
	Time            string            `json:"time"`
	Data            json.RawMessage   `json:"data"`
	Extensions      map[string]string `json:"extensions"`
}

// decodeEvent decodes an event request body; an empty body is the empty
// event (for trigger, which fills the rest).
func decodeEvent(contentType string, body []byte) (events.Event, error) {
	if contentType != "" {
		if m, _, err := mime.ParseMediaType(contentType); err != nil || (m != "application/json" && m != "application/cloudevents+json") {
			return events.Event{}, &problem.ClientError{Status: http.StatusUnsupportedMediaType, Detail: "an event is sent as application/json"}
		}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return events.Event{}, nil
	}
	var in eventInput
	if err := decodeJSON(body, &in); err != nil {
		return events.Event{}, err
	}
	if in.SpecVersion != "" && in.SpecVersion != events.SpecVersion {
		return events.Event{}, &problem.ClientError{Status: http.StatusUnprocessableEntity, Detail: "specversion must be " + events.SpecVersion}
	}
	if ct := in.DataContentType; ct != "" {
		if m, _, err := mime.ParseMediaType(ct); err != nil || m != "application/json" {
			return events.Event{}, &problem.ClientError{Status: http.StatusUnprocessableEntity, Detail: "only JSON event data is supported"}
		}
	}
	ev := events.Event{
		ID: in.ID, Type: events.Type(in.Type), Source: in.Source, Subject: in.Subject,
		Workspace: in.Workspace, Org: in.Org, Extensions: in.Extensions,
	}
	if in.Time != "" {
		t, err := time.Parse(time.RFC3339Nano, in.Time)
		if err != nil {
			return events.Event{}, &problem.ClientError{Status: http.StatusUnprocessableEntity, Detail: "event time must be RFC 3339"}
		}
		ev.Time = t
	}
	if len(in.Data) > 0 && string(in.Data) != "null" {
		if c := bytes.TrimSpace(in.Data); len(c) == 0 || c[0] != '{' {
			return events.Event{}, &problem.ClientError{Status: http.StatusUnprocessableEntity, Detail: `event "data" must be a JSON object`}
		}
		ev.Data = in.Data
	}
	return ev, nil
}

// checkEvent validates a completed event, answering 422 with the reason.
func checkEvent(ev events.Event) error {
	if err := ev.Validate(); err != nil {
		return &problem.ClientError{Status: http.StatusUnprocessableEntity, Detail: "invalid event: " + strings.TrimPrefix(err.Error(), "events: ")}
	}
	return nil
}

// precondition is a parsed If-Match or If-None-Match header.
type precondition struct {
	set     bool  // the header was sent
	any     bool  // "*"
	version int64 // the quoted version otherwise
}

// parsePrecondition parses the entity tags this API hands out: "*" or one
// quoted (optionally weak) decimal version. A list of tags or a tag this
// API did not produce is a 400.
func parsePrecondition(name, v string) (precondition, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return precondition{}, nil
	}
	if v == "*" {
		return precondition{set: true, any: true}, nil
	}
	t := strings.TrimPrefix(v, "W/")
	if len(t) >= 3 && t[0] == '"' && t[len(t)-1] == '"' {
		if n, err := strconv.ParseInt(t[1:len(t)-1], 10, 64); err == nil && n > 0 {
			return precondition{set: true, version: n}, nil
		}
	}
	return precondition{}, &problem.ClientError{Status: http.StatusBadRequest, Detail: name + " must be * or one ETag this API returned (a quoted version)"}
}

// etag renders a stored version as an entity tag.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// writeAPIError answers a decoding error: its own status and positions
// when it is an *problem.ClientError (always, by construction), 400 otherwise.
func writeAPIError(w http.ResponseWriter, err error) {
	if e, ok := errors.AsType[*problem.ClientError](err); ok {
		e.Write(w)
		return
	}
	problem.Error(w, http.StatusBadRequest, "malformed request")
}
