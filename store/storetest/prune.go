package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mockops/mockops/store"
)

// ExecutionPruner is the optional capability of a store that deletes
// finished executions: the engine's retention (pipeline.Config.Retention)
// finds it by type assertion, so that store.Store keeps only what every
// adapter must have.
type ExecutionPruner interface {
	// PruneExecutions deletes up to limit executions in a terminal state
	// whose FinishedAt is set and before finishedBefore, those that finished
	// first going first (ties by ID), and returns how many it deleted.
	PruneExecutions(ctx context.Context, finishedBefore time.Time, limit int) (int, error)
}

// pruner returns s's PruneExecutions. The suite requires it: every adapter
// of this module has it, and an adapter without it cannot serve the
// engine's retention, so its absence is a failure, not a skipped case.
func pruner(t *testing.T, s store.Store) ExecutionPruner {
	t.Helper()
	p, ok := s.(ExecutionPruner)
	if !ok {
		t.Fatalf("%T has no PruneExecutions method (storetest.ExecutionPruner): the engine's Retention needs it", s)
	}
	return p
}

// pruneCut is the cut-off of the prune cases: an hour ago, and 900ns into
// its microsecond, so that the cases can tell how an adapter rounds.
func pruneCut() time.Time {
	return time.Now().UTC().Add(-time.Hour).Truncate(time.Second).Add(900 * time.Nanosecond)
}

// finished returns an unsaved execution of pipeline, already in status st
// since at (CreateExecution stores both as given).
func finished(pipeline string, st store.Status, at time.Time) store.Execution {
	x := newExecution(pipeline)
	x.Status, x.FinishedAt = st, at
	return x
}

// claimOne creates an execution of pipeline and claims it for w1.
func claimOne(t *testing.T, ctx context.Context, s store.Store, pipeline string) store.Execution {
	t.Helper()
	x := mustCreate(t, ctx, s, newExecution(pipeline))
	claimed, err := s.ClaimExecutions(ctx, "w1", longLease, 1)
	if err != nil || len(claimed) != 1 || claimed[0].ID != x.ID {
		t.Fatalf("ClaimExecutions = %v, %v; want [%s]", ids(claimed), err, x.ID)
	}
	return claimed[0]
}

func mustUpdate(t *testing.T, ctx context.Context, s store.Store, x store.Execution) {
	t.Helper()
	if _, err := s.UpdateExecution(ctx, x); err != nil {
		t.Fatalf("UpdateExecution(%s): %v", x.ID, err)
	}
}

