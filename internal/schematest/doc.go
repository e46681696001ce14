// Package schematest holds what the tests of pipeline and federation need
// to hold a shipped JSON Schema to its parser: reading YAML the way an
// editor's schema validator does (yaml-language-server: the document
// decoded to JSON values, then validated), walking the schema as written
// to compare its properties with the parser's key tables, and checking
// the example files' "# yaml-language-server: $schema=" comments.
//
// It imports testing, like testing/fstest, and is imported only by tests.
// It knows no schema of its own: each package passes its JSONSchema().
package schematest
