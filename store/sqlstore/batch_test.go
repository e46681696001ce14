package sqlstore

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/store"
)

// claimN creates and claims n executions of pipeline "p" for owner w1.
func claimN(t testing.TB, s *Store, n int) []store.Execution {
	t.Helper()
	ctx := testCtx(t)
	for range n {
		if _, err := s.CreateExecution(ctx, store.Execution{Pipeline: "p", Version: 1, EventID: events.NewID(time.Now())}); err != nil {
			t.Fatalf("CreateExecution: %v", err)
		}
	}
	xs, err := s.ClaimExecutions(ctx, "w1", time.Hour, n)
	if err != nil || len(xs) != n {
		t.Fatalf("ClaimExecutions = %d, %v; want %d", len(xs), err, n)
	}
	return xs
}

// TestUpdateExecutionsPostgresBatch: PostgreSQL's one-statement batch
// writes NULL steps and times as such, and two batches over the same rows
// in opposite orders at once both succeed: the statement locks in ID
// order, so they cannot deadlock.
func TestUpdateExecutionsPostgresBatch(t *testing.T) {
	s := newPostgresStore(t)
	if s.q.updateExecutions == "" {
		t.Fatal("PostgreSQL store has no one-statement batch update")
	}
	ctx := testCtx(t)
	xs := claimN(t, s, 40)
	cases := []struct {
		name string
		edit func(x store.Execution) store.Execution
	}{
		{"no steps, no lease", func(x store.Execution) store.Execution {
			x.LeaseUntil, x.Steps, x.Error = time.Time{}, nil, "stopped"
			return x
		}},
		{"steps and lease", func(x store.Execution) store.Execution {
			now := time.Now().UTC().Truncate(time.Microsecond)
			x.LeaseUntil = now.Add(time.Hour)
			x.Steps = []store.StepRun{{ID: "a", Uses: "noop", Status: store.StatusRunning, StartedAt: now}}
			return x
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			batch := make([]store.Execution, len(xs))
			for i, x := range xs {
				batch[i] = c.edit(x)
			}
			got, errs := s.UpdateExecutions(ctx, batch)
			for i := range batch {
				if errs[i] != nil {
					t.Fatalf("row %d: %v", i, errs[i])
				}
				stored, err := s.GetExecution(ctx, batch[i].ID)
				if err != nil {
					t.Fatal(err)
				}
				for _, y := range []store.Execution{got[i], stored} {
					if !y.LeaseUntil.Equal(batch[i].LeaseUntil) || len(y.Steps) != len(batch[i].Steps) || y.Error != batch[i].Error {
						t.Fatalf("row %d = lease %v, %d steps, error %q; want %v, %d, %q", i,
							y.LeaseUntil, len(y.Steps), y.Error, batch[i].LeaseUntil, len(batch[i].Steps), batch[i].Error)
					}
				}
			}
		})
	}
	t.Run("concurrent opposite orders", func(t *testing.T) {
		var wg sync.WaitGroup
		failures := make(chan error, 2*20*len(xs))
		for w := range 2 {
			batch := slices.Clone(xs)
			if w == 1 {
				slices.Reverse(batch)
			}
			wg.Go(func() {
				for range 20 {
					_, errs := s.UpdateExecutions(ctx, batch)
					for _, err := range errs {
						if err != nil {
							failures <- err
						}
					}
				}
			})
		}
		wg.Wait()
		close(failures)
		for err := range failures {
			t.Fatalf("concurrent batch: %v", err)
		}
	})
	t.Run("stale attempt fenced", func(t *testing.T) {
		stale := slices.Clone(xs[:3])
		stale[1].Attempt++
		_, errs := s.UpdateExecutions(ctx, stale)
		if errs[0] != nil || errs[2] != nil {
			t.Errorf("holding rows: %v, %v; want nil", errs[0], errs[2])
		}
		if errs[1] == nil {
			t.Error("stale row: nil error; want a conflict")
		}
	})
}
