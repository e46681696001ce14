package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/store"
)

// shortLease is the lease of the cases that wait for one to expire; they
// wait expiryWait, well past it, so that the case is about expiry, not
// about timing.
const (
	shortLease = 50 * time.Millisecond
	expiryWait = 3 * shortLease
	longLease  = time.Minute
)

// createInOrder creates n executions of pipeline one after the other, as
// fast as the store takes them: events.NewID makes their IDs increase in
// that order even within one millisecond, and the IDs are the claim order.
func createInOrder(t *testing.T, s store.Store, pipeline string, n int) []store.Execution {
	t.Helper()
	ctx := ctxFor(t)
	var out []store.Execution
	for range n {
		out = append(out, mustCreate(t, ctx, s, newExecution(pipeline)))
	}
	return out
}

func testClaimOrder(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	xs := createInOrder(t, s, "p", 3)

	if got, err := s.ClaimExecutions(ctx, "w1", longLease, 0); err != nil || len(got) != 0 {
		t.Errorf("ClaimExecutions(n=0) = %v, %v; want none", ids(got), err)
	}

	before := time.Now()
	got, err := s.ClaimExecutions(ctx, "w1", longLease, 2)
	after := time.Now()
	if err != nil {
		t.Fatalf("ClaimExecutions: %v", err)
	}
	if diff := cmp.Diff([]string{xs[0].ID, xs[1].ID}, ids(got)); diff != "" {
		t.Fatalf("ClaimExecutions(n=2) ids (-want: the two oldest +got):\n%s", diff)
	}
	for i, c := range got {
		want := xs[i]
		want.Status = store.StatusRunning
		want.Owner = "w1"
		want.Attempt = 1
		want.LeaseUntil = c.LeaseUntil
		want.StartedAt = c.StartedAt
		if diff := cmp.Diff(want, c, cmpOpts); diff != "" {
			t.Errorf("claimed execution %d (-want +got):\n%s", i, diff)
		}
		checkTime(t, "LeaseUntil", c.LeaseUntil, before.Add(longLease), after.Add(longLease))
		checkTime(t, "StartedAt", c.StartedAt, before, after)
		stored, err := s.GetExecution(ctx, c.ID)
		if err != nil {
			t.Fatalf("GetExecution: %v", err)
		}
		if diff := cmp.Diff(c, stored, cmpOpts); diff != "" {
			t.Errorf("stored execution after claim differs from the claimed one (-claimed +stored):\n%s", diff)
		}
	}

	got, err = s.ClaimExecutions(ctx, "w2", longLease, 10)
	if err != nil {
		t.Fatalf("ClaimExecutions: %v", err)
	}
	if diff := cmp.Diff([]string{xs[2].ID}, ids(got)); diff != "" {
		t.Errorf("second ClaimExecutions ids (-want: the one left +got):\n%s", diff)
	}
	if got, err := s.ClaimExecutions(ctx, "w3", longLease, 10); err != nil || len(got) != 0 {
		t.Errorf("ClaimExecutions with everything leased = %v, %v; want none", ids(got), err)
	}
}

// testClaimOrderWithinMillisecond: executions created back to back, many
// in one millisecond, are claimed in creation order by every adapter,
// whatever the batch size, because every adapter orders claims by ID.
func testClaimOrderWithinMillisecond(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	xs := createInOrder(t, s, "p", 60)
	// The ID is the key, not CreatedAt: one created last but dated an hour
	// back is still claimed last.
	backdated := newExecution("p")
	backdated.CreatedAt = time.Now().Add(-time.Hour)
	xs = append(xs, mustCreate(t, ctx, s, backdated))
	want := ids(xs)
	if !slices.IsSorted(want) {
		t.Fatalf("IDs of executions created in a row are not ascending: %v", want)
	}
	var got []string
	for len(got) < len(xs) {
		batch, err := s.ClaimExecutions(ctx, "w", longLease, 7)
		if err != nil {
			t.Fatalf("ClaimExecutions: %v", err)
		}
		if len(batch) == 0 {
			break
		}
		got = append(got, ids(batch)...)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("claim order (-want: creation order +got):\n%s", diff)
	}
}

