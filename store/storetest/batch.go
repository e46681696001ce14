package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/store"
)

// testUpdateExecutions: a batch is judged row by row. The rows whose claim
// holds are written; a row whose claim moved on (another attempt), a
// missing execution, an invalid row and a repeated ID each fail alone,
// with the error UpdateExecution would give, and leave their row as it was.
func testUpdateExecutions(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	if got, errs := s.UpdateExecutions(ctx, nil); len(got) != 0 || len(errs) != 0 {
		t.Errorf("UpdateExecutions(nil) = %v, %v; want empty", got, errs)
	}
	for range 4 {
		mustCreate(t, ctx, s, newExecution("p"))
	}
	claimed, err := s.ClaimExecutions(ctx, "w1", longLease, 4)
	if err != nil || len(claimed) != 4 {
		t.Fatalf("ClaimExecutions = %v, %v; want 4", ids(claimed), err)
	}
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	finished := func(x store.Execution) store.Execution {
		x.Status = store.StatusSucceeded
		x.FinishedAt = t0
		x.Steps = []store.StepRun{{ID: "a", Uses: "noop", Status: store.StatusSucceeded, Outcome: store.StatusSucceeded,
			Conclusion: store.StatusSucceeded, Attempts: 1, StartedAt: t0, FinishedAt: t0, Output: []byte(`{"ok":true}`)}}
		return x
	}
	ok0, ok3 := finished(claimed[0]), finished(claimed[3])
	stale := finished(claimed[1])
	stale.Attempt-- // an earlier claim's write, fenced off
	invalid := finished(claimed[2])
	invalid.Steps[0].Output = []byte(`{not json`)
	ghost := finished(claimed[0])
	ghost.ID = events.NewID(time.Now())
	repeated := finished(claimed[0])
	repeated.Error = "second write of the same execution in one batch"

	cases := []struct {
		name string
		x    store.Execution
		want error // nil: written
		also error // another acceptable error
	}{
		{"first holds its claim", ok3, nil, nil},
		{"stale attempt", stale, store.ErrConflict, nil},
		{"holds its claim", ok0, nil, nil},
		{"invalid output", invalid, store.ErrInvalid, nil},
		{"missing", ghost, store.ErrNotFound, store.ErrConflict},
		{"repeated ID", repeated, store.ErrInvalid, nil},
	}
	batch := make([]store.Execution, len(cases))
	for i, c := range cases {
		batch[i] = c.x
	}
	got, errs := s.UpdateExecutions(ctx, batch)
	if len(got) != len(batch) || len(errs) != len(batch) {
		t.Fatalf("UpdateExecutions returned %d results and %d errors for %d items", len(got), len(errs), len(batch))
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := errs[i]
			if c.want == nil {
				if err != nil {
					t.Fatalf("error = %v; want nil", err)
				}
				if diff := cmp.Diff(c.x, got[i], cmpOpts); diff != "" {
					t.Errorf("result (-want +got):\n%s", diff)
				}
				stored, err := s.GetExecution(ctx, c.x.ID)
				if err != nil {
					t.Fatalf("GetExecution: %v", err)
				}
				if diff := cmp.Diff(c.x, stored, cmpOpts); diff != "" {
					t.Errorf("stored (-want +got):\n%s", diff)
				}
				return
			}
			if !errors.Is(err, c.want) && (c.also == nil || !errors.Is(err, c.also)) {
				t.Errorf("error = %v; want %v", err, c.want)
			}
		})
	}
	// The failed rows are untouched: still running, as claimed.
	for _, x := range []store.Execution{claimed[1], claimed[2]} {
		stored, err := s.GetExecution(ctx, x.ID)
		if err != nil {
			t.Fatalf("GetExecution: %v", err)
		}
		if stored.Status != store.StatusRunning || len(stored.Steps) != 0 {
			t.Errorf("execution %s after a failed batch row: status %s, %d steps; want running with none", x.ID, stored.Status, len(stored.Steps))
		}
	}
	// A cancelled context fails every item, and writes none.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, errs := s.UpdateExecutions(cancelled, []store.Execution{finished(claimed[1])}); len(errs) != 1 || errs[0] == nil {
		t.Errorf("UpdateExecutions with a cancelled context = %v; want one error", errs)
	}
}
