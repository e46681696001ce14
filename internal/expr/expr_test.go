package expr

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mockops/mockops/events"
)

func newEnv(t testing.TB) *Env {
	t.Helper()
	env, err := NewEnv(Config{})
	if err != nil {
		t.Fatalf("NewEnv: %v", err)
	}
	return env
}

func sampleVars(t testing.TB) *Vars {
	t.Helper()
	ev, err := events.New(events.TypeSchemaChanged, "payments",
		map[string]any{"spec_path": "specs/pay.yaml", "count": 3, "ratio": 0.5,
			"langs": []string{"go", "ts"}, "meta": map[string]any{"owner": "team-a"}})
	if err != nil {
		t.Fatal(err)
	}
	ev.Org = "acme"
	ev.Extensions = map[string]string{"traceparent": "00-abc"}
	evs, err := NewEventVars(ev)
	if err != nil {
		t.Fatal(err)
	}
	return &Vars{
		Event:     evs,
		Steps:     map[string]StepVars{"sdk": {Outputs: map[string]any{"files": int64(4)}, Outcome: "success", Conclusion: "success"}},
		Pipeline:  map[string]any{"name": "p1", "workspace": "payments"},
		Execution: map[string]any{"id": "ex1", "attempt": int64(1)},
		Secrets:   map[string]string{"TOKEN": "s3cret"},
	}
}

func TestCompileAndEval(t *testing.T) {
	env := newEnv(t)
	vars := sampleVars(t)
	tests := []struct {
		src   string
		scope Scope
		want  any
	}{
		{`event.data.spec_path`, ScopeTrigger, "specs/pay.yaml"},
		{`event.data.count + 1`, ScopeTrigger, int64(4)},
		{`event.data.ratio * 2.0`, ScopeTrigger, 1.0},
		{`event.data.langs`, ScopeTrigger, []any{"go", "ts"}},
		{`event.data.meta`, ScopeTrigger, map[string]any{"owner": "team-a"}},
		{`event.workspace == "payments" && event.org == "acme"`, ScopeTrigger, true},
		{`event.type`, ScopeTrigger, "schema.changed"},
		{`event.extensions.traceparent`, ScopeTrigger, "00-abc"},
		{`has(event.data.missing)`, ScopeTrigger, false},
		{`has(event.data.meta.owner)`, ScopeTrigger, true},
		{`event.data.?missing.orValue("dflt")`, ScopeTrigger, "dflt"},
		{`event.data.count > 2 ? "big" : "small"`, ScopeTrigger, "big"},
		{`pipeline.name`, ScopeTrigger, "p1"},
		{`steps.sdk.outputs.files`, ScopeStep, int64(4)},
		{`steps.sdk.outcome`, ScopeStep, "success"},
		{`execution.attempt`, ScopeStep, int64(1)},
		{`secrets.TOKEN`, ScopeWith, "s3cret"},
		{`success() && !failure() && !cancelled() && always()`, ScopeStep, true},
		{`event.data.spec_path.startsWith("specs/")`, ScopeTrigger, true},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			p, errs := env.Compile(tt.src, tt.scope)
			if errs != nil {
				t.Fatalf("Compile(%q) = %v", tt.src, errs)
			}
			got, err := p.Eval(context.Background(), vars)
			if err != nil {
				t.Fatalf("Eval(%q) = %v", tt.src, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Eval(%q) mismatch (-want +got):\n%s", tt.src, diff)
			}
		})
	}
}