// testClaimInvalidLease: a lease that is not positive would hand out work
// already expired, so every adapter refuses it with ErrInvalid and claims
// nothing.
func testClaimInvalidLease(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	x := mustCreate(t, ctx, s, newExecution("p"))
	for _, lease := range []time.Duration{0, -time.Nanosecond, -time.Minute} {
		for _, n := range []int{1, 0} {
			got, err := s.ClaimExecutions(ctx, "w", lease, n)
			if !errors.Is(err, store.ErrInvalid) {
				t.Errorf("ClaimExecutions(lease %v, n %d) = %v, %v; want ErrInvalid", lease, n, ids(got), err)
			}
		}
	}
	stored, err := s.GetExecution(ctx, x.ID)
	if err != nil {
		t.Fatalf("GetExecution: %v", err)
	}
	if stored.Status != store.StatusQueued || stored.Attempt != 0 || stored.Owner != "" {
		t.Errorf("after refused claims: Status=%s Attempt=%d Owner=%q; want queued, 0, unowned", stored.Status, stored.Attempt, stored.Owner)
	}
}

func testClaimLeased(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	x := mustCreate(t, ctx, s, newExecution("p"))
	first, err := s.ClaimExecutions(ctx, "w1", longLease, 1)
	if err != nil || len(first) != 1 || first[0].ID != x.ID {
		t.Fatalf("ClaimExecutions(w1) = %v, %v; want [%s]", ids(first), err, x.ID)
	}
	for _, owner := range []string{"w2", "w1"} {
		got, err := s.ClaimExecutions(ctx, owner, longLease, 5)
		if err != nil || len(got) != 0 {
			t.Errorf("ClaimExecutions(%s) during w1's lease = %v, %v; want none", owner, ids(got), err)
		}
	}
	// Only the holder may write: another owner with the same attempt
	// number, or the holder with another attempt, cannot.
	for _, tok := range []struct {
		owner   string
		attempt int
	}{{"w2", 1}, {"w1", 0}, {"w1", 2}, {"", 1}} {
		x := first[0]
		x.Owner, x.Attempt = tok.owner, tok.attempt
		x.Status = store.StatusFailed
		if _, err := s.UpdateExecution(ctx, x); !errors.Is(err, store.ErrConflict) {
			t.Errorf("UpdateExecution as %q attempt %d while w1 holds attempt 1 = %v; want ErrConflict", tok.owner, tok.attempt, err)
		}
	}
	stored, err := s.GetExecution(ctx, x.ID)
	if err != nil {
		t.Fatalf("GetExecution: %v", err)
	}
	if stored.Owner != "w1" || stored.Attempt != 1 || stored.Status != store.StatusRunning {
		t.Errorf("after refused claims and updates: Owner=%q Attempt=%d Status=%s; want w1, 1, running", stored.Owner, stored.Attempt, stored.Status)
	}
}

// testClaimExpiredLease is the fencing scenario: w1's lease runs out, w2
// rescues the execution, and w1's late update must not land.
func testClaimExpiredLease(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	x := mustCreate(t, ctx, s, newExecution("p"))
	first, err := s.ClaimExecutions(ctx, "w1", shortLease, 1)
	if err != nil || len(first) != 1 {
		t.Fatalf("ClaimExecutions(w1) = %v, %v; want [%s]", ids(first), err, x.ID)
	}
	old := first[0]
	time.Sleep(expiryWait)

	second, err := s.ClaimExecutions(ctx, "w2", longLease, 1)
	if err != nil || len(second) != 1 || second[0].ID != x.ID {
		t.Fatalf("ClaimExecutions(w2) after w1's lease expired = %v, %v; want [%s]", ids(second), err, x.ID)
	}
	rescued := second[0]
	if rescued.Owner != "w2" || rescued.Attempt != 2 || rescued.Status != store.StatusRunning {
		t.Errorf("rescued execution: Owner=%q Attempt=%d Status=%s; want w2, 2, running", rescued.Owner, rescued.Attempt, rescued.Status)
	}
	// StartedAt records the first start, not the rescue.
	if diff := cmp.Diff(old.StartedAt, rescued.StartedAt, cmpOpts); diff != "" {
		t.Errorf("StartedAt changed on re-claim (-first +second):\n%s", diff)
	}

	late := old
	late.Status = store.StatusSucceeded
	late.FinishedAt = time.Now()
	if _, err := s.UpdateExecution(ctx, late); !errors.Is(err, store.ErrConflict) {
		t.Errorf("UpdateExecution by w1 (attempt 1) after w2's claim = %v; want ErrConflict", err)
	}
	// The owner name alone is not the token: attempt counts too.
	sameOwner := late
	sameOwner.Owner = "w2"
	if _, err := s.UpdateExecution(ctx, sameOwner); !errors.Is(err, store.ErrConflict) {
		t.Errorf("UpdateExecution as w2 with attempt 1 = %v; want ErrConflict", err)
	}
	stored, err := s.GetExecution(ctx, x.ID)
	if err != nil {
		t.Fatalf("GetExecution: %v", err)
	}
	if stored.Status != store.StatusRunning || stored.Owner != "w2" {
		t.Errorf("after rejected updates: Status=%s Owner=%q; want running, w2", stored.Status, stored.Owner)
	}

	done := rescued
	done.Status = store.StatusFailed
	done.Error = "boom"
	done.FinishedAt = time.Now()
	updated, err := s.UpdateExecution(ctx, done)
	if err != nil {
		t.Fatalf("UpdateExecution by w2: %v", err)
	}
	if updated.Status != store.StatusFailed || updated.Error != "boom" || updated.Attempt != 2 {
		t.Errorf("UpdateExecution by w2 = Status %s, Error %q, Attempt %d; want failed, boom, 2", updated.Status, updated.Error, updated.Attempt)
	}
}

