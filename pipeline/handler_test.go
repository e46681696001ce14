package pipeline_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
	"github.com/mockops/mockops/store"
)

// pipelineAnswer is the JSON of a definition.
type pipelineAnswer struct {
	Name      string `json:"name"`
	Version   int64  `json:"version"`
	Workspace string `json:"workspace"`
	Enabled   bool   `json:"enabled"`
	Loaded    bool   `json:"loaded"`
	LoadError string `json:"load_error"`
	Source    string `json:"source"`
	UpdatedAt string `json:"updated_at"`
}

// executionAnswer is the JSON of an execution, as far as tests read it.
type executionAnswer struct {
	ID              string       `json:"id"`
	Pipeline        string       `json:"pipeline"`
	Version         int64        `json:"version"`
	EventID         string       `json:"event_id"`
	Event           events.Event `json:"event"`
	Status          string       `json:"status"`
	Error           string       `json:"error"`
	CancelRequested bool         `json:"cancel_requested"`
	CreatedAt       string       `json:"created_at"`
	Steps           []struct {
		ID       string         `json:"id"`
		Uses     string         `json:"uses"`
		Status   string         `json:"status"`
		Attempts int            `json:"attempts"`
		With     map[string]any `json:"with"`
		Output   map[string]any `json:"output"`
		Error    string         `json:"error"`
	} `json:"steps"`
}

func TestHandlerPipelineLifecycle(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run(sk.name, func(t *testing.T) { testPipelineLifecycle(t, sk.open(t)) })
	}
}

