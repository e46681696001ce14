package federation

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mockops/mockops/store/access"
)

const yamlCT = "application/yaml"

// TestHandlerFlow walks every route in the order a user would, each step
// relying on the ones before it.
func TestHandlerFlow(t *testing.T) {
	a := newAPI(t, HandlerConfig{})
	up := "http://127.0.0.1:1"
	steps := []struct {
		name       string
		method     string
		path       string
		role       string
		ct, body   string
		hdr        []string
		wantStatus int
		want       map[string]any // members the answer must have (top level)
		check      func(t *testing.T, r reply)
	}{
		{name: "list", method: "GET", path: "/api/v2/federations", role: "read", wantStatus: 200,
			check: func(t *testing.T, r reply) {
				fs := r.body["federations"].([]any)
				if len(fs) != 1 || fs[0].(map[string]any)["name"] != "shop" || fs[0].(map[string]any)["source"] != nil {
					t.Errorf("federations = %v; want shop without its source", fs)
				}
			}},
		{name: "get", method: "GET", path: "/api/v2/federations/shop", role: "read", wantStatus: 200,
			want: map[string]any{"name": "shop", "version": 1.0, "loaded": true, "active_scenario": ""},
			check: func(t *testing.T, r reply) {
				if r.header.Get("ETag") != `"1"` {
					t.Errorf("ETag = %q; want \"1\"", r.header.Get("ETag"))
				}
				svc := r.body["services"].([]any)[1].(map[string]any)
				if svc["name"] != "orders" || strings.Contains(fmt.Sprint(svc["upstream"]), "hunter2") {
					t.Errorf("service %v: want orders with its password redacted", svc)
				}
			}},
		{name: "create as YAML", method: "POST", path: "/api/v2/federations", role: "write", ct: yamlCT,
			body: "name: lab\nservices:\n  - {name: a, base_path: /a, reality: mock_v3}\n", wantStatus: 201,
			want: map[string]any{"name": "lab", "version": 1.0}},
		{name: "create taken name", method: "POST", path: "/api/v2/federations", role: "write", ct: yamlCT,
			body: "name: lab\nservices:\n  - {name: a, base_path: /a, reality: mock_v3}\n", wantStatus: 409},
		{name: "replace as JSON with If-Match", method: "PUT", path: "/api/v2/federations/lab", role: "write", ct: "application/json",
			body: `{"source": "name: lab\ndescription: two\nservices:\n  - {name: a, base_path: /a, reality: mock_v3}\n"}`, hdr: []string{"If-Match", `"1"`},
			wantStatus: 200, want: map[string]any{"version": 2.0, "description": "two"}},
		{name: "replace with stale If-Match", method: "PUT", path: "/api/v2/federations/lab", role: "write", ct: yamlCT,
			body: "name: lab\nservices:\n  - {name: a, base_path: /a, reality: mock_v3}\n", hdr: []string{"If-Match", `"1"`}, wantStatus: 412},
		{name: "create-only PUT of an existing one", method: "PUT", path: "/api/v2/federations/lab", role: "write", ct: yamlCT,
			body: "name: lab\nservices:\n  - {name: a, base_path: /a, reality: mock_v3}\n", hdr: []string{"If-None-Match", "*"}, wantStatus: 412},
		{name: "invalid definition with positions", method: "PUT", path: "/api/v2/federations/lab", role: "write", ct: yamlCT,
			body: "name: lab\nservices:\n  - {name: a, base_path: nope, reality: mock_v3}\n", wantStatus: 422,
			check: func(t *testing.T, r reply) {
				errs := r.body["errors"].([]any)
				e := errs[0].(map[string]any)
				if e["file"] != "lab.yaml" || e["line"] != 3.0 || e["column"].(float64) < 1 {
					t.Errorf("errors = %v; want lab.yaml line 3 with a column", errs)
				}
			}},
		{name: "validate", method: "POST", path: "/api/v2/federations/validate", role: "read", ct: yamlCT, body: string(shopSpec(up)),
			wantStatus: 200, want: map[string]any{"valid": true, "order": []any{"auth", "orders", "payments"}}},
		{name: "delete with If-Match", method: "DELETE", path: "/api/v2/federations/lab", role: "write", hdr: []string{"If-Match", `"2"`}, wantStatus: 204},
		{name: "deleted is gone", method: "GET", path: "/api/v2/federations/lab", role: "read", wantStatus: 404},
		{name: "route dry run", method: "POST", path: "/api/v2/federations/shop/route", role: "read", ct: "application/json",
			body: `{"path": "/orders/7?x=1"}`, wantStatus: 200,
			want: map[string]any{"matched": true, "service": "orders", "workspace": "orders-ws", "reality": "mock_v3", "prefix": "/orders", "path": "/orders/7"}},
		{name: "route dry run, no match", method: "POST", path: "/api/v2/federations/shop/route", role: "read", ct: "application/json",
			body: `{"path": "/nowhere"}`, wantStatus: 200, want: map[string]any{"matched": false}},
		{name: "reality switch", method: "PUT", path: "/api/v2/federations/shop/services/orders/reality", role: "operate", ct: "application/json",
			body: `{"reality": "blended"}`, wantStatus: 200, want: map[string]any{"service": "orders", "reality": "blended", "serving": "blended"}},
		{name: "route shows the strategy", method: "POST", path: "/api/v2/federations/shop/route", role: "read", ct: "application/json",
			body: `{"method": "POST", "path": "/orders"}`, wantStatus: 200,
			check: func(t *testing.T, r reply) {
				if r.body["reality"] != "blended" || r.body["strategy"] != "real_first" || strings.Contains(r.raw, "hunter2") {
					t.Errorf("route = %s; want blended real_first, password redacted", r.raw)
				}
			}},
		{name: "reality needing an upstream", method: "PUT", path: "/api/v2/federations/shop/services/payments/reality", role: "operate", ct: "application/json",
			body: `{"reality": "real"}`, wantStatus: 422},
		{name: "reality switch removed", method: "PUT", path: "/api/v2/federations/shop/services/orders/reality", role: "operate", ct: "application/json",
			body: `{"reality": ""}`, wantStatus: 200, want: map[string]any{"reality": "", "serving": "mock_v3"}},
		{name: "reality of unknown service", method: "PUT", path: "/api/v2/federations/shop/services/nope/reality", role: "operate", ct: "application/json",
			body: `{"reality": "real"}`, wantStatus: 404},
		{name: "diffs", method: "GET", path: "/api/v2/federations/shop/services/orders/diffs", role: "read", wantStatus: 200,
			want: map[string]any{"service": "orders", "diffs": []any{}}},
		{name: "scenarios", method: "GET", path: "/api/v2/federations/shop/scenarios", role: "read", wantStatus: 200,
			check: func(t *testing.T, r reply) {
				if r.body["active"] != "" || len(r.body["scenarios"].([]any)) != 3 {
					t.Errorf("scenarios = %s", r.raw)
				}
			}},
		{name: "activate", method: "POST", path: "/api/v2/federations/shop/scenarios/real-orders/activate", role: "operate", wantStatus: 200,
			want: map[string]any{"scenario": "real-orders"}},
		{name: "active", method: "GET", path: "/api/v2/federations/shop/scenarios/active", role: "read", wantStatus: 200,
			want: map[string]any{"scenario": "real-orders"}},
		{name: "delete refused while active", method: "DELETE", path: "/api/v2/federations/shop", role: "write", wantStatus: 409},
		{name: "failing activation", method: "POST", path: "/api/v2/federations/shop/scenarios/outage/activate", role: "operate", wantStatus: 500,
			check: func(t *testing.T, r reply) {
				if strings.Contains(r.raw, "refused") {
					t.Errorf("the activator's words leaked: %s", r.raw)
				}
			}},
		{name: "still the previous scenario", method: "GET", path: "/api/v2/federations/shop/scenarios/active", role: "read", wantStatus: 200,
			want: map[string]any{"scenario": "real-orders"}},
		{name: "activate unknown", method: "POST", path: "/api/v2/federations/shop/scenarios/nope/activate", role: "operate", wantStatus: 404},
		{name: "deactivate", method: "POST", path: "/api/v2/federations/shop/scenarios/deactivate", role: "operate", wantStatus: 200,
			want: map[string]any{"scenario": ""}},
		{name: "state write", method: "PUT", path: "/api/v2/federations/shop/state/users/ada", role: "operate", ct: "application/json",
			body: `{"name":"Ada"}`, wantStatus: 200, want: map[string]any{"key": "users/ada", "version": 1.0, "value": map[string]any{"name": "Ada"}}},
		{name: "state CAS", method: "PUT", path: "/api/v2/federations/shop/state/users/ada", role: "operate", ct: "application/json",
			body: `{"name":"Ada L."}`, hdr: []string{"If-Match", `"1"`}, wantStatus: 200, want: map[string]any{"version": 2.0}},
		{name: "state CAS stale", method: "PUT", path: "/api/v2/federations/shop/state/users/ada", role: "operate", ct: "application/json",
			body: `{"name":"stale"}`, hdr: []string{"If-Match", `"1"`}, wantStatus: 412},
		{name: "state create-only of existing", method: "PUT", path: "/api/v2/federations/shop/state/users/ada", role: "operate",
			body: `1`, hdr: []string{"If-None-Match", "*"}, wantStatus: 412},
		{name: "state read", method: "GET", path: "/api/v2/federations/shop/state/users/ada", role: "read", wantStatus: 200,
			want: map[string]any{"value": map[string]any{"name": "Ada L."}, "version": 2.0}},
		{name: "state list", method: "GET", path: "/api/v2/federations/shop/state?prefix=users/", role: "read", wantStatus: 200,
			check: func(t *testing.T, r reply) {
				if len(r.body["entries"].([]any)) != 1 {
					t.Errorf("entries = %s; want users/ada", r.raw)
				}
			}},
		{name: "state not JSON", method: "PUT", path: "/api/v2/federations/shop/state/k", role: "operate", body: `{"a":`, wantStatus: 400},
		{name: "state wrong type", method: "PUT", path: "/api/v2/federations/shop/state/k", role: "operate", ct: "text/plain", body: `1`, wantStatus: 415},
		{name: "state delete stale", method: "DELETE", path: "/api/v2/federations/shop/state/users/ada", role: "operate", hdr: []string{"If-Match", `"1"`}, wantStatus: 412},
		{name: "state delete", method: "DELETE", path: "/api/v2/federations/shop/state/users/ada", role: "operate", hdr: []string{"If-Match", `"2"`}, wantStatus: 204},
		{name: "state gone", method: "GET", path: "/api/v2/federations/shop/state/users/ada", role: "read", wantStatus: 404},
		// If-Match on what does not exist is a precondition that does not
		// hold (RFC 9110 13.1.1): 412, as the handler's doc says.
		{name: "state delete If-Match * of a missing key", method: "DELETE", path: "/api/v2/federations/shop/state/users/ada", role: "operate", hdr: []string{"If-Match", "*"}, wantStatus: 412},
		{name: "state delete If-Match of a missing key", method: "DELETE", path: "/api/v2/federations/shop/state/users/ada", role: "operate", hdr: []string{"If-Match", `"2"`}, wantStatus: 412},
		{name: "state delete of a missing key", method: "DELETE", path: "/api/v2/federations/shop/state/users/ada", role: "operate", wantStatus: 404},
		{name: "delete If-Match * of a missing federation", method: "DELETE", path: "/api/v2/federations/nope", role: "write", hdr: []string{"If-Match", "*"}, wantStatus: 412},
		{name: "delete of a missing federation", method: "DELETE", path: "/api/v2/federations/nope", role: "write", wantStatus: 404},
		{name: "delete", method: "DELETE", path: "/api/v2/federations/shop", role: "write", wantStatus: 204},
	}
	for _, st := range steps {
		r := a.call(t, st.method, st.path, st.role, st.ct, st.body, st.hdr...)
		if r.status != st.wantStatus {
			t.Fatalf("%s: %s %s = %d %s; want %d", st.name, st.method, st.path, r.status, r.raw, st.wantStatus)
		}
		for k, v := range st.want {
			if diff := cmp.Diff(v, r.body[k]); diff != "" {
				t.Errorf("%s: member %q (-want +got):\n%s", st.name, k, diff)
			}
		}
		if st.check != nil {
			st.check(t, r)
		}
	}
}

