// Package stepconfig decodes a step's configuration (`with:`) into the
// config struct its type was registered with, reporting every problem: at
// load time from the YAML node tree (with positions, leaving templates for
// run time), at run time from the rendered values. Both go through one
// decoder over yaml.Node, so the rules cannot drift apart. Package steps
// uses it for registration and run-time decoding, package pipeline for the
// load-time check; neither hosts nor step authors see YAML types.
package stepconfig

import (
	"encoding"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mockops/mockops/internal/expr"
	"github.com/mockops/mockops/internal/yamlpos"
)

// Error is one problem in a step's `with:` block. Line and Column locate
// the offending YAML node; they are zero at run time and for a required
// field missing from an absent `with:` (the caller then points at the
// step).
type Error struct {
	Line, Column int
	Path         string // "with.channel", "with.files[2].path"
	Msg          string
}

func (e *Error) Error() string { return e.Path + ": " + e.Msg }

// Check validates a `with:` mapping node against config struct t at load
// time (nil means no `with:`). It reports every problem: unknown keys,
// literal values of the wrong type, missing required fields. A value
// holding a `${{ }}` template cannot be type-checked yet: a lone
// `${{ expr }}` may produce any type and is accepted; a template mixed with
// text always renders a string, so it is rejected where a string does not
// fit.
func Check(t reflect.Type, with *yaml.Node) []*Error {
	if with == nil {
		with = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	}
	d := &decoder{load: true}
	d.decode(with, reflect.New(t).Elem(), "with")
	return d.errs
}

// Decode decodes rendered plain data (maps, lists, scalars, as templates
// produce them) into v, a settable config struct, with the rules Check
// applies, and returns every problem.
func Decode(v reflect.Value, data map[string]any) []*Error {
	d := &decoder{}
	d.decode(fromData(data), v, "with")
	return d.errs
}

