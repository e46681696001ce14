package coverage_test

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mockops/mockops/coverage"
	"github.com/mockops/mockops/store/access"
)

// TestHandlerSections checks every JSON route against values worked out
// by hand from the fixture's traffic.
func TestHandlerSections(t *testing.T) {
	f := newHandlerFixture(t)
	srv := f.server(t, coverage.HandlerConfig{})
	hash := coverage.ContractHash(f.spec)
	r := coverage.NewRatio
	at := func(h, m int) time.Time { return time.Date(2026, 3, 2, h, m, 0, 0, time.UTC) }
	env := coverage.Section{
		Version:     coverage.ReportVersion,
		GeneratedAt: at(12, 30),
		Window:      coverage.Window{From: at(10, 0), To: at(13, 0), Bucket: 3600},
	}
	with := func(fill func(*coverage.Section)) coverage.Section { s := env; fill(&s); return s }
	tests := []struct {
		route string
		want  coverage.Section
	}{
		{"heatmap", with(func(s *coverage.Section) {
			s.Heatmap = &coverage.Heatmap{
				Buckets: []time.Time{at(10, 0), at(11, 0), at(12, 0)},
				Rows: []coverage.HeatmapRow{
					{Scenario: "refund", Counts: []int64{0, 0, 0}, Share: r(0, 3)}, // defined, unused: a gap row
					{Workspace: "shop", Team: "team-a", Scenario: "browse", Counts: []int64{0, 1, 0}, Share: r(1, 3)},
					{Workspace: "shop", Team: "team-a", Scenario: "checkout", Counts: []int64{2, 0, 0}, Share: r(2, 3)},
				},
				Total: 3,
				Gaps:  []string{"refund"},
			}
		})},
		{"personas", with(func(s *coverage.Section) {
			s.Personas = &coverage.Personas{
				Personas: []coverage.PersonaStat{
					{Persona: "carol", Defined: true, CIShare: r(0, 0)},
					{Workspace: "shop", Persona: "alice", Defined: true, CI: 1, CIShare: r(1, 1), LastCIHit: ptr(hT0), CIRuns: 1},
					{Workspace: "shop", Persona: "bob", Defined: true, Local: 1, CIShare: r(0, 1)},
				},
				Gaps:      []string{"bob", "carol"},
				CICovered: r(1, 3),
				CIRuns:    1,
			}
		})},
		{"endpoints", with(func(s *coverage.Section) {
			s.Endpoints = &coverage.Endpoints{
				Services: []coverage.ServiceEndpoints{{
					Service: "pets", Workspace: "shop", ContractHash: hash,
					Operations: r(3, 3), OperationsCI: r(1, 3), Branches: r(7, 8), BranchesCI: r(2, 8),
					Deprecated: r(0, 0), MissingInSpec: r(1, 4),
					Ops: []coverage.OperationCoverage{
						{Method: "GET", Path: "/pets", OperationID: "listPets", Hits: 1, CIHits: 1,
							Branches: []coverage.BranchCoverage{{Branch: "response:200", Hits: 1, CIHits: 1}}},
						{Method: "POST", Path: "/pets", OperationID: "createPet", Hits: 1,
							Branches: []coverage.BranchCoverage{{Branch: "request_body", Hits: 1}, {Branch: "response:201", Hits: 1}}},
						{Method: "GET", Path: "/pets/{id}", OperationID: "getPet", Hits: 1,
							Branches: []coverage.BranchCoverage{{Branch: "response:200", Hits: 1}, {Branch: "response:404"}}},
					},
					Undeclared: []coverage.UndeclaredStatus{},
					Missing:    []coverage.MissingRequest{{Method: "GET", Path: "/nope", Count: 1}},
				}},
				Operations: r(3, 3), OperationsCI: r(1, 3), Branches: r(7, 8), BranchesCI: r(2, 8), MissingInSpec: r(1, 4),
			}
		})},
		{"staleness", with(func(s *coverage.Section) {
			s.Staleness = &coverage.Staleness{
				Services: []coverage.ServiceStaleness{{
					Service: "pets", State: coverage.StaleFresh, LastRefresh: ptr(hT0),
					AgeSeconds: ptr(8100.0), ContractHash: hash, UpstreamHash: hash,
				}},
				Fresh: r(1, 1),
			}
		})},
		{"drift", with(func(s *coverage.Section) {
			s.Drift = &coverage.Drift{
				Budget: 50,
				Services: []coverage.ServiceDrift{{
					Service: "pets", Workspace: "shop", Branches: r(1, 2), Requests: r(1, 6),
					Endpoints: []coverage.EndpointDrift{
						{Method: "GET", Path: "/pets", Branch: "response:200", Compared: 4, Drifted: 1},
						{Method: "GET", Path: "/pets/{id}", Branch: "response:404", Compared: 2},
					},
				}},
				Branches: r(1, 2), Requests: r(1, 6),
			}
			s.DriftHistory = []coverage.DriftPoint{
				{From: at(10, 0), To: at(11, 0), Branches: r(1, 1), Requests: r(1, 4)},
				{From: at(11, 0), To: at(12, 0), Branches: r(0, 1), Requests: r(0, 2)},
				{From: at(12, 0), To: at(13, 0), Branches: r(0, 0), Requests: r(0, 0)}, // nothing compared: null
			}
		})},
	}
	for _, tt := range tests {
		t.Run(tt.route, func(t *testing.T) {
			resp, body := get(t, srv, "/api/v2/coverage/"+tt.route+"?"+fixtureWindow, "")
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("GET %s = %d %s; want 200 application/json\n%s", tt.route, resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			var got coverage.Section
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("GET %s (-want +got):\n%s", tt.route, diff)
			}
			// Only the section asked for is in the envelope.
			var members map[string]json.RawMessage
			if err := json.Unmarshal(body, &members); err != nil {
				t.Fatal(err)
			}
			for _, other := range []string{"heatmap", "personas", "endpoints", "staleness", "drift", "gate"} {
				if _, ok := members[other]; ok != (other == tt.route) {
					t.Errorf("GET %s: member %q present = %v", tt.route, other, ok)
				}
			}
		})
	}
}