// TestHandlerAuthorization: every route asks the Authorizer with its
// resource, action and workspace, and answers 401 / 403 without the
// Authorizer's reason.
func TestHandlerAuthorization(t *testing.T) {
	a := newAPI(t, HandlerConfig{})
	F, S, ST := access.Federations, access.Scenarios, access.State
	R, O, W := access.Read, access.Operate, access.Write
	routes := []struct {
		method, path, ct, body string
		want                   access.Request
	}{
		{"GET", "/api/v2/federations", "", "", access.Request{Resource: F, Action: R}},
		{"POST", "/api/v2/federations", yamlCT, "name: lab\nservices:\n  - {name: a, base_path: /a, reality: mock_v3}\n", access.Request{Resource: F, Action: W, Name: "lab"}},
		{"POST", "/api/v2/federations/validate", yamlCT, "name: x", access.Request{Resource: F, Action: R}},
		{"GET", "/api/v2/federations/shop", "", "", access.Request{Resource: F, Action: R, Name: "shop"}},
		{"PUT", "/api/v2/federations/shop", yamlCT, "name: shop", access.Request{Resource: F, Action: W, Name: "shop"}},
		{"DELETE", "/api/v2/federations/shop", "", "", access.Request{Resource: F, Action: W, Name: "shop"}},
		{"POST", "/api/v2/federations/shop/route", "", `{"path": "/"}`, access.Request{Resource: F, Action: R, Name: "shop"}},
		{"PUT", "/api/v2/federations/shop/services/orders/reality", "", `{"reality": "real"}`, access.Request{Resource: F, Action: O, Name: "shop", Workspace: "orders-ws"}},
		{"GET", "/api/v2/federations/shop/services/auth/diffs", "", "", access.Request{Resource: F, Action: R, Name: "shop", Workspace: "auth-ws"}},
		{"GET", "/api/v2/federations/shop/scenarios", "", "", access.Request{Resource: S, Action: R, Name: "shop"}},
		{"GET", "/api/v2/federations/shop/scenarios/active", "", "", access.Request{Resource: S, Action: R, Name: "shop"}},
		{"POST", "/api/v2/federations/shop/scenarios/outage/activate", "", "", access.Request{Resource: S, Action: O, Name: "shop"}},
		{"POST", "/api/v2/federations/shop/scenarios/deactivate", "", "", access.Request{Resource: S, Action: O, Name: "shop"}},
		{"GET", "/api/v2/federations/shop/state", "", "", access.Request{Resource: ST, Action: R, Name: "shop"}},
		{"GET", "/api/v2/federations/shop/state/k", "", "", access.Request{Resource: ST, Action: R, Name: "shop"}},
		{"PUT", "/api/v2/federations/shop/state/k", "", `1`, access.Request{Resource: ST, Action: O, Name: "shop"}},
		{"DELETE", "/api/v2/federations/shop/state/k", "", "", access.Request{Resource: ST, Action: O, Name: "shop"}},
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			r := a.call(t, rt.method, rt.path, "", rt.ct, rt.body)
			if r.status != http.StatusUnauthorized {
				t.Errorf("without credentials = %d %s; want 401", r.status, r.raw)
			}
			if diff := cmp.Diff(rt.want, a.authz.last()); diff != "" {
				t.Errorf("access.Request (-want +got):\n%s", diff)
			}
			if rt.want.Action == R {
				return
			}
			r = a.call(t, rt.method, rt.path, "read", rt.ct, rt.body)
			if r.status != http.StatusForbidden || strings.Contains(r.raw, "role") {
				t.Errorf("as a reader = %d %s; want 403 without the reason", r.status, r.raw)
			}
		})
	}
	// Nothing was changed by the denied requests.
	if r := a.call(t, "GET", "/api/v2/federations/shop", "read", "", ""); r.body["version"] != 1.0 || r.body["active_scenario"] != "" {
		t.Errorf("after denied requests: %s", r.raw)
	}
}