func testPipelineLifecycle(t *testing.T, st store.Store) {
	a := newAPI(t, apiOptions{store: st})
	yaml := "application/yaml"
	admin := func(method, path, ctype, body string, headers ...string) req {
		return req{method: method, path: path, token: "admin", ctype: ctype, body: body, headers: headers}
	}

	// Create, as YAML, then again: 409.
	res := a.do(admin("POST", "/api/v2/pipelines", yaml, payDef)).want(201)
	var p pipelineAnswer
	res.decode(&p)
	want := pipelineAnswer{Name: "pay", Version: 1, Workspace: "payments", Enabled: true, Loaded: true, Source: payDef, UpdatedAt: p.UpdatedAt}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	if res.header.Get("ETag") != `"1"` || res.header.Get("Location") != "/api/v2/pipelines/pay" {
		t.Errorf("ETag %q, Location %q; want \"1\", /api/v2/pipelines/pay", res.header.Get("ETag"), res.header.Get("Location"))
	}
	if _, err := time.Parse(time.RFC3339, p.UpdatedAt); err != nil {
		t.Errorf("updated_at %q: %v", p.UpdatedAt, err)
	}
	a.do(admin("POST", "/api/v2/pipelines", yaml, payDef)).want(409)

	// Create as JSON {"source"}; a media type parameter is fine.
	a.do(admin("POST", "/api/v2/pipelines", "application/json; charset=utf-8", `{"source":`+jsonString(globalDef)+`}`)).want(201)

	// Read one; list both, without sources.
	res = a.do(admin("GET", "/api/v2/pipelines/pay", "", "")).want(200)
	res.decode(&p)
	if p.Source != payDef || res.header.Get("ETag") != `"1"` {
		t.Errorf("GET source %q, ETag %q", p.Source, res.header.Get("ETag"))
	}
	var list struct{ Pipelines []pipelineAnswer }
	a.do(admin("GET", "/api/v2/pipelines", "", "")).want(200).decode(&list)
	var names []string
	for _, p := range list.Pipelines {
		names = append(names, p.Name)
		if p.Source != "" {
			t.Errorf("listing carries the source of %s", p.Name)
		}
	}
	if diff := cmp.Diff([]string{"global", "pay"}, names); diff != "" {
		t.Errorf("listing (-want +got):\n%s", diff)
	}
	a.do(admin("GET", "/api/v2/pipelines?workspace=payments", "", "")).want(200).decode(&list)
	if len(list.Pipelines) != 1 || list.Pipelines[0].Name != "pay" {
		t.Errorf("listing of workspace payments = %+v; want pay only", list.Pipelines)
	}

	// Replace with preconditions.
	v2 := strings.Replace(payDef, "key: one", "key: two", 1)
	tests := []struct {
		name    string
		headers []string
		status  int
	}{
		{"stale If-Match", []string{`If-Match: "7"`}, 412},
		{"If-None-Match on an existing one", []string{"If-None-Match: *"}, 412},
		{"malformed If-Match", []string{"If-Match: 1"}, 400},
		{"list If-Match", []string{`If-Match: "1", "2"`}, 400},
		{"If-None-Match with a tag", []string{`If-None-Match: "1"`}, 400},
		{"If-Match", []string{`If-Match: "1"`}, 200},
		{"weak If-Match", []string{`If-Match: W/"2"`}, 200},
		{"If-Match any", []string{"If-Match: *"}, 200},
		{"unconditional", nil, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a.t = t
			a.do(admin("PUT", "/api/v2/pipelines/pay", yaml, v2, tt.headers...)).want(tt.status)
		})
	}
	a.t = t
	res = a.do(admin("GET", "/api/v2/pipelines/pay", "", "")).want(200)
	res.decode(&p)
	if p.Version != 5 || p.Source != v2 || res.header.Get("ETag") != `"5"` {
		t.Errorf("after four replacements: version %d, ETag %s, source %q; want 5", p.Version, res.header.Get("ETag"), p.Source)
	}

	// PUT creates, and If-Match on a missing one fails.
	a.do(admin("PUT", "/api/v2/pipelines/orders", yaml, ordersDef, `If-Match: "1"`)).want(412)
	a.do(admin("PUT", "/api/v2/pipelines/orders", yaml, ordersDef, "If-None-Match: *")).want(201)
	// The URL's name must be the definition's; the problem points at it.
	var pos positioned
	a.do(admin("PUT", "/api/v2/pipelines/other", yaml, ordersDef)).want(422).decode(&pos)
	if len(pos.Errors) != 1 || pos.Errors[0].Line != 1 || pos.Errors[0].Column != 7 {
		t.Errorf("name mismatch problems = %+v; want one at 1:7", pos.Errors)
	}

	// Delete with preconditions.
	a.do(admin("DELETE", "/api/v2/pipelines/pay", "", "", `If-Match: "4"`)).want(412)
	a.do(admin("DELETE", "/api/v2/pipelines/pay", "", "", `If-Match: "5"`)).want(204)
	a.do(admin("DELETE", "/api/v2/pipelines/pay", "", "")).want(404)
	a.do(admin("GET", "/api/v2/pipelines/pay", "", "")).want(404)
	a.do(admin("DELETE", "/api/v2/pipelines/orders", "", "")).want(204)
	if _, err := a.eng.Get(context.Background(), "orders"); err == nil {
		t.Error("orders still stored after DELETE")
	}
}

