package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/memory"
)

// gatedStore records every CreateExecutions call (its size and how many
// it created claimed), holds the first one until release is closed, and
// fails the calls that fail says to.
type gatedStore struct {
	store.Store
	entered chan struct{} // closed when the first call has begun
	release chan struct{}
	fail    func(call int) error

	mu     sync.Mutex
	sizes  []int
	counts []int
}

func newGatedStore(st store.Store) *gatedStore {
	return &gatedStore{Store: st, entered: make(chan struct{}), release: make(chan struct{})}
}

func (g *gatedStore) CreateExecutions(ctx context.Context, xs []store.Execution, c store.Claim) ([]store.Execution, []error) {
	g.mu.Lock()
	call := len(g.sizes)
	g.sizes, g.counts = append(g.sizes, len(xs)), append(g.counts, c.Count)
	g.mu.Unlock()
	if call == 0 {
		close(g.entered)
		<-g.release
		// Stored even if the engine stopped meanwhile (its bus
		// subscription's ctx ended), as a write already sent would be.
		ctx = context.WithoutCancel(ctx)
	}
	if g.fail != nil {
		if err := g.fail(call); err != nil {
			errs := make([]error, len(xs))
			for i := range errs {
				errs[i] = err
			}
			return make([]store.Execution, len(xs)), errs
		}
	}
	return g.Store.CreateExecutions(ctx, xs, c)
}

func (g *gatedStore) calls() (sizes, counts []int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]int(nil), g.sizes...), append([]int(nil), g.counts...)
}

// intakeRun publishes event 0, and while its creation is held, nine more
// events and a repeat of one of them, then lets intake go on. Each step
// holds until steps is closed, so the engine's room (4 executions with
// one worker) is what the test says it is.
type intakeRun struct {
	h      *harness
	gs     *gatedStore
	bus    *events.MemoryBus
	evs    []events.Event
	steps  chan struct{}
	ranMu  sync.Mutex
	ranIDs map[string]int
}

func startIntake(t *testing.T, st store.Store, cfg pipeline.Config) *intakeRun {
	t.Helper()
	r := &intakeRun{gs: newGatedStore(st), steps: make(chan struct{}), ranIDs: map[string]int{}}
	r.bus = events.NewMemoryBus(events.MemoryConfig{})
	t.Cleanup(func() { r.bus.Close() })
	cfg.Store, cfg.Bus, cfg.Workers = r.gs, r.bus, 1
	cfg.Steps = registry(map[string]probeFunc{
		"a": func(ctx context.Context, in steps.Input, _ probeConfig) (steps.Output, error) {
			r.ranMu.Lock()
			r.ranIDs[in.Event.ID]++
			r.ranMu.Unlock()
			select {
			case <-r.steps:
			case <-ctx.Done():
			}
			return steps.Output{}, nil
		},
	}, nil)
	r.h = start(t, cfg)
	r.h.put(onePipeline)
	for range 10 {
		r.evs = append(r.evs, schemaEvent(t))
	}
	return r
}

// startStopping publishes event 0 and, while its creation is held,
// starts a Shutdown, whose result it returns.
func (r *intakeRun) startStopping(t *testing.T) <-chan error {
	t.Helper()
	ctx := context.Background()
	if err := r.bus.Publish(ctx, r.evs[0]); err != nil {
		t.Fatal(err)
	}
	<-r.gs.entered
	stopped := make(chan error, 1)
	go func() { stopped <- r.h.eng.Shutdown(ctx) }()
	return stopped
}

// stopWhileCreating stops the engine while event 0's creation is held:
// the creation is let go once the engine is stopping, and the engine has
// stopped when it returns.
func (r *intakeRun) stopWhileCreating(t *testing.T) {
	t.Helper()
	stopped := r.startStopping(t)
	waitFor(t, func() bool {
		_, err := r.h.eng.Trigger(context.Background(), "one", schemaEvent(t))
		return errors.Is(err, pipeline.ErrStopped)
	})
	close(r.gs.release)
	if err := <-stopped; err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	r.h.stop()
}

