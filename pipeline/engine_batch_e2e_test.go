package pipeline_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/memory"
)

// twoStepPipeline runs a then b, one concurrency group (queue) per
// workspace.
const twoStepPipeline = `name: two
on: [{event: schema.changed}]
concurrency: {group: "${{ event.workspace }}"}
steps:
  - {id: a, uses: probe, with: {key: a}}
  - {id: b, uses: probe, with: {key: b}}
`

// batchConfigs are the write and intake settings every batching test runs
// under: the unbatched path, the default, a delay, and a shared intake.
var batchConfigs = []struct {
	name string
	cfg  pipeline.Config
}{
	{"unbatched", pipeline.Config{CompletionBatch: 1}},
	{"batched", pipeline.Config{}},
	{"small batches with a delay", pipeline.Config{CompletionBatch: 3, CompletionDelay: time.Millisecond}},
	{"three intake subscriptions", pipeline.Config{IntakeWorkers: 3}},
	// Room for 4 executions: most events are created queued and claimed
	// as room frees up, rather than created claimed.
	{"little room", pipeline.Config{Workers: 1}},
}

var batchStores = []struct {
	name string
	open func(testing.TB) store.Store
}{
	{"memory", func(testing.TB) store.Store { return memory.New() }},
	{"sqlite", openSQLite},
	{"postgres", openPostgres}, // skipped without MOCKOPS_TEST_POSTGRES_DSN
}

// TestEngineBatching: whatever the batching, every published event runs
// its pipeline exactly once, every step once, each group's executions are
// created in publish order, and the counters count each event once.
func TestEngineBatching(t *testing.T) {
	for _, sk := range batchStores {
		for _, bc := range batchConfigs {
			t.Run(sk.name+"/"+bc.name, func(t *testing.T) { testBatching(t, sk.open(t), bc.cfg) })
		}
	}
}

func testBatching(t *testing.T, st store.Store, cfg pipeline.Config) {
	ctx := context.Background()
	var ran atomic.Int64
	noop := func(context.Context, steps.Input, probeConfig) (steps.Output, error) {
		ran.Add(1)
		return steps.Output{Outputs: map[string]any{"ok": true}}, nil
	}
	cfg.Store = st
	cfg.Steps = registry(map[string]probeFunc{"a": noop, "b": noop}, nil)
	h := start(t, cfg)
	h.put(twoStepPipeline)
	const n, groups = 30, 3
	published := map[string][]string{} // workspace -> event ids, in publish order
	for i := range n {
		ws := fmt.Sprintf("ws%d", i%groups)
		ev := event(t, events.TypeSchemaChanged, ws, map[string]any{})
		published[ws] = append(published[ws], ev.ID)
		if err := h.bus.Publish(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.bus.(*events.MemoryBus).Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	xs := listAll(t, st, "two")
	if len(xs) != n {
		t.Fatalf("%d executions for %d events", len(xs), n)
	}
	slices.SortFunc(xs, func(a, b store.Execution) int { return cmp.Compare(a.ID, b.ID) })
	created := map[string][]string{}
	for _, x := range xs {
		created[x.Event.Workspace] = append(created[x.Event.Workspace], x.EventID)
		x = h.wait(x.ID)
		if x.Status != store.StatusSucceeded || len(x.Steps) != 2 {
			t.Errorf("execution %s: %s with %d steps (%s); want succeeded with 2", x.ID, x.Status, len(x.Steps), x.Error)
		}
	}
	for ws, ids := range published {
		if !slices.Equal(created[ws], ids) {
			t.Errorf("group %s: executions created for events %v; want publish order %v", ws, created[ws], ids)
		}
	}
	h.stop()
	if got := ran.Load(); got != 2*n {
		t.Errorf("steps ran %d times; want %d", got, 2*n)
	}
	if s := h.eng.Stats(); s.TriggerMatches != n || s.Duplicates != 0 {
		t.Errorf("Stats: %d matches, %d duplicates; want %d, 0", s.TriggerMatches, s.Duplicates, n)
	}
}

// TestEngineBatchingShutdown: Shutdown drains the executions in flight,
// and by the time it returns their last writes are stored: nothing waits
// in a batch.
func TestEngineBatchingShutdown(t *testing.T) {
	for _, sk := range batchStores {
		for _, bc := range batchConfigs {
			t.Run(sk.name+"/"+bc.name, func(t *testing.T) {
				st := sk.open(t)
				ctx := context.Background()
				release := make(chan struct{})
				entered := make(chan struct{}, 64)
				cfg := bc.cfg
				cfg.Store = st
				cfg.Workers = 16 // every execution's step runs at once
				cfg.Steps = registry(map[string]probeFunc{
					"a": func(context.Context, steps.Input, probeConfig) (steps.Output, error) {
						entered <- struct{}{}
						<-release
						return steps.Output{}, nil
					},
				}, nil)
				h := start(t, cfg)
				h.put(onePipeline + "concurrency: {group: \"${{ event.id }}\"}\n")
				const n = 12
				ids := make([]string, 0, n)
				for range n {
					id, err := h.eng.Trigger(ctx, "one", events.Event{})
					if err != nil {
						t.Fatal(err)
					}
					ids = append(ids, id)
				}
				// Every execution is claimed and inside its step before the
				// shutdown starts.
				for range n {
					<-entered
				}
				done := make(chan error, 1)
				go func() { done <- h.eng.Shutdown(ctx) }()
				close(release)
				if err := <-done; err != nil {
					t.Fatalf("Shutdown = %v", err)
				}
				h.stop()
				for _, id := range ids {
					x, err := st.GetExecution(ctx, id)
					if err != nil || x.Status != store.StatusSucceeded {
						t.Errorf("after Shutdown, execution %s is %s (%v); want succeeded", id, x.Status, err)
					}
				}
			})
		}
	}
}

// TestEngineBatchConfig: negative batching settings are refused; zero
// values are the documented defaults.
func TestEngineBatchConfig(t *testing.T) {
	cases := []struct {
		name string
		cfg  pipeline.Config
		ok   bool
	}{
		{"zero values", pipeline.Config{}, true},
		{"unbatched", pipeline.Config{CompletionBatch: 1}, true},
		{"negative batch", pipeline.Config{CompletionBatch: -1}, false},
		{"negative delay", pipeline.Config{CompletionDelay: -time.Millisecond}, false},
		{"negative intake", pipeline.Config{IntakeWorkers: -2}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := pipeline.NewEngine(c.cfg)
			if (err == nil) != c.ok {
				t.Errorf("NewEngine = %v; want ok %v", err, c.ok)
			}
		})
	}
}