// TestHandlerInvalidDefinition checks that a definition that does not
// validate is refused with every problem and its position, by create,
// replace and validate alike, and that nothing is stored.
func TestHandlerInvalidDefinition(t *testing.T) {
	a := newAPI(t, apiOptions{})
	src := `name: broken
on: [{event: schema.changed, if: "event.data.x +"}]
steps:
  - {id: one, uses: probe, with: {key: one}}
  - {id: one, uses: nosuch}
`
	for _, tt := range []req{
		{method: "POST", path: "/api/v2/pipelines", ctype: "application/yaml", body: src},
		{method: "PUT", path: "/api/v2/pipelines/broken", ctype: "application/yaml", body: src},
		{method: "POST", path: "/api/v2/pipelines/validate", ctype: "application/yaml", body: src},
		{method: "POST", path: "/api/v2/pipelines/validate", body: `{"source":` + jsonString(src) + `,"file":"ci/broken.yaml"}`},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			a.t = t
			tt.token = "admin"
			var pos positioned
			a.do(tt).want(422).decode(&pos)
			if len(pos.Errors) < 3 {
				t.Fatalf("problems = %+v; want at least the expression, the duplicate id and the step type", pos.Errors)
			}
			lines := map[int]bool{}
			for _, e := range pos.Errors {
				if e.File == "" || e.Line == 0 || e.Column == 0 || e.Message == "" {
					t.Errorf("problem without position or message: %+v", e)
				}
				lines[e.Line] = true
			}
			if !lines[2] || !lines[5] {
				t.Errorf("problems on lines %v; want 2 (if) and 5 (duplicate id, unknown type)", lines)
			}
			if strings.Contains(tt.body, "ci/broken.yaml") && pos.Errors[0].File != "ci/broken.yaml" {
				t.Errorf("file = %q; want the request's ci/broken.yaml", pos.Errors[0].File)
			}
		})
	}
	a.t = t
	if _, err := a.eng.Get(context.Background(), "broken"); err == nil {
		t.Error("an invalid definition was stored")
	}
	// A valid one validates, and is not stored either.
	var v struct {
		Valid     bool     `json:"valid"`
		Name      string   `json:"name"`
		Workspace string   `json:"workspace"`
		Format    string   `json:"format"`
		Steps     []string `json:"steps"`
	}
	a.do(req{method: "POST", path: "/api/v2/pipelines/validate", token: "admin", ctype: "text/yaml", body: payDef}).want(200).decode(&v)
	if !v.Valid || v.Name != "pay" || v.Workspace != "payments" || v.Format != "mockops" || !slices.Equal(v.Steps, []string{"one"}) {
		t.Errorf("validate = %+v", v)
	}
	if _, err := a.eng.Get(context.Background(), "pay"); err == nil {
		t.Error("validate stored the definition")
	}
}

