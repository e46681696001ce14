package events_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/events/eventstest"
)

// batchBus is a MemoryBus whose Subscribe goes through SubscribeBatch, so
// the conformance suite checks batch delivery: order, filters, close and
// context semantics are those of a plain subscription. A handler's panic
// is recovered per event, as the bus recovers a plain handler's.
type batchBus struct {
	*events.MemoryBus
	max int
}

func (b batchBus) Subscribe(ctx context.Context, f events.Filter, h events.Handler) (events.Subscription, error) {
	return b.SubscribeBatch(ctx, f, b.max, func(ctx context.Context, es []events.Event) error {
		var errs []error
		for _, e := range es {
			func() {
				defer func() {
					if r := recover(); r != nil {
						errs = append(errs, fmt.Errorf("panic: %v", r))
					}
				}()
				errs = append(errs, h(ctx, e))
			}()
		}
		return errors.Join(errs...)
	})
}

func TestMemoryBusBatchConformance(t *testing.T) {
	for _, max := range []int{1, 3, 64} {
		t.Run(fmt.Sprint("max", max), func(t *testing.T) {
			eventstest.Run(t, eventstest.Features{}, func(t *testing.T) events.Bus {
				return batchBus{events.NewMemoryBus(events.MemoryConfig{}), max}
			})
		})
	}
}

// TestMemoryBusBatches: events queued while the handler is busy come in
// one call, in publish order, at most max at a time; a lone event is
// handed over without waiting for more.
func TestMemoryBusBatches(t *testing.T) {
	tests := []struct {
		name      string
		max       int
		queued    int   // published while the handler holds event 0
		wantSizes []int // the batch sizes the handler sees
	}{
		{"lone event", 8, 0, []int{1}},
		{"all queued fit", 8, 5, []int{1, 5}},
		{"split at max", 3, 7, []int{1, 3, 3, 1}},
		{"max 1 is one by one", 1, 3, []int{1, 1, 1, 1}},
		{"max 0 is one by one", 0, 2, []int{1, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bus := events.NewMemoryBus(events.MemoryConfig{})
			defer bus.Close()
			release, started := make(chan struct{}), make(chan struct{})
			var (
				mu    sync.Mutex
				sizes []int
				seqs  []int64
				all   sync.WaitGroup
			)
			all.Add(1 + tt.queued)
			_, err := bus.SubscribeBatch(t.Context(), events.Filter{}, tt.max, func(ctx context.Context, es []events.Event) error {
				mu.Lock()
				first := len(sizes) == 0
				sizes = append(sizes, len(es))
				for _, e := range es {
					seqs = append(seqs, e.Get("seq").Int())
				}
				mu.Unlock()
				if first {
					close(started)
					<-release
				}
				all.Add(-len(es))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := bus.Publish(t.Context(), seqEvent(t, 0)); err != nil {
				t.Fatal(err)
			}
			<-started // a lone event did not wait for company
			for i := 1; i <= tt.queued; i++ {
				if err := bus.Publish(t.Context(), seqEvent(t, i)); err != nil {
					t.Fatal(err)
				}
			}
			close(release)
			all.Wait()
			mu.Lock()
			defer mu.Unlock()
			if fmt.Sprint(sizes) != fmt.Sprint(tt.wantSizes) {
				t.Errorf("batch sizes %v; want %v", sizes, tt.wantSizes)
			}
			for i, s := range seqs {
				if s != int64(i) {
					t.Fatalf("seqs %v; want 0..%d in order", seqs, tt.queued)
				}
			}
		})
	}
}

// TestMemoryBusBatchStats: a failed batch counts each of its events as
// failed, a panicking one counts one panic and goes on, and Shutdown
// delivers what is queued.
func TestMemoryBusBatchStats(t *testing.T) {
	bus := events.NewMemoryBus(events.MemoryConfig{})
	release, started := make(chan struct{}), make(chan struct{})
	var calls int
	_, err := bus.SubscribeBatch(t.Context(), events.Filter{}, 2, func(ctx context.Context, es []events.Event) error {
		calls++
		switch calls {
		case 1:
			close(started)
			<-release
			return nil // event 0
		case 2:
			return errors.New("boom") // events 1 and 2
		case 3:
			panic("bug") // events 3 and 4
		}
		return nil // event 5
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		if err := bus.Publish(t.Context(), seqEvent(t, i)); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			<-started
		}
	}
	close(release)
	if err := bus.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := events.Stats{Published: 6, Delivered: 2, Failed: 2, Panics: 1}
	if st := bus.Stats(); st != want {
		t.Errorf("Stats() = %+v; want %+v", st, want)
	}
	if calls != 4 {
		t.Errorf("%d calls; want 4", calls)
	}
}

func TestSubscribeBatchNilHandler(t *testing.T) {
	bus := events.NewMemoryBus(events.MemoryConfig{})
	defer bus.Close()
	if _, err := bus.SubscribeBatch(t.Context(), events.Filter{}, 4, nil); err == nil {
		t.Error("SubscribeBatch(nil handler) = nil error; want one")
	}
}
