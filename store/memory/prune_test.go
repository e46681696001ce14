package memory_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/memory"
)

// TestPruneExecutions: only finished executions older than the cut-off
// go, oldest first and at most limit per call; the ones left are still
// listed and claimed as before, and a pruned (pipeline, event) pair is
// free again.
func TestPruneExecutions(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	cut := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 10 {
		x, err := s.CreateExecution(ctx, store.Execution{Pipeline: "p", Version: 1, EventID: fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, x.ID)
	}
	// Claim them all, finish 0-5 (0-3 before the cut-off, 4-5 after) and
	// leave 6-9 running; then 8-9 lose their lease (claimable again).
	xs, err := s.ClaimExecutions(ctx, "w", time.Hour, 10)
	if err != nil || len(xs) != 10 {
		t.Fatalf("ClaimExecutions = %d, %v", len(xs), err)
	}
	for i, x := range xs {
		switch {
		case i < 6:
			x.Status = store.StatusSucceeded
			x.FinishedAt = cut.Add(-time.Minute)
			if i >= 4 {
				x.FinishedAt = cut.Add(time.Minute)
			}
		case i >= 8:
			x.LeaseUntil = time.Now().Add(-time.Second)
		default:
			continue
		}
		if _, err := s.UpdateExecution(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		limit, want int
	}{
		{0, 0}, {3, 3}, {3, 1}, {3, 0},
	}
	for _, tt := range tests {
		if n, err := s.PruneExecutions(ctx, cut, tt.limit); n != tt.want || err != nil {
			t.Errorf("PruneExecutions(limit %d) = %d, %v; want %d, nil", tt.limit, n, err, tt.want)
		}
	}
	for i, id := range ids {
		_, err := s.GetExecution(ctx, id)
		if gone := i < 4; gone != (err != nil) {
			t.Errorf("execution %d: GetExecution = %v; want gone %v", i, err, gone)
		}
	}
	page, err := s.ListExecutions(ctx, store.ExecutionQuery{Pipeline: "p"})
	if err != nil || len(page.Executions) != 6 {
		t.Errorf("ListExecutions = %d, %v; want 6", len(page.Executions), err)
	}
	if xs, err := s.ClaimExecutions(ctx, "w2", time.Hour, 10); err != nil || len(xs) != 2 || xs[0].ID != ids[8] || xs[1].ID != ids[9] {
		t.Errorf("ClaimExecutions after pruning = %v, %v; want executions 8 and 9", xs, err)
	}
	if _, err := s.CreateExecution(ctx, store.Execution{Pipeline: "p", Version: 1, EventID: "0"}); err != nil {
		t.Errorf("CreateExecution for a pruned pair = %v; want nil", err)
	}
}

// TestPruneExecutionsManyChunks: a history longer than one walk of the
// write lock, finished and unfinished interleaved, is pruned whole.
func TestPruneExecutionsManyChunks(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	const n = 10_000
	for i := range n {
		if _, err := s.CreateExecution(ctx, store.Execution{Pipeline: "p", Version: 1, EventID: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	xs, err := s.ClaimExecutions(ctx, "w", time.Hour, n)
	if err != nil || len(xs) != n {
		t.Fatalf("ClaimExecutions = %d, %v", len(xs), err)
	}
	for i, x := range xs {
		if i%3 == 0 {
			continue // stays running
		}
		x.Status, x.FinishedAt = store.StatusFailed, time.Unix(1, 0)
		if _, err := s.UpdateExecution(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	want := n - (n+2)/3
	if got, err := s.PruneExecutions(ctx, time.Unix(2, 0), n); got != want || err != nil {
		t.Errorf("PruneExecutions = %d, %v; want %d, nil", got, err, want)
	}
	var left int
	q := store.ExecutionQuery{Limit: 1000}
	for {
		page, err := s.ListExecutions(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range page.Executions {
			if x.Status != store.StatusRunning {
				t.Fatalf("execution %s left %s", x.ID, x.Status)
			}
			left++
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	if left != (n+2)/3 {
		t.Errorf("%d executions left; want %d", left, (n+2)/3)
	}
}