// TestHandlerMalformedRequests checks the 4xx of bodies, media types and
// query strings the API cannot read, each a problem, JSON syntax errors
// with their position.
func TestHandlerMalformedRequests(t *testing.T) {
	a := newAPI(t, apiOptions{})
	a.put(payDef)
	tests := []struct {
		name     string
		req      req
		status   int
		line     int // of the positioned problem; 0: none expected
		col      int
		contains string // in the detail
	}{
		{"definition JSON syntax", req{method: "POST", path: "/api/v2/pipelines", body: "{\n  \"source\": \"x\",,\n}"}, 400, 2, 17, "malformed JSON"},
		{"definition JSON truncated", req{method: "POST", path: "/api/v2/pipelines", body: `{"source": "x`}, 400, 1, 14, "unexpected end"},
		{"definition JSON wrong type", req{method: "POST", path: "/api/v2/pipelines", body: `{"source": 3}`}, 400, 1, 12, "must be a string"},
		{"definition JSON unknown member", req{method: "POST", path: "/api/v2/pipelines", body: `{"sauce": "x"}`}, 400, 1, 2, "unknown field"},
		{"definition JSON trailing data", req{method: "POST", path: "/api/v2/pipelines", body: `{"source": "x"} {}`}, 400, 1, 17, "after the JSON value"},
		{"definition JSON without source", req{method: "POST", path: "/api/v2/pipelines", body: `{}`}, 400, 0, 0, "source"},
		{"definition empty body", req{method: "POST", path: "/api/v2/pipelines"}, 400, 0, 0, "empty"},
		{"definition empty YAML", req{method: "POST", path: "/api/v2/pipelines", ctype: "application/yaml", body: " \n"}, 400, 0, 0, "empty"},
		{"definition media type", req{method: "POST", path: "/api/v2/pipelines", ctype: "text/plain", body: payDef}, 415, 0, 0, "application/yaml"},
		{"definition malformed media type", req{method: "POST", path: "/api/v2/pipelines", ctype: "a/b/c;;", body: payDef}, 415, 0, 0, "Content-Type"},
		{"definition YAML syntax", req{method: "POST", path: "/api/v2/pipelines", ctype: "application/yaml", body: "name: [oops\n"}, 422, 1, 0, "problem"},
		{"definition file name", req{method: "POST", path: "/api/v2/pipelines/validate", body: `{"source":"x","file":"a\nb"}`}, 400, 0, 0, "file"},
		{"event JSON syntax", req{method: "POST", path: "/api/v2/pipelines/pay/trigger", body: `{"type": }`}, 400, 1, 10, "malformed JSON"},
		{"event data not an object", req{method: "POST", path: "/api/v2/pipelines/pay/trigger", body: `{"data": [1]}`}, 422, 0, 0, "data"},
		{"event bad extension", req{method: "POST", path: "/api/v2/pipelines/pay/trigger", body: `{"extensions": {"Bad-Name": "x"}}`}, 422, 0, 0, "extension"},
		{"event specversion", req{method: "POST", path: "/api/v2/pipelines/pay/trigger", body: `{"specversion": "0.3"}`}, 422, 0, 0, "specversion"},
		{"event time", req{method: "POST", path: "/api/v2/pipelines/pay/trigger", body: `{"time": "yesterday"}`}, 422, 0, 0, "RFC 3339"},
		{"event media type", req{method: "POST", path: "/api/v2/pipelines/pay/trigger", ctype: "application/yaml", body: `{}`}, 415, 0, 0, "application/json"},
		{"test without type", req{method: "POST", path: "/api/v2/pipelines/test", body: `{"workspace": "payments"}`}, 422, 0, 0, "type"},
		{"test empty body", req{method: "POST", path: "/api/v2/pipelines/test"}, 422, 0, 0, "type"},
		{"executions status", req{method: "GET", path: "/api/v2/executions?status=skipped"}, 400, 0, 0, "status"},
		{"executions limit", req{method: "GET", path: "/api/v2/executions?limit=0"}, 400, 0, 0, "limit"},
		{"executions limit too large", req{method: "GET", path: "/api/v2/executions?limit=1001"}, 400, 0, 0, "limit"},
		{"executions limit not a number", req{method: "GET", path: "/api/v2/executions?limit=ten"}, 400, 0, 0, "limit"},
		{"executions cursor", req{method: "GET", path: "/api/v2/executions?cursor=not-ours!"}, 400, 0, 0, "cursor"},
		{"executions unknown parameter", req{method: "GET", path: "/api/v2/executions?pipline=pay"}, 400, 0, 0, "pipline"},
		{"executions repeated parameter", req{method: "GET", path: "/api/v2/executions?status=failed&status=queued"}, 400, 0, 0, "more than once"},
		{"executions malformed query", req{method: "GET", path: "/api/v2/executions?status=%zz"}, 400, 0, 0, "query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a.t = t
			tt.req.token = "admin"
			var p struct {
				Detail string `json:"detail"`
				positioned
			}
			a.do(tt.req).want(tt.status).decode(&p)
			if !strings.Contains(p.Detail, tt.contains) {
				t.Errorf("detail %q; want it to mention %q", p.Detail, tt.contains)
			}
			if tt.line == 0 {
				return
			}
			if len(p.Errors) == 0 {
				t.Fatalf("no positioned problem; want one at %d:%d", tt.line, tt.col)
			}
			if got := p.Errors[0]; got.Line != tt.line || (tt.col != 0 && got.Column != tt.col) {
				t.Errorf("problem at %d:%d (%s); want %d:%d", got.Line, got.Column, got.Message, tt.line, tt.col)
			}
		})
	}
}

// TestHandlerOversizedBodies checks that every route with a body answers
// 413 past MaxBodyBytes, whether the client announced the length or
// streamed the body, and that nothing was stored.
func TestHandlerOversizedBodies(t *testing.T) {
	a := newAPI(t, apiOptions{cfg: pipeline.HandlerConfig{MaxBodyBytes: 64}})
	a.put(globalDef)
	big := `{"source": "` + strings.Repeat("x", 100) + `"}`
	bigEvent := `{"type": "schema.changed", "subject": "` + strings.Repeat("x", 100) + `"}`
	for _, tt := range []struct{ method, path, body string }{
		{"POST", "/api/v2/pipelines", big},
		{"PUT", "/api/v2/pipelines/global", big},
		{"POST", "/api/v2/pipelines/validate", big},
		{"POST", "/api/v2/pipelines/test", bigEvent},
		{"POST", "/api/v2/pipelines/global/trigger", bigEvent},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			a.t = t
			a.do(req{method: tt.method, path: tt.path, token: "admin", body: tt.body}).want(413)
			// Streamed: no Content-Length, so only the reader's limit sees it.
			hr, err := http.NewRequest(tt.method, a.srv.URL+tt.path, struct{ *strings.Reader }{strings.NewReader(tt.body)})
			if err != nil {
				t.Fatal(err)
			}
			hr.ContentLength = -1
			hr.Header.Set("Authorization", "Bearer admin")
			res, err := a.srv.Client().Do(hr)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 413 {
				t.Errorf("streamed body: status %d; want 413", res.StatusCode)
			}
		})
	}
	a.t = t
	page, err := a.eng.Executions(context.Background(), store.ExecutionQuery{})
	if err != nil || len(page.Executions) != 0 {
		t.Errorf("executions after oversized triggers = %d, %v; want none", len(page.Executions), err)
	}
	// The default limit is 1 MiB.
	d := newAPI(t, apiOptions{})
	d.do(req{method: "POST", path: "/api/v2/pipelines/validate", token: "admin", ctype: "application/yaml",
		body: "# " + strings.Repeat("x", pipeline.DefaultMaxBodyBytes) + "\n"}).want(413)
}

