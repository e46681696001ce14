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

// testCreateClaimedExecution: an execution created claimed is running,
// held by its owner (attempt 1) for the lease, unique on (pipeline,
// event) like any other, and taken over by a claim once its lease ended.
func testCreateClaimedExecution(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	for _, c := range []struct {
		name  string
		owner string
		lease time.Duration
	}{{"zero lease", "w1", 0}, {"negative lease", "w1", -time.Second}, {"no owner", "", longLease}} {
		if _, err := s.CreateClaimedExecution(ctx, newExecution("p"), c.owner, c.lease); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("CreateClaimedExecution with %s = %v; want ErrInvalid", c.name, err)
		}
	}

	in := newExecution("p")
	in.Status, in.Owner, in.Attempt = store.StatusSucceeded, "someone", 7 // ignored
	before := time.Now()
	x, err := s.CreateClaimedExecution(ctx, in, "w1", longLease)
	if err != nil {
		t.Fatalf("CreateClaimedExecution: %v", err)
	}
	if !isID(x.ID) || x.Status != store.StatusRunning || x.Owner != "w1" || x.Attempt != 1 || x.CreatedAt.IsZero() {
		t.Errorf("created claimed: ID %q Status %s Owner %q Attempt %d CreatedAt %v; want an ID, running, w1, 1, set",
			x.ID, x.Status, x.Owner, x.Attempt, x.CreatedAt)
	}
	// The store's clock may differ from ours by a little (SQL); a lease
	// far off is wrong.
	if d := x.LeaseUntil.Sub(before); d < longLease-time.Minute/2 || d > longLease+time.Minute/2 {
		t.Errorf("LeaseUntil is %v after the call; want about %v", d, longLease)
	}
	if x.StartedAt.IsZero() || x.LeaseUntil.Sub(x.StartedAt) < longLease-time.Millisecond {
		t.Errorf("StartedAt %v, LeaseUntil %v; want the lease to run a lease from the start", x.StartedAt, x.LeaseUntil)
	}
	stored, err := s.GetExecution(ctx, x.ID)
	if err != nil {
		t.Fatalf("GetExecution: %v", err)
	}
	if diff := cmp.Diff(x, stored, cmpOpts); diff != "" {
		t.Errorf("stored differs from the result (-result +stored):\n%s", diff)
	}
	if got, err := s.ClaimExecutions(ctx, "w2", longLease, 10); err != nil || len(got) != 0 {
		t.Errorf("ClaimExecutions by another owner = %v, %v; want none (the lease is live)", ids(got), err)
	}
	if _, err := s.CreateClaimedExecution(ctx, in, "w2", longLease); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateClaimedExecution for the same (pipeline, event) = %v; want ErrConflict", err)
	}
	if _, err := s.CreateExecution(ctx, in); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateExecution for the same (pipeline, event) = %v; want ErrConflict", err)
	}
	done := x
	done.Status, done.FinishedAt = store.StatusSucceeded, time.Now()
	if _, err := s.UpdateExecution(ctx, done); err != nil {
		t.Errorf("UpdateExecution by the creating owner: %v", err)
	}

	short, err := s.CreateClaimedExecution(ctx, newExecution("p"), "w1", shortLease)
	if err != nil {
		t.Fatalf("CreateClaimedExecution: %v", err)
	}
	time.Sleep(expiryWait)
	got, err := s.ClaimExecutions(ctx, "w2", longLease, 10)
	if err != nil || len(got) != 1 || got[0].ID != short.ID || got[0].Attempt != 2 {
		t.Errorf("ClaimExecutions after the created lease ended = %v, %v; want [%s] at attempt 2", ids(got), err, short.ID)
	}
}
