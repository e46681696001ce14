package sqlstore

import (
	"context"
	"testing"
	"time"

	"github.com/mockops/mockops/events"
)

func TestPruneEventsSQLite(t *testing.T) { testPruneEvents(t, newSQLiteStore(t)) }

func TestPruneEventsPostgres(t *testing.T) { testPruneEvents(t, newPostgresStore(t)) }

// testPruneEvents: pruning deletes only events older than the cut-off that
// every named consumer has handled, and a consumer still gets the rest.
func testPruneEvents(t *testing.T, s *Store) {
	ctx := testCtx(t)
	bus := s.Bus(BusConfig{PollInterval: 10 * time.Millisecond})
	defer bus.Close()
	var published []string
	for i := range 6 {
		e := mustEvent(t, i)
		if err := bus.Publish(ctx, e); err != nil {
			t.Fatal(err)
		}
		published = append(published, e.ID)
	}
	var seqs []int64
	rows, err := s.db.QueryContext(ctx, "SELECT seq FROM mockops_bus_events ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	if err := rows.Err(); err != nil || len(seqs) != 6 {
		t.Fatalf("stored seqs = %v, %v; want 6", seqs, err)
	}
	// Consumer "slow" has handled the first three events.
	if _, err := s.db.ExecContext(ctx, s.d.bind(`INSERT INTO mockops_bus_consumers (name, position, updated_at) VALUES (?, ?, ?)`),
		"slow", seqs[2], s.d.ts(time.Now())); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		olderThan time.Time
		want      int64
	}{
		{"window excludes everything", time.Now().Add(-time.Hour), 0},
		{"held back by the consumer", time.Now().Add(time.Hour), 3},
		{"nothing left to prune", time.Now().Add(time.Hour), 0},
	}
	for _, tt := range tests {
		n, err := s.PruneEvents(ctx, tt.olderThan)
		if err != nil || n != tt.want {
			t.Fatalf("%s: PruneEvents = %d, %v; want %d", tt.name, n, err, tt.want)
		}
	}

	// The consumer resumes with the three events it has not handled.
	got := make(chan string, 6)
	sub, err := bus.SubscribeNamed(ctx, "slow", events.Filter{}, func(_ context.Context, e events.Event) error {
		got <- e.ID
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for _, want := range published[3:] {
		select {
		case id := <-got:
			if id != want {
				t.Fatalf("consumer got %s; want %s", id, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("consumer did not get %s after pruning", want)
		}
	}

	// Without any named consumer, the window alone decides.
	if _, err := s.db.ExecContext(ctx, "DELETE FROM mockops_bus_consumers"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneEvents(ctx, time.Now().Add(time.Hour)); err != nil || n != 3 {
		t.Errorf("PruneEvents with no consumers = %d, %v; want 3", n, err)
	}
}
