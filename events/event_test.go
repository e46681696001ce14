package events_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mockops/mockops/events"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		typ     events.Type
		data    any
		wantErr bool
		want    string // Data, when no error
	}{
		{"struct", events.TypeSchemaChanged, events.SchemaChange{SchemaType: "openapi", Path: "a.yaml"}, false, `{"schema_type":"openapi","spec_path":"a.yaml","changes":[],"breaking":false}`},
		{"map", "acme.custom", map[string]int{"n": 1}, false, `{"n":1}`},
		{"raw", events.TypeConfigChanged, json.RawMessage(`{"scope":"org"}`), false, `{"scope":"org"}`},
		{"bytes", events.TypeConfigChanged, []byte(` {"scope":"org"}`), false, ` {"scope":"org"}`},
		{"nil", events.TypeConfigChanged, nil, false, ``},
		{"empty raw", events.TypeConfigChanged, json.RawMessage(nil), false, ``},
		{"array", events.TypeConfigChanged, []int{1}, true, ``},
		{"string", events.TypeConfigChanged, "x", true, ``},
		{"invalid raw", events.TypeConfigChanged, json.RawMessage(`{"a":`), true, ``},
		{"unmarshallable", events.TypeConfigChanged, map[string]any{"f": func() {}}, true, ``},
		{"no type", "", nil, true, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := time.Now()
			e, err := events.New(tt.typ, "ws", tt.data)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("New(%q, ws, %v) = %+v, nil; want an error", tt.typ, tt.data, e)
				}
				return
			}
			if err != nil {
				t.Fatalf("New(%q, ws, %v) = %v; want nil", tt.typ, tt.data, err)
			}
			if string(e.Data) != tt.want {
				t.Errorf("Data = %s; want %s", e.Data, tt.want)
			}
			if len(e.ID) != 26 || e.Source != events.DefaultSource || e.Workspace != "ws" || e.Type != tt.typ {
				t.Errorf("New = %+v; want a 26-char ID, default source, workspace ws, type %q", e, tt.typ)
			}
			if e.Time.Before(before.Add(-time.Millisecond)) || e.Time.After(time.Now()) || e.Time.Location() != time.UTC {
				t.Errorf("Time = %v; want now, in UTC", e.Time)
			}
		})
	}
}

func TestNewIDsSortByTime(t *testing.T) {
	base := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	prev := ""
	seen := map[string]bool{}
	for i := range 1000 {
		id := events.NewID(base.Add(time.Duration(i) * time.Millisecond))
		if id <= prev {
			t.Fatalf("NewID at +%dms = %s; want it after %s", i, id, prev)
		}
		if seen[id] {
			t.Fatalf("NewID repeated %s", id)
		}
		seen[id] = true
		prev = id
	}
}

func TestValidate(t *testing.T) {
	ok := events.Event{ID: "1", Type: "t", Source: "s"}
	with := func(f func(*events.Event)) events.Event { e := ok; f(&e); return e }
	tests := []struct {
		name string
		e    events.Event
		want string // substring of the error; "" = valid
	}{
		{"minimal", ok, ""},
		{"object data", with(func(e *events.Event) { e.Data = json.RawMessage(`{"a":1}`) }), ""},
		{"extensions", with(func(e *events.Event) { e.Extensions = map[string]string{"traceparent": "x", "depth": "1"} }), ""},
		{"no id", with(func(e *events.Event) { e.ID = "" }), "missing id"},
		{"no type", with(func(e *events.Event) { e.Type = "" }), "missing type"},
		{"no source", with(func(e *events.Event) { e.Source = "" }), "missing source"},
		{"array data", with(func(e *events.Event) { e.Data = json.RawMessage(`[1]`) }), "must be a JSON object"},
		{"bad data", with(func(e *events.Event) { e.Data = json.RawMessage(`{`) }), "not valid JSON"},
		{"upper-case extension", with(func(e *events.Event) { e.Extensions = map[string]string{"Trace": "x"} }), "only lower-case"},
		{"reserved extension", with(func(e *events.Event) { e.Extensions = map[string]string{"workspace": "x"} }), "reserved"},
		{"empty extension", with(func(e *events.Event) { e.Extensions = map[string]string{"": "x"} }), "empty extension"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.e.Validate()
			if tt.want == "" {
				if err != nil {
					t.Errorf("Validate() = %v; want nil", err)
				}
				return
			}
			if !errors.Is(err, events.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v; want ErrInvalid mentioning %q", err, tt.want)
			}
		})
	}
}

