package pipeline_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/memory"
)

// clock is an injected Config.Clock that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestEngineRetention: Prune deletes, in batches, the executions that
// finished more than Retention ago on the injected clock, and never an
// unfinished one, on every store.
func TestEngineRetention(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run(sk.name, func(t *testing.T) {
			ctx := context.Background()
			st := sk.open(t)
			clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			release := make(chan struct{})
			reg := registry(map[string]probeFunc{
				"hold": func(ctx context.Context, _ steps.Input, _ probeConfig) (steps.Output, error) {
					select {
					case <-release:
						return steps.Output{}, nil
					case <-ctx.Done():
						return steps.Output{}, ctx.Err()
					}
				},
			}, nil)
			h := start(t, pipeline.Config{Store: st, Steps: reg, Clock: clk.Now, Retention: time.Hour, PruneBatch: 2})
			h.put(onePipeline)
			h.put("name: held\non: [{event: acme.held}]\nsteps: [{id: s, uses: probe, with: {key: hold}}]\n")
			const finished = 5
			for range finished {
				if x := h.trigger("one", events.Event{}); x.Status != store.StatusSucceeded {
					t.Fatalf("execution %s", x.Status)
				}
			}
			held, err := h.eng.Trigger(ctx, "held", events.Event{})
			if err != nil {
				t.Fatal(err)
			}
			defer close(release)

			clk.Add(59 * time.Minute)
			if n, err := h.eng.Prune(ctx); n != 0 || err != nil {
				t.Errorf("Prune before Retention passed = %d, %v; want 0, nil", n, err)
			}
			clk.Add(2 * time.Minute)
			if n, err := h.eng.Prune(ctx); n != finished || err != nil {
				t.Errorf("Prune after Retention = %d, %v; want %d, nil", n, err, finished)
			}
			if got := listAll(t, st, "one"); len(got) != 0 {
				t.Errorf("%d finished executions left; want 0", len(got))
			}
			if _, err := st.GetExecution(ctx, held); err != nil {
				t.Errorf("unfinished execution pruned: GetExecution = %v", err)
			}
			if got := h.eng.Stats().Pruned; got != finished {
				t.Errorf("Stats().Pruned = %d; want %d", got, finished)
			}
			// A pruned execution's (pipeline, event) pair is free again.
			if x := h.trigger("one", events.Event{ID: "again"}); x.Status != store.StatusSucceeded {
				t.Errorf("execution after pruning %s", x.Status)
			}
		})
	}
}

// TestEnginePruneLoop: Run prunes every PruneInterval by itself.
func TestEnginePruneLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := memory.New()
		clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		h := start(t, pipeline.Config{Store: st, Steps: registry(nil, nil), Clock: clk.Now, Retention: time.Hour, PruneInterval: time.Minute})
		h.put(onePipeline)
		h.trigger("one", events.Event{})
		h.trigger("one", events.Event{})
		clk.Add(2 * time.Hour)
		time.Sleep(30 * time.Second) // half an interval: not yet
		synctest.Wait()
		if got := len(listAll(t, st, "one")); got != 2 {
			t.Fatalf("%d executions before the first prune round; want 2", got)
		}
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if got := len(listAll(t, st, "one")); got != 0 {
			t.Errorf("%d executions after a prune round; want 0", got)
		}
	})
}

// noPruneStore hides the memory store's PruneExecutions.
type noPruneStore struct{ store.Store }

func TestEngineRetentionConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  pipeline.Config
		want error // nil: NewEngine succeeds
	}{
		{"store without PruneExecutions", pipeline.Config{Store: noPruneStore{memory.New()}, Retention: time.Hour}, pipeline.ErrNoPrune},
		{"no retention, any store", pipeline.Config{Store: noPruneStore{memory.New()}}, nil},
		{"negative retention", pipeline.Config{Retention: -time.Second}, errAny},
		{"unknown rescue policy", pipeline.Config{OnRescue: 7}, errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := pipeline.NewEngine(tt.cfg)
			switch {
			case tt.want == nil && err != nil:
				t.Errorf("NewEngine = %v; want nil", err)
			case tt.want == errAny && err == nil, tt.want != nil && tt.want != errAny && !errors.Is(err, tt.want):
				t.Errorf("NewEngine = %v; want %v", err, tt.want)
			}
			if err == nil && tt.cfg.Retention == 0 {
				if _, err := e.Prune(context.Background()); !errors.Is(err, pipeline.ErrNoPrune) {
					t.Errorf("Prune without Retention = %v; want ErrNoPrune", err)
				}
			}
		})
	}
}

