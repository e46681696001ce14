// Command wrap puts MockOps in front of an existing server: the host's own
// http.ServeMux keeps serving what it serves, wrapped in the coverage
// middleware, while a federation router takes over two prefixes, one
// proxied to a real service and one answered by a mock. The wiring is the
// function wrap, under 30 lines (its test counts them).
//
//	go run ./examples/wrap
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/mockops/mockops/coverage"
	"github.com/mockops/mockops/federation"
)

// edge is the federation in front of the app: billing goes to the real
// billing service, search to a mock; every other path stays with the app.
const edge = `name: edge
services:
  - {name: billing, base_path: /billing, reality: real, upstream: %q}
  - {name: search, base_path: /search, workspace: search-mock, reality: mock_v3}
`

// appSpec is the app's own contract, which coverage measures it against.
const appSpec = `openapi: 3.0.3
info: {title: app, version: "1"}
paths:
  /hello: {get: {responses: {"200": {description: hi}}}}
  /bye: {get: {responses: {"200": {description: bye}}}}
`

// wrap is all the wiring: app, billing's URL and the search mock in, one
// http.Handler (the Router: Close it when done) and the collector out.
func wrap(app, searchMock http.Handler, billingURL string) (*federation.Router, *coverage.Collector, error) {
	spec, err := coverage.LoadOpenAPI([]byte(appSpec))
	if err != nil {
		return nil, nil, err
	}
	col, err := coverage.NewCollector(coverage.Config{
		Workspace: "app", Service: "app", Specs: map[string]*coverage.Spec{"app": spec},
	})
	if err != nil {
		return nil, nil, err
	}
	fed, err := federation.Parse("edge.yaml", fmt.Appendf(nil, edge, billingURL))
	if err != nil {
		return nil, nil, err
	}
	router, err := federation.NewRouter(fed, federation.RouterConfig{
		Mocks:           federation.MockResolverFunc(func(string) (http.Handler, error) { return searchMock, nil }),
		Observer:        col,                 // federation traffic
		FallbackHandler: col.Middleware(app), // the app's own traffic
	})
	if err != nil {
		return nil, nil, err
	}
	return router, col, nil
}

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "wrap:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	// The existing server's mux, as the host already has it.
	app := http.NewServeMux()
	app.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello from the app\n") })
	app.HandleFunc("GET /bye", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "bye from the app\n") })
	// Stand-ins for the real billing service and the search mock.
	billing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "invoice from the real billing service\n")
	}))
	defer billing.Close()
	search := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "results from the search mock\n") })

	h, col, err := wrap(app, search, billing.URL)
	if err != nil {
		return err
	}
	defer h.Close()
	front := httptest.NewServer(h)
	defer front.Close()
	client := front.Client()
	defer client.CloseIdleConnections()
	for _, path := range []string{"/hello", "/billing/invoices/1", "/search?q=shoes", "/hello"} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, front.URL+path, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "GET %-20s %d %-5s %s", path, resp.StatusCode, resp.Header.Get(federation.HeaderServedBy), body)
	}

	rep, err := col.Report(ctx, coverage.Query{})
	if err != nil {
		return err
	}
	for _, s := range rep.Endpoints.Services {
		fmt.Fprintf(out, "coverage of %s: %d of %d operations\n", s.Service, s.Operations.Numerator, s.Operations.Denominator)
	}
	return nil
}
