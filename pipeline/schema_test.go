package pipeline

import (
	"cmp"
	"context"
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mockops/mockops/internal/schematest"
	"github.com/mockops/mockops/steps"
)

func TestJSONSchemaIsACopy(t *testing.T) {
	a := JSONSchema()
	a[0] = 'x'
	if b := JSONSchema(); b[0] != '{' {
		t.Fatalf("JSONSchema()[0] = %q after a caller changed its copy; want '{'", b[0])
	}
	schematest.CheckHead(t, JSONSchema(), JSONSchemaID)
}

// TestSchemaKeyTables walks the parser's key tables against the schema:
// every key the parser accepts is a property at the same place, and the
// schema has no property the parser would refuse.
func TestSchemaKeyTables(t *testing.T) {
	d := schematest.Load(t, JSONSchema())
	tests := []struct {
		def  string
		path []string
		keys []string
	}{
		{"native", nil, topKeys},
		{"native", []string{"on", "[]"}, triggerKeys},
		{"native", []string{"concurrency"}, concurrencyKeys},
		{"native", []string{"defaults"}, defaultsKeys},
		{"native", []string{"defaults", "retry"}, retryKeys},
		{"native", []string{"steps", "[]"}, stepKeys},
		{"native", []string{"steps", "[]", "retry"}, retryKeys},
		{"mockforge", nil, mfTopKeys},
		{"mockforge", []string{"triggers", "[]"}, mfTriggerKeys},
		{"mockforge", []string{"steps", "[]"}, mfStepKeys},
	}
	for _, tt := range tests {
		where := tt.def + "." + strings.Join(tt.path, ".")
		t.Run(where, func(t *testing.T) {
			got, closed := schematest.Properties(d.At(d.Def(t, tt.def), tt.path...))
			if want := schematest.Sorted(tt.keys); !slices.Equal(got, want) {
				t.Errorf("schema keys at %s = %v; parser accepts %v", where, got, want)
			}
			if !closed {
				t.Errorf("schema at %s allows other keys (additionalProperties is not false); the parser refuses them", where)
			}
		})
	}
	if got, want := schematest.EnumOf(d.At(d.Def(t, "native"), "concurrency", "mode")), schematest.Sorted(modes); !slices.Equal(got, want) {
		t.Errorf("concurrency.mode enum = %v; parser accepts %v", got, want)
	}
	// Both formats are branches of the root.
	var refs []string
	for _, s := range d.Expand(d.Root)[1:] {
		if r, ok := s["$ref"].(string); ok {
			refs = append(refs, r)
		}
	}
	if want := []string{"#/$defs/native", "#/$defs/mockforge"}; !slices.Equal(refs, want) {
		t.Errorf("root branches = %v; want %v", refs, want)
	}
	d.Check(t)
}

// A golden diagnostic names a structural problem when it is about keys,
// types, required values, enums or value shapes: what a schema can say.
// The schema must refuse a file with any of them, and accept a file
// whose problems are all beyond it (expressions, the DAG, step refs).
var structural = regexp.MustCompile(strings.Join([]string{
	`unknown key`, `missing required key`, `duplicate key`, `merge keys`,
	`must be (a string|a list|a mapping|true or false|an integer|a duration|between)`,
	`expected a mapping`, `invalid duration`, `invalid name`, `invalid step (id|name)`,
	`invalid event type`, `unknown mode`, `at least one`, `empty mapping`,
	`an empty list matches nothing`, `a value must be a scalar`, `this field is a string`,
	`match: invalid path`, `filters: invalid key`, `only one YAML document`,
	`if must be a CEL expression`, `if: empty condition`, `empty group`,
	`is listed twice`, `empty definition`, `aliases expand`, `^[^ ]+: yaml: `,
	`YAML reads .* as a tag`,
}, "|"))

// stepConfig marks diagnostics about a step's with: (or MockForge's
// config), made by the host's registry: the schema describes the
// built-in step types' keys and types but leaves with: open, since a host
// may register its own types, so it may or may not see these.
var stepConfig = regexp.MustCompile(`: (with[.:]|invalid value:)`)

