package schematest

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const testSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://example.com/t.schema.json",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "name": {"type": "string", "description": "the name"},
    "mode": {"$ref": "#/$defs/mode"},
    "items": {"type": "array", "description": "the items", "items": {"$ref": "#/$defs/item"}}
  },
  "$defs": {
    "mode": {"enum": ["a", "b"], "description": "the mode"},
    "item": {"type": "object", "additionalProperties": false,
      "properties": {"id": {"type": "integer", "description": "id"}},
      "allOf": [{"properties": {"extra": {"description": "x"}}}]}
  }
}`

func TestYAMLToJSON(t *testing.T) {
	tests := []struct {
		src     string
		want    any
		wantErr string // substring; "" for success
	}{
		{"", nil, ""},
		{"a: 1\nb: [true, null, 1.5, x]\n", map[string]any{"a": json.Number("1"), "b": []any{true, nil, json.Number("1.5"), "x"}}, ""},
		{"a: &x {b: 1}\nc: *x\n", map[string]any{"a": map[string]any{"b": json.Number("1")}, "c": map[string]any{"b": json.Number("1")}}, ""},
		{"a: 1\na: 2\n", nil, "t.yaml:2:1: duplicate key"},
		{"? [a]\n: 1\n", nil, "mapping key is"},
		{"a: .inf\n", nil, "has no JSON form"},
		{"a: !custom x\n", nil, "unresolved tag"},
		{"a: 1\n---\nb: 2\n", nil, "t.yaml"},
	}
	for _, tt := range tests {
		got, err := YAMLToJSON("t.yaml", []byte(tt.src))
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("YAMLToJSON(%q) error %v; want none", tt.src, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("YAMLToJSON(%q) error %v; want one containing %q", tt.src, err, tt.wantErr)
		case tt.wantErr == "" && !reflect.DeepEqual(got, tt.want):
			t.Errorf("YAMLToJSON(%q) = %#v; want %#v", tt.src, got, tt.want)
		}
	}
}

func TestValidateYAML(t *testing.T) {
	s, err := Compile("https://example.com/t.schema.json", []byte(testSchema))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		src   string
		valid bool
	}{
		{"name: x\nmode: a\nitems: [{id: 1}]\n", true},
		{"mode: c\n", false},
		{"other: 1\n", false},
		{"items: [{id: x}]\n", false},
		{"name: x\nname: y\n", false},
	}
	for _, tt := range tests {
		if err := ValidateYAML(s, "t.yaml", []byte(tt.src)); (err == nil) != tt.valid {
			t.Errorf("ValidateYAML(%q) = %v; want valid %v", tt.src, err, tt.valid)
		}
	}
	if _, err := Compile("https://example.com/bad.json", []byte(`{"type": 3}`)); err == nil {
		t.Error("Compile of a schema with type 3 succeeded; want an error")
	}
}

func TestDoc(t *testing.T) {
	d := Load(t, []byte(testSchema))
	tests := []struct {
		path       []string
		keys, enum []string
		closed     bool
	}{
		{nil, []string{"items", "mode", "name"}, nil, true},
		{[]string{"items", "[]"}, []string{"extra", "id"}, nil, true},
		{[]string{"mode"}, nil, []string{"a", "b"}, true},
	}
	for _, tt := range tests {
		at := d.At(d.Root, tt.path...)
		keys, closed := Properties(at)
		if !slices.Equal(keys, tt.keys) || closed != tt.closed {
			t.Errorf("Properties(At(%v)) = %v, %v; want %v, %v", tt.path, keys, closed, tt.keys, tt.closed)
		}
		if got := EnumOf(at); !slices.Equal(got, tt.enum) {
			t.Errorf("EnumOf(At(%v)) = %v; want %v", tt.path, got, tt.enum)
		}
	}
	if got := Sorted([]string{"b", "a", "b"}); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Sorted = %v; want [a b]", got)
	}
	if d.Def(t, "mode")["description"] != "the mode" {
		t.Error("Def(mode) lacks its description")
	}
	d.Check(t) // every closed object was reached above, every property described
}

// TestCheckReports holds Check to failing: an undescribed property and a
// closed object no walk reached are both reported.
func TestCheckReports(t *testing.T) {
	d := Load(t, []byte(`{"$defs": {"x": {"type": "object", "additionalProperties": false, "properties": {"a": {}}}}}`))
	rec := &recorder{TB: t}
	d.Check(rec)
	if len(rec.errs) != 2 {
		t.Errorf("Check reported %q; want 2 problems", rec.errs)
	}
}

type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, format)
}

func FuzzYAMLToJSON(f *testing.F) {
	f.Add([]byte("a: [1, 2.5, true, null, x]\n"))
	f.Add([]byte("a: &x {b: 1}\nc: *x\n"))
	f.Add([]byte("? [a]\n: 1\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		v, err := YAMLToJSON("f.yaml", src)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.yaml") {
				t.Errorf("error %q does not start with the file name", err)
			}
			return
		}
		if _, err := json.Marshal(v); err != nil {
			t.Errorf("YAMLToJSON(%q) = %#v, which JSON cannot hold: %v", src, v, err)
		}
	})
}

func TestValidator(t *testing.T) {
	validate := Validator("https://example.com/t.schema.json", func() []byte { return []byte(testSchema) })
	if err := validate(t, "t.yaml", []byte("name: x\n")); err != nil {
		t.Errorf("valid document: %v", err)
	}
	if err := validate(t, "t.yaml", []byte("name: [x]\n")); err == nil {
		t.Error("name a list: valid; want an error")
	}
}
