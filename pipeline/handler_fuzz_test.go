package pipeline_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mockops/mockops/internal/problem"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/access"
	"github.com/mockops/mockops/store/memory"
)

// FuzzHandlerDecode sends arbitrary bodies, media types and preconditions
// to every route that decodes a request, and checks that the handler
// never panics, answers only statuses the API documents, and that every
// error is a well-formed problem whose positions are 1-based or unknown.
func FuzzHandlerDecode(f *testing.F) {
	routes := []struct{ method, path string }{
		{"POST", "/api/v2/pipelines"},
		{"PUT", "/api/v2/pipelines/pay"},
		{"PUT", "/api/v2/pipelines/fresh"},
		{"POST", "/api/v2/pipelines/validate"},
		{"POST", "/api/v2/pipelines/test"},
		{"POST", "/api/v2/pipelines/pay/trigger"},
		{"POST", "/api/v2/pipelines/global/trigger"},
		{"GET", "/api/v2/executions?"},
		{"DELETE", "/api/v2/pipelines/pay"},
	}
	seeds := []struct {
		route               uint8
		ctype, body, header string
	}{
		{0, "application/yaml", payDef, ""},
		{0, "application/json", `{"source":` + jsonString(globalDef) + `}`, ""},
		{1, "application/yaml", payDef, `"1"`},
		{2, "application/x-yaml", "name: fresh\non: [{event: a.b}]\nsteps: [{id: s, uses: probe, with: {key: k}}]\n", "*"},
		{3, "", `{"source": "name: [x", "file": "f.yaml"}`, ""},
		{4, "application/json", `{"type":"schema.changed","workspace":"payments","data":{"a":[1,2]}}`, ""},
		{5, "application/cloudevents+json", `{"specversion":"1.0","id":"e","source":"s","type":"t","datacontenttype":"application/json","data":{}}`, ""},
		{6, "", `{"extensions":{"depth":"99"}}`, ""},
		{7, "", "pipeline=pay&status=queued&limit=2&cursor=abc", ""},
		{8, "", "", `W/"3"`},
		{0, "application/json", "{\"source\": \"\\ud800\"}", ""},
		{4, "application/json", `{"time":"2024-01-01T00:00:00Z","type":"x"} trailing`, ""},
	}
	for _, s := range seeds {
		f.Add(s.route, s.ctype, s.body, s.header)
	}
	f.Fuzz(func(t *testing.T, route uint8, ctype, body, header string) {
		eng, err := pipeline.NewEngine(pipeline.Config{Store: memory.New(), Steps: registry(nil, nil)})
		if err != nil {
			t.Fatal(err)
		}
		for _, src := range []string{payDef, globalDef} {
			if _, err := eng.PutSource(context.Background(), "seed.yaml", []byte(src), store.AnyVersion); err != nil {
				t.Fatal(err)
			}
		}
		h := pipeline.NewHandler(eng, pipeline.HandlerConfig{Authorizer: access.AllowAll, MaxBodyBytes: 4096})
		rt := routes[int(route)%len(routes)]
		path, rbody := rt.path, body
		if strings.HasSuffix(path, "?") {
			path, rbody = path+body, ""
		}
		r, err := http.NewRequest(rt.method, "http://mockops.test"+path, strings.NewReader(rbody))
		if err != nil {
			return // not a request a client could send
		}
		if ctype != "" {
			r.Header["Content-Type"] = []string{ctype}
		}
		if header != "" {
			r.Header["If-Match"] = []string{header}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		switch rec.Code {
		case 200, 201, 202, 204, 400, 404, 409, 412, 413, 415, 422:
		default:
			t.Fatalf("%s %s (%q, %q, If-Match %q): status %d: %s", rt.method, path, ctype, body, header, rec.Code, rec.Body)
		}
		if rec.Code < 400 {
			if rec.Code != 204 && !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("answer is not JSON: %s", rec.Body)
			}
			return
		}
		if ct := rec.Header().Get("Content-Type"); ct != problem.ContentType {
			t.Fatalf("error answered as %q: %s", ct, rec.Body)
		}
		var p struct {
			Status int `json:"status"`
			Errors []struct {
				Line, Column int
				Message      string
			} `json:"errors"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != rec.Code {
			t.Fatalf("problem %s: %v", rec.Body, err)
		}
		for _, e := range p.Errors {
			if e.Line < 0 || e.Column < 0 || e.Message == "" {
				t.Fatalf("bad position %+v in %s", e, rec.Body)
			}
		}
	})
}
