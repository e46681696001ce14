package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
)

func rawEvent(typ events.Type, data string) events.Event {
	return events.Event{ID: "01J0000000000000000000000", Type: typ, Source: "test", Data: json.RawMessage(data)}
}

// TestMatchComparesNumbersExactly: match: compares the exact decimal
// value, so integers past float64's precision stay apart, and the same
// value written differently (3, 3.0, 3e0) is equal, through Plan.Match and
// the Index alike.
func TestMatchComparesNumbersExactly(t *testing.T) {
	src := []byte(`name: exact
on:
  - event: custom.id
    match: {data.id: 9007199254740993}
  - event: custom.n
    match: {data.n: [3, 0.1, 1.50, -0, 0x10, 1_000, 2e3]}
steps: [{id: a, uses: emit, with: {type: x.y}}]
`)
	plan := mustParse(t, newParser(), "exact.yaml", src).Plan()
	x := pipeline.NewIndex(plan)
	tests := []struct {
		typ  events.Type
		data string
		want bool
	}{
		{"custom.id", `{"id": 9007199254740993}`, true},
		{"custom.id", `{"id": 9007199254740992}`, false},
		{"custom.id", `{"id": 9007199254740994}`, false},
		{"custom.id", `{"id": 9007199254740993.0}`, true},
		{"custom.id", `{"id": 9.007199254740993e15}`, true},
		{"custom.id", `{"id": "9007199254740993"}`, false},
		{"custom.n", `{"n": 3}`, true},
		{"custom.n", `{"n": 3.0}`, true},
		{"custom.n", `{"n": 30e-1}`, true},
		{"custom.n", `{"n": 3.0000000000000001}`, false},
		{"custom.n", `{"n": 0.1}`, true},
		{"custom.n", `{"n": 1e-1}`, true},
		{"custom.n", `{"n": 0.10000000000000001}`, false},
		{"custom.n", `{"n": 1.5}`, true},
		{"custom.n", `{"n": 0}`, true},
		{"custom.n", `{"n": 16}`, true},
		{"custom.n", `{"n": 1000}`, true},
		{"custom.n", `{"n": 2000.0}`, true},
		{"custom.n", `{"n": 4}`, false},
		{"custom.n", `{"n": 1e999999999999}`, false},
	}
	for _, tt := range tests {
		ev := pipeline.NewEventVars(rawEvent(tt.typ, tt.data))
		got, err := pipeline.Matches(plan.Match(context.Background(), ev))
		if got != tt.want || err != nil {
			t.Errorf("Plan.Match(%s) = %v, %v; want %v", tt.data, got, err, tt.want)
		}
		hits, failed := x.Match(context.Background(), ev)
		if (len(hits) == 1) != tt.want || len(failed) != 0 {
			t.Errorf("Index.Match(%s) = %v, %v; want matched %v", tt.data, hits, failed, tt.want)
		}
	}
	r := plan.Match(context.Background(), pipeline.NewEventVars(rawEvent("custom.n", `{"n": 4.00}`)))
	if want := "match data.n: 4 is not 3 or 0.1 or 1.5 or 0 or 16 or 1000 or 2000"; r[1].Reason != want {
		t.Errorf("Reason = %q; want %q", r[1].Reason, want)
	}
}

// TestMatchInvalidPayloadIsFilterError: a payload that is not a JSON
// object fails every trigger it reaches (match keys, filters and bare
// triggers alike) with ErrInvalidPayload, instead of matching on what a
// path read makes of broken JSON.
func TestMatchInvalidPayloadIsFilterError(t *testing.T) {
	src := []byte(`name: strict
on:
  - event: custom.x
    match: {data.a: 1}
  - event: custom.x
    if: event.data.a == 1
  - event: custom.x
steps: [{id: a, uses: emit, with: {type: x.y}}]
`)
	plan := mustParse(t, newParser(), "strict.yaml", src).Plan()
	x := pipeline.NewIndex(plan)
	for _, data := range []string{`{"a": 1`, `{"a": 1}}`, `[{"a": 1}]`, `"a"`, `1`, `{"a": 1,}`} {
		ev := pipeline.NewEventVars(rawEvent("custom.x", data))
		if !errors.Is(ev.Err(), pipeline.ErrInvalidPayload) {
			t.Errorf("NewEventVars(%s).Err() = %v; want ErrInvalidPayload", data, ev.Err())
		}
		for _, r := range plan.Match(context.Background(), ev) {
			if r.Matched || !errors.Is(r.Err, pipeline.ErrInvalidPayload) {
				t.Errorf("Plan.Match(%s) trigger %d = %+v; want a filter error wrapping ErrInvalidPayload", data, r.Trigger, r)
			}
		}
		hits, failed := x.Match(context.Background(), ev)
		if len(hits) != 0 || len(failed) != 1 || !errors.Is(failed[0], pipeline.ErrInvalidPayload) {
			t.Errorf("Index.Match(%s) = %v, %v; want only a failure wrapping ErrInvalidPayload", data, hits, failed)
		}
		if _, err := plan.Render(context.Background(), "a", pipeline.RenderContext{Event: ev}); !errors.Is(err, pipeline.ErrInvalidPayload) {
			t.Errorf("Render(%s) = %v; want ErrInvalidPayload", data, err)
		}
	}
	for _, data := range []string{``, ` `, `{}`, `{"a": 1}`} {
		if err := pipeline.NewEventVars(rawEvent("custom.x", data)).Err(); err != nil {
			t.Errorf("NewEventVars(%q).Err() = %v; want nil", data, err)
		}
	}
}

// TestIndexMatchSeparatesFailures: a plan whose filter failed is never a
// hit; it is reported apart, as a *FilterError, unless another of its
// triggers matched.
func TestIndexMatchSeparatesFailures(t *testing.T) {
	p := newParser()
	failing := mustParse(t, p, "failing.yaml", []byte("name: failing\non: [{event: custom.x, if: event.data.missing == 1}]\nsteps: [{id: a, uses: emit, with: {type: x.y}}]\n")).Plan()
	matching := mustParse(t, p, "matching.yaml", []byte("name: matching\non: [{event: custom.x, if: event.data.a == 1}]\nsteps: [{id: a, uses: emit, with: {type: x.y}}]\n")).Plan()
	rescued := mustParse(t, p, "rescued.yaml", []byte("name: rescued\non: [{event: custom.x, if: event.data.missing == 1}, {event: custom.x, match: {data.a: 1}}]\nsteps: [{id: a, uses: emit, with: {type: x.y}}]\n")).Plan()
	x := pipeline.NewIndex(failing, matching, rescued)
	hits, failed := x.Match(context.Background(), pipeline.NewEventVars(rawEvent("custom.x", `{"a": 1}`)))
	var names []string
	for _, h := range hits {
		names = append(names, h.Plan.Name())
	}
	if strings.Join(names, ",") != "matching,rescued" && strings.Join(names, ",") != "rescued,matching" {
		t.Errorf("hits = %v; want matching and rescued", names)
	}
	if len(failed) != 1 || failed[0].Plan != failing || failed[0].Trigger != 0 || !strings.Contains(failed[0].Error(), "no such key") {
		t.Errorf("failed = %v; want the failing plan's filter error", failed)
	}
}
