package pipeline_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
	"github.com/mockops/mockops/store/access"
)

// A host mounts the pages beside its own routes, with the same Authorizer
// as the JSON API: here operators per workspace, named by a header a proxy
// in front sets after signing people in.
func ExampleNewPages() {
	reg := steps.NewRegistry()
	if err := steps.RegisterEmit(reg); err != nil {
		fmt.Println(err)
		return
	}
	eng, err := pipeline.NewEngine(pipeline.Config{Steps: reg})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := eng.PutSource(context.Background(), "hello.yaml", []byte("name: hello\non: [{event: schema.changed}]\nsteps: [{id: tell, uses: emit, with: {type: hello.done}}]\n"), 0); err != nil {
		fmt.Println(err)
		return
	}
	authz := &access.RoleAuthorizer{
		Principal: func(r *http.Request) (string, error) { return r.Header.Get("X-Forwarded-User"), nil },
		Roles:     map[string]map[string]access.Role{"ana": {access.AnyWorkspace: access.Operator}},
	}
	pages, err := pipeline.NewPages(eng, pipeline.PagesConfig{
		Authorizer: authz, Prefix: "/admin",
		Links: []pipeline.PageLink{{Label: "Federations", Path: "/admin/federations"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/", pages)

	req := httptest.NewRequest("GET", "/admin/pipelines", nil)
	req.Header.Set("X-Forwarded-User", "ana")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, req)
	body := w.Body.String()
	fmt.Println(w.Code, strings.Contains(body, `<a href="/admin/pipelines/hello">hello</a>`), strings.Contains(body, `<a href="/admin/federations">Federations</a>`))

	req = httptest.NewRequest("GET", "/admin/pipelines", nil) // nobody
	w = httptest.NewRecorder()
	mux.ServeHTTP(w, req)
	fmt.Println(w.Code)
	// Output:
	// 200 true true
	// 401
}