var errAny = errors.New("any error")

// ghostRun leaves an execution as an owner that died would: claimed,
// step a succeeded, step b running, c not started, lease expiring.
func ghostRun(t *testing.T, st store.Store, lease time.Duration) store.Execution {
	t.Helper()
	ctx := context.Background()
	x, err := st.CreateExecution(ctx, store.Execution{Pipeline: "resume", Version: 1, EventID: "ghost-event"})
	if err != nil {
		t.Fatal(err)
	}
	xs, err := st.ClaimExecutions(ctx, "ghost", lease, 1)
	if err != nil || len(xs) != 1 {
		t.Fatalf("ghost claim = %v, %v", xs, err)
	}
	x = xs[0]
	now := time.Now()
	x.Steps = []store.StepRun{
		{ID: "a", Uses: "probe", Status: store.StatusSucceeded, Outcome: store.StatusSucceeded, Conclusion: store.StatusSucceeded, Attempts: 1, StartedAt: now, FinishedAt: now},
		{ID: "b", Uses: "probe", Status: store.StatusRunning, Attempts: 1, StartedAt: now},
		{ID: "c", Uses: "probe", Status: store.StatusQueued},
	}
	if x, err = st.UpdateExecution(ctx, x); err != nil {
		t.Fatal(err)
	}
	return x
}

const resumeSrc = "name: resume\non: [{event: schema.changed}]\nsteps:\n  - {id: a, uses: probe, with: {key: a}}\n  - {id: b, uses: probe, with: {key: b}}\n  - {id: c, uses: probe, with: {key: c}}\n"

// TestEngineOnRescue: an execution whose owner's lease expired is resumed
// from its first unfinished step, or failed without running anything
// under RescueFail; either way it counts as a rescue.
func TestEngineOnRescue(t *testing.T) {
	tests := []struct {
		policy pipeline.RescuePolicy
		status store.Status
		steps  map[string]store.Status
		ran    []string
	}{
		{pipeline.RescueResume, store.StatusSucceeded,
			map[string]store.Status{"a": store.StatusSucceeded, "b": store.StatusSucceeded, "c": store.StatusSucceeded}, []string{"b", "c"}},
		{pipeline.RescueFail, store.StatusFailed,
			map[string]store.Status{"a": store.StatusSucceeded, "b": store.StatusFailed, "c": store.StatusSkipped}, nil},
	}
	for _, tt := range tests {
		t.Run(map[pipeline.RescuePolicy]string{pipeline.RescueResume: "resume", pipeline.RescueFail: "fail"}[tt.policy], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				st := memory.New()
				c := &calls{}
				h := start(t, pipeline.Config{Store: st, Steps: registry(nil, c), Lease: 3 * time.Second, OnRescue: tt.policy})
				h.put(resumeSrc)
				x := ghostRun(t, st, 3*time.Second)
				x = h.wait(x.ID) // claimed at the first poll after the ghost's lease ends
				if diff := cmp.Diff(tt.steps, stepStatuses(x)); x.Status != tt.status || diff != "" {
					t.Errorf("rescued execution %s (%s); want %s; steps (-want +got):\n%s", x.Status, x.Error, tt.status, diff)
				}
				if x.Owner != h.eng.Owner() || x.Attempt != 2 {
					t.Errorf("rescued by %s at attempt %d; want %s at 2", x.Owner, x.Attempt, h.eng.Owner())
				}
				if order, _ := c.got(); !cmp.Equal(order, tt.ran) {
					t.Errorf("steps run %v; want %v", order, tt.ran)
				}
				if got := h.eng.Stats().Rescues; got != 1 {
					t.Errorf("Stats().Rescues = %d; want 1", got)
				}
				if tt.policy == pipeline.RescueFail && !strings.Contains(stepRun(t, x, "b").Error, "abandoned") {
					t.Errorf("step b error %q; want it to say it was abandoned", stepRun(t, x, "b").Error)
				}
			})
		})
	}
}

