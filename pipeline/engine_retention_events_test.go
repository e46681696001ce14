package pipeline_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/sqlstore"
)

// TestEngineRetentionEvents: on the SQL store, retention also deletes the
// durable bus's events older than Retention, but only those every durable
// consumer has handled. A consumer that lags, another one ("audit") or the
// engine's own while no engine runs, keeps its events; it gets them when
// it comes back, and they go at the next prune after that. Stats counts
// them apart from executions.
func TestEngineRetentionEvents(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t).(*sqlstore.Store)
	bus := st.Bus(sqlstore.BusConfig{})
	t.Cleanup(func() { bus.Close() })
	t0 := time.Now()
	clk := &clock{t: t0}
	ran := make(chan string, 10)
	reg := registry(map[string]probeFunc{
		"a": func(_ context.Context, in steps.Input, _ probeConfig) (steps.Output, error) {
			ran <- in.Execution
			return steps.Output{}, nil
		},
	}, nil)
	cfg := pipeline.Config{Store: st, Bus: bus, Steps: reg, Clock: clk.Now, Retention: time.Hour, PruneInterval: time.Hour}

	audit := func() (<-chan string, *sqlstore.Subscription) {
		got := make(chan string, 10)
		sub, err := bus.SubscribeNamed(ctx, "audit", events.Filter{}, func(_ context.Context, e events.Event) error {
			got <- e.ID
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got, sub.(*sqlstore.Subscription)
	}
	stop := func(sub *sqlstore.Subscription) {
		sub.Close()
		<-sub.Done() // its position is saved
	}
	receive := func(got <-chan string, n int) []string {
		var ids []string
		for range n {
			select {
			case id := <-got:
				ids = append(ids, id)
			case <-time.After(10 * time.Second):
				t.Fatalf("audit received %v; want %d events", ids, n)
			}
		}
		return ids
	}
	var published []string
	publish := func() {
		ev := event(t, events.TypeSchemaChanged, "ws", map[string]any{"n": len(published)})
		if err := bus.Publish(ctx, ev); err != nil {
			t.Fatal(err)
		}
		published = append(published, ev.ID)
	}
	// runEngine runs an engine until it has run n executions, then stops
	// it, which saves its consumer's position.
	runEngine := func(n int) {
		h := start(t, cfg)
		h.put(onePipeline)
		for range n {
			if x := h.wait(<-ran); x.Status != store.StatusSucceeded {
				t.Fatalf("execution %s", x.Status)
			}
		}
		h.stop()
	}

	// The engine handles five events; audit handles the first two and
	// stops. A sixth is published while no engine runs.
	h := start(t, cfg)
	h.put(onePipeline)
	got, sub := audit()
	publish()
	publish()
	if ids := receive(got, 2); !slices.Equal(ids, published) {
		t.Fatalf("audit received %v; want %v", ids, published)
	}
	stop(sub)
	publish()
	publish()
	publish()
	for range 5 {
		if x := h.wait(<-ran); x.Status != store.StatusSucceeded {
			t.Fatalf("execution %s", x.Status)
		}
	}
	h.stop()
	publish()

	// Retention prunes through an engine that is not running, as a host
	// calling Prune by hand would.
	pruner, err := pipeline.NewEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		clock      time.Time
		before     func()
		executions int   // Prune's result
		events     int64 // Stats().PrunedEvents gained
	}{
		{"within Retention", t0.Add(30 * time.Minute), nil, 0, 0},
		{"past Retention: audit holds four events", t0.Add(2 * time.Hour), nil, 5, 2},
		{"nothing more while audit lags", t0.Add(3 * time.Hour), nil, 0, 0},
		{"audit caught up: the engine's consumer holds the sixth", t0.Add(3 * time.Hour), func() {
			got, sub := audit()
			if ids := receive(got, 4); !slices.Equal(ids, published[2:]) {
				t.Errorf("audit resumed with %v; want the four events it had not handled %v", ids, published[2:])
			}
			stop(sub)
		}, 0, 3},
		{"the engine caught up", t0.Add(3 * time.Hour), func() { runEngine(1) }, 0, 1},
		{"and its execution is pruned in turn", t0.Add(5 * time.Hour), nil, 1, 0},
	}
	var pruned, prunedEvents int64
	for _, tt := range tests {
		clk.Set(tt.clock)
		if tt.before != nil {
			tt.before()
		}
		n, err := pruner.Prune(ctx)
		if n != tt.executions || err != nil {
			t.Errorf("%s: Prune = %d, %v; want %d, nil", tt.name, n, err, tt.executions)
		}
		pruned += int64(tt.executions)
		prunedEvents += tt.events
		if s := pruner.Stats(); s.Pruned != pruned || s.PrunedEvents != prunedEvents {
			t.Errorf("%s: Stats() Pruned %d, PrunedEvents %d; want %d, %d", tt.name, s.Pruned, s.PrunedEvents, pruned, prunedEvents)
		}
	}
}

// Set moves the clock to t.
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}