// testPruneExecutions: only executions in a terminal state that finished
// before the cut-off go, whatever way they got there; running and queued
// ones never, whatever their FinishedAt says, nor finished ones without a
// FinishedAt. Times compare at the microsecond. What is left is listed
// and claimed as before.
func testPruneExecutions(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	p := pruner(t, s)
	cut := pruneCut()
	base := cut.Truncate(time.Microsecond)

	type pruneCase struct {
		name string
		x    store.Execution
		gone bool
	}
	var cases []pruneCase
	add := func(name string, x store.Execution, gone bool) {
		cases = append(cases, pruneCase{name, x, gone})
	}

	// Running: one with a live lease, one whose lease expired (claimable
	// again), both claiming to have finished long ago; and one finished by
	// its owner, the way an engine finishes one. All three are claimed
	// before any lease expires, so each claim takes the one just created.
	live, expired, done := claimOne(t, ctx, s, "p"), claimOne(t, ctx, s, "p"), claimOne(t, ctx, s, "p")
	live.FinishedAt = cut.Add(-time.Hour)
	expired.FinishedAt = cut.Add(-time.Hour)
	expired.LeaseUntil = time.Now().Add(-time.Hour)
	done.Status, done.FinishedAt = store.StatusSucceeded, cut.Add(-time.Hour)
	for _, x := range []store.Execution{live, expired, done} {
		mustUpdate(t, ctx, s, x)
	}
	add("running, FinishedAt long before", live, false)
	add("running, lease expired, FinishedAt long before", expired, false)
	add("succeeded by its owner", done, true)

	queued := mustCreate(t, ctx, s, finished("p", store.StatusQueued, cut.Add(-time.Hour)))
	add("queued, FinishedAt long before", queued, false)
	stored := []pruneCase{
		{"succeeded an hour before", finished("p", store.StatusSucceeded, cut.Add(-time.Hour)), true},
		{"failed", finished("p", store.StatusFailed, cut.Add(-time.Minute)), true},
		{"cancelled", finished("p", store.StatusCancelled, cut.Add(-time.Minute)), true},
		{"timed out", finished("other", store.StatusTimedOut, cut.Add(-time.Minute)), true},
		{"skipped", finished("other", store.StatusSkipped, cut.Add(-time.Minute)), true},
		{"in the microsecond before the cut-off's", finished("p", store.StatusFailed, base.Add(-time.Nanosecond)), true},
		{"in the cut-off's microsecond, before it", finished("p", store.StatusFailed, base.Add(100*time.Nanosecond)), false},
		{"at the cut-off", finished("p", store.StatusSucceeded, cut), false},
		{"after the cut-off", finished("p", store.StatusSucceeded, cut.Add(time.Minute)), false},
		{"finished without FinishedAt", finished("p", store.StatusSucceeded, time.Time{}), false},
	}
	for _, c := range stored {
		add(c.name, mustCreate(t, ctx, s, c.x), c.gone)
	}
	wantGone := 0
	for _, c := range cases {
		if c.gone {
			wantGone++
		}
	}

	if n, err := p.PruneExecutions(ctx, cut, 100); n != wantGone || err != nil {
		t.Errorf("PruneExecutions(cut-off, 100) = %d, %v; want %d, nil", n, err, wantGone)
	}
	var left []string
	for _, c := range cases {
		got, err := s.GetExecution(ctx, c.x.ID)
		switch {
		case c.gone && !errors.Is(err, store.ErrNotFound):
			t.Errorf("%s: GetExecution after the prune = %s, %v; want ErrNotFound", c.name, got.Status, err)
		case !c.gone && err != nil:
			t.Errorf("%s: GetExecution after the prune = %v; want it kept", c.name, err)
		case !c.gone && got.Status != c.x.Status:
			t.Errorf("%s: status after the prune = %s; want %s", c.name, got.Status, c.x.Status)
		}
		if !c.gone {
			left = append(left, c.x.ID)
		}
	}
	if n, err := p.PruneExecutions(ctx, cut, 100); n != 0 || err != nil {
		t.Errorf("PruneExecutions again = %d, %v; want 0, nil", n, err)
	}

	// The listings and the claim see exactly what is left.
	page, err := s.ListExecutions(ctx, store.ExecutionQuery{Limit: 100})
	if err != nil || !slices.Equal(ids(page.Executions), newestFirst(left)) {
		t.Errorf("ListExecutions after the prune = %v, %v; want %v", ids(page.Executions), err, newestFirst(left))
	}
	for _, st := range []store.Status{store.StatusFailed, store.StatusTimedOut} {
		page, err := s.ListExecutions(ctx, store.ExecutionQuery{Status: st})
		var want []string
		for _, c := range cases {
			if !c.gone && c.x.Status == st {
				want = append(want, c.x.ID)
			}
		}
		if err != nil || !slices.Equal(ids(page.Executions), newestFirst(want)) {
			t.Errorf("ListExecutions(status %s) after the prune = %v, %v; want %v", st, ids(page.Executions), err, newestFirst(want))
		}
	}
	claimed, err := s.ClaimExecutions(ctx, "w2", longLease, 10)
	if want := []string{expired.ID, queued.ID}; err != nil || !slices.Equal(ids(claimed), want) {
		t.Errorf("ClaimExecutions after the prune = %v, %v; want the expired lease and the queued one %v", ids(claimed), err, want)
	}
}

// testPruneLimit: limit bounds each call, calls drain what is prunable, and
// a limit that is not positive deletes nothing and is no error.
func testPruneLimit(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	p := pruner(t, s)
	cut := pruneCut()
	const prunable = 7
	for i := range prunable {
		mustCreate(t, ctx, s, finished("p", store.StatusSucceeded, cut.Add(-time.Duration(i+1)*time.Minute)))
	}
	mustCreate(t, ctx, s, newExecution("p"))
	mustCreate(t, ctx, s, finished("p", store.StatusFailed, cut.Add(time.Minute)))

	calls := []struct {
		limit, want int
	}{
		{0, 0}, {-1, 0}, {3, 3}, {3, 3}, {3, 1}, {3, 0}, {0, 0},
	}
	for i, c := range calls {
		if n, err := p.PruneExecutions(ctx, cut, c.limit); n != c.want || err != nil {
			t.Errorf("call %d: PruneExecutions(limit %d) = %d, %v; want %d, nil", i, c.limit, n, err, c.want)
		}
	}
	page, err := s.ListExecutions(ctx, store.ExecutionQuery{})
	if err != nil || len(page.Executions) != 2 {
		t.Errorf("ListExecutions after draining = %v, %v; want the 2 executions that were not prunable", ids(page.Executions), err)
	}
}

