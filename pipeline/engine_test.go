package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/memory"
	"github.com/mockops/mockops/store/sqlstore"
)

const onePipeline = `name: one
on: [{event: schema.changed}]
steps:
  - {id: a, uses: probe, with: {key: a}}
`

func TestEngineDefinitions(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	eng, err := pipeline.NewEngine(pipeline.Config{Store: st, Steps: registry(nil, nil)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		src     string
		version int64
		wantErr error // nil: stored
	}{
		{"create", onePipeline, 0, nil},
		{"replace", strings.Replace(onePipeline, "key: a", "key: b", 1), store.AnyVersion, nil},
		{"stale version", onePipeline, 1, store.ErrConflict},
		{"unknown step type", strings.Replace(onePipeline, "uses: probe", "uses: nope", 1), store.AnyVersion, pipeline.ErrorList{}},
		{"unknown concurrency mode", onePipeline + "concurrency: {mode: drop}\n", store.AnyVersion, pipeline.ErrorList{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := eng.Get(ctx, "one")
			_, err := eng.PutSource(ctx, "one.yaml", []byte(tt.src), tt.version)
			after, _ := eng.Get(ctx, "one")
			var list pipeline.ErrorList
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("PutSource = %v; want nil", err)
			case tt.wantErr == nil:
				if after.Version != before.Version+1 || string(after.Source) != tt.src {
					t.Errorf("stored version %d source %q; want version %d source %q", after.Version, after.Source, before.Version+1, tt.src)
				}
				return
			case errors.As(tt.wantErr, &list):
				if !errors.As(err, &list) {
					t.Errorf("PutSource = %v; want an ErrorList", err)
				}
			case !errors.Is(err, tt.wantErr):
				t.Errorf("PutSource = %v; want %v", err, tt.wantErr)
			}
			if after.Version != before.Version {
				t.Errorf("refused definition changed the stored version from %d to %d", before.Version, after.Version)
			}
		})
	}
	list, err := eng.List(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "one" || list[0].Version != 2 {
		t.Errorf("List = %+v, %v; want [one v2]", list, err)
	}
	if err := eng.Remove(ctx, "one"); err != nil {
		t.Fatalf("Remove = %v", err)
	}
	if _, err := eng.Get(ctx, "one"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get after Remove = %v; want ErrNotFound", err)
	}
	if _, err := eng.Trigger(ctx, "one", events.Event{}); !errors.Is(err, pipeline.ErrNotLoaded) {
		t.Errorf("Trigger after Remove = %v; want ErrNotLoaded", err)
	}
}

func TestEngineTestDecisions(t *testing.T) {
	eng, err := pipeline.NewEngine(pipeline.Config{Steps: registry(nil, nil), Secrets: mapSecrets{"TOKEN": "s3cr3t-value"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, src := range []string{
		`name: a-match
on: [{event: schema.changed, match: {data.kind: openapi}}]
steps:
  - {id: first, uses: probe, with: {key: "k-${{ event.data.kind }}", secret: "${{ secrets.TOKEN }}"}}
  - {id: second, uses: probe, if: "event.data.kind == 'grpc'", with: {key: x}}
  - {id: third, uses: probe, with: {key: "${{ steps.first.outputs.n }}"}}
`,
		`name: b-nomatch
on: [{event: schema.changed, match: {data.kind: grpc}}]
steps: [{id: s, uses: probe, with: {key: x}}]
`,
		`name: c-filterfails
on: [{event: schema.changed, if: "event.data.missing == 1"}]
steps: [{id: s, uses: probe, with: {key: x}}]
`,
	} {
		if _, err := eng.PutSource(ctx, "t.yaml", []byte(src), store.AnyVersion); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := eng.Test(ctx, event(t, events.TypeSchemaChanged, "ws", map[string]any{"kind": "openapi"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 3 {
		t.Fatalf("Test returned %d decisions; want 3", len(ds))
	}
	a, b, c := ds[0], ds[1], ds[2]
	if !a.Matched || len(a.Steps) != 3 {
		t.Fatalf("a-match: matched %v, %d steps; want matched with 3 steps (%+v)", a.Matched, len(a.Steps), a)
	}
	if diff := cmp.Diff(map[string]any{"key": "k-openapi", "secret": "***"}, a.Steps[0].With); diff != "" {
		t.Errorf("first step With mismatch (-want +got):\n%s", diff)
	}
	if !a.Steps[0].Run || a.Steps[1].Run {
		t.Errorf("if results: first %v second %v; want true, false", a.Steps[0].Run, a.Steps[1].Run)
	}
	if a.Steps[2].RenderErr == nil {
		t.Errorf("third step reads outputs a dry run lacks: RenderErr = nil; want an error")
	}
	if b.Matched || b.Err != nil || !strings.Contains(b.Reason, "grpc") {
		t.Errorf("b-nomatch = matched %v, reason %q, err %v; want not matched, a reason naming grpc", b.Matched, b.Reason, b.Err)
	}
	if c.Matched || c.Err == nil {
		t.Errorf("c-filterfails = matched %v, err %v; want not matched with a filter error", c.Matched, c.Err)
	}
	for _, d := range ds {
		if s := fmt.Sprintf("%+v", d); strings.Contains(s, "s3cr3t-value") {
			t.Errorf("decision %s holds the secret: %s", d.Pipeline, s)
		}
	}
	deep := event(t, events.TypeSchemaChanged, "ws", map[string]any{"kind": "openapi"})
	deep.Extensions = map[string]string{events.ExtDepth: "9"}
	ds, _ = eng.Test(ctx, deep)
	if ds[0].Matched || !errors.Is(ds[0].Err, pipeline.ErrCausationDepth) {
		t.Errorf("depth 9: matched %v err %v; want refused with ErrCausationDepth", ds[0].Matched, ds[0].Err)
	}
}

// TestEngineSemantics runs the semantics that need no clock on every store.
func TestEngineSemantics(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run(sk.name, func(t *testing.T) {
			t.Run("events run pipelines once", func(t *testing.T) { testEventsRunOnce(t, sk.open(t)) })
			t.Run("dag order", func(t *testing.T) { testDAGOrder(t, sk.open(t)) })
			t.Run("failures", func(t *testing.T) { testFailures(t, sk.open(t)) })
			t.Run("redaction", func(t *testing.T) { testRedaction(t, sk.open(t)) })
		})
	}
}

func testEventsRunOnce(t *testing.T, st store.Store) {
	c := &calls{}
	h := start(t, pipeline.Config{Store: st, Steps: registry(map[string]probeFunc{
		"a": func(_ context.Context, in steps.Input, _ probeConfig) (steps.Output, error) {
			return steps.Output{Outputs: map[string]any{"event": in.Event.ID}}, nil
		},
	}, c)})
	h.put(onePipeline)
	ev := event(t, events.TypeSchemaChanged, "ws", map[string]any{})
	ctx := context.Background()
	for range 3 { // a redelivered event: the same ID three times
		if err := h.bus.Publish(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	other := event(t, events.TypeScenarioPublished, "ws", map[string]any{})
	if err := h.bus.Publish(ctx, other); err != nil {
		t.Fatal(err)
	}
	// Shutdown drains the bus: every event has been handled after it.
	if err := h.bus.(*events.MemoryBus).Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := h.eng.Trigger(ctx, "one", ev)
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("Trigger with an event already run = %v; want ErrConflict", err)
	}
	xs := listAll(t, st, "one")
	if len(xs) != 1 {
		t.Fatalf("%d executions for one event; want 1", len(xs))
	}
	x := h.wait(xs[0].ID)
	if x.Status != store.StatusSucceeded || x.EventID != ev.ID {
		t.Errorf("execution = %s for event %s; want succeeded for %s", x.Status, x.EventID, ev.ID)
	}
	if got := string(stepRun(t, x, "a").Output); got != fmt.Sprintf(`{"event":%q}`, ev.ID) {
		t.Errorf("step output = %s; want the event id", got)
	}
	h.stop()
	if order, _ := c.got(); len(order) != 1 {
		t.Errorf("probe ran %d times (%v); want once", len(order), order)
	}
}

func testDAGOrder(t *testing.T, st store.Store) {
	c := &calls{}
	h := start(t, pipeline.Config{Store: st, Workers: 1, Steps: registry(map[string]probeFunc{
		"a": func(context.Context, steps.Input, probeConfig) (steps.Output, error) {
			return steps.Output{Outputs: map[string]any{"n": 2}}, nil
		},
		"c": func(_ context.Context, in steps.Input, cfg probeConfig) (steps.Output, error) {
			return steps.Output{Outputs: map[string]any{"saw": cfg.Value, "a": in.Steps["a"].Outputs["n"]}}, nil
		},
	}, c)})
	// Declared c, b, a; c needs b and a, b needs a.
	h.put(`name: dag
on: [{event: schema.changed}]
steps:
  - {id: c, uses: probe, needs: [b, a], with: {key: c, value: "${{ steps.a.outputs.n + 1.0 }}"}}
  - {id: b, uses: probe, needs: [a], with: {key: b}}
  - {id: a, uses: probe, needs: [], with: {key: a}}
`)
	x := h.trigger("dag", events.Event{})
	order, _ := c.got()
	if diff := cmp.Diff([]string{"a", "b", "c"}, order); diff != "" {
		t.Errorf("run order mismatch (-want +got):\n%s", diff)
	}
	if got := string(stepRun(t, x, "c").Output); got != `{"a":2,"saw":3}` {
		t.Errorf("c output = %s; want {\"a\":2,\"saw\":3}", got)
	}
}

func testFailures(t *testing.T, st store.Store) {
	c := &calls{}
	h := start(t, pipeline.Config{Store: st, Steps: registry(map[string]probeFunc{
		"fail": func(context.Context, steps.Input, probeConfig) (steps.Output, error) { return steps.Output{}, errBoom },
		"permanent": func(context.Context, steps.Input, probeConfig) (steps.Output, error) {
			return steps.Output{}, steps.Permanent(errBoom)
		},
		"panic": func(context.Context, steps.Input, probeConfig) (steps.Output, error) { panic("kaboom") },
		"twice": func(_ context.Context, in steps.Input, _ probeConfig) (steps.Output, error) {
			if want := in.Execution + "/s/" + fmt.Sprint(in.Attempt); in.IdempotencyKey != want {
				return steps.Output{}, steps.Permanent(fmt.Errorf("IdempotencyKey = %q; want %q", in.IdempotencyKey, want))
			}
			if in.Attempt < 3 {
				return steps.Output{}, errBoom
			}
			return steps.Output{Outputs: map[string]any{"attempt": in.Attempt}}, nil
		},
	}, c)})
	retry := "retry: {attempts: 3, backoff: 1ns, max_backoff: 1ns}"
	tests := []struct {
		name       string
		steps      string
		wantStatus store.Status
		want       map[string]store.Status
		attempts   map[string]int
	}{
		{"retried until success", "  - {id: s, uses: probe, with: {key: twice}, " + retry + "}\n",
			store.StatusSucceeded, map[string]store.Status{"s": store.StatusSucceeded}, map[string]int{"s": 3}},
		{"retries exhausted", "  - {id: s, uses: probe, with: {key: fail}, " + retry + "}\n",
			store.StatusFailed, map[string]store.Status{"s": store.StatusFailed}, map[string]int{"s": 3}},
		{"permanent not retried", "  - {id: s, uses: probe, with: {key: permanent}, " + retry + "}\n",
			store.StatusFailed, map[string]store.Status{"s": store.StatusFailed}, map[string]int{"s": 1}},
		{"panic recorded, not retried", "  - {id: s, uses: probe, with: {key: panic}, " + retry + "}\n",
			store.StatusFailed, map[string]store.Status{"s": store.StatusFailed}, map[string]int{"s": 1}},
		{"after a failure: skipped, always() runs",
			"  - {id: s, uses: probe, with: {key: fail}}\n  - {id: next, uses: probe, with: {key: n}}\n  - {id: cleanup, uses: probe, if: always(), with: {key: n}}\n  - {id: onfail, uses: probe, if: failure(), with: {key: n}}\n",
			store.StatusFailed, map[string]store.Status{"s": store.StatusFailed, "next": store.StatusSkipped, "cleanup": store.StatusSucceeded, "onfail": store.StatusSucceeded},
			map[string]int{"s": 1, "next": 0, "cleanup": 1}},
		{"continue on error",
			"  - {id: s, uses: probe, continue_on_error: true, with: {key: fail}}\n  - {id: next, uses: probe, with: {key: n}}\n  - {id: onfail, uses: probe, if: failure(), with: {key: n}}\n",
			store.StatusSucceeded, map[string]store.Status{"s": store.StatusFailed, "next": store.StatusSucceeded, "onfail": store.StatusSkipped},
			map[string]int{"s": 1, "next": 1}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("f%d", i)
			h.put("name: " + name + "\non: [{event: schema.changed}]\nsteps:\n" + tt.steps)
			x := h.trigger(name, events.Event{})
			if x.Status != tt.wantStatus {
				t.Errorf("status = %s (%s); want %s", x.Status, x.Error, tt.wantStatus)
			}
			if diff := cmp.Diff(tt.want, stepStatuses(x)); diff != "" {
				t.Errorf("step statuses mismatch (-want +got):\n%s", diff)
			}
			for id, n := range tt.attempts {
				if got := stepRun(t, x, id).Attempts; got != n {
					t.Errorf("step %s attempts = %d; want %d", id, got, n)
				}
			}
			for _, sr := range x.Steps {
				if strings.Contains(sr.Error, "goroutine") || strings.Contains(sr.Error, ".go:") {
					t.Errorf("step %s error holds a stack: %q", sr.ID, sr.Error)
				}
				if sr.ID == "s" && sr.Status == store.StatusFailed && sr.Error == "" {
					t.Errorf("failed step has no error recorded")
				}
			}
		})
	}
	coe := stepRun(t, listAll(t, st, "f5")[0], "s")
	if coe.Outcome != store.StatusFailed || coe.Conclusion != store.StatusSucceeded {
		t.Errorf("continue_on_error step: outcome %s conclusion %s; want failed, succeeded", coe.Outcome, coe.Conclusion)
	}
}

func testRedaction(t *testing.T, st store.Store) {
	const secret = "hunter2-very-secret"
	h := start(t, pipeline.Config{Store: st, Secrets: mapSecrets{"TOKEN": secret}, Steps: registry(map[string]probeFunc{
		"leak": func(_ context.Context, in steps.Input, cfg probeConfig) (steps.Output, error) {
			if cfg.Secret != secret {
				return steps.Output{}, fmt.Errorf("step got secret %q", cfg.Secret)
			}
			return steps.Output{Outputs: map[string]any{"echo": "token=" + cfg.Secret}}, nil
		},
		"leakerr": func(_ context.Context, in steps.Input, cfg probeConfig) (steps.Output, error) {
			return steps.Output{}, steps.Permanent(fmt.Errorf("auth with %s refused", cfg.Secret))
		},
	}, nil)})
	h.put(`name: red
on: [{event: schema.changed}]
steps:
  - {id: a, uses: probe, with: {key: leak, secret: "${{ secrets.TOKEN }}"}}
  - {id: b, uses: probe, with: {key: leakerr, secret: "${{ secrets.TOKEN }}"}}
`)
	x := h.trigger("red", events.Event{})
	if got := stepRun(t, x, "a"); got.Status != store.StatusSucceeded || string(got.Output) != `{"echo":"token=***"}` || string(got.With) != `{"key":"leak","secret":"***"}` {
		t.Errorf("step a = %s with %s output %s (%s); want succeeded, secret redacted in both", got.Status, got.With, got.Output, got.Error)
	}
	if got := stepRun(t, x, "b").Error; got != "auth with *** refused" {
		t.Errorf("step b error = %q; want the secret redacted", got)
	}
	if s := fmt.Sprintf("%+v", x); strings.Contains(s, secret) {
		t.Errorf("stored execution holds the secret: %s", s)
	}
}

// TestEngineDurableConsumer: on the SQL store's bus the engine is a named
// consumer, so events published while no engine runs start executions
// when the next one does.
func TestEngineDurableConsumer(t *testing.T) {
	st := openSQLite(t).(*sqlstore.Store)
	bus := st.Bus(sqlstore.BusConfig{})
	ran := make(chan string, 10)
	reg := registry(map[string]probeFunc{
		"a": func(_ context.Context, in steps.Input, _ probeConfig) (steps.Output, error) {
			ran <- in.Execution
			return steps.Output{}, nil
		},
	}, nil)
	first := start(t, pipeline.Config{Store: st, Bus: bus, Steps: reg})
	first.put(onePipeline)
	first.stop() // the consumer's position is now stored
	ev := event(t, events.TypeSchemaChanged, "ws", map[string]any{})
	if err := bus.Publish(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	second := start(t, pipeline.Config{Store: st, Bus: bus, Steps: reg})
	x := second.wait(<-ran)
	if x.Status != store.StatusSucceeded || x.EventID != ev.ID {
		t.Errorf("execution %s for %s; want succeeded for the event published while stopped (%s)", x.Status, x.EventID, ev.ID)
	}
}

// TestEngineOutputsAndPanicLog: outputs past MaxOutputSize are stored as a
// truncation marker; a panic's stack goes to the log, not the record.
func TestEngineOutputsAndPanicLog(t *testing.T) {
	var logs strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(lockedWriter{&mu, &logs}, nil))
	h := start(t, pipeline.Config{MaxOutputSize: 64, Logger: logger, Steps: registry(map[string]probeFunc{
		"big": func(context.Context, steps.Input, probeConfig) (steps.Output, error) {
			return steps.Output{Outputs: map[string]any{"blob": strings.Repeat("x", 100)}}, nil
		},
		"small": func(context.Context, steps.Input, probeConfig) (steps.Output, error) {
			return steps.Output{Outputs: map[string]any{"n": 1}}, nil
		},
		"panic": func(context.Context, steps.Input, probeConfig) (steps.Output, error) { panic("kaboom") },
	}, nil)})
	h.put(`name: out
on: [{event: schema.changed}]
steps:
  - {id: big, uses: probe, with: {key: big}}
  - {id: small, uses: probe, with: {key: small}}
  - {id: p, uses: probe, with: {key: panic}}
`)
	x := h.trigger("out", events.Event{})
	tests := []struct{ step, want string }{
		{"big", `{"size":111,"truncated":true}`},
		{"small", `{"n":1}`},
	}
	for _, tt := range tests {
		if got := string(stepRun(t, x, tt.step).Output); got != tt.want {
			t.Errorf("step %s output = %s; want %s", tt.step, got, tt.want)
		}
	}
	p := stepRun(t, x, "p")
	if p.Status != store.StatusFailed || !strings.Contains(p.Error, "kaboom") || strings.Contains(p.Error, "goroutine") {
		t.Errorf("panicking step = %s, error %q; want failed with the panic value and no stack", p.Status, p.Error)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), `"msg":"pipeline: step panicked"`) || !strings.Contains(logs.String(), "runtime/debug.Stack") {
		t.Errorf("log lacks the panic with its stack:\n%s", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