var (
	durationType        = reflect.TypeFor[time.Duration]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// decoder decodes a YAML node tree into a Go value, collecting every
// problem. In load mode, string scalars holding templates are left for run
// time.
type decoder struct {
	load bool
	errs []*Error
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	e := &Error{Path: path, Msg: fmt.Sprintf(format, args...)}
	if d.load && n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

// isText reports whether n is a scalar a string field accepts. yaml.v3
// tags a plain 2024-01-01 as a timestamp, but YAML 1.2 has no timestamp
// type and the author wrote text: a date belongs in a string field.
func isText(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && (n.Tag == "!!str" || n.Tag == "!!timestamp")
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	n = yamlpos.Resolve(n)
	if isNull(n) {
		return
	}
	t := v.Type()
	if n.Kind == yaml.ScalarNode && yamlpos.LocalTag(n.Tag) {
		text := strings.TrimSpace(n.Tag + " " + n.Value)
		d.fail(n, path, "YAML reads %s as a tag (a plain value that starts with '!'), not as text; quote the whole value: '%s'",
			n.Tag, strings.ReplaceAll(text, "'", "''"))
		return
	}
	if d.load && n.Kind == yaml.ScalarNode && n.Tag == "!!str" && expr.IsTemplate(n.Value) {
		if !takesString(t) && !loneTemplate(n.Value) {
			d.fail(n, path, "a template mixed with text renders a string, but this field takes %s", describe(t))
		}
		return
	}
	if t == durationType {
		dur, err := time.ParseDuration(n.Value)
		if !isText(n) || err != nil {
			d.fail(n, path, "expected a duration such as \"30s\" or \"5m\", got %s", yamlpos.KindName(n))
			return
		}
		v.SetInt(int64(dur))
		return
	}
	if t.Kind() != reflect.Pointer && t.Kind() != reflect.Interface && reflect.PointerTo(t).Implements(textUnmarshalerType) {
		if !isText(n) {
			d.fail(n, path, "expected a string, got %s", yamlpos.KindName(n))
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			d.fail(n, path, "invalid value: %v", err)
		}
		return
	}
	switch t.Kind() {
	case reflect.Interface:
		var x any
		if err := n.Decode(&x); err != nil {
			d.fail(n, path, "invalid value: %v", err)
			return
		}
		if x != nil {
			v.Set(reflect.ValueOf(x))
		}
	case reflect.String:
		if !isText(n) {
			d.fail(n, path, "expected a string, got %s", yamlpos.KindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
			d.fail(n, path, "expected a boolean, got %s", yamlpos.KindName(n))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		f, ok := number(n)
		if !ok || f != math.Trunc(f) || v.OverflowInt(int64(f)) || math.Abs(f) > 1<<53 {
			d.fail(n, path, "expected an integer that fits %s, got %s", t, describeNode(n))
			return
		}
		v.SetInt(int64(f))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		f, ok := number(n)
		if !ok || f != math.Trunc(f) || f < 0 || v.OverflowUint(uint64(f)) || f > 1<<53 {
			d.fail(n, path, "expected a non-negative integer that fits %s, got %s", t, describeNode(n))
			return
		}
		v.SetUint(uint64(f))
	case reflect.Float32, reflect.Float64:
		f, ok := number(n)
		if !ok {
			d.fail(n, path, "expected a number, got %s", yamlpos.KindName(n))
			return
		}
		v.SetFloat(f)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "expected a list, got %s", yamlpos.KindName(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "expected a mapping, got %s", yamlpos.KindName(n))
			return
		}
		m := reflect.MakeMapWithSize(t, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			elem := reflect.New(t.Elem()).Elem()
			d.decode(n.Content[i+1], elem, path+"."+k.Value)
			m.SetMapIndex(reflect.ValueOf(k.Value).Convert(t.Key()), elem)
		}
		v.Set(m)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		d.decode(n, p.Elem(), path)
		v.Set(p)
	default:
		d.fail(n, path, "unsupported config field type %s", t)
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping, got %s", yamlpos.KindName(n))
		return
	}
	fields := structFields(v.Type())
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			continue // duplicates are reported by the YAML layer
		}
		seen[k.Value] = true
		j := slices.Index(names, k.Value)
		if j < 0 {
			d.fail(k, path, "unknown key %q%s", k.Value, yamlpos.DidYouMean(k.Value, names))
			continue
		}
		if isNull(yamlpos.Resolve(val)) {
			seen[k.Value] = false
		}
		d.decode(val, v.Field(fields[j].index), path+"."+k.Value)
	}
	for _, f := range fields {
		if f.required && !seen[f.name] {
			d.fail(n, path, "missing required field %q", f.name)
		}
	}
}

// number reads an integer or float scalar.
func number(n *yaml.Node) (float64, bool) {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
		return 0, false
	}
	var f float64
	if err := n.Decode(&f); err != nil {
		return 0, false
	}
	return f, true
}

type field struct {
	name     string
	index    int
	required bool
}

// structFields lists the configurable fields of t: exported, named by their
// json tag (or Go name), skipping `json:"-"`.
func structFields(t reflect.Type) []field {
	var out []field
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name := sf.Name
		if tag, ok := sf.Tag.Lookup("json"); ok {
			n, _, _ := strings.Cut(tag, ",")
			if n == "-" {
				continue
			}
			if n != "" {
				name = n
			}
		}
		req := slices.Contains(strings.Split(sf.Tag.Get("step"), ","), "required")
		out = append(out, field{name: name, index: i, required: req})
	}
	return out
}

// CheckType rejects, at registration, config types the decoder cannot
// fill and `step` tags it does not know, so a host finds out when wiring
// rather than on an event (or never: a misspelt "requried" would leave a
// field optional). Errors name the field, as a path from the config
// struct ("SMTP.Port", "Files[].Path").
func CheckType(t reflect.Type) error {
	return checkType(t, "", map[reflect.Type]bool{})
}

// stepOptions are the options of the `step` struct tag.
var stepOptions = []string{"required"}