func TestSchemaTestdata(t *testing.T) {
	var files []string
	for _, glob := range []string{"testdata/valid/*.yaml", "testdata/invalid/*.yaml", examplesGlob} {
		m, err := schematest.Glob(glob)
		if err != nil || len(m) == 0 {
			t.Fatalf("glob %s: %v files, %v", glob, len(m), err)
		}
		files = append(files, m...)
	}
	refused := 0
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			want, why, either := true, "the parser accepts it", false
			if golden, err := os.ReadFile(strings.TrimSuffix(file, ".yaml") + ".golden"); err == nil {
				for line := range strings.SplitSeq(string(golden), "\n") {
					switch {
					case stepConfig.MatchString(line):
						either = true
					case structural.MatchString(line):
						want, why = false, "the parser reports "+line
					}
					if !want {
						break
					}
				}
				if want {
					why = "the parser's problems are all beyond a schema"
				}
			} else if _, perr := Parse(file, src); perr != nil {
				t.Fatalf("Parse: %v (a file without a golden must parse)", perr)
			}
			err = validateYAML(t, file, src)
			if want && either {
				return // only step configs are wrong: the schema may see it or not
			}
			switch {
			case want && err != nil:
				t.Errorf("schema refuses %s, yet %s:\n%v", file, why, err)
			case !want && err == nil:
				t.Errorf("schema accepts %s, yet %s", file, why)
			case !want:
				refused++
			}
		})
	}
	if refused < 30 {
		t.Errorf("schema refused %d structurally invalid files; the testdata holds more", refused)
	}
}

// TestSchemaInline holds one structural mistake per document; each is
// refused by both the parser and the schema, and the valid ones pass both.
func TestSchemaInline(t *testing.T) {
	const base = "name: p\non:\n  - event: schema.changed\nsteps:\n  - id: a\n    uses: log\n"
	const mf = "name: p\ntriggers:\n  - event: schema.changed\nsteps:\n  - name: a\n    step_type: log\n"
	tests := []struct {
		name  string
		src   string
		valid bool
	}{
		{"minimal", base, true},
		{"everything", base + `description: d
workspace: payments
enabled: false
timeout: 1h30m
concurrency: { group: "${{ event.workspace }}", mode: cancel_in_progress }
defaults:
  timeout: 5m
  retry: { attempts: 3, backoff: 2s, max_backoff: 1m }
  with: { log: { message: hi } }
`, true},
		{"step everything", "name: p\non: [{event: a.b, if: 'event.workspace == \"x\"', match: {data.x: [1, 2], workspace: w, extensions.trace: t}}]\nsteps:\n  - {id: a, uses: log, with: null, if: always(), needs: [], timeout: 2s, retry: {attempts: 2}, continue_on_error: true}\n  - {id: b, uses: log, needs: a, if: true}\n", true},
		{"mockforge", mf, true},
		{"mockforge everything", "name: p\ndescription: d\nenabled: true\ntriggers:\n  - event: schema.changed\n    filters: { workspace_id: w, version: [1, 2] }\nstep_defaults: { log: { level: info } }\nsteps:\n  - { name: open-pr, type: log, config: { m: '{{name}}' }, continue_on_error: false, timeout: 30 }\n", true},
		{"unknown top key", base + "trigger: x\n", false},
		{"unknown step key", strings.Replace(base, "uses: log", "uses: log\n    with_: {}", 1), false},
		{"name not a string", strings.Replace(base, "name: p", "name: [p]", 1), false},
		{"name upper case", strings.Replace(base, "name: p", "name: P", 1), false},
		{"missing on", strings.Replace(base, "on:\n  - event: schema.changed\n", "", 1), false},
		{"on empty", strings.Replace(base, "on:\n  - event: schema.changed\n", "on: []\n", 1), false},
		{"trigger without event", strings.Replace(base, "- event: schema.changed", "- if: 'true'", 1), false},
		{"event upper case", strings.Replace(base, "schema.changed", "Schema.Changed", 1), false},
		{"bad mode", base + "concurrency: { mode: queued }\n", false},
		{"duration without unit", base + "timeout: 30\n", false},
		{"duration words", base + "timeout: 5 minutes\n", false},
		{"attempts zero", base + "defaults: { retry: { attempts: 0 } }\n", false},
		{"attempts string", base + "defaults: { retry: { attempts: many } }\n", false},
		{"defaults.with not a mapping", base + "defaults: { with: { log: [1] } }\n", false},
		{"step id keyword", strings.Replace(base, "id: a", "id: in", 1), false},
		{"step id dash", strings.Replace(base, "id: a", "id: open-pr", 1), false},
		{"step without uses", strings.Replace(base, "    uses: log\n", "", 1), false},
		{"uses upper case", strings.Replace(base, "uses: log", "uses: Log", 1), false},
		{"with a list", strings.Replace(base, "uses: log", "uses: log\n    with: [1]", 1), false},
		{"needs a mapping", strings.Replace(base, "uses: log", "uses: log\n    needs: {a: 1}", 1), false},
		{"continue_on_error string", strings.Replace(base, "uses: log", "uses: log\n    continue_on_error: yes please", 1), false},
		{"match bad path", strings.Replace(base, "- event: schema.changed", "- event: schema.changed\n    match: { body.x: 1 }", 1), false},
		{"match workspace number", strings.Replace(base, "- event: schema.changed", "- event: schema.changed\n    match: { workspace: 1 }", 1), false},
		{"match empty list", strings.Replace(base, "- event: schema.changed", "- event: schema.changed\n    match: { data.x: [] }", 1), false},
		{"if a number", strings.Replace(base, "- event: schema.changed", "- event: schema.changed\n    if: 1", 1), false},
		{"duplicate key", base + "name: q\n", false},
		{"mockforge both type keys", strings.Replace(mf, "step_type: log", "step_type: log\n    type: log", 1), false},
		{"mockforge no type", strings.Replace(mf, "    step_type: log\n", "    config: {}\n", 1), false},
		{"mockforge timeout duration", strings.Replace(mf, "step_type: log", "step_type: log\n    timeout: 30s", 1), false},
		{"mockforge step with id", strings.Replace(mf, "step_type: log", "step_type: log\n    id: a", 1), false},
		{"mockforge on beside triggers", mf + "on: [{event: a.b}]\n", false},
		{"mockforge filter dotted", strings.Replace(mf, "- event: schema.changed", "- event: schema.changed\n    filters: { a.b: 1 }", 1), false},
		{"mockforge step name digit", strings.Replace(mf, "name: a", "name: 9lives", 1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, perr := Parse("inline.yaml", []byte(tt.src))
			serr := validateYAML(t, "inline.yaml", []byte(tt.src))
			if (perr == nil) != tt.valid {
				t.Errorf("Parse = %v; want valid %v", perr, tt.valid)
			}
			if (serr == nil) != tt.valid {
				t.Errorf("schema validation = %v; want valid %v", serr, tt.valid)
			}
		})
	}
}