// TestHandlerFilters checks that the query string reaches the report:
// workspace scoping, last= windows, and the datetime-local form.
func TestHandlerFilters(t *testing.T) {
	f := newHandlerFixture(t)
	srv := f.server(t, coverage.HandlerConfig{})
	at := func(d, h int) time.Time { return time.Date(2026, 3, d, h, 0, 0, 0, time.UTC) }
	tests := []struct {
		query         string
		wantWorkspace string
		wantFrom      time.Time
		wantTo        time.Time
		wantTotal     int64
	}{
		{"", "", at(2, 13).Add(-coverage.DefaultWindow), at(2, 13), 3},
		{"last=2h", "", at(2, 10), at(2, 13), 3},
		{"last=1d", "", at(1, 12), at(2, 13), 3},
		{"last=1h&to=2026-03-02T11:00", "", at(2, 10), at(2, 11), 2},
		{"from=2026-03-02T11:00&to=2026-03-02T12:00", "", at(2, 11), at(2, 12), 1},
		{"from=2026-03-02", "", at(2, 0), at(2, 13), 3},
		{"workspace=shop&" + fixtureWindow, "shop", at(2, 10), at(2, 13), 3},
		{"workspace=other&" + fixtureWindow, "other", at(2, 10), at(2, 13), 0},
		{"workspace=&last=&from=&to=", "", at(2, 13).Add(-coverage.DefaultWindow), at(2, 13), 3}, // an empty form
	}
	for _, tt := range tests {
		resp, body := get(t, srv, "/api/v2/coverage/heatmap?"+tt.query, "")
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET heatmap?%s = %d; want 200\n%s", tt.query, resp.StatusCode, body)
			continue
		}
		var got coverage.Section
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		if got.Workspace != tt.wantWorkspace || !got.Window.From.Equal(tt.wantFrom) || !got.Window.To.Equal(tt.wantTo) || got.Heatmap.Total != tt.wantTotal {
			t.Errorf("GET heatmap?%s = workspace %q window %v..%v total %d; want %q %v..%v %d", tt.query,
				got.Workspace, got.Window.From, got.Window.To, got.Heatmap.Total, tt.wantWorkspace, tt.wantFrom, tt.wantTo, tt.wantTotal)
		}
	}
}

