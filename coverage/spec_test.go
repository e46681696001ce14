package coverage

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// loaded caches the documents of testdata/ by name: kin-openapi takes
// most of a second on Twilio's, and a Spec is immutable.
var loaded sync.Map

func loadTestdata(t testing.TB, name string) *Spec {
	t.Helper()
	if s, ok := loaded.Load(name); ok {
		return s.(*Spec)
	}
	src, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	s, err := LoadOpenAPIFile(name, src)
	if err != nil {
		t.Fatalf("LoadOpenAPIFile(%q) = %v; want no error", name, err)
	}
	loaded.Store(name, s)
	return s
}

// The real documents: what their README (testdata/README.md) says they hold.
func TestLoadOpenAPIRealSpecs(t *testing.T) {
	tests := []struct {
		file       string
		version    string
		operations int
	}{
		{"petstore-expanded.yaml", "3.0.0", 4},
		{"redocly-museum-api.yaml", "3.1.0", 8}, // and a webhook, which is not an operation a path selects
		{"twilio-api-v2010.json", "3.0.1", 197},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			s := loadTestdata(t, tt.file)
			if got := s.Version(); got != tt.version {
				t.Errorf("Version() = %q; want %q", got, tt.version)
			}
			if got := s.Len(); got != tt.operations {
				t.Errorf("Len() = %d; want %d", got, tt.operations)
			}
			for i, op := range s.Operations() {
				if op.ID != OpID(i) {
					t.Errorf("Operations()[%d].ID = %d; want %d", i, op.ID, i)
				}
				if len(op.Responses) == 0 {
					t.Errorf("%s %s has no responses; every operation of %s declares some", op.Method, op.Path, tt.file)
				}
			}
		})
	}
}