func testClaimSkipsFinished(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	// Finished with a lease that has long run out: still never claimed.
	x := mustCreate(t, ctx, s, newExecution("p"))
	claimed, err := s.ClaimExecutions(ctx, "w1", longLease, 1)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("ClaimExecutions = %v, %v; want [%s]", ids(claimed), err, x.ID)
	}
	done := claimed[0]
	done.Status = store.StatusSucceeded
	done.FinishedAt = time.Now()
	done.LeaseUntil = time.Now().Add(-time.Hour)
	if _, err := s.UpdateExecution(ctx, done); err != nil {
		t.Fatalf("UpdateExecution: %v", err)
	}
	for _, st := range []store.Status{store.StatusSucceeded, store.StatusFailed, store.StatusCancelled, store.StatusTimedOut} {
		x := newExecution("p")
		x.Status = st
		mustCreate(t, ctx, s, x)
	}
	cancelled := mustCreate(t, ctx, s, newExecution("p"))
	if _, err := s.CancelExecution(ctx, cancelled.ID); err != nil {
		t.Fatalf("CancelExecution: %v", err)
	}
	if got, err := s.ClaimExecutions(ctx, "w2", longLease, 100); err != nil || len(got) != 0 {
		t.Errorf("ClaimExecutions with only finished executions = %v, %v; want none", ids(got), err)
	}
}

func testUpdateExecution(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	x := mustCreate(t, ctx, s, newExecution("p"))
	claimed, err := s.ClaimExecutions(ctx, "w1", longLease, 1)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("ClaimExecutions = %v, %v; want [%s]", ids(claimed), err, x.ID)
	}
	c := claimed[0]

	t0 := time.Now().UTC().Truncate(time.Millisecond)
	next := c
	next.Steps = []store.StepRun{
		{ID: "one", Uses: "http", Status: store.StatusSucceeded, Outcome: store.StatusSucceeded, Conclusion: store.StatusSucceeded,
			Attempts: 1, StartedAt: t0, FinishedAt: t0.Add(time.Millisecond), With: []byte(`{"url":"http://x"}`), Output: []byte(`{"status":200}`)},
		{ID: "two", Uses: "emit", Status: store.StatusRunning, StartedAt: t0.Add(time.Millisecond)},
	}
	next.LeaseUntil = t0.Add(2 * longLease) // a heartbeat extends the lease
	updated, err := s.UpdateExecution(ctx, next)
	if err != nil {
		t.Fatalf("UpdateExecution: %v", err)
	}
	if diff := cmp.Diff(next, updated, cmpOpts); diff != "" {
		t.Errorf("UpdateExecution result (-want +got):\n%s", diff)
	}

	// Only the fields the owner controls are written; the rest is the store's.
	tampered := updated
	tampered.Pipeline = "other"
	tampered.EventID = "other"
	tampered.Version = 99
	tampered.CreatedAt = t0.Add(-time.Hour)
	tampered.Status = store.StatusSucceeded
	tampered.FinishedAt = t0.Add(time.Second)
	tampered.Steps[1].Status = store.StatusSucceeded
	final, err := s.UpdateExecution(ctx, tampered)
	if err != nil {
		t.Fatalf("UpdateExecution: %v", err)
	}
	want := updated
	want.Status = store.StatusSucceeded
	want.FinishedAt = tampered.FinishedAt
	want.Steps = append([]store.StepRun(nil), updated.Steps...)
	want.Steps[1].Status = store.StatusSucceeded
	stored, err := s.GetExecution(ctx, x.ID)
	if err != nil {
		t.Fatalf("GetExecution: %v", err)
	}
	for what, got := range map[string]store.Execution{"UpdateExecution": final, "GetExecution": stored} {
		if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
			t.Errorf("%s after an update touching store-owned fields (-want +got):\n%s", what, diff)
		}
	}

	// An update to an execution that does not exist cannot succeed.
	ghost := c
	ghost.ID = events.NewID(time.Now())
	if _, err := s.UpdateExecution(ctx, ghost); !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrConflict) {
		t.Errorf("UpdateExecution(missing) = %v; want ErrNotFound or ErrConflict", err)
	}
}

