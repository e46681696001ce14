package sqlstore

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mockops/mockops/events"
)

func TestBusNamedBatchesSQLite(t *testing.T)   { testBusNamedBatches(t, newSQLiteStore(t)) }
func TestBusNamedBatchesPostgres(t *testing.T) { testBusNamedBatches(t, newPostgresStore(t)) }

// testBusNamedBatches: a named batch consumer that fell behind receives
// the backlog in batches of at most max, in order, each event once. A
// batch holding an event that always fails is delivered again one event
// at a time: the others are handled, the failing one is given up alone
// after MaxAttempts, and the consumer goes on past it.
func testBusNamedBatches(t *testing.T, s *Store) {
	const total, max, poisonAt = 300, 50, 120
	ctx := testCtx(t)
	cfg := fastBus
	cfg.MaxAttempts = 2
	bus := s.Bus(cfg)
	defer bus.Close()

	var (
		mu      sync.Mutex
		sizes   []int
		handled []int64
		poison  int // calls that held the poisoned event
		singles int // of those, calls of it alone
	)
	release := make(chan struct{})
	_, err := bus.SubscribeNamedBatch(ctx, "batcher", events.Filter{}, max, func(ctx context.Context, es []events.Event) error {
		mu.Lock()
		first := len(sizes) == 0
		sizes = append(sizes, len(es))
		for _, e := range es {
			if e.Get("i").Int() == poisonAt {
				poison++
				if len(es) == 1 {
					singles++
				}
				mu.Unlock()
				return errors.New("poisoned")
			}
		}
		for _, e := range es {
			handled = append(handled, e.Get("i").Int())
		}
		mu.Unlock()
		if first {
			<-release // fall behind: the rest piles up
		}
		return nil
	})
	if err != nil {
		t.Fatalf("SubscribeNamedBatch: %v", err)
	}
	for i := range total {
		if err := bus.Publish(ctx, mustEvent(t, i)); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	deadline := time.Now().Add(time.Minute)
	for {
		mu.Lock()
		n := len(handled)
		mu.Unlock()
		if n >= total-1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events handled in a minute; want %d", n, total-1)
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	// Handled once each, in order, but for the poisoned one; the events
	// of its batch come again one by one, so they may repeat after the
	// earlier ones of that batch.
	var distinct []int64
	seen := map[int64]bool{}
	for _, i := range handled {
		if !seen[i] {
			seen[i] = true
			distinct = append(distinct, i)
		}
	}
	if len(distinct) != total-1 || seen[poisonAt] || !slices.IsSorted(distinct) {
		t.Errorf("handled %d distinct events (sorted %v, poison handled %v); want %d in order without %d",
			len(distinct), slices.IsSorted(distinct), seen[poisonAt], total-1, poisonAt)
	}
	if len(handled) != total-1 {
		t.Errorf("%d deliveries handled; want %d (a failed batch is not handled, so nothing repeats)", len(handled), total-1)
	}
	if poison != 1+cfg.MaxAttempts || singles != cfg.MaxAttempts {
		t.Errorf("poisoned event in %d calls, %d alone; want its batch then %d alone", poison, singles, cfg.MaxAttempts)
	}
	big := 0
	for _, n := range sizes {
		if n > max {
			t.Errorf("a batch of %d; want at most %d", n, max)
		}
		if n > 1 {
			big++
		}
	}
	if big < (total-max)/max {
		t.Errorf("batch sizes %v; want the backlog in batches of up to %d", sizes, max)
	}
}
