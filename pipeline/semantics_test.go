package pipeline_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
)

func TestDefaultsWithMergesUnderTheStep(t *testing.T) {
	src := `name: merge
on: [{event: schema.changed}]
defaults:
  with:
    notify: {channel: dflt, message: from-defaults, headers: {A: "1"}}
steps:
  - {id: own, uses: notify, with: {channel: own, headers: {B: "2"}}}
  - {id: bare, uses: notify}
  - {id: other, uses: emit, with: {type: x.y}}
`
	plan := mustParse(t, newParser(), "merge.yaml", []byte(src)).Plan()
	ev := event(t, events.TypeSchemaChanged, "", nil)
	tests := []struct {
		step string
		want map[string]any
	}{
		// The step's keys win, shallowly: its headers replace the defaults' whole map.
		{"own", map[string]any{"channel": "own", "message": "from-defaults", "headers": map[string]any{"B": "2"}}},
		{"bare", map[string]any{"channel": "dflt", "message": "from-defaults", "headers": map[string]any{"A": "1"}}},
		// Defaults are per step type.
		{"other", map[string]any{"type": "x.y"}},
	}
	for _, tt := range tests {
		r, err := plan.Render(context.Background(), tt.step, pipeline.RenderContext{Event: pipeline.NewEventVars(ev)})
		if err != nil {
			t.Fatalf("Render(%s) = %v", tt.step, err)
		}
		if diff := cmp.Diff(tt.want, r.With); diff != "" {
			t.Errorf("Render(%s) mismatch (-want +got):\n%s", tt.step, diff)
		}
	}
}

// TestMockForgeEventPrefix checks that MockForge's documented {{event.x}}
// and its flat {{x}} read the same payload key, alone and inside text.
func TestMockForgeEventPrefix(t *testing.T) {
	src := []byte(`name: prefix
triggers: [{event: schema.changed}]
steps:
  - name: a
    type: notify
    config:
      message: "{{event.spec_path}}"
      channel: "{{spec_path}}"
      type: "n={{event.count}}"
      webhook_url: "n={{count}}"
      channels: ["{{event.count}}", "{{count}}", "{{workspace_id}}", "{{event_type}}"]
`)
	plan := mustParse(t, newParser(), "prefix.yaml", src).Plan()
	ev := event(t, events.TypeSchemaChanged, "payments", map[string]any{"spec_path": "specs/p.yaml", "count": 3})
	r, err := plan.Render(context.Background(), "a", pipeline.RenderContext{Event: pipeline.NewEventVars(ev)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"message": "specs/p.yaml", "channel": "specs/p.yaml",
		"type": "n=3", "webhook_url": "n=3",
		// A lone {{x}} renders text, as handlebars does.
		"channels": []any{"3", "3", "payments", "schema.changed"},
	}
	if diff := cmp.Diff(want, r.With); diff != "" {
		t.Errorf("Render mismatch (-want +got):\n%s", diff)
	}
}

// TestFilterCostBoundedAtRunTime feeds a filter whose estimate fits the
// budget a payload far larger than the estimate assumed: the run-time
// limit stops it, and the outcome is "filter failed", not "no match".
func TestFilterCostBoundedAtRunTime(t *testing.T) {
	src := []byte(`name: costly
on:
  - event: custom.big
    if: event.data.items.all(x, x >= 0)
steps: [{id: a, uses: emit, with: {type: x.y}}]
`)
	plan := mustParse(t, newParser(), "costly.yaml", src).Plan()
	small := event(t, "custom.big", "", map[string]any{"items": make([]int, 10)})
	if ok, err := pipeline.Matches(match(plan, small)); !ok || err != nil {
		t.Fatalf("Matches(10 items) = %v, %v; want true", ok, err)
	}
	// Left alone, this filter would be true: only the limit makes it fail.
	huge := event(t, "custom.big", "", map[string]any{"items": make([]int, 200_000)})
	r := match(plan, huge)
	if r[0].Matched || r[0].Err == nil || !strings.Contains(r[0].Err.Error(), "cost limit") {
		t.Errorf("Match(200k items) = %+v; want a cost limit error", r[0])
	}
	hits, failed := pipeline.NewIndex(plan).Match(context.Background(), pipeline.NewEventVars(huge))
	if len(hits) != 0 || len(failed) != 1 || failed[0].Plan != plan {
		t.Errorf("Index.Match(200k items) = %+v, %+v; want no hit and the plan's filter error", hits, failed)
	}
}

// TestMatchHonoursContext uses a budget large enough to admit a filter
// that would run for minutes: only the context can stop it.
func TestMatchHonoursContext(t *testing.T) {
	p := newParser()
	p.CostBudget = 1 << 50
	src := []byte(`name: slow
on:
  - event: custom.big
    if: event.data.items.all(x, event.data.items.all(y, event.data.items.all(z, x + y + z >= 0)))
steps: [{id: a, uses: emit, with: {type: x.y}}]
`)
	plan := mustParse(t, p, "slow.yaml", src).Plan()
	ev := event(t, "custom.big", "", map[string]any{"items": make([]int, 2000)})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	r := plan.Match(ctx, pipeline.NewEventVars(ev))
	if r[0].Matched || r[0].Err == nil {
		t.Errorf("Match with a deadline = %+v; want a filter error", r[0])
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Match returned after %v; the deadline was 50ms", d)
	}
}

// TestPlanAccessorsCopy mutates everything the accessors hand out and
// checks the plan did not change.
func TestPlanAccessorsCopy(t *testing.T) {
	plan := loadValid(t, "design-example.yaml")
	ev := event(t, events.TypeSchemaChanged, "payments", map[string]any{"schema_type": "openapi", "spec_path": "s.yaml"})
	rc := pipelineRenderContext(ev)
	rc.Secrets = mapSecrets{"SLACK_WEBHOOK": "hook"}

	plan.Steps()[0] = nil
	plan.Order()[0] = "x"
	plan.EventTypes()[0] = "x"
	tell, _ := plan.Step("tell")
	tell.Needs()[0] = "x"
	tell.Secrets()[0] = "x"
	r, err := plan.Render(context.Background(), "sdk", rc)
	if err != nil {
		t.Fatal(err)
	}
	r.With["languages"].([]any)[0] = "cobol"
	r.With["spec"] = "x"

	if plan.Steps()[0] == nil || plan.Order()[0] == "x" || plan.EventTypes()[0] == "x" {
		t.Errorf("Steps, Order or EventTypes share the plan's slices")
	}
	if tell.Needs()[0] != "sdk" || tell.Secrets()[0] != "SLACK_WEBHOOK" {
		t.Errorf("Needs = %v, Secrets = %v; the plan's slices were modified", tell.Needs(), tell.Secrets())
	}
	again, err := plan.Render(context.Background(), "sdk", rc)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"spec": "s.yaml", "languages": []any{"typescript", "go"}}, again.With); diff != "" {
		t.Errorf("a second Render sees the first one's changes (-want +got):\n%s", diff)
	}
}

