package schematest

import (
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Doc walks a schema's JSON as written, to compare the keys it declares
// with a parser's key tables. It remembers the object schemas At reached,
// so that Check can tell which closed objects no comparison covered.
type Doc struct {
	Root    map[string]any
	visited map[uintptr]bool // object schemas reached by At
}

// Load decodes the schema src; a schema that is not a JSON object fails t.
func Load(t testing.TB, src []byte) *Doc {
	t.Helper()
	var root map[string]any
	if err := json.Unmarshal(src, &root); err != nil {
		t.Fatalf("schema: %v", err)
	}
	return &Doc{Root: root, visited: map[uintptr]bool{}}
}

func mapID(m map[string]any) uintptr { return reflect.ValueOf(m).Pointer() }

// Def returns $defs/name, failing t when the schema has none.
func (d *Doc) Def(t testing.TB, name string) map[string]any {
	t.Helper()
	defs, _ := d.Root["$defs"].(map[string]any)
	s, ok := defs[name].(map[string]any)
	if !ok {
		t.Fatalf("schema has no $defs/%s", name)
	}
	return s
}

// Resolve follows a local $ref ("#/$defs/x" or "#"); any other is nil.
func (d *Doc) Resolve(ref string) map[string]any {
	if ref == "#" {
		return d.Root
	}
	name, ok := strings.CutPrefix(ref, "#/$defs/")
	if !ok {
		return nil
	}
	defs, _ := d.Root["$defs"].(map[string]any)
	s, _ := defs[name].(map[string]any)
	return s
}

// Expand returns s and every schema that applies with it to the same
// value: $ref targets and the branches of allOf, anyOf, oneOf, then and
// else (not the negated "not" nor the "if" test).
func (d *Doc) Expand(s map[string]any) []map[string]any {
	var out []map[string]any
	var walk func(map[string]any, int)
	walk = func(s map[string]any, depth int) {
		if s == nil || depth > 32 || slices.ContainsFunc(out, func(o map[string]any) bool { return mapID(o) == mapID(s) }) {
			return
		}
		out = append(out, s)
		if ref, ok := s["$ref"].(string); ok {
			walk(d.Resolve(ref), depth+1)
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

// At follows path from s: a property name, "[]" for array items, "*" for
// additionalProperties. It returns every schema found there, expanded.
func (d *Doc) At(s map[string]any, path ...string) []map[string]any {
	cur := d.Expand(s)
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
			next = append(next, d.Expand(sub)...)
		}
		cur = next
	}
	for _, c := range cur {
		d.visited[mapID(c)] = true
	}
	return cur
}

// Properties is the union of the property names of schemas, and whether
// each object schema that names properties also closes the object
// (additionalProperties: false), as a parser does with a key table.
// A conditional branch (then) that only narrows known properties, with no
// "type" of its own, need not close it; its keys still count.
func Properties(schemas []map[string]any) (keys []string, closed bool) {
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

// EnumOf is the sorted union of the string enums of schemas.
func EnumOf(schemas []map[string]any) []string {
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

// Sorted returns keys sorted and without repeats, leaving keys as it is.
func Sorted(keys []string) []string {
	out := slices.Clone(keys)
	slices.Sort(out)
	return slices.Compact(out)
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

// Check holds every schema's properties to a description (editor
// completion shows it), and requires every closed object schema to have
// been reached by At, so that no part of the schema escapes the
// comparison with the parser. Call it after the key-table walks.
func (d *Doc) Check(t testing.TB) {
	t.Helper()
	eachSchema(d.Root, "#", func(ptr string, s map[string]any) {
		props, _ := s["properties"].(map[string]any)
		for name, p := range props {
			pm, _ := p.(map[string]any)
			if !d.hasDescription(pm) {
				t.Errorf("%s/properties/%s has no description", ptr, name)
			}
		}
		if s["additionalProperties"] == false && props != nil && !d.visited[mapID(s)] {
			t.Errorf("%s is a closed object no key table was compared with", ptr)
		}
	})
}

func (d *Doc) hasDescription(s map[string]any) bool {
	for range 8 {
		if s == nil {
			return false
		}
		if desc, ok := s["description"].(string); ok && desc != "" {
			return true
		}
		ref, _ := s["$ref"].(string)
		s = d.Resolve(ref)
	}
	return false
}