// TestHandlerNotFound checks 404 and 405 for routes, pipelines and
// executions, all as problems.
func TestHandlerNotFound(t *testing.T) {
	a := newAPI(t, apiOptions{})
	tests := []struct {
		req    req
		status int
		allow  string
	}{
		{req{method: "GET", path: "/api/v2/nothing"}, 404, ""},
		{req{method: "GET", path: "/"}, 404, ""},
		{req{method: "GET", path: "/api/v2/pipelines/a/b/c"}, 404, ""},
		{req{method: "GET", path: "/api/v2/pipelines/nosuch"}, 404, ""},
		{req{method: "DELETE", path: "/api/v2/pipelines/nosuch"}, 404, ""},
		{req{method: "GET", path: "/api/v2/pipelines/nosuch/stats"}, 404, ""},
		{req{method: "POST", path: "/api/v2/pipelines/nosuch/trigger"}, 404, ""},
		{req{method: "GET", path: "/api/v2/executions/nosuch"}, 404, ""},
		{req{method: "POST", path: "/api/v2/executions/nosuch/cancel"}, 404, ""},
		{req{method: "PATCH", path: "/api/v2/pipelines/x"}, 405, "DELETE, GET, HEAD, PUT"},
		{req{method: "DELETE", path: "/api/v2/pipelines"}, 405, "GET, HEAD, POST"},
		{req{method: "GET", path: "/api/v2/pipelines/x/trigger"}, 405, "POST"},
		{req{method: "GET", path: "/api/v2/executions/x/cancel"}, 405, "POST"},
		{req{method: "POST", path: "/api/v2/executions"}, 405, "GET, HEAD"},
		{req{method: "OPTIONS", path: "/api/v2/executions/x"}, 405, "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.req.method+" "+tt.req.path, func(t *testing.T) {
			a.t = t
			tt.req.token = "admin"
			res := a.do(tt.req).want(tt.status)
			if got := res.header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q; want %q", got, tt.allow)
			}
		})
	}
}

