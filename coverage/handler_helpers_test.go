package coverage_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/mockops/mockops/coverage"
	"github.com/mockops/mockops/store/access"
)

// hT0 is when the fixture's traffic starts: 10:15 on a Monday.
var hT0 = time.Date(2026, 3, 2, 10, 15, 0, 0, time.UTC)

// hClock is the fixture's injected clock.
type hClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *hClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *hClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

const petsSpecSrc = `
openapi: 3.0.3
info: {title: pets, version: "1"}
paths:
  /pets:
    get:
      operationId: listPets
      responses: {"200": {description: ok}}
    post:
      operationId: createPet
      requestBody: {content: {application/json: {schema: {type: object}}}}
      responses: {"201": {description: created}}
  /pets/{id}:
    get:
      operationId: getPet
      responses: {"200": {description: ok}, "404": {description: not found}}
`

func petsSpec(t testing.TB) *coverage.Spec {
	t.Helper()
	s, err := coverage.LoadOpenAPI([]byte(petsSpecSrc))
	if err != nil {
		t.Fatalf("LoadOpenAPI = %v", err)
	}
	return s
}

// handlerFixture is a collector fed with known traffic over two hours
// (10:xx and 11:xx), read at 12:30:
//
//	10:15 GET /pets 200         scenario checkout, persona alice, CI run-1
//	10:15 GET /pets/7 200       scenario checkout
//	10:15 drift GET /pets 200   4 compared, 1 drifted
//	11:15 POST /pets 201 body   scenario browse, persona bob, local
//	11:15 GET /nope 200         missing from the spec
//	11:15 drift GET /pets/7 404 2 compared, 0 drifted
//
// The spec of pets was set at 10:15. Scenario refund and persona carol
// are defined but never used.
type handlerFixture struct {
	c     *coverage.Collector
	clock *hClock
	spec  *coverage.Spec
}

func newHandlerFixture(t testing.TB) *handlerFixture {
	t.Helper()
	clock := &hClock{t: hT0}
	c, err := coverage.NewCollector(coverage.Config{
		Clock:       clock.Now,
		Workspaces:  map[string]string{"pets": "shop"},
		Teams:       map[string]string{"shop": "team-a"},
		Personas:    []string{"alice", "bob", "carol"},
		Scenarios:   []string{"checkout", "browse", "refund"},
		DriftBudget: 50,
	})
	if err != nil {
		t.Fatalf("NewCollector = %v", err)
	}
	ctx := context.Background()
	spec := petsSpec(t)
	if err := c.SetSpec(ctx, "pets", spec); err != nil {
		t.Fatalf("SetSpec = %v", err)
	}
	hit := func(h coverage.Hit) coverage.Hit { h.Workspace, h.Service = "shop", "pets"; return h }
	c.Record(hit(coverage.Hit{Method: "GET", Path: "/pets", Status: 200, Scenario: "checkout", Persona: "alice", CI: true, RunID: "run-1"}))
	c.Record(hit(coverage.Hit{Method: "GET", Path: "/pets/7", Status: 200, Scenario: "checkout"}))
	if err := c.ReportDrift(coverage.DriftReport{Workspace: "shop", Service: "pets", Method: "GET", Path: "/pets", Status: 200, Compared: 4, Drifted: 1}); err != nil {
		t.Fatal(err)
	}
	clock.Set(hT0.Add(time.Hour))
	if err := c.Flush(ctx); err != nil { // seals 10:00 and moves to 11:00
		t.Fatalf("Flush = %v", err)
	}
	c.Record(hit(coverage.Hit{Method: "POST", Path: "/pets", Status: 201, Body: true, Scenario: "browse", Persona: "bob"}))
	c.Record(hit(coverage.Hit{Method: "GET", Path: "/nope", Status: 200}))
	if err := c.ReportDrift(coverage.DriftReport{Workspace: "shop", Service: "pets", Method: "GET", Path: "/pets/7", Status: 404, Compared: 2, Drifted: 0}); err != nil {
		t.Fatal(err)
	}
	clock.Set(hT0.Add(2*time.Hour + 15*time.Minute)) // 12:30
	return &handlerFixture{c: c, clock: clock, spec: spec}
}

// window is the fixture's three hours, as a query string.
const fixtureWindow = "from=2026-03-02T10:00:00Z&to=2026-03-02T13:00:00Z"

func (f *handlerFixture) server(t testing.TB, cfg coverage.HandlerConfig) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(coverage.NewHandler(f.c, cfg))
	t.Cleanup(srv.Close)
	return srv
}

// get fetches path with the given Accept header ("" for none).
func get(t testing.TB, srv *httptest.Server, path, accept string) (*http.Response, []byte) {
	t.Helper()
	return do(t, srv, http.MethodGet, path, accept)
}

func do(t testing.TB, srv *httptest.Server, method, path, accept string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// problemDoc is an RFC 9457 answer as the API writes it.
type problemDoc struct {
	Type     string                `json:"type"`
	Title    string                `json:"title"`
	Status   int                   `json:"status"`
	Detail   string                `json:"detail"`
	Instance string                `json:"instance"`
	Errors   []coverage.ParamError `json:"errors"`
}

func decodeProblem(t testing.TB, resp *http.Response, body []byte) problemDoc {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q; want application/problem+json (body %s)", ct, body)
	}
	var p problemDoc
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("problem %s: %v", body, err)
	}
	return p
}

// recordingAuthorizer remembers the requests it was asked about and
// decides with decide.
type recordingAuthorizer struct {
	mu     sync.Mutex
	asked  []access.Request
	decide func(access.Request) error
}

func (a *recordingAuthorizer) Authorize(_ *http.Request, req access.Request) error {
	a.mu.Lock()
	a.asked = append(a.asked, req)
	a.mu.Unlock()
	return a.decide(req)
}

func ptr[T any](v T) *T { return &v }

func newEmptyServer(t testing.TB, c *coverage.Collector) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(coverage.NewHandler(c, coverage.HandlerConfig{}))
	t.Cleanup(srv.Close)
	return srv
}