func (r *intakeRun) publishAll(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if err := r.bus.Publish(ctx, r.evs[0]); err != nil {
		t.Fatal(err)
	}
	<-r.gs.entered
	for _, ev := range append(r.evs[1:], r.evs[5]) {
		if err := r.bus.Publish(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	close(r.gs.release)
}

// TestIntakeBatch: the events that queue while intake stores a batch are
// created with one CreateExecutions call, the oldest claimed as far as
// the engine has room and the rest queued; a repeated event is a
// duplicate, and every event runs exactly once. IntakeBatch 1 creates
// them one by one, with the same result.
func TestIntakeBatch(t *testing.T) {
	for _, sk := range storeKinds {
		for _, tt := range []struct {
			batch                  int
			wantSizes, wantClaimed []int
		}{
			// Event 0 takes one of the 4 places; the other 9 and the
			// repeat come in one call, 3 of them claimed.
			{0, []int{1, 10}, []int{1, 3}},
			{1, []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, []int{1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0}},
		} {
			t.Run(fmt.Sprintf("%s/IntakeBatch%d", sk.name, tt.batch), func(t *testing.T) {
				r := startIntake(t, sk.open(t), pipeline.Config{IntakeBatch: tt.batch})
				r.publishAll(t)
				if err := r.bus.Shutdown(context.Background()); err != nil {
					t.Fatal(err)
				}
				sizes, counts := r.gs.calls()
				if fmt.Sprint(sizes) != fmt.Sprint(tt.wantSizes) || fmt.Sprint(counts) != fmt.Sprint(tt.wantClaimed) {
					t.Errorf("CreateExecutions sizes %v, claimed %v; want %v, %v", sizes, counts, tt.wantSizes, tt.wantClaimed)
				}
				close(r.steps)
				xs := listAll(t, r.h.st, "one")
				if len(xs) != len(r.evs) {
					t.Fatalf("%d executions for %d events", len(xs), len(r.evs))
				}
				for _, x := range xs {
					if x = r.h.wait(x.ID); x.Status != store.StatusSucceeded {
						t.Errorf("execution %s: %s (%s)", x.ID, x.Status, x.Error)
					}
				}
				r.ranMu.Lock()
				for _, ev := range r.evs {
					if n := r.ranIDs[ev.ID]; n != 1 {
						t.Errorf("event %s ran %d times; want 1", ev.ID, n)
					}
				}
				r.ranMu.Unlock()
				// A run leaves InFlight just after its conclusion is stored,
				// which is what Wait saw.
				waitFor(t, func() bool { return r.h.eng.Stats().InFlight == 0 })
				if st := r.h.eng.Stats(); st.Duplicates != 1 || st.InFlight != 0 {
					t.Errorf("Stats: Duplicates %d, InFlight %d; want 1, 0", st.Duplicates, st.InFlight)
				}
			})
		}
	}
}

// TestIntakeBatchStoreFailure: a batch the store refuses is the bus
// handler's error (the memory bus counts each of its events failed) and
// creates nothing, and the room it had reserved is given back: the next
// events are created claimed as far as the room allows.
func TestIntakeBatchStoreFailure(t *testing.T) {
	r := startIntake(t, memory.New(), pipeline.Config{})
	r.gs.fail = func(call int) error {
		if call == 1 {
			return errors.New("database unreachable")
		}
		return nil
	}
	r.publishAll(t)
	waitFor(t, func() bool { bs := r.bus.Stats(); return bs.Delivered+bs.Failed == 11 })
	if bs := r.bus.Stats(); bs.Failed != 10 || bs.Delivered != 1 {
		t.Errorf("bus Stats: Failed %d, Delivered %d; want 10 (the refused batch), 1", bs.Failed, bs.Delivered)
	}
	if xs := listAll(t, r.h.st, "one"); len(xs) != 1 || xs[0].EventID != r.evs[0].ID {
		t.Fatalf("%d executions; want only event 0's", len(xs))
	}
	// Event 0 still runs, so 3 of the 4 places are free: had the refused
	// batch kept its 3, none would be.
	more := []events.Event{schemaEvent(t), schemaEvent(t), schemaEvent(t)}
	for _, ev := range more {
		if err := r.bus.Publish(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.bus.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, counts := r.gs.calls()
	claimed := 0
	for _, c := range counts[2:] {
		claimed += c
	}
	if claimed != len(more) {
		t.Errorf("events after the failure: %d created claimed (calls claimed %v); want %d", claimed, counts, len(more))
	}
	close(r.steps)
	for _, x := range listAll(t, r.h.st, "one") {
		if x = r.h.wait(x.ID); x.Status != store.StatusSucceeded {
			t.Errorf("execution %s: %s (%s)", x.ID, x.Status, x.Error)
		}
	}
}

// TestIntakeBatchWhileStopping: executions a batch created claimed while
// the engine began to stop are released, not run, and those it left
// queued stay queued: a second engine on the store runs them all, once.
func TestIntakeBatchWhileStopping(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run(sk.name, func(t *testing.T) {
			st := sk.open(t)
			r := startIntake(t, st, pipeline.Config{})
			close(r.steps)
			r.stopWhileCreating(t)
			if n := r.ranIDs[r.evs[0].ID]; n != 0 {
				t.Fatalf("event 0 ran %d times on the stopping engine; want 0", n)
			}
			h2 := start(t, pipeline.Config{Store: st, Steps: registry(nil, nil)})
			for _, x := range listAll(t, st, "one") {
				if x.EventID != r.evs[0].ID {
					continue
				}
				if x = h2.wait(x.ID); x.Status != store.StatusSucceeded || x.Attempt != 2 {
					t.Errorf("execution %s on the second engine: %s at attempt %d; want succeeded at 2", x.ID, x.Status, x.Attempt)
				}
				return
			}
			t.Fatal("no execution for event 0")
		})
	}
}

// TestIntakeBatchWhileStoppingNoRescue: an execution a batch created
// claimed while the engine began to stop never ran, so the engine that
// claims it next takes over no run: it is no rescue, and RescueFail
// (which fails what another owner may have half run) runs it.
func TestIntakeBatchWhileStoppingNoRescue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := memory.New()
		r := startIntake(t, st, pipeline.Config{})
		close(r.steps)
		r.stopWhileCreating(t)
		time.Sleep(time.Second) // the next engine comes later
		h2 := start(t, pipeline.Config{Store: st, Steps: registry(nil, nil), OnRescue: pipeline.RescueFail})
		for _, x := range listAll(t, st, "one") {
			if x.EventID != r.evs[0].ID {
				continue
			}
			if x = h2.wait(x.ID); x.Status != store.StatusSucceeded {
				t.Errorf("execution %s on the second engine: %s (%s); want succeeded", x.ID, x.Status, x.Error)
			}
			if n := h2.eng.Stats().Rescues; n != 0 {
				t.Errorf("Stats().Rescues = %d; want 0 (nothing had run)", n)
			}
			h2.stop()
			return
		}
		t.Fatal("no execution for event 0")
	})
}

