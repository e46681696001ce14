package federation_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/mockops/mockops/federation"
	"github.com/mockops/mockops/store/memory"
)

// hostScenarios is how a host mock server switches its workspaces.
type hostScenarios struct{}

func (hostScenarios) ActivateScenario(_ context.Context, ws, scenario string) error {
	fmt.Printf("workspace %s -> %s\n", ws, scenario)
	return nil
}

func (hostScenarios) DeactivateScenario(_ context.Context, ws, scenario string) error {
	fmt.Printf("workspace %s leaves %s\n", ws, scenario)
	return nil
}

func ExampleRouter_ActivateScenario() {
	fed, err := federation.Parse("shop.yaml", []byte(`name: shop
services:
  - {name: orders, base_path: /orders, reality: mock_v3, depends_on: [auth]}
  - {name: auth, base_path: /auth, reality: mock_v3}
scenarios:
  - name: auth-outage
    services:
      auth: { reality: chaos_driven, chaos: { abort: { p: 1, status: 503 } } }
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	mocks := federation.MockResolverFunc(func(ws string) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }), nil
	})
	r, err := federation.NewRouter(fed, federation.RouterConfig{Mocks: mocks, Scenarios: hostScenarios{}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	status := func() int {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest("GET", "/auth/login", nil))
		return rec.Code
	}
	fmt.Println("before:", status())
	if err := r.ActivateScenario(context.Background(), "auth-outage"); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("active:", r.ActiveScenario(), status())
	if err := r.DeactivateScenario(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("after:", status())
	// Output:
	// before: 200
	// workspace auth -> auth-outage
	// workspace orders -> auth-outage
	// active: auth-outage 503
	// workspace orders leaves auth-outage
	// workspace auth leaves auth-outage
	// after: 200
}

// Mocks of different workspaces share what they create through the
// federation's state.
func ExampleStateFrom() {
	fed, _ := federation.Parse("shop.yaml", []byte(`name: shop
services:
  - {name: auth, base_path: /auth, reality: mock_v3}
  - {name: orders, base_path: /orders, reality: mock_v3}
`))
	mux := http.NewServeMux()
	mux.HandleFunc("POST /auth/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		st, _ := federation.StateFrom(r.Context())
		st.Put(r.Context(), "user/"+r.PathValue("id"), []byte(`{"plan":"pro"}`))
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("GET /orders/{user}", func(w http.ResponseWriter, r *http.Request) {
		st, _ := federation.StateFrom(r.Context())
		e, err := st.Get(r.Context(), "user/"+r.PathValue("user"))
		if err != nil {
			http.Error(w, "unknown user", http.StatusNotFound)
			return
		}
		fmt.Fprintf(w, "orders of a %s user", e.Value)
	})
	mocks := federation.MockResolverFunc(func(string) (http.Handler, error) { return mux, nil })
	r, _ := federation.NewRouter(fed, federation.RouterConfig{Mocks: mocks, Store: memory.New()})
	defer r.Close()
	for _, req := range []*http.Request{
		httptest.NewRequest("GET", "/orders/ada", nil),
		httptest.NewRequest("POST", "/auth/users/ada", nil),
		httptest.NewRequest("GET", "/orders/ada", nil),
	} {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		fmt.Println(strings.TrimSpace(fmt.Sprint(rec.Code, " ", rec.Body.String())))
	}
	// Output:
	// 404 unknown user
	// 201
	// 200 orders of a {"plan":"pro"} user
}
