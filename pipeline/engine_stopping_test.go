package pipeline_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/memory"
)

// lateBus is a durable-looking bus (it has SubscribeNamed) whose
// subscription, when Run closes it, first hands the handler one more
// event, as a durable bus may while an engine stops, and reports on
// late whether the subscription had ended when that call returned.
type lateBus struct {
	ctx    context.Context
	cancel context.CancelFunc
	h      events.Handler
	ev     events.Event
	late   chan bool
}

func (b *lateBus) Publish(context.Context, events.Event) error { return nil }
func (b *lateBus) Close() error                                { return nil }
func (b *lateBus) Subscribe(context.Context, events.Filter, events.Handler) (events.Subscription, error) {
	return nil, errors.New("lateBus: only named subscriptions")
}

func (b *lateBus) SubscribeNamed(ctx context.Context, _ string, _ events.Filter, h events.Handler) (events.Subscription, error) {
	b.ctx, b.cancel = context.WithCancel(ctx)
	b.h = h
	return lateSub{b}, nil
}

type lateSub struct{ b *lateBus }

func (s lateSub) Close() error {
	b := s.b
	go func() {
		err := b.h(b.ctx, b.ev)
		b.late <- errors.Is(err, pipeline.ErrStopped) && b.ctx.Err() != nil
	}()
	synctest.Wait() // the late call has gone as far as it goes before the close
	b.cancel()
	return nil
}

// TestIntakeWhileStoppingIsInterruption: an event handed to intake once
// the engine is stopping is refused only after its subscription has
// ended, so that a durable bus takes the refusal for an interruption
// (the event left for the next engine) rather than a failed delivery it
// counts against MaxAttempts and may give up.
func TestIntakeWhileStoppingIsInterruption(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &lateBus{ev: schemaEvent(t), late: make(chan bool, 1)}
		eng, err := pipeline.NewEngine(pipeline.Config{Store: memory.New(), Bus: bus, Steps: registry(nil, nil)})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- eng.Run(context.Background()) }()
		<-eng.Ready()
		if err := eng.Shutdown(context.Background()); err != nil {
			t.Fatalf("Shutdown = %v", err)
		}
		if err := <-done; err != nil {
			t.Fatalf("Run = %v", err)
		}
		if !<-bus.late {
			t.Error("intake refused the late event while its subscription was live; want ErrStopped once it has ended")
		}
	})
}

// failingSubscribeBus accepts n-1 subscriptions and fails the n-th, but
// first hands each subscription it accepted the events evs, as a bus may
// deliver to a subscription before the next one is made.
type failingSubscribeBus struct {
	n   int
	evs []events.Event
	hs  []events.Handler
}

func (b *failingSubscribeBus) Publish(context.Context, events.Event) error { return nil }
func (b *failingSubscribeBus) Close() error                                { return nil }
func (b *failingSubscribeBus) Subscribe(ctx context.Context, _ events.Filter, h events.Handler) (events.Subscription, error) {
	if len(b.hs) < b.n-1 {
		b.hs = append(b.hs, h)
		return nopSub{}, nil
	}
	for _, h := range b.hs {
		for _, ev := range b.evs {
			_ = h(ctx, ev)
		}
	}
	return nil, errors.New("broker unreachable")
}

type nopSub struct{}

func (nopSub) Close() error { return nil }

// TestRunSubscribeFailureEndsRuns: when a later intake subscription
// fails, Run ends the runs the earlier ones started before it returns its
// error: it owns every goroutine it started.
func TestRunSubscribeFailureEndsRuns(t *testing.T) {
	var running, returned atomic.Int64
	var evs []events.Event
	for range 16 { // each share takes some: the first two shares start runs
		evs = append(evs, schemaEvent(t))
	}
	bus := &failingSubscribeBus{n: 3, evs: evs}
	st := memory.New()
	eng, err := pipeline.NewEngine(pipeline.Config{Store: st, Bus: bus, IntakeWorkers: 3,
		Steps: registry(map[string]probeFunc{"a": func(ctx context.Context, _ steps.Input, _ probeConfig) (steps.Output, error) {
			running.Add(1)
			defer returned.Add(1)
			<-ctx.Done()
			return steps.Output{}, ctx.Err()
		}}, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.PutSource(context.Background(), "one.yaml", []byte(onePipeline), store.AnyVersion); err != nil {
		t.Fatal(err)
	}
	if err := eng.Run(context.Background()); err == nil {
		t.Fatal("Run = nil; want the subscription's error")
	}
	if xs := listAll(t, st, "one"); len(xs) == 0 {
		t.Fatal("no execution created before the failing subscription; the test sees nothing")
	}
	if s := eng.Stats(); s.InFlight != 0 || s.StepGoroutines != 0 || running.Load() != returned.Load() {
		t.Errorf("after Run returned: %d executions in flight, %d step goroutines, %d of %d steps returned; want all ended",
			s.InFlight, s.StepGoroutines, returned.Load(), running.Load())
	}
}

// TestReclaimedOwnExecution: an engine whose lease renewals fail while its
// claims succeed claims its own execution again once the lease lapses.
// When the first run's step then ends, its write is refused and the run
// ends; the newer run stays in flight (renewed, counted), not dropped
// with it.
func TestReclaimedOwnExecution(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &unreachableStore{Store: memory.New(), claimsWork: true}
		release := []chan struct{}{make(chan struct{}), make(chan struct{})} // per attempt
		var calls atomic.Int64
		h := start(t, pipeline.Config{Store: st, Workers: 2, Lease: 3 * time.Second, PollInterval: 100 * time.Millisecond,
			Steps: registry(map[string]probeFunc{"a": func(ctx context.Context, _ steps.Input, _ probeConfig) (steps.Output, error) {
				n := calls.Add(1)
				select {
				case <-release[n-1]:
				case <-ctx.Done():
				}
				return steps.Output{}, ctx.Err()
			}}, nil)})
		h.put(onePipeline)
		id, err := h.eng.Trigger(context.Background(), "one", schemaEvent(t))
		if err != nil {
			t.Fatal(err)
		}
		for calls.Load() == 0 {
			time.Sleep(10 * time.Millisecond)
		}
		// Renewals every second fail; the lease lapses at 3s and the
		// engine claims the execution again; the store is back between
		// two renewals, before the new claim's lease could lapse too.
		st.down.Store(true)
		time.Sleep(3500 * time.Millisecond)
		if calls.Load() != 2 {
			t.Fatalf("%d step attempts; want 2 (the execution claimed again by its own engine)", calls.Load())
		}
		st.down.Store(false)
		// The first run's step ends: its write is refused, and it ends.
		close(release[0])
		synctest.Wait()
		if n := h.eng.Stats().InFlight; n != 1 {
			t.Errorf("InFlight = %d after the first run ended; want 1 (the newer run)", n)
		}
		close(release[1])
		if x := h.wait(id); x.Status != store.StatusSucceeded || x.Attempt != 2 {
			t.Errorf("execution: %s at attempt %d; want succeeded at 2", x.Status, x.Attempt)
		}
	})
}
