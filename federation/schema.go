package federation

import (
	_ "embed"
	"slices"
)

// jsonSchema is schema/federation.schema.json; schema_test.go holds it to
// the parser's key tables, so the two cannot drift apart.
//
//go:embed schema/federation.schema.json
var jsonSchema []byte

// JSONSchemaID is the $id of the schema JSONSchema returns.
const JSONSchemaID = "https://raw.githubusercontent.com/mockops/mockops/main/federation/schema/federation.schema.json"

// JSONSchema returns the JSON Schema (draft 2020-12) of federation
// definitions, in both formats Parse reads (MockForge's included), for
// editors and linters: every key with its description, enums for reality
// levels, strategies and protocols, and patterns for names and durations.
// A host serves it (as application/schema+json) so that files can name
// it in a `# yaml-language-server: $schema=<url>` line (see the package
// documentation, # Editor support).
//
// The schema checks structure only: a definition it accepts may still be
// refused by Parse (a dependency on an unknown service, two services on
// one route, a blend a protocol cannot carry). The result is a copy the
// caller may keep or change.
func JSONSchema() []byte { return slices.Clone(jsonSchema) }