// TestEngineRescueNotGroupWait: an execution handed back to wait for its
// concurrency group is claimed again, which is no rescue: RescueFail
// leaves it alone.
func TestEngineRescueNotGroupWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		h := start(t, pipeline.Config{
			Steps:    registry(map[string]probeFunc{"s": sleepStep(10 * time.Second)}, nil),
			OnRescue: pipeline.RescueFail,
		})
		h.put(groupPipeline("queue"))
		var ids []string
		for range 3 {
			id, err := h.eng.Trigger(ctx, "grouped", event(t, events.TypeSchemaChanged, "ws", map[string]string{"g": "a"}))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		for _, id := range ids {
			if x := h.wait(id); x.Status != store.StatusSucceeded {
				t.Errorf("queued execution %s: %s (%s); want succeeded", id, x.Status, x.Error)
			}
		}
		if s := h.eng.Stats(); s.GroupWaits == 0 || s.Rescues != 0 {
			t.Errorf("Stats() GroupWaits %d, Rescues %d; want some waits and no rescue", s.GroupWaits, s.Rescues)
		}
	})
}

// TestEngineStatsCounters: the trigger, execution, retry, rescue and queue
// depth counters of Stats.
func TestEngineStatsCounters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		tries := 0
		release := make(chan struct{})
		reg := registry(map[string]probeFunc{
			"flaky": func(context.Context, steps.Input, probeConfig) (steps.Output, error) {
				tries++
				if tries == 1 {
					return steps.Output{}, errBoom
				}
				return steps.Output{}, nil
			},
			"fail": func(context.Context, steps.Input, probeConfig) (steps.Output, error) { return steps.Output{}, errBoom },
			"hold": func(ctx context.Context, _ steps.Input, _ probeConfig) (steps.Output, error) {
				select {
				case <-release:
					return steps.Output{}, nil
				case <-ctx.Done():
					return steps.Output{}, ctx.Err()
				}
			},
		}, nil)
		h := start(t, pipeline.Config{Steps: reg, Workers: 1})
		h.put("name: flaky\non: [{event: acme.flaky}]\nsteps: [{id: s, uses: probe, retry: {attempts: 2, backoff: 1s}, with: {key: flaky}}]\n")
		h.put("name: failing\non: [{event: acme.fail}]\nsteps: [{id: s, uses: probe, with: {key: fail}}]\n")
		h.put("name: filtered\non: [{event: acme.filter, if: event.data.n > 1}]\nsteps: [{id: s, uses: probe, with: {key: x}}]\n")
		h.put("name: held\non: [{event: acme.held}]\nconcurrency: {group: \"${{ event.id }}\"}\nsteps: [{id: s, uses: probe, with: {key: hold}}]\n")
		publish := func(typ string, data any) {
			t.Helper()
			if err := h.bus.Publish(ctx, event(t, events.Type(typ), "ws", data)); err != nil {
				t.Fatal(err)
			}
		}
		publish("acme.flaky", nil)
		publish("acme.fail", nil)
		publish("acme.filter", map[string]int{"n": 2})      // match
		publish("acme.filter", map[string]int{"n": 0})      // no match
		publish("acme.filter", map[string]string{"m": "x"}) // filter error: no field n
		publish("acme.nobody", nil)                         // no pipeline
		synctest.Wait()
		time.Sleep(time.Minute) // every backoff over
		synctest.Wait()
		// Two held executions with one worker: one runs, one waits.
		publish("acme.held", nil)
		publish("acme.held", nil)
		synctest.Wait()
		got := h.eng.Stats()
		close(release)
		synctest.Wait()
		want := pipeline.Stats{
			TriggerMatches: 5, TriggerNoMatch: 2, TriggerErrors: 1, Retries: 1,
			Executions: map[store.Status]int64{store.StatusSucceeded: 2, store.StatusFailed: 1},
			Steps:      map[store.Status]int64{store.StatusSucceeded: 2, store.StatusFailed: 1},
			InFlight:   2, QueueDepth: 1, StepGoroutines: 1,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Stats() (-want +got):\n%s", diff)
		}
		if after := h.eng.Stats(); after.QueueDepth != 0 || after.Executions[store.StatusSucceeded] != 4 {
			t.Errorf("after the release: QueueDepth %d, succeeded %d; want 0 and 4", after.QueueDepth, after.Executions[store.StatusSucceeded])
		}
	})
}
