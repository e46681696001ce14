package federation

import (
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/mockops/mockops/internal/schematest"
)

// The schema is compiled once for every test and fuzz input; the reading
// of YAML as an editor does lives in internal/schematest, shared with the
// other package that ships a schema.
var compiledSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	return schematest.Compile(JSONSchemaID, JSONSchema())
})

// validateYAML validates src against this package's schema as an editor
// would (see schematest.ValidateYAML).
func validateYAML(t testing.TB, file string, src []byte) error {
	t.Helper()
	s, err := compiledSchema()
	if err != nil {
		t.Fatalf("compile %s: %v", JSONSchemaID, err)
	}
	return schematest.ValidateYAML(s, file, src)
}
