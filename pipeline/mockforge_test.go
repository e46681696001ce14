package pipeline_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
)

// TestMockForgeCodeStyle checks that MockForge's code-spelling example
// behaves as MockForge intends: the scenario filter, handlebars over the
// flat payload context, step_defaults under config, timeout in seconds.
func TestMockForgeCodeStyle(t *testing.T) {
	src := mustRead(t, "testdata/valid/mockforge-code-style.yaml")
	d := mustParse(t, newParser(), "code-style.yaml", src)
	if d.Format != pipeline.FormatMockForge || d.Name != "auto-promote-on-publish" || !d.Enabled {
		t.Fatalf("definition = %q %q enabled=%v", d.Format, d.Name, d.Enabled)
	}
	plan := d.Plan()
	payload := map[string]any{"scenario_name": "checkout-happy-path", "scenario_id": "sc-42", "github_token": "ghp_x"}
	hit := event(t, events.TypeScenarioPublished, "shop", payload)
	if ok, err := pipeline.Matches(match(plan, hit)); !ok || err != nil {
		t.Errorf("scenario.published checkout-happy-path: Matches = %v, %v; want true", ok, err)
	}
	other := event(t, events.TypeScenarioPublished, "shop", map[string]any{"scenario_name": "refund"})
	if ok, _ := pipeline.Matches(match(plan, other)); ok {
		t.Errorf("scenario.published refund matched; the filter wants checkout-happy-path")
	}
	// The second trigger has no filters: any persona.published.
	if ok, _ := pipeline.Matches(match(plan, event(t, events.TypePersonaPublished, "", nil))); !ok {
		t.Errorf("persona.published did not match")
	}
	promote, _ := plan.Step("promote")
	if promote.Timeout() != 60*time.Second || promote.Uses() != "auto_promote" {
		t.Errorf("promote = %s timeout %v", promote.Uses(), promote.Timeout())
	}
	openPR, ok := plan.Step("open_pr")
	if !ok || openPR.Timeout() != pipeline.DefaultTimeout {
		t.Fatalf("open-pr step missing or wrong timeout: %v", openPR)
	}
	if diff := cmp.Diff([]string{"promote"}, openPR.Needs()); diff != "" {
		t.Errorf("MockForge steps run in order; needs mismatch (-want +got):\n%s", diff)
	}
	ctx := context.Background()
	r, err := plan.Render(ctx, "promote", pipeline.RenderContext{Event: pipeline.NewEventVars(hit)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"entity_type": "scenario", "entity_id": "sc-42", "from_environment": "dev", "to_environment": "test"}
	if diff := cmp.Diff(want, r.With); diff != "" {
		t.Errorf("Render(promote) mismatch (-want +got):\n%s", diff)
	}
	r, err = plan.Render(ctx, "open_pr", pipeline.RenderContext{Event: pipeline.NewEventVars(hit)})
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]any{
		"title":  "Promote checkout-happy-path to test",
		"branch": "promote/sc-42",
		"files":  []any{map[string]any{"path": "scenarios/sc-42.yaml", "content": "promoted: true", "type": "update"}},
		// step_defaults.create_pr merged under the step's config:
		"provider": "github", "owner": "acme", "repo": "mocks", "token": "ghp_x", "base_branch": "main",
	}
	if diff := cmp.Diff(want, r.With); diff != "" {
		t.Errorf("Render(open-pr) mismatch (-want +got):\n%s", diff)
	}
	// A payload key the templates need is missing: an error, not "".
	_, err = plan.Render(ctx, "open_pr", pipeline.RenderContext{Event: pipeline.NewEventVars(event(t, events.TypePersonaPublished, "", map[string]any{"persona": "p"}))})
	if err == nil || !strings.Contains(err.Error(), "no such key") {
		t.Errorf("Render with missing payload keys = %v; want a no such key error", err)
	}
}

// TestMockForgeDocsStyle checks the documentation's spelling (type:,
// {{event.x}}, workspace_id filter).
func TestMockForgeDocsStyle(t *testing.T) {
	src := mustRead(t, "testdata/valid/mockforge-docs-style.yaml")
	plan := mustParse(t, newParser(), "docs-style.yaml", src).Plan()
	payload := map[string]any{"schema_type": "openapi", "spec_path": "specs/payments.yaml"}
	tests := []struct {
		name string
		ev   events.Event
		want bool
	}{
		{"payments openapi", event(t, events.TypeSchemaChanged, "payments", payload), true},
		{"other workspace", event(t, events.TypeSchemaChanged, "orders", payload), false},
		{"graphql", event(t, events.TypeSchemaChanged, "payments", map[string]any{"schema_type": "graphql"}), false},
		{"payload workspace_id is not the workspace", event(t, events.TypeSchemaChanged, "orders", map[string]any{"schema_type": "openapi", "workspace_id": "payments"}), false},
	}
	for _, tt := range tests {
		if got, err := pipeline.Matches(match(plan, tt.ev)); got != tt.want || err != nil {
			t.Errorf("%s: Matches = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
	ev := tests[0].ev
	r, err := plan.Render(context.Background(), "regenerate_sdks", pipeline.RenderContext{Event: pipeline.NewEventVars(ev)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"spec_path": "specs/payments.yaml", "languages": []any{"typescript", "rust"}, "output_dir": "./generated-sdks"}
	if diff := cmp.Diff(want, r.With); diff != "" {
		t.Errorf("Render(regenerate-sdks) mismatch (-want +got):\n%s", diff)
	}
	r, err = plan.Render(context.Background(), "notify_teams", pipeline.RenderContext{Event: pipeline.NewEventVars(ev)})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.With["message"]; got != "SDKs regenerated for payments" {
		t.Errorf("message = %q; want the workspace interpolated", got)
	}
	s, _ := plan.Step("regenerate_sdks")
	n, _ := plan.Step("notify_teams")
	if s.Timeout() != 300*time.Second || !n.ContinueOnError() || n.ContinueOnError() == s.ContinueOnError() {
		t.Errorf("timeout %v, continue_on_error %v/%v", s.Timeout(), s.ContinueOnError(), n.ContinueOnError())
	}
}

// TestMockForgeListFilterIsAnyOf documents the one extension over
// MockForge: a list filter value matches any of its items.
func TestMockForgeListFilterIsAnyOf(t *testing.T) {
	src := []byte(`name: list-filter
triggers:
  - event: schema.changed
    filters:
      schema_type: [openapi, protobuf]
      version: 2
steps:
  - name: tell
    type: notify
    config: {message: "{{schema_type}} v{{version}} in {{workspace_id}} ({{event_type}}, org {{org_id}})"}
`)
	plan := mustParse(t, newParser(), "list.yaml", src).Plan()
	for _, st := range []string{"openapi", "protobuf", "graphql"} {
		ev := event(t, events.TypeSchemaChanged, "ws", map[string]any{"schema_type": st, "version": 2})
		got, _ := pipeline.Matches(match(plan, ev))
		if want := st != "graphql"; got != want {
			t.Errorf("schema_type %s: Matches = %v; want %v", st, got, want)
		}
	}
	ev := event(t, events.TypeSchemaChanged, "ws", map[string]any{"schema_type": "openapi", "version": 2})
	ev.Org = "acme"
	r, err := plan.Render(context.Background(), "tell", pipeline.RenderContext{Event: pipeline.NewEventVars(ev)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.With["message"], "openapi v2 in ws (schema.changed, org acme)"; got != want {
		t.Errorf("message = %q; want %q", got, want)
	}
}