func TestLoadOpenAPIOperations(t *testing.T) {
	s := loadTestdata(t, "features.yaml")
	type op struct {
		Method, Path, OperationID  string
		Deprecated, Body, Required bool
		Responses                  []string
	}
	var got []op
	for _, o := range s.Operations() {
		var keys []string
		for _, r := range o.Responses {
			keys = append(keys, r.Key)
		}
		got = append(got, op{o.Method, o.Path, o.OperationID, o.Deprecated, o.RequestBody, o.RequestBodyRequired, keys})
	}
	want := []op{
		{Method: "GET", Path: "/", Responses: []string{"200"}},
		{Method: "GET", Path: "/files/{name}.{ext}", Responses: []string{"200"}},
		{Method: "GET", Path: "/health", Responses: []string{"200"}},
		{Method: "GET", Path: "/things", OperationID: "listThings", Responses: []string{"404", "2XX", "default"}},
		{Method: "POST", Path: "/things", OperationID: "createThing", Body: true, Required: true, Responses: []string{"201", "4xx"}},
		{Method: "GET", Path: "/things/mine", OperationID: "myThings", Deprecated: true, Responses: []string{"200"}},
		{Method: "GET", Path: "/things/{id}", OperationID: "getThing", Responses: []string{"200"}},
		{Method: "DELETE", Path: "/things/{id}", Responses: []string{"204"}},
		{Method: "GET", Path: "/things/{id}/parts/{part}", Responses: []string{"200"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("operations of features.yaml (-want +got):\n%s", diff)
	}
}

func TestResponseFor(t *testing.T) {
	s := loadTestdata(t, "features.yaml")
	list, err := s.Match("GET", "/v1/things")
	if err != nil {
		t.Fatalf(`Match("GET", "/v1/things") = %v; want no error`, err)
	}
	create, err := s.Match("POST", "/v2/things")
	if err != nil {
		t.Fatalf(`Match("POST", "/v2/things") = %v; want no error`, err)
	}
	tests := []struct {
		id     OpID
		status int
		want   string // the key of the selected response, "" for none
	}{
		{list, 200, "2XX"},
		{list, 299, "2XX"},
		{list, 404, "404"},
		{list, 500, "default"},
		{list, 302, "default"},
		{create, 201, "201"},
		{create, 200, ""}, // undeclared: no 2XX, no default
		{create, 418, "4xx"},
		{create, 500, ""},
	}
	for _, tt := range tests {
		op, _ := s.Operation(tt.id)
		got := ""
		if i := op.ResponseFor(tt.status); i >= 0 {
			got = op.Responses[i].Key
		}
		if got != tt.want {
			t.Errorf("%s %s ResponseFor(%d) = %q; want %q", op.Method, op.Path, tt.status, got, tt.want)
		}
	}
}

func TestLoadOpenAPIErrors(t *testing.T) {
	const head = "openapi: 3.0.3\ninfo: {title: t, version: v}\n"
	tests := []struct {
		name string
		src  string
		want error
		line int // the first diagnostic's line, 0 when unknown
	}{
		{"yaml syntax", head + "paths:\n  /a: [\n", ErrInvalidSpec, 4},
		{"json syntax", `{"openapi": "3.0.3",` + "\n" + `"paths": }`, ErrInvalidSpec, 2},
		{"swagger 2", "swagger: \"2.0\"\ninfo: {title: t, version: v}\npaths: {}\n", ErrUnsupportedVersion, 0},
		{"openapi 3.2", "openapi: 3.2.0\ninfo: {title: t, version: v}\npaths: {}\n", ErrUnsupportedVersion, 0},
		{"unresolved ref", head + "paths:\n  /a:\n    get:\n      responses:\n        \"200\": {$ref: \"#/components/responses/x\"}\n", ErrInvalidSpec, 0},
		{"external ref", head + "paths:\n  /a:\n    get:\n      responses:\n        \"200\": {$ref: \"other.yaml#/x\"}\n", ErrInvalidSpec, 0},
		{"unbalanced template", head + "paths:\n  /a/{b:\n    get: {responses: {\"200\": {description: d}}}\n", ErrInvalidSpec, 4},
		{"template without slash", head + "paths:\n  a/b:\n    get: {responses: {\"200\": {description: d}}}\n", ErrInvalidSpec, 4},
		{"bad response key", head + "paths:\n  /a:\n    get: {responses: {\"2X0\": {description: d}}}\n", ErrInvalidSpec, 5},
		{"server variable without declaration", head + "servers: [{url: \"https://x/{v}\"}]\npaths: {}\n", ErrInvalidSpec, 0},
		{"conflicting templates", head + "paths:\n  /a/{x}:\n    get: {responses: {\"200\": {description: d}}}\n  /a/{y}:\n    get: {responses: {\"200\": {description: d}}}\n", ErrInvalidSpec, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := LoadOpenAPIFile("doc.yaml", []byte(tt.src))
			if !errors.Is(err, tt.want) {
				t.Fatalf("LoadOpenAPIFile() = %v, %v; want %v", s, err, tt.want)
			}
			var l ErrorList
			if !errors.As(err, &l) || len(l) == 0 {
				t.Fatalf("LoadOpenAPIFile() error %T %v; want a non-empty ErrorList", err, err)
			}
			if got := l[0].Pos; got.File != "doc.yaml" || got.Line != tt.line {
				t.Errorf("first diagnostic at %v (%v); want doc.yaml line %d", got, l[0], tt.line)
			}
		})
	}
}

// OpenAPI 3.1 only: path items through components.pathItems, webhooks
// (which no request path selects, so they are not operations), type arrays.
func TestLoadOpenAPI31(t *testing.T) {
	s, err := LoadOpenAPIFile("v31.yaml", []byte(`
openapi: 3.1.0
info: {title: t, version: "1"}
jsonSchemaDialect: https://json-schema.org/draft/2020-12/schema
paths:
  /a:
    $ref: "#/components/pathItems/A"
webhooks:
  created: {post: {responses: {"200": {description: ok}}}}
components:
  pathItems:
    A:
      put:
        requestBody:
          content: {application/json: {schema: {type: [string, "null"]}}}
        responses: {"204": {description: ok}}
`))
	if err != nil {
		t.Fatalf("LoadOpenAPIFile() = %v; want no error", err)
	}
	want := []Operation{{ID: 0, Method: "PUT", Path: "/a", RequestBody: true, Responses: []Response{{Key: "204", Kind: ResponseCode, Code: 204}}}}
	if diff := cmp.Diff(want, s.Operations()); diff != "" {
		t.Errorf("Operations() (-want +got):\n%s", diff)
	}
	if id, err := s.Match("PUT", "/a"); id != 0 || err != nil {
		t.Errorf(`Match("PUT", "/a") = %d, %v; want 0, nil`, id, err)
	}
}