func TestHandlerGate(t *testing.T) {
	f := newHandlerFixture(t)
	srv := f.server(t, coverage.HandlerConfig{})
	limits := "&min_coverage=50&ci_only=true&max_drift=60&max_missing_in_spec=10&max_staleness=1h"
	resp, body := get(t, srv, "/api/v2/coverage/gate?"+fixtureWindow+limits, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET gate = %d; want 200 (a failing verdict is an answer)\n%s", resp.StatusCode, body)
	}
	var got coverage.Section
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := &coverage.Verdict{
		Pass: false,
		Checks: []coverage.Check{
			{Name: "coverage", Service: "pets", Value: coverage.NewRatio(1, 3).Percent, Limit: 50, Reason: "operations covered by CI 1/3 (33.3%), minimum 50.0%"},
			{Name: "missing_in_spec", Service: "pets", Value: ptr(25.0), Limit: 10, Reason: "requests missing from the spec 1/4 (25.0%), maximum 10.0%"},
			{Name: "drift", Service: "pets", Pass: true, Value: ptr(50.0), Limit: 60, Reason: "drifting branches 1/2 (50.0%), maximum 60.0%"},
			{Name: "staleness", Service: "pets", Value: ptr(8100.0), Limit: 3600, Reason: "last checked 2h15m0s ago (fresh), maximum 1h0m0s"},
		},
		Reasons: []string{
			"pets: operations covered by CI 1/3 (33.3%), minimum 50.0%",
			"pets: requests missing from the spec 1/4 (25.0%), maximum 10.0%",
			"pets: last checked 2h15m0s ago (fresh), maximum 1h0m0s",
		},
	}
	if diff := cmp.Diff(want, got.Gate); diff != "" {
		t.Errorf("gate verdict (-want +got):\n%s", diff)
	}
	if got.Version != coverage.ReportVersion || got.Window.Bucket != 3600 {
		t.Errorf("gate envelope = %q bucket %d; want %q 3600", got.Version, got.Window.Bucket, coverage.ReportVersion)
	}

	t.Run("junit", func(t *testing.T) {
		resp, body := get(t, srv, "/api/v2/coverage/gate?"+fixtureWindow+limits+"&format=junit", "")
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/xml") {
			t.Fatalf("GET gate junit = %d %s; want 200 application/xml", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		var doc struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Suites   []struct {
				Cases []struct {
					Classname string `xml:"classname,attr"`
					Failure   *struct {
						Message string `xml:"message,attr"`
					} `xml:"failure"`
				} `xml:"testcase"`
			} `xml:"testsuite"`
		}
		if err := xml.Unmarshal(body, &doc); err != nil {
			t.Fatalf("junit %s: %v", body, err)
		}
		if doc.Tests != 4 || doc.Failures != 3 || len(doc.Suites) != 1 || len(doc.Suites[0].Cases) != 4 {
			t.Fatalf("junit = %d tests, %d failures; want 4, 3\n%s", doc.Tests, doc.Failures, body)
		}
		if c := doc.Suites[0].Cases[2]; c.Classname != "coverage.drift" || c.Failure != nil {
			t.Errorf("junit case 3 = %s failure %v; want coverage.drift passing", c.Classname, c.Failure)
		}
	})

	t.Run("passing", func(t *testing.T) {
		_, body := get(t, srv, "/api/v2/coverage/gate?"+fixtureWindow+"&min_coverage=100&max_drift=50", "")
		var got coverage.Section
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		if !got.Gate.Pass || len(got.Gate.Checks) != 2 || len(got.Gate.Reasons) != 0 {
			t.Errorf("gate min_coverage=100 max_drift=50 = %+v; want a pass of 2 checks", got.Gate)
		}
	})
}

