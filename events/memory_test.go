package events_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/events/eventstest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestMemoryBusConformance(t *testing.T) {
	for _, o := range []events.Overflow{events.Block, events.DropOldest, events.DropNewest} {
		t.Run(o.String(), func(t *testing.T) {
			eventstest.Run(t, eventstest.Features{}, func(t *testing.T) events.Bus {
				return events.NewMemoryBus(events.MemoryConfig{Overflow: o})
			})
		})
	}
}

// blockedSubscriber subscribes a handler that holds its first event until
// release is closed, and returns a channel that is signalled once it does.
func blockedSubscriber(t *testing.T, bus *events.MemoryBus, release <-chan struct{}) <-chan struct{} {
	t.Helper()
	started := make(chan struct{})
	var once sync.Once
	_, err := bus.Subscribe(t.Context(), events.Filter{}, func(ctx context.Context, e events.Event) error {
		once.Do(func() { close(started) })
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return started
}

func seqEvent(t testing.TB, i int) events.Event {
	t.Helper()
	e, err := events.New(events.TypeConfigChanged, "ws", map[string]int{"seq": i})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestMemoryBusOverflow(t *testing.T) {
	const queue = 4
	tests := []struct {
		overflow    events.Overflow
		publish     int
		wantDropped uint64
		wantSeqs    []int64 // what the handler sees after release
	}{
		// The first event is taken by the (stuck) worker; the queue holds 4.
		{events.DropNewest, 10, 5, []int64{0, 1, 2, 3, 4}},
		{events.DropOldest, 10, 5, []int64{0, 6, 7, 8, 9}},
	}
	for _, tt := range tests {
		t.Run(tt.overflow.String(), func(t *testing.T) {
			bus := events.NewMemoryBus(events.MemoryConfig{QueueSize: queue, Overflow: tt.overflow})
			defer bus.Close()
			release := make(chan struct{})
			started := make(chan struct{})
			var mu sync.Mutex
			var got []int64
			var all sync.WaitGroup
			all.Add(len(tt.wantSeqs))
			_, err := bus.Subscribe(t.Context(), events.Filter{}, func(ctx context.Context, e events.Event) error {
				mu.Lock()
				got = append(got, e.Get("seq").Int())
				first := len(got) == 1
				mu.Unlock()
				if first {
					close(started)
					<-release
				}
				all.Done()
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := bus.Publish(t.Context(), seqEvent(t, 0)); err != nil {
				t.Fatal(err)
			}
			<-started // the worker holds event 0; the queue is empty
			for i := 1; i < tt.publish; i++ {
				if err := bus.Publish(t.Context(), seqEvent(t, i)); err != nil {
					t.Fatalf("Publish(%d) = %v; want nil (dropping never fails)", i, err)
				}
			}
			if st := bus.Stats(); st.Dropped != tt.wantDropped {
				t.Errorf("Stats().Dropped = %d; want %d", st.Dropped, tt.wantDropped)
			}
			close(release)
			all.Wait()
			mu.Lock()
			defer mu.Unlock()
			if fmt.Sprint(got) != fmt.Sprint(tt.wantSeqs) {
				t.Errorf("handler saw seqs %v; want %v", got, tt.wantSeqs)
			}
		})
	}
}

func TestMemoryBusBlockHonoursContext(t *testing.T) {
	bus := events.NewMemoryBus(events.MemoryConfig{QueueSize: 1})
	defer bus.Close()
	release := make(chan struct{})
	defer close(release)
	started := blockedSubscriber(t, bus, release)
	if err := bus.Publish(t.Context(), seqEvent(t, 0)); err != nil {
		t.Fatal(err)
	}
	<-started
	if err := bus.Publish(t.Context(), seqEvent(t, 1)); err != nil { // fills the queue
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := bus.Publish(ctx, seqEvent(t, 2)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Publish to a full queue = %v; want context.DeadlineExceeded", err)
	}
}

func TestMemoryBusCloseReleasesBlockedPublisher(t *testing.T) {
	bus := events.NewMemoryBus(events.MemoryConfig{QueueSize: 1})
	release := make(chan struct{})
	defer close(release)
	started := blockedSubscriber(t, bus, release)
	publish := func(i int) error { return bus.Publish(context.Background(), seqEvent(t, i)) }
	if err := publish(0); err != nil {
		t.Fatal(err)
	}
	<-started
	if err := publish(1); err != nil {
		t.Fatal(err)
	}
	blocked := make(chan error)
	go func() { blocked <- publish(2) }()
	// Close must not wait on the publisher stuck behind the full queue.
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-blocked; !errors.Is(err, events.ErrClosed) {
		t.Errorf("blocked Publish after Close = %v; want ErrClosed", err)
	}
	if st := bus.Stats(); st.Discarded != 1 || st.Subscribers != 0 {
		t.Errorf("Stats() = %+v; want Discarded 1 (event 1 was queued), Subscribers 0", st)
	}
}

func TestMemoryBusShutdownDrains(t *testing.T) {
	const n = 200
	bus := events.NewMemoryBus(events.MemoryConfig{})
	var got atomic.Int64
	_, err := bus.Subscribe(t.Context(), events.Filter{}, func(ctx context.Context, e events.Event) error {
		time.Sleep(10 * time.Microsecond) // slower than the publisher, so events queue up
		got.Add(1)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := bus.Publish(t.Context(), seqEvent(t, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := bus.Shutdown(t.Context()); err != nil {
		t.Fatalf("Shutdown = %v; want nil", err)
	}
	if got.Load() != n {
		t.Errorf("after Shutdown the handler saw %d events; want all %d", got.Load(), n)
	}
	if err := bus.Publish(t.Context(), seqEvent(t, n)); !errors.Is(err, events.ErrClosed) {
		t.Errorf("Publish after Shutdown = %v; want ErrClosed", err)
	}
	if err := bus.Shutdown(t.Context()); err != nil {
		t.Errorf("second Shutdown = %v; want nil", err)
	}
	if err := bus.Close(); err != nil {
		t.Errorf("Close after Shutdown = %v; want nil", err)
	}
	st := bus.Stats()
	if st.Published != n || st.Delivered != n || st.Discarded != 0 {
		t.Errorf("Stats() = %+v; want Published, Delivered %d and nothing discarded", st, n)
	}
}

func TestMemoryBusShutdownDeadline(t *testing.T) {
	bus := events.NewMemoryBus(events.MemoryConfig{})
	release := make(chan struct{})
	defer close(release)
	started := blockedSubscriber(t, bus, release)
	for i := range 3 {
		if err := bus.Publish(t.Context(), seqEvent(t, i)); err != nil {
			t.Fatal(err)
		}
	}
	<-started
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	// The stuck handler watches its ctx, which Shutdown cancels when its
	// own deadline passes; the two queued events are discarded.
	if err := bus.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v; want context.DeadlineExceeded", err)
	}
	if st := bus.Stats(); st.Discarded != 2 {
		t.Errorf("Stats().Discarded = %d; want 2", st.Discarded)
	}
}

func TestMemoryBusStatsCountsFailuresAndPanics(t *testing.T) {
	bus := events.NewMemoryBus(events.MemoryConfig{})
	defer bus.Close()
	var wg sync.WaitGroup
	wg.Add(3)
	_, err := bus.Subscribe(t.Context(), events.Filter{}, func(ctx context.Context, e events.Event) error {
		defer wg.Done()
		switch e.Get("seq").Int() {
		case 0:
			return errors.New("boom")
		case 1:
			panic("bug")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := bus.Publish(t.Context(), seqEvent(t, i)); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if err := bus.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	st := bus.Stats()
	want := events.Stats{Published: 3, Delivered: 1, Failed: 1, Panics: 1}
	if st != want {
		t.Errorf("Stats() = %+v; want %+v", st, want)
	}
}

// TestSlowSubscriberDoesNotDelayFast checks isolation directly on the
// memory bus: a handler stuck on its first event does not hold back the
// delivery of every event to a fast sibling.
func TestSlowSubscriberDoesNotDelayFast(t *testing.T) {
	const n = 500
	bus := events.NewMemoryBus(events.MemoryConfig{})
	defer bus.Close()
	release := make(chan struct{})
	defer close(release)
	blockedSubscriber(t, bus, release)
	done := make(chan struct{})
	var got atomic.Int64
	_, err := bus.Subscribe(t.Context(), events.Filter{}, func(ctx context.Context, e events.Event) error {
		if got.Add(1) == n {
			close(done)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := bus.Publish(t.Context(), seqEvent(t, i)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("fast subscriber got %d of %d events while the slow one was stuck", got.Load(), n)
	}
	if st := bus.Stats(); st.Queued < n-1 {
		t.Errorf("slow subscriber's queue holds %d events; want at least %d", st.Queued, n-1)
	}
}

func TestSubscribeNilHandler(t *testing.T) {
	bus := events.NewMemoryBus(events.MemoryConfig{})
	defer bus.Close()
	if _, err := bus.Subscribe(t.Context(), events.Filter{}, nil); err == nil {
		t.Error("Subscribe(nil handler) = nil error; want an error")
	}
}

func TestHandlerClosesOwnSubscription(t *testing.T) {
	bus := events.NewMemoryBus(events.MemoryConfig{})
	defer bus.Close()
	var sub events.Subscription
	var calls atomic.Int64
	ready := make(chan struct{})
	handled := make(chan struct{})
	sub, err := bus.Subscribe(t.Context(), events.Filter{}, func(ctx context.Context, e events.Event) error {
		<-ready
		calls.Add(1)
		err := sub.Close() // must not deadlock
		close(handled)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	close(ready)
	for i := range 3 {
		if err := bus.Publish(t.Context(), seqEvent(t, i)); err != nil {
			t.Fatal(err)
		}
	}
	<-handled
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 1 {
		t.Errorf("handler called %d times; want 1 (it closed its subscription)", calls.Load())
	}
}

// TestSubscribeFromHandlerWhilePublisherBlocked guards against a deadlock:
// a handler that subscribes while a publisher waits for room in that
// handler's own full queue must not wait for the publisher.
func TestSubscribeFromHandlerWhilePublisherBlocked(t *testing.T) {
	bus := events.NewMemoryBus(events.MemoryConfig{QueueSize: 1})
	defer bus.Close()
	gate := make(chan struct{})
	subscribed := make(chan error, 1)
	var once sync.Once
	_, err := bus.Subscribe(t.Context(), events.Filter{}, func(ctx context.Context, e events.Event) error {
		once.Do(func() {
			<-gate
			_, err := bus.Subscribe(ctx, events.Filter{Types: []events.Type{"other"}}, func(context.Context, events.Event) error { return nil })
			subscribed <- err
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // event 0 is in the handler, event 1 fills the queue
		if err := bus.Publish(t.Context(), seqEvent(t, i)); err != nil {
			t.Fatal(err)
		}
	}
	published := make(chan error, 1)
	go func() { published <- bus.Publish(t.Context(), seqEvent(t, 2)) }() // blocks on the full queue
	time.Sleep(10 * time.Millisecond)                                     // let it block (not an assertion)
	close(gate)
	select {
	case err := <-subscribed:
		if err != nil {
			t.Fatalf("Subscribe from the handler = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Subscribe from a handler deadlocked behind a blocked publisher")
	}
	if err := <-published; err != nil {
		t.Errorf("blocked Publish = %v; want nil once the queue drained", err)
	}
}
