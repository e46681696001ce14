package federation

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/mockops/mockops/internal/yamlpos"
)

// The helpers here read YAML the way an editor's schema validator does
// (yaml-language-server): the document decoded to JSON values, then
// validated. pipeline/schema_helpers_test.go holds the same few lines;
// test helpers cannot be shared across packages without exporting them.

var compiledSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(JSONSchema()))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(JSONSchemaID, doc); err != nil {
		return nil, err
	}
	return c.Compile(JSONSchemaID) // also checks the schema against the 2020-12 metaschema
})

func testSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	s, err := compiledSchema()
	if err != nil {
		t.Fatalf("compile %s: %v", JSONSchemaID, err)
	}
	return s
}

// validateYAML decodes src to JSON values and validates them; a document
// JSON cannot hold (two documents, a duplicate key, a mapping as a key) is
// an error, as it is for an editor.
func validateYAML(t testing.TB, file string, src []byte) error {
	t.Helper()
	v, err := yamlToJSON(file, src)
	if err != nil {
		return err
	}
	return testSchema(t).Validate(v)
}

func yamlToJSON(file string, src []byte) (any, error) {
	root, err := yamlpos.Parse(file, src)
	if err != nil {
		return nil, err
	}
	if root == nil {
		return nil, nil
	}
	return nodeToJSON(file, root)
}

func nodeToJSON(file string, n *yaml.Node) (any, error) {
	n = yamlpos.Resolve(n)
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := yamlpos.Resolve(n.Content[i])
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("%s: mapping key is %s", yamlpos.At(file, k), yamlpos.KindName(k))
			}
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("%s: duplicate key %q", yamlpos.At(file, k), k.Value)
			}
			v, err := nodeToJSON(file, n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := nodeToJSON(file, c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.ScalarNode:
		if yamlpos.LocalTag(n.Tag) {
			// Editors flag an unresolved tag; JSON has no form for it.
			return nil, fmt.Errorf("%s: unresolved tag %s", yamlpos.At(file, n), n.Tag)
		}
		switch n.Tag {
		case "!!null":
			return nil, nil
		case "!!bool":
			var b bool
			err := n.Decode(&b)
			return b, err
		case "!!int":
			var i int64
			if err := n.Decode(&i); err != nil {
				return nil, fmt.Errorf("%s: %w", yamlpos.At(file, n), err)
			}
			return json.Number(strconv.FormatInt(i, 10)), nil
		case "!!float":
			var f float64
			if err := n.Decode(&f); err != nil {
				return nil, fmt.Errorf("%s: %w", yamlpos.At(file, n), err)
			}
			if math.IsInf(f, 0) || math.IsNaN(f) {
				return nil, fmt.Errorf("%s: %s has no JSON form", yamlpos.At(file, n), n.Value)
			}
			return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), nil
		}
		return n.Value, nil // strings, timestamps (text in YAML 1.2), binary
	}
	return nil, fmt.Errorf("%s: unexpected %s", yamlpos.At(file, n), yamlpos.KindName(n))
}

// schemaDoc walks the schema's JSON as written, to compare the keys it
// declares with the parser's key tables.
type schemaDoc struct {
	root    map[string]any
	visited map[uintptr]bool // object schemas reached by at
}

func loadSchemaDoc(t testing.TB, src []byte) *schemaDoc {
	t.Helper()
	var root map[string]any
	if err := json.Unmarshal(src, &root); err != nil {
		t.Fatalf("schema: %v", err)
	}
	return &schemaDoc{root: root, visited: map[uintptr]bool{}}
}

func mapID(m map[string]any) uintptr { return reflect.ValueOf(m).Pointer() }

// def returns $defs/name.
func (d *schemaDoc) def(t testing.TB, name string) map[string]any {
	t.Helper()
	defs, _ := d.root["$defs"].(map[string]any)
	s, ok := defs[name].(map[string]any)
	if !ok {
		t.Fatalf("schema has no $defs/%s", name)
	}
	return s
}

// resolve follows a local $ref ("#/$defs/x" or "#").
func (d *schemaDoc) resolve(ref string) map[string]any {
	if ref == "#" {
		return d.root
	}
	name, ok := strings.CutPrefix(ref, "#/$defs/")
	if !ok {
		return nil
	}
	defs, _ := d.root["$defs"].(map[string]any)
	s, _ := defs[name].(map[string]any)
	return s
}

