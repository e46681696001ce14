package sqlstore

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPruneEventsInBatchesSQLite(t *testing.T) { testPruneEventsInBatches(t, newSQLiteStore(t)) }

func TestPruneEventsInBatchesPostgres(t *testing.T) { testPruneEventsInBatches(t, newPostgresStore(t)) }

// testPruneEventsInBatches: PruneEvents deletes a long backlog in bounded
// DELETEs, oldest first, until none is left, and counts them all.
func testPruneEventsInBatches(t *testing.T, s *Store) {
	ctx := testCtx(t)
	bus := s.Bus(BusConfig{})
	defer bus.Close()
	for i := range 30 {
		if err := bus.Publish(ctx, mustEvent(t, i)); err != nil {
			t.Fatal(err)
		}
	}
	var batches []int64
	n, err := s.pruneEvents(ctx, time.Now().Add(time.Hour), 7, func(n int64) { batches = append(batches, n) })
	if err != nil || n != 30 {
		t.Fatalf("pruneEvents(batch 7) = %d, %v; want 30", n, err)
	}
	if diff := cmp.Diff([]int64{7, 7, 7, 7, 2}, batches); diff != "" {
		t.Errorf("rows deleted per statement (-want +got):\n%s", diff)
	}
	var left int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM mockops_bus_events").Scan(&left); err != nil || left != 0 {
		t.Errorf("events left after pruning = %d, %v; want 0", left, err)
	}
	// One statement takes the oldest: a batch of 3 out of 5 leaves the
	// two newest.
	for i := range 5 {
		if err := bus.Publish(ctx, mustEvent(t, i)); err != nil {
			t.Fatal(err)
		}
	}
	seqs := func() []int64 {
		rows, err := s.db.QueryContext(ctx, "SELECT seq FROM mockops_bus_events ORDER BY seq")
		if err != nil {
			t.Fatal(err)
		}
		out, err := collect(rows, func(r scanner) (int64, error) {
			var v int64
			return v, r.Scan(&v)
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	all := seqs()
	if _, err := s.db.ExecContext(ctx, s.q.pruneEvents, s.d.ts(time.Now().Add(time.Hour)), int64(math.MaxInt64), 3); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(all[3:], seqs()); diff != "" {
		t.Errorf("events left by one DELETE of 3 (-want: the two newest +got):\n%s", diff)
	}
}
