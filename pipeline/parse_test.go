package pipeline_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
)

// TestPipelineLevelTimeout checks that a definition's top-level
// `timeout:` (DESIGN: per step and per pipeline) is accepted and reaches
// the plan.
func TestPipelineLevelTimeout(t *testing.T) {
	tests := []struct {
		name string
		top  string
		want time.Duration
	}{
		{"set", "timeout: 30m\n", 30 * time.Minute},
		{"absent", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "name: t\n" + tt.top + "on:\n  - event: schema.changed\nsteps:\n  - {id: a, uses: emit, with: {type: x.y}, timeout: 1m}\n"
			d := mustParse(t, newParser(), "t.yaml", []byte(src))
			if got := d.Plan().Timeout(); got != tt.want {
				t.Errorf("Plan().Timeout() = %v; want %v", got, tt.want)
			}
			s, _ := d.Plan().Step("a")
			if got := s.Timeout(); got != time.Minute {
				t.Errorf("step timeout = %v; want 1m (the pipeline's does not replace it)", got)
			}
		})
	}
}

// TestDiagnosticTypesAreDocumented checks that Pos, Error and ErrorList
// are pipeline's own types (they were aliases of an internal package, so
// go doc hid their fields) and that a parse error reaches them.
func TestDiagnosticTypesAreDocumented(t *testing.T) {
	const pkg = "github.com/mockops/mockops/pipeline"
	for _, typ := range []reflect.Type{reflect.TypeFor[pipeline.Pos](), reflect.TypeFor[pipeline.Error](), reflect.TypeFor[pipeline.ErrorList]()} {
		if typ.PkgPath() != pkg {
			t.Errorf("%s is defined in %q; want %q", typ, typ.PkgPath(), pkg)
		}
	}
	_, err := pipeline.Parse("bad.yaml", []byte("name: bad\nstesp: []\n"))
	var list pipeline.ErrorList
	if !errors.As(err, &list) || list.Len() == 0 {
		t.Fatalf("Parse(bad) = %v; want a pipeline.ErrorList", err)
	}
	var first *pipeline.Error
	if !errors.As(err, &first) {
		t.Fatalf("errors.As(%v, *pipeline.Error) = false", err)
	}
	want := pipeline.Error{Pos: pipeline.Pos{File: "bad.yaml", Line: 1, Col: 1}, Msg: `missing required key "on" (the events that trigger the pipeline)`}
	if diff := cmp.Diff(want, *first); diff != "" {
		t.Errorf("first diagnostic (-want +got):\n%s", diff)
	}
}

// TestErrorListErrCapsPerFile checks that a list built by hand is sorted
// and trimmed by Err the way the parser's lists are.
func TestErrorListErrCapsPerFile(t *testing.T) {
	var l pipeline.ErrorList
	if l.Err() != nil {
		t.Fatalf("empty ErrorList.Err() = %v; want nil", l.Err())
	}
	for i := 300; i > 0; i-- {
		l = append(l, &pipeline.Error{Pos: pipeline.Pos{File: "a.yaml", Line: i, Col: 1}, Msg: "x"})
	}
	l = append(l, &pipeline.Error{Pos: pipeline.Pos{File: "b.yaml", Line: 1, Col: 1}, Msg: "y"})
	var got pipeline.ErrorList
	if !errors.As(l.Err(), &got) {
		t.Fatalf("Err() is not an ErrorList")
	}
	if got.Len() != 102 {
		t.Fatalf("Err() kept %d diagnostics; want 100 + a summary for a.yaml, 1 for b.yaml", got.Len())
	}
	if g, w := got[100].Error(), "a.yaml:101:1: and 200 more problems (only the first 100 of a file are listed)"; g != w {
		t.Errorf("summary = %q; want %q", g, w)
	}
	if g, w := got[0].Pos.Line, 1; g != w {
		t.Errorf("first line = %d; want %d (sorted)", g, w)
	}
}

// TestIfBooleanIsCELLiteral checks that `if: true` and `if: false` (YAML
// booleans, once rejected as "must be a string") are accepted and behave as
// the CEL expressions true and false, the default status rule included.
func TestIfBooleanIsCELLiteral(t *testing.T) {
	src := `name: bools
on:
  - event: schema.changed
    if: true
steps:
  - {id: yes_step, uses: emit, with: {type: x.y}, if: true}
  - {id: no_step, uses: emit, with: {type: x.y}, if: false, needs: []}
  - {id: always_step, uses: emit, with: {type: x.y}, if: always(), needs: []}
`
	plan := mustParse(t, newParser(), "bools.yaml", []byte(src)).Plan()
	ev, err := events.New(events.TypeSchemaChanged, "ws", map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		step   string
		failed bool
		want   bool
	}{
		{"yes_step", false, true},
		{"yes_step", true, false}, // like `true`: no status function, so success() applies
		{"no_step", false, false},
		{"always_step", true, true},
	}
	for _, tt := range tests {
		got, err := plan.ShouldRun(context.Background(), tt.step, pipeline.RenderContext{Event: pipeline.NewEventVars(ev), Failed: tt.failed})
		if err != nil || got != tt.want {
			t.Errorf("ShouldRun(%s, failed=%v) = %v, %v; want %v", tt.step, tt.failed, got, err, tt.want)
		}
	}
	if s, _ := plan.Step("yes_step"); s.If() != "true" {
		t.Errorf("Step(yes_step).If() = %q; want %q", s.If(), "true")
	}
}