func TestRedactedOverlappingSecrets(t *testing.T) {
	src := []byte(`name: secrets
on: [{event: schema.changed}]
steps:
  - id: a
    uses: notify
    with:
      message: "short=${{ secrets.FIRST }} long=${{ secrets.SECOND }}"
      headers: {Authorization: "Bearer ${{ secrets.SECOND }}"}
`)
	plan := mustParse(t, newParser(), "secrets.yaml", src).Plan()
	rc := pipelineRenderContext(event(t, events.TypeSchemaChanged, "", nil))
	// FIRST's value is a prefix of SECOND's, and FIRST sorts first:
	// redacting in name order would leave "-tail" in clear.
	rc.Secrets = mapSecrets{"FIRST": "tok", "SECOND": "tok-tail"}
	r, err := plan.Render(context.Background(), "a", rc)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"message": "short=*** long=***",
		"headers": map[string]any{"Authorization": "Bearer ***"},
	}
	if diff := cmp.Diff(want, r.Redacted()); diff != "" {
		t.Errorf("Redacted mismatch (-want +got):\n%s", diff)
	}
	if r.With["message"] != "short=tok long=tok-tail" {
		t.Errorf("With[message] = %q; Redacted must not modify With", r.With["message"])
	}
}

// TestDatesAreText: yaml.v3 tags a plain 2024-01-01 as a timestamp; it is
// text to the author, in `with:` as in `match:`.
func TestDatesAreText(t *testing.T) {
	src := []byte(`name: dates
description: 2024-01-01
on: [{event: schema.changed, match: {data.day: 2024-01-01}}]
steps:
  - {id: a, uses: notify, with: {message: 2024-01-01, headers: {since: 2024-01-01T10:00:00Z}}}
`)
	plan := mustParse(t, newParser(), "dates.yaml", src).Plan()
	ev := event(t, events.TypeSchemaChanged, "", map[string]any{"day": "2024-01-01"})
	if ok, err := pipeline.Matches(match(plan, ev)); !ok || err != nil {
		t.Errorf("Matches(day 2024-01-01) = %v, %v; want true", ok, err)
	}
	r, err := plan.Render(context.Background(), "a", pipeline.RenderContext{Event: pipeline.NewEventVars(ev)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"message": "2024-01-01", "headers": map[string]any{"since": "2024-01-01T10:00:00Z"}}
	if diff := cmp.Diff(want, r.With); diff != "" {
		t.Errorf("Render mismatch (-want +got):\n%s", diff)
	}
}

func TestParseRejectsOversizedSource(t *testing.T) {
	src := []byte("name: big\ndescription: " + strings.Repeat("x", pipeline.MaxSourceSize) + "\n")
	_, err := pipeline.Parse("big.yaml", src)
	var list pipeline.ErrorList
	if !errors.As(err, &list) || len(list) != 1 || list[0].Pos.Line != 1 || !strings.Contains(list[0].Msg, "the limit is") {
		t.Errorf("Parse(%d bytes) = %v; want one positioned size error", len(src), err)
	}
}