func TestStatusFunctionsReadActivation(t *testing.T) {
	env := newEnv(t)
	tests := []struct {
		status Status
		want   map[string]bool
	}{
		{Status{}, map[string]bool{"success()": true, "failure()": false, "cancelled()": false, "always()": true}},
		{Status{Failed: true}, map[string]bool{"success()": false, "failure()": true, "cancelled()": false, "always()": true}},
		{Status{Cancelled: true}, map[string]bool{"success()": false, "failure()": false, "cancelled()": true, "always()": true}},
	}
	for _, tt := range tests {
		for src, want := range tt.want {
			p, errs := env.CompileCondition(src, ScopeStep)
			if errs != nil {
				t.Fatalf("CompileCondition(%q) = %v", src, errs)
			}
			got, err := p.EvalBool(context.Background(), &Vars{Status: tt.status})
			if err != nil || got != want {
				t.Errorf("%+v: EvalBool(%q) = %v, %v; want %v", tt.status, src, got, err, want)
			}
		}
	}
}

func TestCompileErrors(t *testing.T) {
	env := newEnv(t)
	tests := []struct {
		src      string
		scope    Scope
		cond     bool
		offset   int
		contains string
	}{
		{`event.data.x ==`, ScopeTrigger, false, 15, "Syntax error"},
		{`nope == 1`, ScopeTrigger, false, 0, "undeclared reference to 'nope'"},
		{`event.dtaa.x`, ScopeTrigger, false, 6, `event has no field "dtaa"`},
		{`secrets.TOKEN == "x"`, ScopeStep, false, 0, "secrets are only available in with:"},
		{`secrets.TOKEN == "x"`, ScopeTrigger, false, 0, "secrets are only available in with:"},
		{`steps.a.outcome == "success"`, ScopeTrigger, false, 0, "steps is not available in a trigger"},
		{`true && success()`, ScopeTrigger, true, 8, "success() is only available in steps"},
		{`secrets["TOK" + "EN"]`, ScopeWith, false, 0, "secrets must be read by a literal name"},
		{`"a" + 1`, ScopeTrigger, false, 4, "no matching overload"},
		{`event.data.spec_path`, ScopeTrigger, false, -1, ""},
		{`"text"`, ScopeTrigger, true, 0, "condition must be a bool, got string"},
		{`1 + 2`, ScopeTrigger, true, 0, "condition must be a bool, got int"},
		{`event.data.items.all(x, event.data.items.all(y, event.data.items.all(z, x == y && y == z)))`, ScopeTrigger, true, 0, "expression too expensive"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			var errs []*Error
			if tt.cond {
				_, errs = env.CompileCondition(tt.src, tt.scope)
			} else {
				_, errs = env.Compile(tt.src, tt.scope)
			}
			if tt.offset < 0 {
				if errs != nil {
					t.Fatalf("Compile(%q) = %v; want no error", tt.src, errs)
				}
				return
			}
			if len(errs) == 0 {
				t.Fatalf("Compile(%q) = no error; want %q", tt.src, tt.contains)
			}
			if !strings.Contains(errs[0].Msg, tt.contains) || errs[0].Offset != tt.offset {
				t.Errorf("Compile(%q) = %d:%q; want %d:%q", tt.src, errs[0].Offset, errs[0].Msg, tt.offset, tt.contains)
			}
		})
	}
}

func TestMissingFieldIsAnError(t *testing.T) {
	env := newEnv(t)
	vars := sampleVars(t)
	for _, src := range []string{`event.data.missing`, `event.data.meta.nope`, `steps.other.outputs`, `secrets.NOPE`} {
		p, errs := env.Compile(src, ScopeWith)
		if errs != nil {
			t.Fatalf("Compile(%q) = %v", src, errs)
		}
		got, err := p.Eval(context.Background(), vars)
		if err == nil {
			t.Errorf("Eval(%q) = %v; want an error", src, got)
		}
	}
}

