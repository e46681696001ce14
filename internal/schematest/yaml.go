package schematest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/mockops/mockops/internal/yamlpos"
)

// Compile compiles the schema src under its $id, also checking it
// against the 2020-12 metaschema.
func Compile(id string, src []byte) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(src))
	if err != nil {
		return nil, fmt.Errorf("schematest: %s: %w", id, err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(id, doc); err != nil {
		return nil, fmt.Errorf("schematest: %s: %w", id, err)
	}
	s, err := c.Compile(id)
	if err != nil {
		return nil, fmt.Errorf("schematest: %w", err)
	}
	return s, nil
}

// ValidateYAML decodes src to JSON values and validates them with s; a
// document JSON cannot hold (two documents, a duplicate key, a mapping as
// a key) is an error, as it is for an editor.
func ValidateYAML(s *jsonschema.Schema, file string, src []byte) error {
	v, err := YAMLToJSON(file, src)
	if err != nil {
		return err
	}
	return s.Validate(v)
}

// YAMLToJSON decodes src to the values jsonschema validates (numbers as
// json.Number). An empty document is nil. Errors carry file:line:col.
func YAMLToJSON(file string, src []byte) (any, error) {
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

// Validator returns ValidateYAML bound to the schema that schema returns,
// compiled once, at the first call; a schema that does not compile fails
// the test that calls it. A package's tests keep it in one variable.
func Validator(id string, schema func() []byte) func(t testing.TB, file string, src []byte) error {
	compiled := sync.OnceValues(func() (*jsonschema.Schema, error) { return Compile(id, schema()) })
	return func(t testing.TB, file string, src []byte) error {
		t.Helper()
		s, err := compiled()
		if err != nil {
			t.Fatalf("compile %s: %v", id, err)
		}
		return ValidateYAML(s, file, src)
	}
}
