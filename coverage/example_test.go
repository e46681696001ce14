package coverage_test

import (
	"errors"
	"fmt"

	"github.com/mockops/mockops/coverage"
)

func ExampleLoadOpenAPI() {
	spec, err := coverage.LoadOpenAPI([]byte(`
openapi: 3.1.0
info: {title: pets, version: "1"}
servers: [{url: "https://pets.example.com/v2"}]
paths:
  /pets/mine:
    get:
      deprecated: true
      responses: {"200": {description: mine}}
  /pets/{id}.json:
    get:
      responses:
        "2XX": {description: the pet}
        default: {description: an error}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, path := range []string{"/v2/pets/mine", "/v2/pets/7.json", "/pets/7.json"} {
		id, err := spec.Match("GET", path)
		if errors.Is(err, coverage.ErrPathNotFound) {
			fmt.Printf("%s: not in the spec\n", path)
			continue
		}
		op, _ := spec.Operation(id)
		fmt.Printf("%s: #%d %s %s deprecated=%v\n", path, id, op.Method, op.Path, op.Deprecated)
		if i := op.ResponseFor(404); i >= 0 {
			fmt.Printf("  404 is declared as %q\n", op.Responses[i].Key)
		}
	}
	// Output:
	// /v2/pets/mine: #0 GET /pets/mine deprecated=true
	// /v2/pets/7.json: #1 GET /pets/{id}.json deprecated=false
	//   404 is declared as "default"
	// /pets/7.json: not in the spec
}

func ExampleLoadOpenAPIFile() {
	_, err := coverage.LoadOpenAPIFile("pets.yaml", []byte("openapi: 3.0.3\npaths:\n  /pets: [\n"))
	fmt.Println(errors.Is(err, coverage.ErrInvalidSpec))
	fmt.Println(err)
	// Output:
	// true
	// pets.yaml:3:1: coverage: yaml: did not find expected node content
}