func checkType(t reflect.Type, path string, seen map[reflect.Type]bool) error {
	if seen[t] {
		return nil
	}
	seen[t] = true
	if t == durationType || reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return nil
	}
	field := func() string {
		if path == "" {
			return "config type " + t.String()
		}
		return "config field " + path
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return nil
	case reflect.Interface:
		if t.NumMethod() != 0 {
			return fmt.Errorf("%s: type %s: only the empty interface is supported", field(), t)
		}
		return nil
	case reflect.Slice:
		return checkType(t.Elem(), path+"[]", seen)
	case reflect.Pointer:
		return checkType(t.Elem(), path, seen)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return fmt.Errorf("%s: type %s: map keys must be strings", field(), t)
		}
		return checkType(t.Elem(), path+"[key]", seen)
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			sub := sf.Name
			if path != "" {
				sub = path + "." + sf.Name
			}
			if sf.Anonymous {
				return fmt.Errorf("config type %s: embedded field %s is not supported", t, sub)
			}
			if !sf.IsExported() || sf.Tag.Get("json") == "-" {
				continue
			}
			if tag, ok := sf.Tag.Lookup("step"); ok {
				for _, opt := range strings.Split(tag, ",") {
					if !slices.Contains(stepOptions, opt) {
						return fmt.Errorf("config field %s: unknown step tag option %q%s (the only option is \"required\")",
							sub, opt, yamlpos.DidYouMean(opt, stepOptions))
					}
				}
			}
			if err := checkType(sf.Type, sub, seen); err != nil {
				return err
			}
		}
		// Two fields under one key: the decoder would silently fill only
		// the first.
		names := map[string]bool{}
		for _, f := range structFields(t) {
			if names[f.name] {
				return fmt.Errorf("config type %s: two fields are named %q", t, f.name)
			}
			names[f.name] = true
		}
		return nil
	}
	return fmt.Errorf("%s: type %s is not supported", field(), t)
}

// takesString reports whether a string value can end up in t, so a mixed
// template (always rendered to a string) fits.
func takesString(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.String || t.Kind() == reflect.Interface || t == durationType ||
		reflect.PointerTo(t).Implements(textUnmarshalerType)
}

func loneTemplate(s string) bool {
	parts, err := expr.ParseTemplate(strings.TrimSpace(s))
	return err != nil || (len(parts) == 1 && parts[0].IsExpr)
}

func describe(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "an integer"
}

func describeNode(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!float") {
		return n.Value
	}
	return yamlpos.KindName(n)
}

// fromData turns rendered plain data into a node tree, so run-time decoding
// applies exactly the load-time rules.
func fromData(v any) *yaml.Node {
	scalar := func(tag, val string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: val} }
	switch x := v.(type) {
	case nil:
		return scalar("!!null", "null")
	case string:
		return scalar("!!str", x)
	case bool:
		return scalar("!!bool", fmt.Sprint(x))
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return scalar("!!int", fmt.Sprint(x))
	case float32, float64:
		return scalar("!!float", fmt.Sprint(x))
	case time.Time:
		return scalar("!!str", x.Format(time.RFC3339Nano))
	case time.Duration:
		return scalar("!!str", x.String())
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, item := range x {
			n.Content = append(n.Content, fromData(item))
		}
		return n
	case map[string]any:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			n.Content = append(n.Content, scalar("!!str", k), fromData(x[k]))
		}
		return n
	}
	// Typed slices and maps ([]string, map[string]string) from hosts.
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		items := make([]any, rv.Len())
		for i := range items {
			items[i] = rv.Index(i).Interface()
		}
		return fromData(items)
	case reflect.Map:
		if rv.Type().Key().Kind() == reflect.String {
			m := make(map[string]any, rv.Len())
			for it := rv.MapRange(); it.Next(); {
				m[it.Key().String()] = it.Value().Interface()
			}
			return fromData(m)
		}
	}
	return scalar("!!str", fmt.Sprint(v))
}