// examplesGlob names the quickstart's pipelines wherever the example
// keeps them (examples/quickstart/pipelines, formerly under config/).
const examplesGlob = "../examples/quickstart/{config/,}pipelines/*.yaml"

// TestSchemaCommentInExamples checks every `# yaml-language-server:
// $schema=` line of the examples names this package's schema, by a path
// relative to the file that resolves.
func TestSchemaCommentInExamples(t *testing.T) {
	files, err := schematest.Glob(examplesGlob)
	if err != nil || len(files) == 0 {
		t.Fatalf("no example pipelines: %v", err)
	}
	schematest.CheckComments(t, files, jsonSchema)
}

// TestSchemaBuiltinStepConfigs holds the schema's description of each
// built-in step type's with: to the type's config struct: the same keys,
// and for each a JSON type its Go field decodes.
func TestSchemaBuiltinStepConfigs(t *testing.T) {
	r := builtinRegistry(t)
	const head = "name: p\non:\n  - event: schema.changed\nsteps:\n  - id: a\n"
	const mf = "name: p\ntriggers:\n  - event: schema.changed\nsteps:\n  - name: a\n"
	docs := []struct {
		name  string
		src   string
		valid bool
	}{
		{"http", head + "    uses: http\n    with: { url: https://example.com, method: POST, json: {a: [1]}, expect_status: [200, 201] }\n", true},
		{"http lone template", head + "    uses: http\n    with: { url: https://example.com, expect_status: '${{ [200] }}' }\n", true},
		{"emit", head + "    uses: emit\n    with: { type: sdk.regenerated, data: { a: 1 } }\n", true},
		{"mockforge emit", mf + "    step_type: emit\n    config: { type: sdk.regenerated, subject: '{{name}}' }\n", true},
		{"http status a string", head + "    uses: http\n    with: { url: https://example.com, expect_status: '200' }\n", false},
		{"sdk languages a string", head + "    uses: regenerate_sdk\n    with: { spec: a.yaml, languages: go }\n", false},
		{"emit data a list", head + "    uses: emit\n    with: { type: a.b, data: [1] }\n", false},
		{"notify message a list", head + "    uses: notify\n    with: { webhook_url: https://example.com, message: [hi] }\n", false},
		{"defaults emit type a number", strings.Replace(head, "steps:", "defaults: { with: { emit: { type: 1 } } }\nsteps:", 1) + "    uses: emit\n", false},
		{"mockforge emit data a string", mf + "    type: emit\n    config: { type: a.b, data: text }\n", false},
	}
	for _, tt := range docs {
		_, perr := (&Parser{Registry: r}).Parse("inline.yaml", []byte(tt.src))
		serr := validateYAML(t, "inline.yaml", []byte(tt.src))
		if (perr == nil) != tt.valid || (serr == nil) != tt.valid {
			t.Errorf("%s: Parse = %v, schema = %v; want valid %v", tt.name, perr, serr, tt.valid)
		}
	}

	d := schematest.Load(t, JSONSchema())
	var described []string
	for _, at := range []struct {
		def, key string
	}{{"step", "uses"}, {"mfStep", "step_type"}, {"mfStep", "type"}} {
		var names []string
		list, _ := d.Def(t, at.def)["allOf"].([]any)
		for _, c := range list {
			names = append(names, conditionConst(c, at.key)...)
		}
		slices.Sort(names)
		if want := r.Names(); !slices.Equal(names, want) {
			t.Errorf("%s: built-in step types described on %s = %v; want %v", at.def, at.key, names, want)
		}
		described = names
	}
	for _, name := range described {
		typ, _ := r.Lookup(name)
		schema := d.Def(t, "with."+name)
		got, _ := schematest.Properties([]map[string]any{schema})
		want := map[string]string{}
		ct := typ.ConfigType()
		for i := range ct.NumField() {
			f := ct.Field(i)
			key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.IsExported() && key != "-" {
				want[cmp.Or(key, f.Name)] = jsonType(f.Type)
			}
		}
		if keys := slices.Sorted(maps.Keys(want)); !slices.Equal(got, keys) {
			t.Errorf("with.%s keys = %v; %s has %v", name, got, ct, keys)
			continue
		}
		props := schema["properties"].(map[string]any)
		for key, jt := range want {
			if st := declaredType(props[key].(map[string]any)); st != jt {
				t.Errorf("with.%s.%s: schema type %q; %s decodes %q", name, key, st, ct, jt)
			}
		}
	}
}

