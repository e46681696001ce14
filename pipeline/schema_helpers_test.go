package pipeline

import "github.com/mockops/mockops/internal/schematest"

// validateYAML validates a document against this package's schema as an
// editor would (yaml-language-server); internal/schematest holds how.
var validateYAML = schematest.Validator(JSONSchemaID, JSONSchema)