// TestHandlerDefaultReadOnly: without an Authorizer, reads are served and
// changes refused.
func TestHandlerDefaultReadOnly(t *testing.T) {
	a := newAPI(t, HandlerConfig{Authorizer: access.ReadOnly})
	if r := a.call(t, "GET", "/api/v2/federations/shop/scenarios/active", "", "", ""); r.status != 200 {
		t.Errorf("read = %d; want 200", r.status)
	}
	if r := a.call(t, "POST", "/api/v2/federations/shop/scenarios/outage/activate", "", "", ""); r.status != 403 {
		t.Errorf("activate = %d; want 403", r.status)
	}
}

func TestHandlerBadRequests(t *testing.T) {
	a := newAPI(t, HandlerConfig{MaxBodyBytes: 256})
	big := `{"path": "/` + strings.Repeat("x", 300) + `"}`
	tests := []struct {
		name, method, path, ct, body string
		hdr                          []string
		want                         int
		line, col                    float64 // of the first positioned problem, when set
	}{
		{"oversized body", "POST", "/api/v2/federations/shop/route", "", big, nil, 413, 0, 0},
		{"oversized definition", "PUT", "/api/v2/federations/shop", yamlCT, "name: shop\n#" + strings.Repeat("x", 300), nil, 413, 0, 0},
		{"unknown member", "POST", "/api/v2/federations/shop/route", "", "{\n  \"path\": \"/\",\n  \"bogus\": 1}", nil, 400, 3, 3}, // at the member's key (internal/jsonbody)
		{"trailing data", "POST", "/api/v2/federations/shop/route", "", `{"path": "/"} {}`, nil, 400, 1, 15},
		{"syntax error", "POST", "/api/v2/federations/shop/route", "", `{"path": }`, nil, 400, 1, 10},
		{"wrong type", "PUT", "/api/v2/federations/shop/services/orders/reality", "", `{"reality": 3}`, nil, 400, 1, 13},
		{"empty body", "POST", "/api/v2/federations/shop/route", "", ``, nil, 400, 0, 0},
		{"relative path", "POST", "/api/v2/federations/shop/route", "", `{"path": "orders"}`, nil, 400, 0, 0},
		{"missing reality", "PUT", "/api/v2/federations/shop/services/orders/reality", "", `{}`, nil, 400, 0, 0},
		{"unsupported media type", "PUT", "/api/v2/federations/shop", "text/plain", "name: shop", nil, 415, 0, 0},
		{"JSON without source", "PUT", "/api/v2/federations/shop", "application/json", `{}`, nil, 400, 0, 0},
		{"YAML syntax error", "PUT", "/api/v2/federations/shop", yamlCT, "name: shop\nservices: [\n", nil, 422, 0, 0},
		{"renamed definition", "PUT", "/api/v2/federations/shop", yamlCT, "name: other\nservices:\n  - {name: a, base_path: /a, reality: mock_v3}\n", nil, 422, 0, 0},
		{"credentials in an upstream", "PUT", "/api/v2/federations/shop", yamlCT,
			"name: shop\nservices:\n  - {name: a, base_path: /a, reality: real, upstream: 'http://u:hunter2@h'}\n", nil, 422, 3, 55},
		// A URL that does not parse cannot be redacted by net/url: its
		// password must not come back in the diagnostic either.
		{"credentials in a malformed upstream", "PUT", "/api/v2/federations/shop", yamlCT,
			"name: shop\nservices:\n  - {name: a, base_path: /a, reality: real, upstream: 'http://u:hunter2@h:bad/x'}\n", nil, 422, 3, 55},
		{"credentials in an upstream without a scheme", "PUT", "/api/v2/federations/shop", yamlCT,
			"name: shop\nservices:\n  - {name: a, base_path: /a, reality: real, upstream: 'u:hunter2@h'}\n", nil, 422, 3, 55},
		{"credentials in an upstream with a bad escape", "PUT", "/api/v2/federations/shop", yamlCT,
			"name: shop\nservices:\n  - {name: a, base_path: /a, reality: real, upstream: 'http://u%zz:hunter2@[::1'}\n", nil, 422, 3, 55},
		{"bad If-Match", "PUT", "/api/v2/federations/shop", yamlCT, "name: shop", []string{"If-Match", "yes"}, 400, 0, 0},
		{"unknown federation", "GET", "/api/v2/federations/nope/scenarios", "", "", nil, 404, 0, 0},
		{"unknown federation definition", "GET", "/api/v2/federations/nope", "", "", nil, 404, 0, 0},
		{"unknown federation state", "PUT", "/api/v2/federations/nope/state/k", "", "1", nil, 404, 0, 0},
		{"unknown route", "GET", "/api/v2/federations/shop/nothing/here", "", "", nil, 404, 0, 0},
		{"wrong method", "PATCH", "/api/v2/federations/shop", "", "", nil, 405, 0, 0},
		{"bad state key", "PUT", "/api/v2/federations/shop/state/" + strings.Repeat("k", MaxStateKey+1), "", "1", nil, 400, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.call(t, tt.method, tt.path, "write", tt.ct, tt.body, tt.hdr...)
			if r.status != tt.want {
				t.Fatalf("%s %s = %d %s; want %d", tt.method, tt.path, r.status, r.raw, tt.want)
			}
			if tt.want == 405 && r.header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
			if strings.Contains(r.raw, "hunter2") {
				t.Errorf("a password is in the answer: %s", r.raw)
			}
			if tt.line > 0 {
				errs, _ := r.body["errors"].([]any)
				if len(errs) == 0 {
					t.Fatalf("no positioned problem in %s", r.raw)
				}
				e := errs[0].(map[string]any)
				if e["line"] != tt.line || e["column"] != tt.col {
					t.Errorf("problem at %v:%v; want %v:%v (%s)", e["line"], e["column"], tt.line, tt.col, r.raw)
				}
			}
		})
	}
}

