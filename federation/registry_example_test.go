package federation_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/mockops/mockops/federation"
	"github.com/mockops/mockops/store/access"
	"github.com/mockops/mockops/store/memory"
)

// A Registry serves the federations stored in its Store; the admin API
// manages them. Replicas share one store (sqlstore) and a bus, and call
// Run to follow each other's changes.
func ExampleNewHandler() {
	ctx := context.Background()
	mocks := federation.MockResolverFunc(func(ws string) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "mock of "+ws) }), nil
	})
	reg, err := federation.NewRegistry(ctx, federation.RegistryConfig{
		Store:  memory.New(),
		Router: federation.RouterConfig{Mocks: mocks},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer reg.Close()
	// AllowAll is for this example only: a host passes its own Authorizer.
	api := httptest.NewServer(federation.NewHandler(reg, federation.HandlerConfig{Authorizer: access.AllowAll}))
	defer api.Close()

	send := func(method, path, ct, body string) {
		req, _ := http.NewRequest(method, api.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println(method, path, resp.StatusCode)
	}
	send("POST", "/api/v2/federations", "application/yaml", "name: shop\nservices:\n  - {name: cart, base_path: /cart, reality: mock_v3}\n")
	send("POST", "/api/v2/federations", "application/yaml", "name: bad\nservices: []\n")
	send("PUT", "/api/v2/federations/shop/state/greeting", "application/json", `"hello"`)

	// The stored federation is served by its Router.
	r, _ := reg.Router("shop")
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("GET", "/cart/1", nil))
	fmt.Println(rec.Body.String())
	// Output:
	// POST /api/v2/federations 201
	// POST /api/v2/federations 422
	// PUT /api/v2/federations/shop/state/greeting 200
	// mock of cart
}