func testCancelExecution(t *testing.T, s store.Store) {
	ctx := ctxFor(t)

	queued := mustCreate(t, ctx, s, newExecution("p"))
	before := time.Now()
	got, err := s.CancelExecution(ctx, queued.ID)
	after := time.Now()
	if err != nil {
		t.Fatalf("CancelExecution(queued): %v", err)
	}
	if got.Status != store.StatusCancelled {
		t.Errorf("CancelExecution(queued).Status = %s; want cancelled", got.Status)
	}
	checkTime(t, "FinishedAt of the cancelled execution", got.FinishedAt, before, after)
	if stored, err := s.GetExecution(ctx, queued.ID); err != nil || stored.Status != store.StatusCancelled {
		t.Errorf("GetExecution after cancel = %s, %v; want cancelled", stored.Status, err)
	}

	running := mustCreate(t, ctx, s, newExecution("p"))
	claimed, err := s.ClaimExecutions(ctx, "w1", longLease, 1)
	if err != nil || len(claimed) != 1 || claimed[0].ID != running.ID {
		t.Fatalf("ClaimExecutions = %v, %v; want [%s]", ids(claimed), err, running.ID)
	}
	got, err = s.CancelExecution(ctx, running.ID)
	if err != nil {
		t.Fatalf("CancelExecution(running): %v", err)
	}
	if got.Status != store.StatusRunning || !got.CancelRequested || !got.FinishedAt.IsZero() {
		t.Errorf("CancelExecution(running) = Status %s, CancelRequested %v, FinishedAt %v; want running, true, zero", got.Status, got.CancelRequested, got.FinishedAt)
	}
	// The owner sees the request on its next read, and keeps its claim:
	// an update that does not mention the request does not clear it.
	owner := claimed[0]
	owner.Steps = []store.StepRun{{ID: "s", Uses: "emit", Status: store.StatusRunning}}
	updated, err := s.UpdateExecution(ctx, owner)
	if err != nil {
		t.Fatalf("UpdateExecution by the owner after a cancel request: %v", err)
	}
	if !updated.CancelRequested {
		t.Errorf("UpdateExecution cleared CancelRequested")
	}
	if stored, err := s.GetExecution(ctx, running.ID); err != nil || !stored.CancelRequested {
		t.Errorf("GetExecution after cancel request: CancelRequested = %v, %v; want true", stored.CancelRequested, err)
	}

	finished := newExecution("p")
	finished.Status = store.StatusSucceeded
	finished = mustCreate(t, ctx, s, finished)
	got, err = s.CancelExecution(ctx, finished.ID)
	if err != nil {
		t.Fatalf("CancelExecution(finished): %v", err)
	}
	if diff := cmp.Diff(finished, got, cmpOpts); diff != "" {
		t.Errorf("CancelExecution(finished) changed it (-before +after):\n%s", diff)
	}

	if _, err := s.CancelExecution(ctx, events.NewID(time.Now())); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CancelExecution(missing) = %v; want ErrNotFound", err)
	}
}