// TestHandlerTriggerThenGet checks that trigger answers 202 with an id
// that is already stored, and that the execution is then shown running
// to completion.
func TestHandlerTriggerThenGet(t *testing.T) {
	release := make(chan struct{})
	a := newAPI(t, apiOptions{run: true, funcs: map[string]probeFunc{
		"one": func(ctx context.Context, in steps.Input, _ probeConfig) (steps.Output, error) {
			select {
			case <-release:
			case <-ctx.Done():
				return steps.Output{}, ctx.Err()
			}
			return steps.Output{Outputs: map[string]any{"subject": in.Event.Subject}}, nil
		},
	}})
	a.put(payDef)
	var tr struct {
		ExecutionID string `json:"execution_id"`
	}
	res := a.do(req{method: "POST", path: "/api/v2/pipelines/pay/trigger", token: "admin",
		body: `{"id": "ev-1", "type": "schema.changed", "subject": "orders.proto", "data": {"k": 1}}`}).want(202)
	res.decode(&tr)
	if tr.ExecutionID == "" || res.header.Get("Location") != "/api/v2/executions/"+tr.ExecutionID {
		t.Fatalf("trigger answered id %q, Location %q", tr.ExecutionID, res.header.Get("Location"))
	}
	// Persisted before the answer: the store has it now, whatever the
	// engine has done with it since.
	if _, err := a.st.GetExecution(context.Background(), tr.ExecutionID); err != nil {
		t.Fatalf("GetExecution right after 202: %v", err)
	}
	var x executionAnswer
	a.do(req{method: "GET", path: "/api/v2/executions/" + tr.ExecutionID, token: "reader"}).want(200).decode(&x)
	if x.Pipeline != "pay" || x.EventID != "ev-1" || x.Event.Subject != "orders.proto" || x.Event.Workspace != "payments" || x.Status == "" {
		t.Errorf("execution before completion = %+v", x)
	}
	// The same event again is a duplicate.
	a.do(req{method: "POST", path: "/api/v2/pipelines/pay/trigger", token: "admin", body: `{"id": "ev-1"}`}).want(409)

	close(release)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := a.eng.Wait(ctx, tr.ExecutionID); err != nil {
		t.Fatal(err)
	}
	a.do(req{method: "GET", path: "/api/v2/executions/" + tr.ExecutionID, token: "reader"}).want(200).decode(&x)
	if x.Status != "succeeded" || len(x.Steps) != 1 || x.Steps[0].Status != "succeeded" || x.Steps[0].Attempts != 1 ||
		x.Steps[0].Output["subject"] != "orders.proto" || x.Steps[0].With["key"] != "one" {
		t.Errorf("execution after completion = %+v", x)
	}
}

// TestHandlerTriggerRefusals checks the engine's refusals as problems.
func TestHandlerTriggerRefusals(t *testing.T) {
	a := newAPI(t, apiOptions{})
	a.put(globalDef)
	deep := fmt.Sprintf(`{"extensions": {"depth": "%d"}}`, pipeline.DefaultMaxDepth+1)
	a.do(req{method: "POST", path: "/api/v2/pipelines/global/trigger", token: "admin", body: deep}).want(422)
	// A stored definition this engine cannot load: 409, and GET says why.
	if _, err := a.st.PutPipeline(context.Background(), store.Pipeline{Name: "alien", Source: []byte("name: alien\non: [{event: x.y}]\nsteps: [{id: s, uses: nosuch}]\n")}); err != nil {
		t.Fatal(err)
	}
	if err := a.eng.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	a.do(req{method: "POST", path: "/api/v2/pipelines/alien/trigger", token: "admin"}).want(409)
	var p pipelineAnswer
	a.do(req{method: "GET", path: "/api/v2/pipelines/alien", token: "admin"}).want(200).decode(&p)
	if p.Loaded || !strings.Contains(p.LoadError, "nosuch") {
		t.Errorf("alien: loaded %v, load_error %q; want not loaded, naming the step type", p.Loaded, p.LoadError)
	}
}

// TestHandlerPagination lists executions page by page through cursors and
// checks every one is seen once, newest first, with filters.
func TestHandlerPagination(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run(sk.name, func(t *testing.T) { testPagination(t, sk.open(t)) })
	}
}