// expand returns s and every schema that applies with it to the same
// value: $ref targets and the branches of allOf, anyOf, oneOf, then and
// else (not the negated "not" nor the "if" test).
func (d *schemaDoc) expand(s map[string]any) []map[string]any {
	var out []map[string]any
	var walk func(map[string]any, int)
	walk = func(s map[string]any, depth int) {
		if s == nil || depth > 32 || slices.ContainsFunc(out, func(o map[string]any) bool { return mapID(o) == mapID(s) }) {
			return
		}
		out = append(out, s)
		if ref, ok := s["$ref"].(string); ok {
			walk(d.resolve(ref), depth+1)
		}
		for _, k := range []string{"allOf", "anyOf", "oneOf"} {
			list, _ := s[k].([]any)
			for _, b := range list {
				bm, _ := b.(map[string]any)
				walk(bm, depth+1)
			}
		}
		for _, k := range []string{"then", "else"} {
			bm, _ := s[k].(map[string]any)
			walk(bm, depth+1)
		}
	}
	walk(s, 0)
	return out
}

// at follows path from s: a property name, "[]" for array items, "*" for
// additionalProperties. It returns every schema found there, expanded.
func (d *schemaDoc) at(s map[string]any, path ...string) []map[string]any {
	cur := d.expand(s)
	for _, step := range path {
		var next []map[string]any
		for _, c := range cur {
			var sub map[string]any
			switch step {
			case "[]":
				sub, _ = c["items"].(map[string]any)
			case "*":
				sub, _ = c["additionalProperties"].(map[string]any)
			default:
				props, _ := c["properties"].(map[string]any)
				sub, _ = props[step].(map[string]any)
			}
			next = append(next, d.expand(sub)...)
		}
		cur = next
	}
	for _, c := range cur {
		d.visited[mapID(c)] = true
	}
	return cur
}

// properties is the union of the property names of schemas, and whether
// each object schema that names properties also closes the object
// (additionalProperties: false), as the parser does with a key table.
// A conditional branch (then) that only narrows known properties, with no
// "type" of its own, need not close it; its keys still count.
func properties(schemas []map[string]any) (keys []string, closed bool) {
	closed = true
	for _, s := range schemas {
		props, ok := s["properties"].(map[string]any)
		if !ok {
			continue
		}
		for k := range props {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
		if s["type"] == "object" && s["additionalProperties"] != false {
			closed = false
		}
	}
	slices.Sort(keys)
	return keys, closed
}

// enumOf is the union of the enums of schemas.
func enumOf(schemas []map[string]any) []string {
	var out []string
	for _, s := range schemas {
		list, _ := s["enum"].([]any)
		for _, v := range list {
			if str, ok := v.(string); ok && !slices.Contains(out, str) {
				out = append(out, str)
			}
		}
	}
	slices.Sort(out)
	return out
}

// eachSchema calls fn for every object schema in the document, with its
// JSON pointer.
func eachSchema(v any, ptr string, fn func(ptr string, s map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		fn(ptr, x)
		for k, c := range x {
			if k == "enum" || k == "examples" || k == "const" || k == "not" || k == "if" {
				continue // values, or a test or negated schema no editor completes
			}
			eachSchema(c, ptr+"/"+k, fn)
		}
	case []any:
		for i, c := range x {
			eachSchema(c, ptr+"/"+strconv.Itoa(i), fn)
		}
	}
}

// checkSchemaDoc holds every schema's properties to a description (editor
// completion shows it), and requires every closed object schema to have
// been reached by a key-table walk, so that no part of the schema escapes
// the comparison with the parser.
func checkSchemaDoc(t *testing.T, d *schemaDoc) {
	t.Helper()
	eachSchema(d.root, "#", func(ptr string, s map[string]any) {
		props, _ := s["properties"].(map[string]any)
		for name, p := range props {
			pm, _ := p.(map[string]any)
			if !hasDescription(d, pm) {
				t.Errorf("%s/properties/%s has no description", ptr, name)
			}
		}
		if s["additionalProperties"] == false && props != nil && !d.visited[mapID(s)] {
			t.Errorf("%s is a closed object no key table was compared with", ptr)
		}
	})
}

func hasDescription(d *schemaDoc, s map[string]any) bool {
	for range 8 {
		if s == nil {
			return false
		}
		if desc, ok := s["description"].(string); ok && desc != "" {
			return true
		}
		ref, _ := s["$ref"].(string)
		s = d.resolve(ref)
	}
	return false
}

func sorted(keys []string) []string {
	out := slices.Clone(keys)
	slices.Sort(out)
	return slices.Compact(out)
}