// TestIntakeBatchGroupOrder: the executions of one concurrency group that
// one intake batch creates run in creation order, the oldest first,
// whether the batch created them all claimed (and so started them at
// once) or some queued for a claim, as those the claim loop claims
// together do. All are started while nothing holds the group.
func TestIntakeBatchGroupOrder(t *testing.T) {
	for _, path := range []string{"intake", "claim"} {
		// Workers 2: room for all six; Workers 1: for three (intake) or
		// four (claim), the rest claimed later.
		for _, workers := range []int{2, 1} {
			t.Run(fmt.Sprintf("%s/Workers%d", path, workers), func(t *testing.T) {
				for range 20 { // the newest used to win nearly every time
					testGroupOrderBurst(t, path, workers)
					if t.Failed() {
						return
					}
				}
			})
		}
	}
}

func testGroupOrderBurst(t *testing.T, path string, workers int) {
	gs := newGatedStore(memory.New())
	bus := events.NewMemoryBus(events.MemoryConfig{})
	defer bus.Close()
	var mu sync.Mutex
	var order []string
	reg := registry(map[string]probeFunc{
		"s": func(ctx context.Context, in steps.Input, _ probeConfig) (steps.Output, error) {
			mu.Lock()
			order = append(order, in.Execution)
			mu.Unlock()
			return steps.Output{}, nil
		},
	}, nil)
	eng, err := pipeline.NewEngine(pipeline.Config{Store: gs, Bus: bus, Workers: workers, Steps: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, src := range []string{groupPipeline("queue"), "name: other\non: [{event: acme.x}]\nsteps: [{id: s, uses: probe, with: {key: x}}]\n"} {
		if _, err := eng.PutSource(ctx, "test.yaml", []byte(src), store.AnyVersion); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	if path == "claim" {
		// Queued before Run: its first claim round takes them together.
		for range 6 {
			id, err := eng.Trigger(ctx, "grouped", event(t, events.TypeSchemaChanged, "ws", map[string]string{"g": "a"}))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
	}
	ran := make(chan error, 1)
	go func() { ran <- eng.Run(ctx) }()
	<-eng.Ready()
	if path == "intake" {
		// Held in the store, the first event lets the next ones queue on
		// the bus: they come in one batch.
		first, err := events.New("acme.x", "ws", map[string]string{})
		if err != nil {
			t.Fatal(err)
		}
		if err := bus.Publish(ctx, first); err != nil {
			t.Fatal(err)
		}
		<-gs.entered
		for range 6 {
			if err := bus.Publish(ctx, event(t, events.TypeSchemaChanged, "ws", map[string]string{"g": "a"})); err != nil {
				t.Fatal(err)
			}
		}
		close(gs.release)
		waitFor(t, func() bool { return len(listAll(t, gs, "grouped")) == 6 })
		for _, x := range listAll(t, gs, "grouped") {
			ids = append(ids, x.ID)
		}
		slices.Sort(ids)
	} else {
		close(gs.release)
	}
	for _, id := range ids {
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		x, err := eng.Wait(wctx, id)
		cancel()
		if err != nil || x.Status != store.StatusSucceeded {
			t.Fatalf("execution %s: %s (%s), %v", id, x.Status, x.Error, err)
		}
	}
	if err := eng.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(order, ids) {
		t.Errorf("%s: executions of one group ran in the order %v; want creation order %v", path, order, ids)
	}
}

// TestRunWaitsForIntake: Run (and so Shutdown) returns only once the
// intake call in progress has stored its batch and released what it
// created claimed; the memory bus does not wait for a handler when a
// subscription closes.
func TestRunWaitsForIntake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := memory.New()
		r := startIntake(t, st, pipeline.Config{})
		close(r.steps)
		stopped := r.startStopping(t)
		synctest.Wait() // everything but the held creation is done
		select {
		case err := <-stopped:
			close(r.gs.release)
			t.Fatalf("Shutdown = %v while intake was still writing; want it to wait", err)
		default:
		}
		close(r.gs.release)
		if err := <-stopped; err != nil {
			t.Fatalf("Shutdown = %v", err)
		}
		xs := listAll(t, st, "one")
		if len(xs) != 1 || xs[0].Status != store.StatusRunning || !xs[0].StartedAt.IsZero() {
			t.Fatalf("executions after Shutdown = %+v; want event 0's, released", xs)
		}
		r.h.stop()
	})
}