func testPagination(t *testing.T, st store.Store) {
	a := newAPI(t, apiOptions{store: st})
	a.put(payDef)
	a.put(globalDef)
	var want []string
	ctx := context.Background()
	for i := range 7 {
		id, err := a.eng.Trigger(ctx, "pay", events.Event{})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
		if i%2 == 0 {
			if _, err := a.eng.Trigger(ctx, "global", events.Event{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	slices.Reverse(want) // newest first
	if _, err := a.eng.Cancel(ctx, want[0]); err != nil {
		t.Fatal(err)
	}
	var got []string
	cursor, pages := "", 0
	for {
		path := "/api/v2/executions?pipeline=pay&limit=3"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		var page struct {
			Executions []executionAnswer `json:"executions"`
			NextCursor string            `json:"next_cursor"`
		}
		a.do(req{method: "GET", path: path, token: "reader"}).want(200).decode(&page)
		pages++
		if len(page.Executions) > 3 {
			t.Fatalf("page of %d; want at most 3", len(page.Executions))
		}
		for _, x := range page.Executions {
			if x.Pipeline != "pay" {
				t.Errorf("execution of %s in a listing of pay", x.Pipeline)
			}
			got = append(got, x.ID)
		}
		if page.NextCursor == "" {
			break
		}
		if pages > 10 {
			t.Fatal("cursor never ends")
		}
		cursor = page.NextCursor
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("paged listing (-want +got):\n%s", diff)
	}
	if pages != 3 {
		t.Errorf("%d pages of 3 for 7 executions; want 3", pages)
	}
	var page struct {
		Executions []executionAnswer `json:"executions"`
	}
	a.do(req{method: "GET", path: "/api/v2/executions?status=cancelled", token: "reader"}).want(200).decode(&page)
	if len(page.Executions) != 1 || page.Executions[0].ID != want[0] || page.Executions[0].Status != "cancelled" {
		t.Errorf("cancelled executions = %+v; want %s only", page.Executions, want[0])
	}
	a.do(req{method: "GET", path: "/api/v2/executions", token: "reader"}).want(200).decode(&page)
	if len(page.Executions) != 11 {
		t.Errorf("default page holds %d executions; want all 11", len(page.Executions))
	}
}

// TestHandlerCancel cancels a queued execution (200, cancelled at once)
// and a running one (202, then cancelled when its step returns).
func TestHandlerCancel(t *testing.T) {
	entered := make(chan struct{})
	a := newAPI(t, apiOptions{run: true, funcs: map[string]probeFunc{
		"one": func(ctx context.Context, _ steps.Input, _ probeConfig) (steps.Output, error) {
			close(entered)
			<-ctx.Done()
			return steps.Output{}, ctx.Err()
		},
	}})
	a.put(payDef)
	ctx := context.Background()
	id, err := a.eng.Trigger(ctx, "pay", events.Event{})
	if err != nil {
		t.Fatal(err)
	}
	<-entered
	var x executionAnswer
	a.do(req{method: "POST", path: "/api/v2/executions/" + id + "/cancel", token: "pay"}).want(202).decode(&x)
	if x.Status != "running" || !x.CancelRequested {
		t.Errorf("cancel of a running execution answered %s, cancel_requested %v", x.Status, x.CancelRequested)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if done, err := a.eng.Wait(wctx, id); err != nil || done.Status != store.StatusCancelled {
		t.Fatalf("Wait = %v, %v; want cancelled", done.Status, err)
	}
	// Cancelling a finished execution changes nothing and says so with 200.
	a.do(req{method: "POST", path: "/api/v2/executions/" + id + "/cancel", token: "pay"}).want(200).decode(&x)
	if x.Status != "cancelled" {
		t.Errorf("second cancel answered %s", x.Status)
	}

	// A queued execution (this engine is not running) is cancelled at once.
	q := newAPI(t, apiOptions{})
	q.put(payDef)
	id, err = q.eng.Trigger(ctx, "pay", events.Event{})
	if err != nil {
		t.Fatal(err)
	}
	q.do(req{method: "POST", path: "/api/v2/executions/" + id + "/cancel", token: "admin"}).want(200).decode(&x)
	if x.Status != "cancelled" {
		t.Errorf("cancel of a queued execution answered %s; want cancelled", x.Status)
	}
}

// TestHandlerStats runs executions that succeed and fail and reads the
// pipeline's stats.
func TestHandlerStats(t *testing.T) {
	a := newAPI(t, apiOptions{run: true, funcs: map[string]probeFunc{
		"one": func(_ context.Context, in steps.Input, _ probeConfig) (steps.Output, error) {
			if in.Event.Subject == "fail" {
				return steps.Output{}, steps.Permanent(errBoom)
			}
			return steps.Output{}, nil
		},
	}})
	a.put(payDef)
	var s struct {
		Pipeline    string         `json:"pipeline"`
		Window      int            `json:"window"`
		ByStatus    map[string]int `json:"by_status"`
		Finished    int            `json:"finished"`
		SuccessRate *float64       `json:"success_rate"`
		P50         *float64       `json:"p50_seconds"`
		P95         *float64       `json:"p95_seconds"`
	}
	a.do(req{method: "GET", path: "/api/v2/pipelines/pay/stats", token: "reader"}).want(200).decode(&s)
	if s.Finished != 0 || s.SuccessRate != nil || s.Window != pipeline.StatsWindow {
		t.Errorf("stats before any run = %+v; want nothing finished, success_rate null", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, subject := range []string{"ok", "ok", "ok", "fail"} {
		id, err := a.eng.Trigger(ctx, "pay", events.Event{Subject: subject})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.eng.Wait(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	a.do(req{method: "GET", path: "/api/v2/pipelines/pay/stats", token: "reader"}).want(200).decode(&s)
	if s.Pipeline != "pay" || s.Finished != 4 || s.SuccessRate == nil || *s.SuccessRate != 0.75 ||
		!cmp.Equal(s.ByStatus, map[string]int{"succeeded": 3, "failed": 1}) || s.P50 == nil || s.P95 == nil || *s.P95 < *s.P50 {
		t.Errorf("stats = %+v; want 4 finished, 3 succeeded, 1 failed, rate 0.75", s)
	}
}

// TestHandlerTest checks that a dry run answers the engine's decisions,
// limited to the pipelines of the event's workspace and the unscoped ones,
// with rendered, redacted step configs and nothing stored.
func TestHandlerTest(t *testing.T) {
	a := newAPI(t, apiOptions{})
	a.put(payDef)
	a.put(globalDef)
	a.put(ordersDef)
	a.put(`name: picky
on: [{event: schema.changed, if: "event.data.kind == 'openapi'"}]
steps:
  - {id: s, uses: probe, with: {key: "${{ event.subject }}"}}
`)
	type decision struct {
		Pipeline string `json:"pipeline"`
		Matched  bool   `json:"matched"`
		Reason   string `json:"reason"`
		Error    string `json:"error"`
		Triggers []struct {
			Event   string `json:"event"`
			Matched bool   `json:"matched"`
			Error   string `json:"error"`
		} `json:"triggers"`
		Steps []struct {
			ID   string         `json:"id"`
			Run  bool           `json:"run"`
			With map[string]any `json:"with"`
		} `json:"steps"`
	}
	var out struct{ Decisions []decision }
	a.do(req{method: "POST", path: "/api/v2/pipelines/test", token: "reader",
		body: `{"type": "schema.changed", "workspace": "payments", "subject": "s1", "data": {"kind": "openapi"}}`}).want(200).decode(&out)
	var names []string
	for _, d := range out.Decisions {
		names = append(names, d.Pipeline)
		if !d.Matched || len(d.Steps) != 1 || !d.Steps[0].Run {
			t.Errorf("decision %+v; want matched with one step to run", d)
		}
	}
	if diff := cmp.Diff([]string{"global", "pay", "picky"}, names); diff != "" {
		t.Errorf("decisions for workspace payments (-want +got):\n%s", diff)
	}
	if d := out.Decisions[2]; d.Steps[0].With["key"] != "s1" {
		t.Errorf("picky's rendered with = %v; want key s1", d.Steps[0].With)
	}
	// No workspace: every pipeline; a filter failure is an error, not a miss.
	a.do(req{method: "POST", path: "/api/v2/pipelines/test", token: "reader", body: `{"type": "schema.changed"}`}).want(200).decode(&out)
	if len(out.Decisions) != 4 {
		t.Fatalf("%d decisions without a workspace; want 4", len(out.Decisions))
	}
	if d := out.Decisions[3]; d.Pipeline != "picky" || d.Matched || d.Error == "" {
		t.Errorf("picky without data = %+v; want a filter error", d)
	}
	a.do(req{method: "POST", path: "/api/v2/pipelines/test", token: "reader", body: `{"type": "other.type"}`}).want(200).decode(&out)
	for _, d := range out.Decisions {
		if d.Matched || d.Reason == "" {
			t.Errorf("decision for other.type = %+v; want not matched, with a reason", d)
		}
	}
	page, err := a.eng.Executions(context.Background(), store.ExecutionQuery{})
	if err != nil || len(page.Executions) != 0 {
		t.Errorf("a dry run stored %d executions (%v)", len(page.Executions), err)
	}
}
