package pipeline

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/memory"
)

// gatedStore records the size of every write and holds the first one
// until open is closed, so a test decides what queues behind it.
type gatedStore struct {
	store.Store
	open  chan struct{}
	mu    sync.Mutex
	sizes []int
}

func (g *gatedStore) hold(n int) {
	g.mu.Lock()
	first := len(g.sizes) == 0
	g.sizes = append(g.sizes, n)
	g.mu.Unlock()
	if first {
		<-g.open
	}
}

func (g *gatedStore) UpdateExecution(ctx context.Context, x store.Execution) (store.Execution, error) {
	g.hold(1)
	return g.Store.UpdateExecution(ctx, x)
}

func (g *gatedStore) UpdateExecutions(ctx context.Context, xs []store.Execution) ([]store.Execution, []error) {
	g.hold(len(xs))
	return g.Store.UpdateExecutions(ctx, xs)
}

// claimed creates and claims n executions in st.
func claimed(t *testing.T, st store.Store, n int) []store.Execution {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		ev := events.Event{ID: events.NewID(time.Now()), Source: "test", Type: "t", Time: time.Now()}
		if _, err := st.CreateExecution(ctx, store.Execution{Pipeline: "p", Version: 1, EventID: ev.ID, Event: ev}); err != nil {
			t.Fatalf("CreateExecution %d: %v", i, err)
		}
	}
	xs, err := st.ClaimExecutions(ctx, "me", time.Hour, n)
	if err != nil || len(xs) != n {
		t.Fatalf("ClaimExecutions = %d, %v; want %d", len(xs), err, n)
	}
	return xs
}

// TestBatcherGroupsWrites: a write made while another is being stored
// waits for the next batch, which carries every such write at once (up to
// the batch size); each writer gets its own answer, a refused claim
// failing alone.
func TestBatcherGroupsWrites(t *testing.T) {
	cases := []struct {
		name      string
		writers   int // besides the first, held one
		max       int
		wantSizes []int
	}{
		{"all in one batch", 5, 64, []int{1, 5}},
		{"split by the batch size", 5, 2, []int{1, 2, 2, 1}},
		{"alone", 0, 64, []int{1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g := &gatedStore{Store: memory.New(), open: make(chan struct{})}
				xs := claimed(t, g, c.writers+1)
				b := newBatcher(g, c.max, 0)
				stale := len(xs) / 2 // this writer's claim is not the stored one
				type answer struct {
					got store.Execution
					err error
				}
				answers := make([]answer, len(xs))
				var wg sync.WaitGroup
				write := func(i int) {
					x := xs[i]
					x.Status = store.StatusSucceeded
					if i == stale && i > 0 {
						x.Attempt++
					}
					got, err := b.update(x)
					answers[i] = answer{got, err}
				}
				wg.Go(func() { write(0) })
				synctest.Wait() // the first write leads and is held in the store
				for i := 1; i < len(xs); i++ {
					wg.Go(func() { write(i) })
				}
				synctest.Wait() // the others queued behind it
				close(g.open)
				wg.Wait()

				if got := g.sizes; !equalInts(got, c.wantSizes) {
					t.Errorf("store writes of sizes %v; want %v", got, c.wantSizes)
				}
				for i, a := range answers {
					if i == stale && i > 0 {
						if !errors.Is(a.err, store.ErrConflict) {
							t.Errorf("writer %d (stale claim): err = %v; want ErrConflict", i, a.err)
						}
						continue
					}
					if a.err != nil || a.got.ID != xs[i].ID || a.got.Status != store.StatusSucceeded {
						t.Errorf("writer %d: got %s %s, %v; want %s succeeded", i, a.got.ID, a.got.Status, a.err, xs[i].ID)
					}
				}
				if batches, rows := b.counts(); batches != int64(len(c.wantSizes)) || rows != int64(len(xs)) {
					t.Errorf("counts = %d batches, %d rows; want %d, %d", batches, rows, len(c.wantSizes), len(xs))
				}
			})
		})
	}
}

// TestBatcherDelay: with a delay, a lone write waits that long for
// company; a full batch is written at once.
func TestBatcherDelay(t *testing.T) {
	cases := []struct {
		name    string
		writers int
		max     int
		want    time.Duration
	}{
		{"lone write waits the delay", 1, 8, 5 * time.Millisecond},
		{"full batch does not wait", 4, 4, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				st := memory.New()
				xs := claimed(t, st, c.writers)
				b := newBatcher(st, c.max, 5*time.Millisecond)
				start := time.Now()
				var wg sync.WaitGroup
				for _, x := range xs {
					wg.Go(func() {
						if _, err := b.update(x); err != nil {
							t.Errorf("update: %v", err)
						}
					})
				}
				wg.Wait()
				if got := time.Since(start); got != c.want {
					t.Errorf("writes took %v; want %v", got, c.want)
				}
			})
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
