package pipeline

import (
	_ "embed"
	"slices"
)

// jsonSchema is schema/pipeline.schema.json; schema_test.go holds it to
// the parser's key tables, so the two cannot drift apart.
//
//go:embed schema/pipeline.schema.json
var jsonSchema []byte

// JSONSchemaID is the $id of the schema JSONSchema returns.
const JSONSchemaID = "https://raw.githubusercontent.com/mockops/mockops/main/pipeline/schema/pipeline.schema.json"

// JSONSchema returns the JSON Schema (draft 2020-12) of pipeline
// definitions, in both formats Parse reads, for editors and linters: every
// key with its description, enums, and patterns for names and durations.
// A host serves it (as application/schema+json) so that files can name
// it in a `# yaml-language-server: $schema=<url>` line (see the package
// documentation, # Editor support).
//
// The schema checks structure only: a definition it accepts may still be
// refused by Parse (an expression that does not compile, a step that
// needs an unknown one), and `with:` is free-form because step types
// belong to the host. The result is a copy the caller may keep or change.
func JSONSchema() []byte { return slices.Clone(jsonSchema) }