func TestHandlerBadParams(t *testing.T) {
	f := newHandlerFixture(t)
	srv := f.server(t, coverage.HandlerConfig{MaxBuckets: 48})
	tests := []struct {
		path       string
		wantParams []string // the params the problem names, in order
	}{
		{"/api/v2/coverage/heatmap?worksapce=shop", []string{"worksapce"}},
		{"/api/v2/coverage/heatmap?from=yesterday", []string{"from"}},
		{"/api/v2/coverage/heatmap?to=2026-13-01", []string{"to"}},
		{"/api/v2/coverage/heatmap?last=-2h", []string{"last"}},
		{"/api/v2/coverage/heatmap?last=0d", []string{"last"}},
		{"/api/v2/coverage/heatmap?last=2h&from=2026-03-02", []string{"last"}},
		{"/api/v2/coverage/heatmap?from=2026-03-02T12:00&to=2026-03-02T10:00", []string{"from"}},
		{"/api/v2/coverage/heatmap?last=30d", []string{"last"}}, // 721 buckets, past MaxBuckets
		{"/api/v2/coverage/heatmap?from=2026-01-01", []string{"from"}},
		{"/api/v2/coverage/heatmap", []string{"from"}}, // the default week is past MaxBuckets too
		{"/api/v2/coverage/heatmap?workspace=a&workspace=b", []string{"workspace"}},
		{"/api/v2/coverage/heatmap?min_coverage=50", []string{"min_coverage"}}, // a gate parameter elsewhere
		{"/api/v2/coverage/gate?last=24h&min_coverage=150&max_drift=abc&ci_only=maybe&max_staleness=soon&format=xml", []string{"ci_only", "format", "max_drift", "max_staleness", "min_coverage"}},
		{"/api/v2/coverage/gate?last=24h&max_missing_in_spec=NaN", []string{"max_missing_in_spec"}},
		{"/coverage?from=nope", []string{"from"}},
	}
	for _, tt := range tests {
		resp, body := get(t, srv, tt.path, "application/json")
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s = %d; want 400\n%s", tt.path, resp.StatusCode, body)
			continue
		}
		p := decodeProblem(t, resp, body)
		var got []string
		for _, e := range p.Errors {
			got = append(got, e.Param)
			if e.Detail == "" {
				t.Errorf("GET %s: error of %s has no detail", tt.path, e.Param)
			}
		}
		if diff := cmp.Diff(tt.wantParams, got); diff != "" || p.Status != 400 || p.Instance == "" {
			t.Errorf("GET %s: problem %+v; params (-want +got):\n%s", tt.path, p, diff)
		}
	}
	// The dashboard answers a browser with the HTML error page.
	resp, body := get(t, srv, "/coverage?from=nope", "text/html")
	if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "from: ") {
		t.Errorf("GET /coverage?from=nope (browser) = %d %s; want the 400 HTML page naming from", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestHandlerAuthorization(t *testing.T) {
	f := newHandlerFixture(t)
	auth := &recordingAuthorizer{decide: func(req access.Request) error {
		switch req.Workspace {
		case "":
			return errors.New("only workspace-scoped reads: " + access.ErrDenied.Error())
		case "shop":
			return nil
		case "anon":
			return access.ErrUnauthenticated
		}
		return access.ErrDenied
	}}
	srv := f.server(t, coverage.HandlerConfig{Authorizer: auth})
	routes := []string{"/api/v2/coverage/heatmap", "/api/v2/coverage/personas", "/api/v2/coverage/endpoints",
		"/api/v2/coverage/staleness", "/api/v2/coverage/drift", "/api/v2/coverage/gate", "/coverage"}
	tests := []struct {
		query      string
		wantStatus int
	}{
		{"workspace=shop", http.StatusOK},
		{"", http.StatusForbidden},
		{"workspace=anon", http.StatusUnauthorized},
		{"workspace=bank", http.StatusForbidden},
		{"workspace=bank&from=garbage", http.StatusForbidden}, // denied before its parameters are judged
		{"workspace=bank%20", http.StatusForbidden},           // asked about the workspace the report reads
		{"workspace=%20shop%09", http.StatusOK},
	}
	for _, route := range routes {
		for _, tt := range tests {
			resp, body := get(t, srv, route+"?"+tt.query, "application/json")
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("GET %s?%s = %d; want %d\n%s", route, tt.query, resp.StatusCode, tt.wantStatus, body)
				continue
			}
			if tt.wantStatus != http.StatusOK {
				if p := decodeProblem(t, resp, body); p.Status != tt.wantStatus || strings.Contains(p.Detail, "only workspace-scoped") {
					t.Errorf("GET %s?%s: problem %+v; want status %d and not the authorizer's own text", route, tt.query, p, tt.wantStatus)
				}
			}
		}
	}
	auth.mu.Lock()
	asked := append([]access.Request(nil), auth.asked...)
	auth.mu.Unlock()
	for _, req := range asked {
		if req.Resource != access.Coverage || req.Action != access.Read {
			t.Errorf("asked %v; want read coverage", req)
		}
	}
	if len(asked) != len(routes)*len(tests) {
		t.Errorf("the authorizer was asked %d times; want once per request (%d)", len(asked), len(routes)*len(tests))
	}

	t.Run("the workspace asked about is the one read", func(t *testing.T) {
		deny := access.AuthorizerFunc(func(_ *http.Request, req access.Request) error {
			if req.Workspace == "bank" {
				return access.ErrDenied
			}
			return nil
		})
		srv := f.server(t, coverage.HandlerConfig{Authorizer: deny})
		for _, q := range []string{"workspace=bank", "workspace=bank%20", "workspace=%09bank"} {
			for _, route := range []string{"/api/v2/coverage/heatmap", "/coverage"} {
				if resp, body := get(t, srv, route+"?"+q, ""); resp.StatusCode != http.StatusForbidden {
					t.Errorf("GET %s?%s past a blocklist of bank = %d; want 403\n%s", route, q, resp.StatusCode, body)
				}
			}
		}
	})
	t.Run("a browser gets the error page", func(t *testing.T) {
		resp, body := get(t, srv, "/coverage?workspace=anon", "text/html,application/xhtml+xml,*/*;q=0.8")
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "Sign in to read coverage.") {
			t.Errorf("GET /coverage?workspace=anon (browser) = %d %s; want the 401 page\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		// The API answers problem+json whatever the client accepts.
		resp, body = get(t, srv, "/api/v2/coverage/heatmap?workspace=bank", "text/html")
		if p := decodeProblem(t, resp, body); p.Status != http.StatusForbidden {
			t.Errorf("GET heatmap?workspace=bank (browser) = %+v; want a 403 problem", p)
		}
	})
	t.Run("nil authorizer reads", func(t *testing.T) {
		srv := f.server(t, coverage.HandlerConfig{})
		if resp, _ := get(t, srv, "/api/v2/coverage/heatmap", ""); resp.StatusCode != http.StatusOK {
			t.Errorf("GET heatmap without an Authorizer = %d; want 200 (access.ReadOnly)", resp.StatusCode)
		}
	})
	t.Run("panicking authorizer denies", func(t *testing.T) {
		srv := f.server(t, coverage.HandlerConfig{Authorizer: access.AuthorizerFunc(func(*http.Request, access.Request) error { panic("boom") })})
		if resp, _ := get(t, srv, "/api/v2/coverage/heatmap", ""); resp.StatusCode != http.StatusForbidden {
			t.Errorf("GET heatmap with a panicking Authorizer = %d; want 403", resp.StatusCode)
		}
	})
}

func TestHandlerRoutes(t *testing.T) {
	f := newHandlerFixture(t)
	srv := f.server(t, coverage.HandlerConfig{Prefix: "/admin/"})
	tests := []struct {
		method, path string
		wantStatus   int
		wantAllow    string
	}{
		{"GET", "/admin/api/v2/coverage/heatmap", 200, ""},
		{"HEAD", "/admin/api/v2/coverage/drift", 200, ""},
		{"GET", "/admin/coverage", 200, ""},
		{"GET", "/api/v2/coverage/heatmap", 404, ""}, // outside the prefix
		{"GET", "/admin/api/v2/coverage/nothing", 404, ""},
		{"GET", "/admin/api/v2/coverage", 404, ""},
		{"GET", "/admin/api/v2/coverage/heatmap/", 404, ""},
		{"POST", "/admin/api/v2/coverage/gate", 405, "GET, HEAD"},
		{"DELETE", "/admin/coverage", 405, "GET, HEAD"},
	}
	for _, tt := range tests {
		resp, body := do(t, srv, tt.method, tt.path, "application/json")
		if resp.StatusCode != tt.wantStatus || resp.Header.Get("Allow") != tt.wantAllow {
			t.Errorf("%s %s = %d Allow %q; want %d %q", tt.method, tt.path, resp.StatusCode, resp.Header.Get("Allow"), tt.wantStatus, tt.wantAllow)
			continue
		}
		if tt.wantStatus >= 400 {
			if p := decodeProblem(t, resp, body); p.Status != tt.wantStatus {
				t.Errorf("%s %s: problem status %d; want %d", tt.method, tt.path, p.Status, tt.wantStatus)
			}
		}
	}
	// An API client gets problem+json even when it accepts anything.
	resp, body := get(t, srv, "/admin/api/v2/coverage/nothing", "*/*")
	decodeProblem(t, resp, body)
}

func TestNewHandlerWiringErrors(t *testing.T) {
	f := newHandlerFixture(t)
	tests := []struct {
		name string
		c    *coverage.Collector
		cfg  coverage.HandlerConfig
	}{
		{"nil collector", nil, coverage.HandlerConfig{}},
		{"relative prefix", f.c, coverage.HandlerConfig{Prefix: "admin"}},
	}
	for _, tt := range tests {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewHandler(%s) did not panic", tt.name)
				}
			}()
			coverage.NewHandler(tt.c, tt.cfg)
		}()
	}
}
