package federation

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mockops/mockops/internal/problem"
)

const routingYAML = `name: routing
services:
  - {name: root, base_path: /, reality: mock_v3}
  - {name: api, base_path: /api, reality: mock_v3}
  - {name: admin, base_path: /admin, reality: mock_v3}
  - {name: svcadmin, base_path: /svc/admin, reality: mock_v3, strip_prefix: true}
  - {name: deep, base_path: /svc/admin/deep, reality: mock_v3}
  - {name: administrator, base_path: /svc/administrator, reality: mock_v3}
  - {name: enc, base_path: "/a%2Fb", reality: mock_v3}
  - {name: hosted, base_path: /api, host: api.example.com, reality: mock_v3, strip_prefix: true}
  - {name: hostroot, base_path: /, host: only.example.com, reality: mock_v3}
`

// routeCases are shared by the Lookup (dry run) and ServeHTTP tests.
var routeCases = []struct {
	name, host, path       string
	service, path2, rawOut string // want: service, decoded forwarded path, escaped forwarded path
}{
	{"exact prefix", "", "/api", "api", "/api", "/api"},
	{"trailing slash", "", "/api/", "api", "/api/", "/api/"},
	{"below prefix", "", "/api/users/1", "api", "/api/users/1", "/api/users/1"},
	{"boundary apix", "", "/apix", "root", "/apix", "/apix"},
	{"shorter than prefix", "", "/ap", "root", "/ap", "/ap"},
	{"root", "", "/", "root", "/", "/"},
	{"empty path", "", "", "root", "/", "/"},
	{"administrator is not admin", "", "/svc/administrator", "administrator", "/svc/administrator", "/svc/administrator"},
	{"administrator subpath", "", "/svc/administrator/x", "administrator", "/svc/administrator/x", "/svc/administrator/x"},
	{"admin stripped", "", "/svc/admin", "svcadmin", "/", "/"},
	{"admin slash stripped", "", "/svc/admin/", "svcadmin", "/", "/"},
	{"admin subpath stripped", "", "/svc/admin/x/y", "svcadmin", "/x/y", "/x/y"},
	{"longest prefix wins", "", "/svc/admin/deep/1", "deep", "/svc/admin/deep/1", "/svc/admin/deep/1"},
	{"deeper is not deep", "", "/svc/admin/deeper", "svcadmin", "/deeper", "/deeper"},
	{"svc alone", "", "/svc", "root", "/svc", "/svc"},
	{"traversal", "", "/api/../admin", "admin", "/admin", "/admin"},
	{"traversal to stripped", "", "/api/../svc/admin/x", "svcadmin", "/x", "/x"},
	{"encoded traversal", "", "/api/%2e%2e/admin", "admin", "/admin", "/admin"},
	{"traversal above root", "", "/../../api/x", "api", "/api/x", "/api/x"},
	{"dot segment", "", "/api/./x", "api", "/api/x", "/api/x"},
	{"trailing dotdot", "", "/api/x/..", "api", "/api/", "/api/"},
	{"empty segments", "", "//api//x", "api", "/api/x", "/api/x"},
	{"encoded slash is data", "", "/api%2Fx", "root", "/api/x", "/api%2Fx"},
	{"encoded slash below prefix", "", "/api/..%2Fadmin", "api", "/api/../admin", "/api/..%2Fadmin"},
	{"encoded slash prefix", "", "/a%2Fb/c", "enc", "/a/b/c", "/a%2Fb/c"},
	{"encoded slash prefix lower hex", "", "/a%2fb", "enc", "/a/b", "/a%2fb"},
	{"literal slash is not encoded one", "", "/a/b", "root", "/a/b", "/a/b"},
	{"escaped letters decode", "", "/%61pi/x", "api", "/api/x", "/%61pi/x"},
	{"query ignored", "", "/api/x?y=1", "api", "/api/x", "/api/x"},
	{"host route wins", "api.example.com", "/api/x", "hosted", "/x", "/x"},
	{"host case and port", "API.Example.COM:8080", "/api", "hosted", "/", "/"},
	{"host trailing dot", "api.example.com.", "/api", "hosted", "/", "/"},
	{"host falls back to host-less", "api.example.com", "/admin", "admin", "/admin", "/admin"},
	{"other host", "other.example.com", "/api", "api", "/api", "/api"},
	{"host root catch-all", "only.example.com", "/anything", "hostroot", "/anything", "/anything"},
	{"host catch-all beats host-less longer prefix", "only.example.com", "/api/x", "hostroot", "/api/x", "/api/x"},
}

