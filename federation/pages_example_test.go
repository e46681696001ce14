package federation_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/mockops/mockops/federation"
	"github.com/mockops/mockops/store/access"
	"github.com/mockops/mockops/store/memory"
)

// A host mounts the federation pages beside its other admin pages, with
// the same Authorizer as the JSON API: here an operator and a viewer,
// named by a header a proxy in front sets after signing people in. The
// viewer sees the federation; only the operator may activate a scenario,
// after ticking the confirmation box.
func ExampleNewPages() {
	ctx := context.Background()
	mocks := federation.MockResolverFunc(func(ws string) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "mock of "+ws) }), nil
	})
	reg, err := federation.NewRegistry(ctx, federation.RegistryConfig{Store: memory.New(), Router: federation.RouterConfig{Mocks: mocks}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer reg.Close()
	src := "name: shop\nservices:\n  - {name: orders, base_path: /orders, reality: mock_v3}\n" +
		"scenarios:\n  - {name: outage, services: {orders: {reality: chaos_driven, chaos: {abort: {p: 1, status: 503}}}}}\n"
	if _, err := reg.Put(ctx, "shop", []byte(src), 0); err != nil {
		fmt.Println(err)
		return
	}
	authz := &access.RoleAuthorizer{
		Principal: func(r *http.Request) (string, error) { return r.Header.Get("X-Forwarded-User"), nil },
		Roles: map[string]map[string]access.Role{
			"ana": {access.AnyWorkspace: access.Operator},
			"bob": {access.AnyWorkspace: access.Viewer},
		},
	}
	pages, err := federation.NewPages(reg, federation.PagesConfig{
		Authorizer: authz, Prefix: "/admin",
		Links: []federation.PageLink{{Label: "Pipelines", Path: "/admin/pipelines"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/", pages)
	send := func(method, path, user string, form url.Values) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-User", user)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		return w
	}

	w := send("GET", "/admin/federations/shop", "bob", nil)
	fmt.Println(w.Code, strings.Contains(w.Body.String(), `<svg xmlns="http://www.w3.org/2000/svg" role="img"`))
	const activate = "/admin/federations/shop/scenarios/outage/activate"
	fmt.Println(send("POST", activate, "bob", url.Values{"confirm": {"yes"}}).Code)
	fmt.Println(send("POST", activate, "ana", nil).Code) // the box was not ticked
	w = send("POST", activate, "ana", url.Values{"confirm": {"yes"}})
	fmt.Println(w.Code, w.Header().Get("Location"))
	rt, _ := reg.Router("shop")
	fmt.Println(rt.ActiveScenario())
	// Output:
	// 200 true
	// 403
	// 422
	// 303 /admin/federations/shop?done=activated
	// outage
}