func TestJSONRoundTrip(t *testing.T) {
	e := events.Event{
		ID:         "01JABCDEFGHJKMNPQRSTVWXYZ0",
		Type:       events.TypeDriftThresholdExceeded,
		Source:     "mockops/federation",
		Subject:    "/payments",
		Workspace:  "payments",
		Org:        "acme",
		Time:       time.Date(2026, 11, 27, 10, 30, 0, 123456789, time.UTC),
		Data:       json.RawMessage(`{"endpoint":"/payments","drift_percent":12.5,"budget":5}`),
		Extensions: map[string]string{"traceparent": "00-1-2-01", "causationid": "01J0"},
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"specversion":"1.0","id":"01JABCDEFGHJKMNPQRSTVWXYZ0","source":"mockops/federation",` +
		`"type":"drift.threshold_exceeded","subject":"/payments","time":"2026-11-27T10:30:00.123456789Z",` +
		`"workspace":"payments","org":"acme","causationid":"01J0","traceparent":"00-1-2-01",` +
		`"datacontenttype":"application/json","data":{"endpoint":"/payments","drift_percent":12.5,"budget":5}}`
	if string(b) != want {
		t.Errorf("json.Marshal =\n%s\nwant\n%s", b, want)
	}
	var got events.Event
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("json.Unmarshal(%s) = %v", b, err)
	}
	if diff := cmp.Diff(e, got); diff != "" {
		t.Errorf("round trip changed the event (-want +got):\n%s", diff)
	}
	again, err := json.Marshal(got)
	if err != nil || string(again) != string(b) {
		t.Errorf("second encoding = %s, %v; want the same bytes", again, err)
	}
}

func TestUnmarshalRejects(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"not json", `nope`, "not a JSON object"},
		{"array", `[1]`, "not a JSON object"},
		{"null", `null`, "not a JSON object"},
		{"no specversion", `{"id":"1","source":"s","type":"t"}`, "missing specversion"},
		{"old specversion", `{"specversion":"0.3","id":"1","source":"s","type":"t"}`, `specversion "0.3"`},
		{"no id", `{"specversion":"1.0","source":"s","type":"t"}`, "missing id"},
		{"empty id", `{"specversion":"1.0","id":"","source":"s","type":"t"}`, "missing id"},
		{"no source", `{"specversion":"1.0","id":"1","type":"t"}`, "missing source"},
		{"no type", `{"specversion":"1.0","id":"1","source":"s"}`, "missing type"},
		{"numeric id", `{"specversion":"1.0","id":1,"source":"s","type":"t"}`, "id must be a string"},
		{"bad time", `{"specversion":"1.0","id":"1","source":"s","type":"t","time":"yesterday"}`, "not RFC 3339"},
		{"array data", `{"specversion":"1.0","id":"1","source":"s","type":"t","data":[1,2]}`, "must be a JSON object"},
		{"string data", `{"specversion":"1.0","id":"1","source":"s","type":"t","data":"x"}`, "must be a JSON object"},
		{"binary data", `{"specversion":"1.0","id":"1","source":"s","type":"t","data_base64":"AA=="}`, "binary payloads"},
		{"xml", `{"specversion":"1.0","id":"1","source":"s","type":"t","datacontenttype":"application/xml"}`, "only JSON"},
		{"object extension", `{"specversion":"1.0","id":"1","source":"s","type":"t","ext":{}}`, "extension ext"},
		{"bad extension name", `{"specversion":"1.0","id":"1","source":"s","type":"t","Ext":"x"}`, "only lower-case"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e events.Event
			err := e.UnmarshalJSON([]byte(tt.src))
			if !errors.Is(err, events.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Unmarshal(%s) = %v; want ErrInvalid mentioning %q", tt.src, err, tt.want)
			}
		})
	}
}

func TestUnmarshalAccepts(t *testing.T) {
	src := `{"specversion":"1.0","id":"1","source":"s","type":"t","time":"2026-01-02T03:04:05+02:00",
		"datacontenttype":"application/cloudevents+json; charset=utf-8","data":{"a":[1]},"flag":true,"count":3,"data_null":"x"}`
	var e events.Event
	if err := json.Unmarshal([]byte(src), &e); err == nil {
		t.Fatalf("Unmarshal accepted extension name data_null; want an error (underscore)")
	}
	src = strings.Replace(src, `,"data_null":"x"`, "", 1)
	if err := json.Unmarshal([]byte(src), &e); err != nil {
		t.Fatalf("Unmarshal = %v", err)
	}
	want := map[string]string{"flag": "true", "count": "3"}
	if diff := cmp.Diff(want, e.Extensions); diff != "" {
		t.Errorf("Extensions (-want +got):\n%s", diff)
	}
	if !e.Time.Equal(time.Date(2026, 1, 2, 1, 4, 5, 0, time.UTC)) {
		t.Errorf("Time = %v; want 01:04:05Z", e.Time)
	}
	if got := e.Get("a.0").Int(); got != 1 {
		t.Errorf("Get(a.0) = %d; want 1", got)
	}
}

func TestGetAndDecode(t *testing.T) {
	e, err := events.SchemaChanged("payments", events.SchemaChange{SchemaType: "openapi", Path: "p.yaml", Changes: []string{"added GET /refunds"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path   string
		want   string
		exists bool
	}{
		{"schema_type", "openapi", true},
		{"spec_path", "p.yaml", true},
		{"changes.0", "added GET /refunds", true},
		{"changes.#", "1", true},
		{"missing", "", false},
	}
	for _, tt := range tests {
		if got := e.Get(tt.path); got.String() != tt.want || got.Exists() != tt.exists {
			t.Errorf("Get(%q) = %q (exists %v); want %q (exists %v)", tt.path, got.String(), got.Exists(), tt.want, tt.exists)
		}
	}
	var p events.SchemaChange
	if err := e.Decode(&p); err != nil || p.Path != "p.yaml" || e.Subject != "p.yaml" {
		t.Errorf("Decode = %+v, %v; subject %q; want spec_path p.yaml as payload and subject", p, err, e.Subject)
	}
	if err := (events.Event{ID: "x", Type: "t"}).Decode(&p); err == nil {
		t.Error("Decode of an event without data = nil; want an error")
	}
}

func TestTypedConstructors(t *testing.T) {
	tests := []struct {
		build       func() (events.Event, error)
		typ         events.Type
		subject     string
		path, value string
	}{
		{func() (events.Event, error) {
			return events.SchemaChanged("w", events.SchemaChange{SchemaType: "openapi", Path: "a.yaml"})
		}, events.TypeSchemaChanged, "a.yaml", "schema_type", "openapi"},
		{func() (events.Event, error) {
			return events.ScenarioPublished("w", events.ScenarioPublication{ScenarioID: "s1", ScenarioName: "checkout"})
		}, events.TypeScenarioPublished, "s1", "scenario_name", "checkout"},
		{func() (events.Event, error) {
			return events.DriftThresholdExceeded("w", events.DriftThreshold{Endpoint: "/pay", DriftPercent: 12, Budget: 5})
		}, events.TypeDriftThresholdExceeded, "/pay", "drift_percent", "12"},
		{func() (events.Event, error) {
			return events.PromotionCompleted("w", events.Promotion{EntityType: "scenario", EntityID: "s1", FromEnvironment: "dev", ToEnvironment: "test"})
		}, events.TypePromotionCompleted, "s1", "to_environment", "test"},
		{func() (events.Event, error) {
			return events.WorkspaceCreated("w", events.WorkspaceCreation{Name: "Payments"})
		}, events.TypeWorkspaceCreated, "w", "name", "Payments"},
		{func() (events.Event, error) {
			return events.PersonaPublished("w", events.PersonaPublication{PersonaID: "p1", PersonaName: "premium"})
		}, events.TypePersonaPublished, "p1", "persona_name", "premium"},
		{func() (events.Event, error) {
			return events.ConfigChanged("w", events.ConfigChange{Scope: "org", Keys: []string{"latency"}})
		}, events.TypeConfigChanged, "org", "keys.0", "latency"},
	}
	if len(tests) != len(events.PlatformTypes()) {
		t.Fatalf("%d constructor cases; want one per platform type (%d)", len(tests), len(events.PlatformTypes()))
	}
	for _, tt := range tests {
		t.Run(string(tt.typ), func(t *testing.T) {
			e, err := tt.build()
			if err != nil {
				t.Fatal(err)
			}
			if e.Type != tt.typ || e.Subject != tt.subject || e.Workspace != "w" {
				t.Errorf("event = %+v; want type %s, subject %q, workspace w", e, tt.typ, tt.subject)
			}
			if got := e.Get(tt.path).String(); got != tt.value {
				t.Errorf("Get(%q) = %q; want %q", tt.path, got, tt.value)
			}
		})
	}
}

func TestCausedBy(t *testing.T) {
	root, _ := events.New(events.TypeSchemaChanged, "w", nil)
	child, _ := events.New(events.TypeConfigChanged, "w", nil)
	child.Extensions = map[string]string{"traceparent": "x"}
	orig := child.Extensions
	child = child.CausedBy(root)
	grandchild := events.Event{ID: "g", Type: "t", Source: "s"}.CausedBy(child)
	tests := []struct {
		e         events.Event
		depth     int
		causation string
	}{
		{root, 0, ""},
		{child, 1, root.ID},
		{grandchild, 2, child.ID},
		{events.Event{Extensions: map[string]string{"depth": "-3"}}, 0, ""},
		{events.Event{Extensions: map[string]string{"depth": "x"}}, 0, ""},
	}
	for i, tt := range tests {
		if got := tt.e.Depth(); got != tt.depth {
			t.Errorf("case %d: Depth() = %d; want %d", i, got, tt.depth)
		}
		if got := tt.e.Extensions[events.ExtCausationID]; got != tt.causation {
			t.Errorf("case %d: causationid = %q; want %q", i, got, tt.causation)
		}
	}
	if _, ok := orig[events.ExtDepth]; ok {
		t.Error("CausedBy modified the original event's extensions")
	}
	if child.Extensions["traceparent"] != "x" {
		t.Error("CausedBy lost an existing extension")
	}
}

func FuzzUnmarshalJSON(f *testing.F) {
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"s","type":"t","data":{"a":1}}`))
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"s","type":"t","time":"2026-01-02T03:04:05.5+02:00","workspace":"w","x":1}`))
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"s","type":"t","data":null,"datacontenttype":"text/json"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, src []byte) {
		var e events.Event
		if err := e.UnmarshalJSON(src); err != nil {
			if !errors.Is(err, events.ErrInvalid) {
				t.Fatalf("Unmarshal(%q) = %v; want an ErrInvalid error", src, err)
			}
			return
		}
		// Whatever decodes must encode, and decode again to the same event.
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("Marshal(%+v) after a successful Unmarshal = %v", e, err)
		}
		var again events.Event
		if err := json.Unmarshal(b, &again); err != nil {
			t.Fatalf("Unmarshal(Marshal(e)) = %v for %s", err, b)
		}
		if diff := cmp.Diff(e, again); diff != "" {
			t.Fatalf("round trip changed the event (-first +second):\n%s", diff)
		}
	})
}
