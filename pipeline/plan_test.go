package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
)

func loadValid(t testing.TB, name string) *pipeline.Plan {
	t.Helper()
	src, err := os.ReadFile("testdata/valid/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return mustParse(t, newParser(), name, src).Plan()
}

func event(t testing.TB, typ events.Type, ws string, data any) events.Event {
	t.Helper()
	ev, err := events.New(typ, ws, data)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestMatch(t *testing.T) {
	plan := loadValid(t, "design-example.yaml")
	tests := []struct {
		name    string
		ev      events.Event
		matched bool
		reason  string // substring of the first unmatched trigger's reason
		isErr   bool
	}{
		{"schema openapi", event(t, events.TypeSchemaChanged, "payments", map[string]any{"schema_type": "openapi"}), true, "", false},
		{"schema graphql", event(t, events.TypeSchemaChanged, "payments", map[string]any{"schema_type": "graphql"}), false, `if: event.data.schema_type in ["openapi", "protobuf"] is false`, false},
		{"schema without field fails", event(t, events.TypeSchemaChanged, "payments", map[string]any{"other": 1}), false, "", true},
		{"other workspace", event(t, events.TypeSchemaChanged, "orders", map[string]any{"schema_type": "openapi"}), false, `workspace "orders" is not the pipeline's workspace "payments"`, false},
		{"drift on payments", event(t, events.TypeDriftThresholdExceeded, "payments", map[string]any{"endpoint": "/payments"}), true, "", false},
		{"drift elsewhere", event(t, events.TypeDriftThresholdExceeded, "payments", map[string]any{"endpoint": "/orders"}), false, `match data.endpoint: "/orders" is not "/payments"`, false},
		{"drift without endpoint", event(t, events.TypeDriftThresholdExceeded, "payments", map[string]any{}), false, "match data.endpoint: the event has no such field", false},
		{"unrelated type", event(t, events.TypeConfigChanged, "payments", nil), false, `event type "config.changed" is not "schema.changed"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			results := match(plan, tt.ev)
			if len(results) != 2 {
				t.Fatalf("Match returned %d results; want 2", len(results))
			}
			matched, err := pipeline.Matches(results)
			if matched != tt.matched {
				t.Errorf("Matches = %v; want %v (%+v)", matched, tt.matched, results)
			}
			if (err != nil) != tt.isErr {
				t.Errorf("Matches error = %v; want error %v", err, tt.isErr)
			}
			if tt.reason != "" {
				found := false
				for _, r := range results {
					found = found || (!r.Matched && strings.Contains(r.Reason, tt.reason))
				}
				if !found {
					t.Errorf("no result has reason %q: %+v", tt.reason, results)
				}
			}
			for _, r := range results {
				if r.Err != nil && (r.Matched || r.Reason != "") {
					t.Errorf("a failed filter must not also match or have a reason: %+v", r)
				}
			}
		})
	}
}

func TestMatchKeys(t *testing.T) {
	src := `name: keys
on:
  - event: custom.thing
    match:
      data.kind: [a, b]
      data.count: 3
      data.flag: true
      data.nested.name: x
      subject: s1
      extensions.region: eu
steps:
  - id: e
    uses: emit
    with: {type: x.y}
`
	plan := mustParse(t, newParser(), "keys.yaml", []byte(src)).Plan()
	base := func(mut func(m map[string]any), subject string, ext map[string]string) events.Event {
		m := map[string]any{"kind": "b", "count": 3.0, "flag": true, "nested": map[string]any{"name": "x"}}
		if mut != nil {
			mut(m)
		}
		ev := event(t, "custom.thing", "", m)
		ev.Subject, ev.Extensions = subject, ext
		return ev
	}
	eu := map[string]string{"region": "eu"}
	tests := []struct {
		name string
		ev   events.Event
		want bool
	}{
		{"all keys", base(nil, "s1", eu), true},
		{"any of list", base(func(m map[string]any) { m["kind"] = "a" }, "s1", eu), true},
		{"not in list", base(func(m map[string]any) { m["kind"] = "c" }, "s1", eu), false},
		{"string 3 is not number 3", base(func(m map[string]any) { m["count"] = "3" }, "s1", eu), false},
		{"bool", base(func(m map[string]any) { m["flag"] = false }, "s1", eu), false},
		{"nested", base(func(m map[string]any) { m["nested"] = map[string]any{"name": "y"} }, "s1", eu), false},
		{"subject", base(nil, "s2", eu), false},
		{"extension", base(nil, "s1", map[string]string{"region": "us"}), false},
		{"missing extension", base(nil, "s1", nil), false},
	}
	for _, tt := range tests {
		got, err := pipeline.Matches(match(plan, tt.ev))
		if got != tt.want || err != nil {
			t.Errorf("%s: Matches = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
}

type mapSecrets map[string]string

func (m mapSecrets) Secret(_ context.Context, name string) (string, error) {
	if v, ok := m[name]; ok {
		return v, nil
	}
	return "", steps.ErrSecretNotFound
}

func TestRender(t *testing.T) {
	plan := loadValid(t, "design-example.yaml")
	ev := event(t, events.TypeSchemaChanged, "payments", map[string]any{"schema_type": "openapi", "spec_path": "specs/pay.yaml"})
	rc := pipeline.RenderContext{
		Event:   pipeline.NewEventVars(ev),
		Steps:   map[string]pipeline.StepState{"sdk": {Outcome: "failure", Conclusion: "failure"}},
		Secrets: mapSecrets{"SLACK_WEBHOOK": "https://hooks.example/T/B/secret"},
	}
	ctx := context.Background()
	sdk, err := plan.Render(ctx, "sdk", rc)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"spec": "specs/pay.yaml", "languages": []any{"typescript", "go"}}, sdk.With); diff != "" {
		t.Errorf("Render(sdk) mismatch (-want +got):\n%s", diff)
	}
	tell, err := plan.Render(ctx, "tell", rc)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"channel":     "slack", // from defaults.with.notify
		"webhook_url": "https://hooks.example/T/B/secret",
		"message":     "SDKs for payments: failure",
	}
	if diff := cmp.Diff(want, tell.With); diff != "" {
		t.Errorf("Render(tell) mismatch (-want +got):\n%s", diff)
	}
	if got := tell.Redacted()["webhook_url"]; got != "***" {
		t.Errorf("Redacted webhook_url = %v; want ***", got)
	}
	// Without the secret, rendering fails instead of producing "".
	if _, err := plan.Render(ctx, "tell", pipeline.RenderContext{Event: pipeline.NewEventVars(ev), Steps: rc.Steps, Secrets: mapSecrets{}}); !errors.Is(err, steps.ErrSecretNotFound) {
		t.Errorf("Render without secret = %v; want ErrSecretNotFound", err)
	}
	// A missing payload field is an error.
	noSpec := event(t, events.TypeSchemaChanged, "payments", map[string]any{"schema_type": "openapi"})
	if _, err := plan.Render(ctx, "sdk", pipeline.RenderContext{Event: pipeline.NewEventVars(noSpec)}); err == nil || !strings.Contains(err.Error(), "with.spec") {
		t.Errorf("Render with a missing field = %v; want an error naming with.spec", err)
	}
	if _, err := plan.Render(ctx, "nope", rc); !errors.Is(err, pipeline.ErrUnknownStep) {
		t.Errorf("Render(nope) = %v; want ErrUnknownStep", err)
	}
}

func TestPlanShape(t *testing.T) {
	plan := loadValid(t, "design-example.yaml")
	type shape struct {
		ID, Uses        string
		Needs           []string
		Timeout         time.Duration
		Retry           pipeline.Retry
		ContinueOnError bool
		If              string
		Secrets         []string
	}
	var got []shape
	for _, s := range plan.Steps() {
		got = append(got, shape{s.ID(), s.Uses(), s.Needs(), s.Timeout(), s.Retry(), s.ContinueOnError(), s.If(), s.Secrets()})
	}
	retry := pipeline.Retry{Attempts: 3, Backoff: 2 * time.Second, MaxBackoff: time.Minute}
	want := []shape{
		{"sdk", "regenerate_sdk", []string{}, 5 * time.Minute, retry, false, "", nil},
		{"tell", "notify", []string{"sdk"}, 5 * time.Minute, retry, true, "always()", []string{"SLACK_WEBHOOK"}},
		{"pr", "create_pr", []string{"sdk"}, 5 * time.Minute, retry, false, "", nil},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("steps mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]events.Type{events.TypeSchemaChanged, events.TypeDriftThresholdExceeded}, plan.EventTypes()); diff != "" {
		t.Errorf("EventTypes mismatch (-want +got):\n%s", diff)
	}
	if plan.Name() != "sdk-on-schema-change" || plan.Workspace() != "payments" || plan.ConcurrencyMode() != pipeline.ModeQueue {
		t.Errorf("plan = %q %q %q", plan.Name(), plan.Workspace(), plan.ConcurrencyMode())
	}
	group, err := plan.ConcurrencyGroup(context.Background(), pipeline.NewEventVars(event(t, events.TypeSchemaChanged, "payments", nil)))
	if err != nil || group != "payments" {
		t.Errorf("ConcurrencyGroup = %q, %v; want payments", group, err)
	}
	order := plan.Order()
	if len(order) != 3 || order[0] != "sdk" {
		t.Errorf("Order = %v; want sdk first", order)
	}
}

func TestDefaultsAndImplicitEdges(t *testing.T) {
	src := `name: edges
on: [{event: schema.changed}]
steps:
  - {id: a, uses: emit, with: {type: x.y}}
  - {id: b, uses: emit, with: {type: x.y}, timeout: 30s, retry: {attempts: 2}}
  - {id: c, uses: emit, with: {type: x.y}, needs: []}
  - {id: d, uses: emit, with: {type: x.y}, needs: [a, c]}
  - {id: e, uses: emit, with: {type: x.y}}
`
	plan := mustParse(t, newParser(), "edges.yaml", []byte(src)).Plan()
	wantNeeds := map[string][]string{"a": {}, "b": {"a"}, "c": {}, "d": {"a", "c"}, "e": {"d"}}
	for id, want := range wantNeeds {
		s, _ := plan.Step(id)
		if diff := cmp.Diff(want, s.Needs()); diff != "" {
			t.Errorf("Needs(%s) mismatch (-want +got):\n%s", id, diff)
		}
	}
	a, _ := plan.Step("a")
	b, _ := plan.Step("b")
	if a.Timeout() != pipeline.DefaultTimeout || b.Timeout() != 30*time.Second {
		t.Errorf("timeouts = %v, %v; want %v, 30s", a.Timeout(), b.Timeout(), pipeline.DefaultTimeout)
	}
	if b.Retry() != (pipeline.Retry{Attempts: 2, Backoff: time.Second, MaxBackoff: time.Minute}) {
		t.Errorf("Retry(b) = %+v", b.Retry())
	}
	pos := map[string]int{}
	for i, id := range plan.Order() {
		pos[id] = i
	}
	for id, needs := range wantNeeds {
		for _, n := range needs {
			if pos[n] > pos[id] {
				t.Errorf("Order %v puts %s before its dependency %s", plan.Order(), id, n)
			}
		}
	}
}

func TestShouldRun(t *testing.T) {
	src := `name: conds
on: [{event: schema.changed}]
steps:
  - {id: a, uses: emit, with: {type: x.y}}
  - {id: b, uses: emit, with: {type: x.y}, if: 'event.data.go'}
  - {id: c, uses: emit, with: {type: x.y}, if: 'failure()'}
  - {id: d, uses: emit, with: {type: x.y}, if: 'always() && steps.a.outcome == "failure"'}
`
	plan := mustParse(t, newParser(), "conds.yaml", []byte(src)).Plan()
	ev := event(t, events.TypeSchemaChanged, "", map[string]any{"go": true})
	failedA := map[string]pipeline.StepState{"a": {Outcome: "failure", Conclusion: "failure"}}
	tests := []struct {
		step   string
		failed bool
		steps  map[string]pipeline.StepState
		want   bool
	}{
		{"a", false, nil, true},
		{"a", true, nil, false},
		{"b", false, nil, true},
		{"b", true, nil, false}, // no status function: success() && cond
		{"c", false, nil, false},
		{"c", true, nil, true},
		{"d", true, failedA, true},
	}
	for _, tt := range tests {
		got, err := plan.ShouldRun(context.Background(), tt.step, pipeline.RenderContext{Event: pipeline.NewEventVars(ev), Failed: tt.failed, Steps: tt.steps})
		if err != nil || got != tt.want {
			t.Errorf("ShouldRun(%s, failed=%v) = %v, %v; want %v", tt.step, tt.failed, got, err, tt.want)
		}
	}
}

func TestParseWithoutRegistry(t *testing.T) {
	src := []byte(`name: any-types
on: [{event: schema.changed}]
steps:
  - {id: a, uses: host_specific_step, with: {anything: 1}}
`)
	if _, err := pipeline.Parse("a.yaml", src); err != nil {
		t.Errorf("Parse without registry = %v; want nil", err)
	}
	if _, err := newParser().Parse("a.yaml", src); err == nil || !strings.Contains(err.Error(), `unknown step type "host_specific_step"`) {
		t.Errorf("Parse with registry = %v; want unknown step type", err)
	}
	// Without a registry, uses: follows the rule steps.Register enforces.
	for _, typ := range []string{"Bad Type", "9lives", "-x"} {
		bad := []byte("name: x\non: [{event: a.b}]\nsteps: [{id: a, uses: " + typ + "}]\n")
		if _, err := pipeline.Parse("b.yaml", bad); err == nil || !strings.Contains(err.Error(), "b.yaml:3:23: invalid step type") {
			t.Errorf("Parse(uses: %s) = %v; want invalid step type at 3:23", typ, err)
		}
	}
}

// TestPlanConcurrentUse runs Match and Render from many goroutines on one
// plan; with -race it checks that plans are safe to share.
func TestPlanConcurrentUse(t *testing.T) {
	plan := loadValid(t, "design-example.yaml")
	x := pipeline.NewIndex(plan)
	ev := event(t, events.TypeSchemaChanged, "payments", map[string]any{"schema_type": "openapi", "spec_path": "s.yaml"})
	done := make(chan error)
	for range 8 {
		go func() {
			for range 50 {
				if ok, err := pipeline.Matches(match(plan, ev)); !ok || err != nil {
					done <- fmt.Errorf("Matches = %v, %v", ok, err)
					return
				}
				if hits, failed := x.Match(context.Background(), pipeline.NewEventVars(ev)); len(hits) != 1 || len(failed) != 0 {
					done <- fmt.Errorf("index hits = %d, failed = %v", len(hits), failed)
					return
				}
				if _, err := plan.Render(context.Background(), "sdk", pipeline.RenderContext{Event: pipeline.NewEventVars(ev)}); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