func TestEvalHonoursContextAndCostLimit(t *testing.T) {
	env, err := NewEnv(Config{CostBudget: 1 << 40, CostLimit: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	items := make([]int, 5000)
	ev, _ := events.New("custom.big", "", map[string]any{"items": items})
	evs, err := NewEventVars(ev)
	if err != nil {
		t.Fatal(err)
	}
	p, errs := env.CompileCondition(`event.data.items.all(x, event.data.items.all(y, x == y))`, ScopeTrigger)
	if errs != nil {
		t.Fatal(errs)
	}
	if _, err := p.EvalBool(context.Background(), &Vars{Event: evs}); err == nil || !strings.Contains(err.Error(), "cost limit") {
		t.Errorf("EvalBool over the cost limit = %v; want a cost limit error", err)
	}
	env2, _ := NewEnv(Config{CostBudget: 1 << 40, CostLimit: 1 << 40})
	p2, _ := env2.CompileCondition(`event.data.items.all(x, event.data.items.all(y, x == y))`, ScopeTrigger)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := p2.EvalBool(ctx, &Vars{Event: evs}); err == nil {
		t.Errorf("EvalBool with an expired context = nil error")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancelled evaluation took %v", d)
	}
}

func TestRefs(t *testing.T) {
	env := newEnv(t)
	p, errs := env.Compile(`steps.a.outcome + secrets.TOKEN + string(steps.b.outputs.n) + (always() ? "" : "")`, ScopeWith)
	if errs != nil {
		t.Fatal(errs)
	}
	want := Refs{
		Steps:   []Ref{{Name: "a", Offset: 0}, {Name: "b", Offset: 41}},
		Secrets: []Ref{{Name: "TOKEN", Offset: 18}},
		Status:  true,
	}
	if diff := cmp.Diff(want, p.Refs()); diff != "" {
		t.Errorf("Refs mismatch (-want +got):\n%s", diff)
	}
	// A comprehension variable named like a global is not a reference.
	p, errs = env.Compile(`[1].map(secrets, secrets + 1)`, ScopeTrigger)
	if errs != nil {
		t.Fatalf("shadowing comprehension variable: %v", errs)
	}
	if len(p.Refs().Secrets) != 0 {
		t.Errorf("Refs = %+v; want no secrets", p.Refs())
	}
}

func TestNewEventVars(t *testing.T) {
	ev, err := events.New("custom.x", "ws", json.RawMessage(`{"i": 3, "f": 3.5, "e": 1e3, "big": 12345678901234567890, "s": "x", "n": null, "l": [1, "a"], "m": {"k": true}}`))
	if err != nil {
		t.Fatal(err)
	}
	evs, err := NewEventVars(ev)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"i": int64(3), "f": 3.5, "e": 1000.0, "big": 12345678901234567890.0, "s": "x", "n": nil, "l": []any{int64(1), "a"}, "m": map[string]any{"k": true}}
	if diff := cmp.Diff(want, evs.Map()["data"]); diff != "" {
		t.Errorf("data mismatch (-want +got):\n%s", diff)
	}
	if got := evs.Map()["workspace"]; got != "ws" {
		t.Errorf("workspace = %v", got)
	}
	empty, err := NewEventVars(events.Event{ID: "1", Type: "a.b", Source: "s"})
	if err != nil || len(empty.Map()["data"].(map[string]any)) != 0 {
		t.Errorf("NewEventVars(no data) = %v, %v; want empty data", empty, err)
	}
	for _, raw := range []string{`[1]`, `{"a":`} {
		if _, err := NewEventVars(events.Event{ID: "1", Data: json.RawMessage(raw)}); err == nil {
			t.Errorf("NewEventVars(%s) = nil error", raw)
		}
	}
}

// TestCompileBytesMapKeyIsAnError: cel-go's planner panics on a constant
// map literal with a bytes key; Compile reports it instead.
func TestCompileBytesMapKeyIsAnError(t *testing.T) {
	env := newEnv(t)
	for _, src := range []string{`{b'k': 1}`, `[{b'k': 1}].size()`} {
		if _, errs := env.Compile(src, ScopeTrigger); len(errs) != 1 || !strings.Contains(errs[0].Msg, "cannot plan expression") {
			t.Errorf("Compile(%s) = %v; want one planning error", src, errs)
		}
	}
}
