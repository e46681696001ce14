package coverage_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/mockops/mockops/coverage"
	"github.com/mockops/mockops/federation"
)

// A collector is the federation Router's Observer: routed traffic flows
// in without glue, and the report says what it covered.
func ExampleNewCollector() {
	spec, err := coverage.LoadOpenAPI([]byte(`
openapi: 3.0.3
info: {title: orders, version: "1"}
paths:
  /orders/{id}:
    get:
      responses:
        "200": {description: the order}
        "404": {description: no such order}
  /orders:
    post:
      requestBody: {required: true, content: {application/json: {}}}
      responses: {"201": {description: created}}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := coverage.NewCollector(coverage.Config{
		Specs:    map[string]*coverage.Spec{"orders": spec},
		Personas: []string{"alice", "bob"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fed, err := federation.Parse("shop.yaml", []byte(`name: shop
services:
  - {name: orders, base_path: /orders, workspace: orders-ws, reality: mock_v3}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	mock := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/orders/1" {
			w.WriteHeader(http.StatusNotFound)
		}
	})
	router, err := federation.NewRouter(fed, federation.RouterConfig{
		Mocks:    federation.MockResolverFunc(func(string) (http.Handler, error) { return mock, nil }),
		Observer: c,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer router.Close()
	for _, path := range []string{"/orders/1", "/orders/2"} {
		r := httptest.NewRequest("GET", path, nil)
		r.Header.Set("X-Mockops-Run", "ci; id=build-7")
		r.Header.Set("X-Mockops-Persona", "alice")
		router.ServeHTTP(httptest.NewRecorder(), r)
	}

	rep, err := c.Report(context.Background(), coverage.Query{})
	if err != nil {
		fmt.Println(err)
		return
	}
	ep := rep.Endpoints.Services[0]
	fmt.Printf("%s: operations %d/%d, branches %d/%d covered by CI\n", ep.Service,
		ep.OperationsCI.Numerator, ep.OperationsCI.Denominator, ep.BranchesCI.Numerator, ep.BranchesCI.Denominator)
	fmt.Println("persona gaps:", rep.Personas.Gaps, "CI runs:", rep.Personas.CIRuns)

	v, err := c.Gate(context.Background(), coverage.Thresholds{MinCoverage: 100, CIOnly: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("pass:", v.Pass, v.Reasons)
	if err := c.Shutdown(context.Background()); err != nil {
		fmt.Println(err)
	}
	// Output:
	// orders: operations 1/2, branches 3/6 covered by CI
	// persona gaps: [bob] CI runs: 1
	// pass: false [orders: operations covered by CI 1/2 (50.0%), minimum 100.0%]
}

func ExampleDiffSpecs() {
	load := func(responses string) *coverage.Spec {
		s, err := coverage.LoadOpenAPI([]byte(`
openapi: 3.0.3
info: {title: pets, version: "1"}
paths:
  /pets/{id}:
    get:
      responses: {` + responses + `}
`))
		if err != nil {
			panic(err)
		}
		return s
	}
	old, new := load(`"200": {description: ok}, "404": {description: nf}`), load(`"200": {description: ok}`)
	d := coverage.DiffSpecs(old, new)
	fmt.Println(d.Lines(), "breaking:", d.Breaking)
	fmt.Println(coverage.ContractHash(old) != coverage.ContractHash(new))
	// Output:
	// [changed GET /pets/{id}: response 404 removed] breaking: true
	// true
}

func ExampleVerdict_JUnit() {
	rep := &coverage.Report{Endpoints: coverage.Endpoints{Services: []coverage.ServiceEndpoints{
		{Service: "orders", Operations: coverage.NewRatio(1, 4)},
	}}}
	v := coverage.Judge(rep, coverage.Thresholds{MinCoverage: 80})
	if err := v.JUnit(os.Stdout); err != nil {
		fmt.Println(err)
	}
	// Output:
	// <?xml version="1.0" encoding="UTF-8"?>
	// <testsuites name="mockops" tests="1" failures="1">
	//   <testsuite name="mockops.coverage" tests="1" failures="1" errors="0">
	//     <testcase name="orders" classname="coverage.coverage" time="0">
	//       <failure message="operations covered 1/4 (25.0%), minimum 80.0%" type="coverage">operations covered 1/4 (25.0%), minimum 80.0%</failure>
	//     </testcase>
	//   </testsuite>
	// </testsuites>
}