// TestHandlerCrossOrigin: a browser form on another site cannot change
// anything with the credentials (cookies) the browser adds: an unsafe
// request a browser marks cross-origin is refused before it is decided,
// while the same request from a non-browser client is served.
func TestHandlerCrossOrigin(t *testing.T) {
	a := newAPI(t, HandlerConfig{})
	cases := []struct {
		name, method, path, ct, body string
		hdr                          []string
		want                         int
	}{
		{"form post from another site", "POST", "/api/v2/federations/shop/scenarios/real-orders/activate", "application/x-www-form-urlencoded", "a=b",
			[]string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"origin of another host", "POST", "/api/v2/federations/shop/scenarios/deactivate", "text/plain", "",
			[]string{"Origin", "https://evil.example"}, http.StatusForbidden},
		{"cross-site state delete", "DELETE", "/api/v2/federations/shop/state/k", "", "",
			[]string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"cross-site read still served", "GET", "/api/v2/federations/shop/scenarios/active", "", "",
			[]string{"Sec-Fetch-Site", "cross-site"}, http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if r := a.call(t, tc.method, tc.path, "operate", tc.ct, tc.body, tc.hdr...); r.status != tc.want {
				t.Errorf("%s %s = %d %s; want %d", tc.method, tc.path, r.status, r.raw, tc.want)
			}
		})
	}
	if r := a.call(t, "GET", "/api/v2/federations/shop/scenarios/active", "read", "", ""); r.body["scenario"] != "" {
		t.Errorf("a cross-origin request activated a scenario: %s", r.raw)
	}
	// The same activation from a non-browser client (no Origin, no
	// Sec-Fetch-Site) is served.
	if r := a.call(t, "POST", "/api/v2/federations/shop/scenarios/real-orders/activate", "operate", "", ""); r.status != http.StatusOK {
		t.Errorf("activation from a client = %d %s; want 200", r.status, r.raw)
	}
}
