package events_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types/ref"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mockops/mockops/events"
)

// optionalFields are the payload fields left out of the JSON when empty:
// strings that a platform may not have at all. Every other field is always
// emitted, zero or not, so a filter can test it (`if: event.data.breaking`
// on a non-breaking change is false, not a "no such key" error). payloads.go
// and the package documentation list the same fields.
var optionalFields = map[string][]string{
	"ScenarioPublication": {"version"},
	"Promotion":           {"promotion_id", "entity_version"},
	"WorkspaceCreation":   {"description", "created_by"},
	"PersonaPublication":  {"version"},
}

// TestPayloadsEmitEveryField: a payload with every field at its zero value
// still carries every documented key except the optional strings, with
// empty lists as [] rather than null.
func TestPayloadsEmitEveryField(t *testing.T) {
	tests := []struct {
		typ   events.Type
		build func() (events.Event, error)
		want  string // the zero payload's JSON
	}{
		{events.TypeSchemaChanged, func() (events.Event, error) { return events.SchemaChanged("w", events.SchemaChange{}) },
			`{"schema_type":"","spec_path":"","changes":[],"breaking":false}`},
		{events.TypeScenarioPublished, func() (events.Event, error) { return events.ScenarioPublished("w", events.ScenarioPublication{}) },
			`{"scenario_id":"","scenario_name":""}`},
		{events.TypeDriftThresholdExceeded, func() (events.Event, error) { return events.DriftThresholdExceeded("w", events.DriftThreshold{}) },
			`{"service":"","endpoint":"","drift_percent":0,"budget":0}`},
		{events.TypePromotionCompleted, func() (events.Event, error) { return events.PromotionCompleted("w", events.Promotion{}) },
			`{"entity_type":"","entity_id":"","from_environment":"","to_environment":""}`},
		{events.TypeWorkspaceCreated, func() (events.Event, error) { return events.WorkspaceCreated("w", events.WorkspaceCreation{}) },
			`{"name":""}`},
		{events.TypePersonaPublished, func() (events.Event, error) { return events.PersonaPublished("w", events.PersonaPublication{}) },
			`{"persona_id":"","persona_name":""}`},
		{events.TypeConfigChanged, func() (events.Event, error) { return events.ConfigChanged("w", events.ConfigChange{}) },
			`{"scope":"","keys":[]}`},
	}
	if len(tests) != len(events.PlatformTypes()) {
		t.Fatalf("%d payload cases; want one per platform type (%d)", len(tests), len(events.PlatformTypes()))
	}
	for _, tt := range tests {
		t.Run(string(tt.typ), func(t *testing.T) {
			e, err := tt.build()
			if err != nil {
				t.Fatalf("build = %v", err)
			}
			if string(e.Data) != tt.want {
				t.Errorf("zero payload Data = %s; want %s", e.Data, tt.want)
			}
		})
	}
}

// TestPayloadsRoundTrip: a full payload decodes back to what was built,
// and the optional strings appear once set.
func TestPayloadsRoundTrip(t *testing.T) {
	tests := []struct {
		in  any
		out any // a pointer to a zero value of in's type
	}{
		{events.SchemaChange{SchemaType: "openapi", Path: "a.yaml", Changes: []string{"x"}, Breaking: true}, &events.SchemaChange{}},
		{events.SchemaChange{}, &events.SchemaChange{}},
		{events.ScenarioPublication{ScenarioID: "s", ScenarioName: "n", Version: "3"}, &events.ScenarioPublication{}},
		{events.DriftThreshold{Service: "pay", Endpoint: "/p", DriftPercent: 12.5, Budget: 5}, &events.DriftThreshold{}},
		{events.Promotion{PromotionID: "p", EntityType: "scenario", EntityID: "s", EntityVersion: "2", FromEnvironment: "dev", ToEnvironment: "test"}, &events.Promotion{}},
		{events.WorkspaceCreation{Name: "n", Description: "d", CreatedBy: "c"}, &events.WorkspaceCreation{}},
		{events.PersonaPublication{PersonaID: "p", PersonaName: "n", Version: "1"}, &events.PersonaPublication{}},
		{events.ConfigChange{Scope: "org", Keys: []string{"a", "b"}}, &events.ConfigChange{}},
		{events.ConfigChange{}, &events.ConfigChange{}},
	}
	for _, tt := range tests {
		e, err := events.New("acme.test", "w", tt.in)
		if err != nil {
			t.Fatalf("New(%+v) = %v", tt.in, err)
		}
		if err := e.Decode(tt.out); err != nil {
			t.Fatalf("Decode(%s) = %v", e.Data, err)
		}
		got := reflect.ValueOf(tt.out).Elem().Interface()
		if diff := cmp.Diff(tt.in, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%T round trip (-built +decoded):\n%s", tt.in, diff)
		}
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(e.Data, &keys); err != nil {
			t.Fatal(err)
		}
		typ := reflect.TypeOf(tt.in)
		for _, opt := range optionalFields[typ.Name()] {
			// Every case sets the optional strings of its type, or none.
			f := fieldByKey(typ, opt)
			set := reflect.ValueOf(tt.in).FieldByIndex(f.Index).String() != ""
			if _, ok := keys[opt]; ok != set {
				t.Errorf("%T %s: key %q present = %v; want %v (set = %v)", tt.in, e.Data, opt, ok, set, set)
			}
		}
	}
}

