package pipeline_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
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
