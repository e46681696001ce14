package federation

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mockops/mockops/store/access"
)

// pagesSrc is the federation the page tests show: a chain of mocks, a
// blended (merge) service whose answers drift from the real ones, and
// scenarios. %[1]s is the real upstream.
const pagesSrc = `name: shop
description: A shop of four services
services:
  - name: payments
    base_path: /payments
    workspace: payments-ws
    reality: mock_v3
    depends_on: [orders]
  - name: orders
    base_path: /orders
    workspace: orders-ws
    reality: mock_v3
    upstream: %[1]s
    depends_on: [auth]
  - name: auth
    base_path: /auth
    workspace: auth-ws
    reality: mock_v3
    upstream: %[1]s
  - name: catalog
    base_path: /catalog
    workspace: catalog-ws
    reality: blended
    upstream: %[1]s
    blend: { strategy: merge }
    depends_on: [auth]
scenarios:
  - name: real-orders
    description: Orders from the real upstream
    services: { orders: { reality: real } }
  - name: outage
    services:
      payments: { reality: chaos_driven, chaos: { abort: { p: 1, status: 503 } } }
`

// pagesFixture is a Registry on SQLite serving shop, its pages behind an
// httptest server, and the real upstream of its services.
type pagesFixture struct {
	reg    *Registry
	act    *activator
	srv    *httptest.Server
	client *http.Client
}

// pageRoles is the RoleAuthorizer of the page tests: the X-User header
// names the caller. orders-op operates only in orders-ws.
func pageRoles() *access.RoleAuthorizer {
	return &access.RoleAuthorizer{
		Principal: func(r *http.Request) (string, error) { return r.Header.Get("X-User"), nil },
		Roles: map[string]map[string]access.Role{
			"viewer":    {access.AnyWorkspace: access.Viewer},
			"operator":  {access.AnyWorkspace: access.Operator},
			"orders-op": {access.AnyWorkspace: access.Viewer, "orders-ws": access.Operator},
		},
	}
}

func newPagesFixture(t testing.TB, authz access.Authorizer) *pagesFixture {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"served":"real","path":%q,"price":10}`, r.URL.Path)
	}))
	t.Cleanup(up.Close)
	act := &activator{}
	st := openSQLite(t, filepath.Join(t.TempDir(), "pages.db"))
	reg, err := NewRegistry(t.Context(), RegistryConfig{Store: st, Router: RouterConfig{Mocks: &echoMocks{}, Scenarios: act}})
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	t.Cleanup(func() { reg.Close() })
	if _, err := reg.Put(t.Context(), "shop", fmt.Appendf(nil, pagesSrc, up.URL), 0); err != nil {
		t.Fatalf("Put: %v", err)
	}
	pages, err := NewPages(reg, PagesConfig{Authorizer: authz})
	if err != nil {
		t.Fatalf("NewPages: %v", err)
	}
	srv := httptest.NewServer(pages)
	t.Cleanup(srv.Close)
	return &pagesFixture{reg: reg, act: act, srv: srv, client: newClient(t)}
}

func (f *pagesFixture) router(t testing.TB) *Router {
	t.Helper()
	rt, ok := f.reg.Router("shop")
	if !ok {
		t.Fatal("the registry does not serve shop")
	}
	return rt
}

// through sends GET path through the federation's Router and returns the
// status and the body.
func (f *pagesFixture) through(t testing.TB, path string) (int, string) {
	t.Helper()
	w := httptest.NewRecorder()
	f.router(t).ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
	return w.Code, w.Body.String()
}

// servedBy says who answered path through the Router: "real" for the
// upstream, else the workspace of the mock that echoed it.
func (f *pagesFixture) servedBy(t testing.TB, path string) string {
	t.Helper()
	code, body := f.through(t, path)
	if code != http.StatusOK {
		return fmt.Sprint(code)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("GET %s through the router = %q: %v", path, body, err)
	}
	if m["served"] == "real" {
		return "real"
	}
	return fmt.Sprint(m["workspace"])
}

// do sends a request to the pages as user ("" for nobody) and returns the
// status, the Location header and the body; hdr holds header pairs.
func (f *pagesFixture) do(t testing.TB, method, path, user string, form url.Values, hdr ...string) (int, string, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if user != "" {
		req.Header.Set("X-User", user)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}