// builtinRegistry holds every built-in step type (auto_promote and
// regenerate_sdk with do-nothing backends).
func builtinRegistry(t testing.TB) *steps.Registry {
	t.Helper()
	r := steps.NewRegistry()
	deps := steps.Deps{
		Promoter: steps.PromoterFunc(func(context.Context, steps.PromotionRequest) (steps.PromotionResult, error) {
			return steps.PromotionResult{}, nil
		}),
		SDKGenerator: sdkGeneratorFunc(func(context.Context, steps.SDKRequest) (steps.SDKResult, error) {
			return steps.SDKResult{}, nil
		}),
	}
	if err := steps.RegisterBuiltins(r, deps); err != nil {
		t.Fatal(err)
	}
	return r
}

type sdkGeneratorFunc func(context.Context, steps.SDKRequest) (steps.SDKResult, error)

func (f sdkGeneratorFunc) Generate(ctx context.Context, req steps.SDKRequest) (steps.SDKResult, error) {
	return f(ctx, req)
}

// conditionConst returns the step type names an if/then branch tests key
// against.
func conditionConst(c any, key string) []string {
	cond, _ := c.(map[string]any)["if"].(map[string]any)
	var out []string
	var walk func(m map[string]any)
	walk = func(m map[string]any) {
		if props, ok := m["properties"].(map[string]any); ok {
			if p, ok := props[key].(map[string]any); ok {
				if v, ok := p["const"].(string); ok {
					out = append(out, v)
				}
			}
		}
		list, _ := m["anyOf"].([]any)
		for _, b := range list {
			walk(b.(map[string]any))
		}
	}
	walk(cond)
	return out
}

// jsonType is the JSON type a config field decodes ("" for any).
func jsonType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	}
	return ""
}

// declaredType is a property's type: its own, or that of the first
// branch of anyOf (the second is a lone template).
func declaredType(p map[string]any) string {
	if s, ok := p["type"].(string); ok {
		return s
	}
	if list, ok := p["anyOf"].([]any); ok && len(list) > 0 {
		s, _ := list[0].(map[string]any)["type"].(string)
		return s
	}
	return ""
}
