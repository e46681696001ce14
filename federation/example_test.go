package federation_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/mockops/mockops/federation"
)

func ExampleParse() {
	// MockForge's format is read as is: the federation: wrapper,
	// workspace_id, reality_level in any case, config.upstream_url.
	fed, err := federation.Parse("shop.yaml", []byte(`federation:
  name: shop
  services:
    - name: payments
      workspace_id: payments-ws
      base_path: /payments
      reality_level: MockV3
      dependencies: [auth]
    - name: auth
      workspace_id: auth-ws
      base_path: /auth
      reality_level: real
      config: { upstream_url: "http://127.0.0.1:9001" }
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range fed.Order() { // dependencies first
		fmt.Println(s.Name, s.BasePath, s.Reality, s.WorkspaceName())
	}

	// Every problem comes back at once, with its position.
	_, err = federation.Parse("bad.yaml", []byte(`name: bad
services:
  - {name: auth, base_path: auth/, reality: reel}
  - {name: auth, base_path: /auth, reality: real, depends_on: [auth]}
`))
	fmt.Println(err)
	// Output:
	// auth /auth real auth-ws
	// payments /payments mock_v3 payments-ws
	// bad.yaml:3:29: service "auth": base_path "auth/" must start with "/"
	// bad.yaml:3:45: service "auth": unknown reality "reel" (one of real, mock_v3, blended, chaos_driven) (did you mean "real"?)
	// bad.yaml:4:12: duplicate service name "auth" (first declared at bad.yaml:3:12)
	// bad.yaml:4:45: service "auth": reality real needs an upstream (upstream: or config.upstream_url:)
	// bad.yaml:4:64: service "auth" depends on itself
}

// A federation of one real service, whose upstream runs on loopback, and
// one mock workspace, behind a single handler.
func ExampleNewRouter() {
	users := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "real users service: %s (prefix %s)", r.URL.Path, r.Header.Get("X-Forwarded-Prefix"))
	}))
	defer users.Close()

	fed, err := federation.Parse("shop.yaml", []byte(`name: shop
services:
  - name: users
    base_path: /users
    reality: real
    upstream: `+users.URL+`
    strip_prefix: true
  - name: orders
    base_path: /orders
    workspace: orders-ws
    reality: mock_v3
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	mocks := federation.MockResolverFunc(func(ws string) (http.Handler, error) {
		if ws != "orders-ws" {
			return nil, fmt.Errorf("no workspace %q", ws)
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			route, _ := federation.RouteFrom(r.Context())
			fmt.Fprintf(w, "mock of %s in %s: %s", route.Service, route.Workspace, r.URL.Path)
		}), nil
	})
	router, err := federation.NewRouter(fed, federation.RouterConfig{Mocks: mocks})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer router.Close()
	srv := httptest.NewServer(router)
	defer srv.Close()

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	for _, path := range []string{"/users/7", "/orders/42", "/ordersx"} {
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			body = []byte(resp.Header.Get("Content-Type"))
		}
		fmt.Printf("%s -> %d %s: %s\n", path, resp.StatusCode, resp.Header.Get(federation.HeaderServedBy), strings.TrimSpace(string(body)))
	}
	// Output:
	// /users/7 -> 200 real: real users service: /7 (prefix /users)
	// /orders/42 -> 200 mock: mock of orders in orders-ws: /orders/42
	// /ordersx -> 404 router: application/problem+json
}

func ExampleRouter_Lookup() {
	fed, _ := federation.Parse("api.yaml", []byte(`name: api
services:
  - {name: admin, base_path: /svc/admin, reality: mock_v3, strip_prefix: true}
  - {name: everything, base_path: /, reality: mock_v3}
`))
	router, err := federation.NewRouter(fed, federation.RouterConfig{
		Mocks: federation.MockResolverFunc(func(string) (http.Handler, error) { return http.NotFoundHandler(), nil }),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer router.Close()
	for _, p := range []string{"/svc/admin/users", "/svc/administrator", "/svc/x/../admin", "/svc/admin%2Fusers"} {
		rt, _ := router.Lookup(http.MethodGet, "", p)
		fmt.Printf("%-20s -> %s %s\n", p, rt.Service, rt.RawPath)
	}
	// Output:
	// /svc/admin/users     -> admin /users
	// /svc/administrator   -> everything /svc/administrator
	// /svc/x/../admin      -> admin /
	// /svc/admin%2Fusers   -> everything /svc/admin%2Fusers
}

func ExampleRouter_ChaosStats() {
	f, err := federation.Parse("shop.yaml", []byte(`name: shop
services:
  - name: payments
    base_path: /payments
    reality: chaos_driven
    chaos: { seed: 7, abort: { p: 1, status: 503, retry_after: 2s } }
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	mocks := federation.MockResolverFunc(func(string) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "paid") }), nil
	})
	r, err := federation.NewRouter(f, federation.RouterConfig{Mocks: mocks})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("POST", "http://shop.test/payments/charge", nil))
	fmt.Println(rec.Code, rec.Header().Get("Retry-After"), rec.Header().Get(federation.HeaderServedBy))
	fmt.Printf("%+v\n", r.ChaosStats()["payments"])
	// Output:
	// 503 2 chaos
	// {Requests:1 Latency:0 Bandwidth:0 Abort:1 Reset:0 Empty:0 Truncate:0 Hang:0}
}