func TestLookup(t *testing.T) {
	r := newTestRouter(t, mustParse(t, routingYAML), RouterConfig{Mocks: &echoMocks{}})
	for _, tc := range routeCases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := r.Lookup(http.MethodGet, tc.host, tc.path)
			if !ok {
				t.Fatalf("Lookup(%q, %q) found nothing; want %s", tc.host, tc.path, tc.service)
			}
			if got.Service != tc.service || got.Path != tc.path2 || got.RawPath != tc.rawOut {
				t.Errorf("Lookup(%q, %q) = %s %q %q; want %s %q %q",
					tc.host, tc.path, got.Service, got.Path, got.RawPath, tc.service, tc.path2, tc.rawOut)
			}
			if got.Federation != "routing" || got.Workspace != tc.service || got.Reality != MockV3 {
				t.Errorf("Lookup(%q) route = %+v; want federation routing, workspace %s, mock_v3", tc.path, got, tc.service)
			}
		})
	}
}

func TestServeRouting(t *testing.T) {
	r := newTestRouter(t, mustParse(t, routingYAML), RouterConfig{Mocks: &echoMocks{}})
	for _, tc := range routeCases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "http://router.test"+tc.path, nil)
			if tc.host != "" {
				req.Host = tc.host
			}
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			if w.Code != http.StatusOK { // never a redirect, whatever the path
				t.Fatalf("GET %q status %d; want 200, body %s", tc.path, w.Code, w.Body)
			}
			if got := w.Header().Get(HeaderServedBy); got != "mock" {
				t.Errorf("%s = %q; want mock", HeaderServedBy, got)
			}
			e := decodeEcho(t, w.Body.Bytes())
			if e.Service != tc.service || e.Workspace != tc.service || e.Path != tc.path2 || e.RawPath != tc.rawOut {
				t.Errorf("GET %q reached %s/%s path %q raw %q; want %s path %q raw %q",
					tc.path, e.Service, e.Workspace, e.Path, e.RawPath, tc.service, tc.path2, tc.rawOut)
			}
		})
	}
}

func TestUnmatched(t *testing.T) {
	f := mustParse(t, `name: noroot
services:
  - {name: api, base_path: /api, reality: mock_v3}
`)
	r := newTestRouter(t, f, RouterConfig{Mocks: &echoMocks{}})
	for _, p := range []string{"/", "/apix", "/other/api", "/api%2Fx", "/ap"} {
		if rt, ok := r.Lookup("GET", "", p); ok {
			t.Errorf("Lookup(%q) = %s; want no route", p, rt.Service)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest("GET", "http://router.test"+p, nil))
		if w.Code != http.StatusNotFound || w.Header().Get("Content-Type") != problem.ContentType {
			t.Fatalf("GET %q = %d %q; want 404 problem+json", p, w.Code, w.Header().Get("Content-Type"))
		}
		var body map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["federation"] != "noroot" || body["status"] != float64(404) {
			t.Errorf("GET %q problem = %s (%v); want federation noroot, status 404", p, w.Body, err)
		}
		if got := w.Header().Get(HeaderServedBy); got != "router" {
			t.Errorf("GET %q %s = %q; want router", p, HeaderServedBy, got)
		}
	}
	if _, ok := r.Lookup("OPTIONS", "", "*"); ok {
		t.Errorf("Lookup(*) found a route; want none")
	}

	fallback := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := RouteFrom(r.Context()); ok {
			t.Errorf("fallback request carries a route")
		}
		w.WriteHeader(http.StatusTeapot)
		io.WriteString(w, "fallback")
	})
	r2 := newTestRouter(t, f, RouterConfig{Mocks: &echoMocks{}, FallbackHandler: fallback})
	w := httptest.NewRecorder()
	r2.ServeHTTP(w, httptest.NewRequest("GET", "http://router.test/nope", nil))
	if w.Code != http.StatusTeapot || w.Body.String() != "fallback" {
		t.Errorf("unmatched with fallback = %d %q; want 418 fallback", w.Code, w.Body)
	}
}

// The benchmark reports allocations; this makes "Lookup allocates
// nothing" a failing test, including for host routes and strip_prefix.
func TestLookupAllocatesNothing(t *testing.T) {
	r := newTestRouter(t, mustParse(t, routingYAML), RouterConfig{Mocks: &echoMocks{}})
	for _, c := range []struct{ host, path string }{
		{"", "/api/users/1"}, {"", "/svc/admin/x"}, {"api.example.com", "/api/x"}, {"", "/nowhere/at/all"},
	} {
		if n := testing.AllocsPerRun(200, func() { r.Lookup("GET", c.host, c.path) }); n != 0 {
			t.Errorf("Lookup(%q, %q) allocates %v times; want 0", c.host, c.path, n)
		}
	}
}
