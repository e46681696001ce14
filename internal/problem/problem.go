// Package problem writes RFC 9457 problem details: every HTTP error that
// MockOps answers (router, admin APIs, coverage) is
// application/problem+json, so clients parse one error shape.
package problem

import (
	"encoding/json"
	"maps"
	"net/http"
)

// ContentType is the media type of a problem details document.
const ContentType = "application/problem+json"

// Details is one problem. Extensions become extra top-level members (for
// example "service" or "errors"); they cannot replace the standard ones.
type Details struct {
	Type       string // a URI reference; "" means about:blank
	Title      string // "" means the status text
	Status     int
	Detail     string
	Instance   string
	Extensions map[string]any
}

// New returns a problem of type about:blank for status with detail.
func New(status int, detail string) Details {
	return Details{Status: status, Detail: detail}
}

// With returns a copy of p with the extension member name set to v.
func (p Details) With(name string, v any) Details {
	ext := make(map[string]any, len(p.Extensions)+1)
	maps.Copy(ext, p.Extensions)
	ext[name] = v
	p.Extensions = ext
	return p
}

// MarshalJSON renders the standard members first, then the extensions.
func (p Details) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(p.Extensions)+5)
	maps.Copy(m, p.Extensions)
	typ := p.Type
	if typ == "" {
		typ = "about:blank"
	}
	title := p.Title
	if title == "" {
		title = http.StatusText(p.Status)
	}
	m["type"] = typ
	m["title"] = title
	m["status"] = p.Status
	if p.Detail != "" {
		m["detail"] = p.Detail
	} else {
		delete(m, "detail")
	}
	if p.Instance != "" {
		m["instance"] = p.Instance
	} else {
		delete(m, "instance")
	}
	return json.Marshal(m)
}

// Write sends p as the response. Status 0 is sent as 500.
func Write(w http.ResponseWriter, p Details) {
	if p.Status == 0 {
		p.Status = http.StatusInternalServerError
	}
	body, err := json.Marshal(p)
	if err != nil { // an extension that does not marshal: drop the extensions
		p.Extensions = nil
		body, _ = json.Marshal(p)
	}
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	w.WriteHeader(p.Status)
	w.Write(append(body, '\n'))
}

// Error is shorthand for Write(w, New(status, detail)).
func Error(w http.ResponseWriter, status int, detail string) {
	Write(w, New(status, detail))
}