// TestPayloadOptionalFieldsAreStrings holds the payload types to the rule:
// omitempty only on the listed optional fields, and those are strings.
func TestPayloadOptionalFieldsAreStrings(t *testing.T) {
	types := []any{
		events.SchemaChange{}, events.ScenarioPublication{}, events.DriftThreshold{}, events.Promotion{},
		events.WorkspaceCreation{}, events.PersonaPublication{}, events.ConfigChange{},
	}
	for _, v := range types {
		typ := reflect.TypeOf(v)
		var got []string
		for f := range typ.Fields() {
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero") {
				got = append(got, name)
				if f.Type.Kind() != reflect.String {
					t.Errorf("%s.%s (%s) is omitted when empty; only optional strings may be", typ.Name(), f.Name, f.Type)
				}
			}
		}
		if diff := cmp.Diff(optionalFields[typ.Name()], got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s fields omitted when empty (-documented +tagged):\n%s", typ.Name(), diff)
		}
	}
}

func fieldByKey(typ reflect.Type, key string) reflect.StructField {
	for f := range typ.Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name == key {
			return f
		}
	}
	panic("no field with JSON key " + key)
}

// TestPayloadFieldsAreFilterable evaluates, with CEL as pipeline filters do,
// a test of every always-emitted field on zero-valued payloads: none may be
// a "no such key" error. `data.breaking` on a non-breaking change is false.
func TestPayloadFieldsAreFilterable(t *testing.T) {
	env, err := cel.NewEnv(cel.Variable("data", cel.MapType(cel.StringType, cel.DynType)))
	if err != nil {
		t.Fatal(err)
	}
	eval := func(t *testing.T, expr string, data map[string]any) (ref.Val, error) {
		t.Helper()
		ast, iss := env.Compile(expr)
		if iss.Err() != nil {
			t.Fatalf("Compile(%q) = %v", expr, iss.Err())
		}
		prg, err := env.Program(ast)
		if err != nil {
			t.Fatal(err)
		}
		out, _, err := prg.Eval(map[string]any{"data": data})
		return out, err
	}
	payloads := []any{
		events.SchemaChange{}, events.ScenarioPublication{}, events.DriftThreshold{}, events.Promotion{},
		events.WorkspaceCreation{}, events.PersonaPublication{}, events.ConfigChange{},
	}
	for _, p := range payloads {
		typ := reflect.TypeOf(p)
		t.Run(typ.Name(), func(t *testing.T) {
			e, err := events.New("acme.test", "w", p)
			if err != nil {
				t.Fatal(err)
			}
			var data map[string]any
			if err := json.Unmarshal(e.Data, &data); err != nil {
				t.Fatal(err)
			}
			for f := range typ.Fields() {
				key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				if slices.Contains(optionalFields[typ.Name()], key) {
					continue
				}
				if _, err := eval(t, "data."+key+" == data."+key, data); err != nil {
					t.Errorf("filter on data.%s of a zero %s = %v; want no error", key, typ.Name(), err)
				}
			}
		})
	}
	e, err := events.SchemaChanged("w", events.SchemaChange{SchemaType: "openapi", Path: "a.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	var data map[string]any
	if err := json.Unmarshal(e.Data, &data); err != nil {
		t.Fatal(err)
	}
	for expr, want := range map[string]bool{"data.breaking": false, "data.changes.size() == 0": true} {
		out, err := eval(t, expr, data)
		if err != nil || out.Value() != want {
			t.Errorf("%s on a non-breaking change = %v, %v; want %v", expr, out, err, want)
		}
	}
}