// testPruneOrder: when more executions may go than limit allows, those
// that finished first go first, and among those that finished in the same
// microsecond the lower ID; the order of creation (ID) decides nothing else.
func testPruneOrder(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	p := pruner(t, s)
	cut := pruneCut()
	base := cut.Truncate(time.Second)
	// Created a, b, c, d, e, so their IDs ascend in that order.
	finishedAt := []struct {
		name string
		at   time.Time
	}{
		{"a", base.Add(-1 * time.Minute)},
		{"b", base.Add(-3 * time.Minute)},
		{"c", base.Add(-2 * time.Minute)},
		{"d", base.Add(-3*time.Minute + 300*time.Nanosecond)}, // b's microsecond
		{"e", base.Add(-4 * time.Minute)},
	}
	byID := map[string]string{}
	for _, f := range finishedAt {
		byID[mustCreate(t, ctx, s, finished("p", store.StatusSucceeded, f.at)).ID] = f.name
	}
	want := []string{"e", "b", "d", "c", "a"}
	var got []string
	for range want {
		before := present(t, ctx, s)
		if n, err := p.PruneExecutions(ctx, cut, 1); n != 1 || err != nil {
			t.Fatalf("PruneExecutions(limit 1) = %d, %v; want 1, nil", n, err)
		}
		after := present(t, ctx, s)
		for id := range before {
			if !after[id] {
				got = append(got, byID[id])
			}
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("pruned one at a time in the order %v; want %v (by FinishedAt, then ID)", got, want)
	}
}

// present returns the IDs of every stored execution.
func present(t *testing.T, ctx context.Context, s store.Store) map[string]bool {
	t.Helper()
	page, err := s.ListExecutions(ctx, store.ExecutionQuery{Limit: 1000})
	if err != nil {
		t.Fatalf("ListExecutions: %v", err)
	}
	out := map[string]bool{}
	for _, x := range page.Executions {
		out[x.ID] = true
	}
	return out
}

// testPruneFreesEvent: the (pipeline, event) pair of a pruned execution is
// free again, so that event would start a new execution; the pair of an
// execution that was kept is not.
func testPruneFreesEvent(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	p := pruner(t, s)
	cut := pruneCut()
	old := mustCreate(t, ctx, s, finished("p", store.StatusSucceeded, cut.Add(-time.Hour)))
	kept := mustCreate(t, ctx, s, finished("p", store.StatusSucceeded, cut.Add(time.Minute)))
	again := func(x store.Execution) store.Execution {
		y := newExecution(x.Pipeline)
		y.EventID, y.Event = x.EventID, x.Event
		return y
	}
	if _, err := s.CreateExecution(ctx, again(old)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateExecution of a stored pair before the prune = %v; want ErrConflict", err)
	}
	if n, err := p.PruneExecutions(ctx, cut, 10); n != 1 || err != nil {
		t.Fatalf("PruneExecutions = %d, %v; want 1, nil", n, err)
	}
	x, err := s.CreateExecution(ctx, again(old))
	if err != nil {
		t.Fatalf("CreateExecution of the pruned pair = %v; want a new execution", err)
	}
	if x.ID == old.ID || x.Status != store.StatusQueued {
		t.Errorf("new execution for the pruned pair: ID %s (pruned %s), status %s; want a new ID, queued", x.ID, old.ID, x.Status)
	}
	if _, err := s.CreateExecution(ctx, again(kept)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateExecution of a kept pair = %v; want ErrConflict", err)
	}
}

// testPruneConcurrent: replicas pruning the same history at once delete
// each execution once, and between them report exactly what they deleted.
func testPruneConcurrent(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	p := pruner(t, s)
	cut := pruneCut()
	const prunable, pruners, limit = 60, 4, 5
	for i := range prunable {
		mustCreate(t, ctx, s, finished(fmt.Sprint("p", i%3), store.StatusFailed, cut.Add(-time.Duration(i%7)*time.Second-time.Second)))
	}
	keep := mustCreate(t, ctx, s, newExecution("p0"))
	var wg sync.WaitGroup
	counts := make([]int, pruners)
	errs := make([]error, pruners)
	for i := range pruners {
		wg.Go(func() {
			for {
				n, err := p.PruneExecutions(ctx, cut, limit)
				counts[i] += n
				if err != nil {
					errs[i] = err
					return
				}
				// Another pruner may have taken what this call picked, so a
				// short call is no sign that nothing is left: each drains
				// until a call deletes nothing.
				if n == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	total := 0
	for i := range pruners {
		if errs[i] != nil {
			t.Errorf("pruner %d: %v", i, errs[i])
		}
		total += counts[i]
	}
	if total != prunable {
		t.Errorf("pruners deleted %v, %d in all; want %d in all", counts, total, prunable)
	}
	if got := present(t, ctx, s); len(got) != 1 || !got[keep.ID] {
		t.Errorf("left after pruning %v; want only the queued %s", got, keep.ID)
	}
}

// testPruneCancelled: a cancelled context fails the call with an error
// wrapping context.Canceled, whatever the limit, and deletes nothing.
func testPruneCancelled(t *testing.T, s store.Store) {
	live := ctxFor(t)
	p := pruner(t, s)
	cut := pruneCut()
	x := mustCreate(t, live, s, finished("p", store.StatusSucceeded, cut.Add(-time.Hour)))
	ctx, cancel := context.WithCancel(live)
	cancel()
	for _, limit := range []int{10, 0} {
		if n, err := p.PruneExecutions(ctx, cut, limit); n != 0 || !errors.Is(err, context.Canceled) {
			t.Errorf("PruneExecutions(cancelled ctx, limit %d) = %d, %v; want 0 and an error wrapping context.Canceled", limit, n, err)
		}
	}
	if _, err := s.GetExecution(live, x.ID); err != nil {
		t.Errorf("GetExecution after cancelled prunes = %v; want it kept", err)
	}
}
