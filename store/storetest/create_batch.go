package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mockops/mockops/store"
)

// testCreateExecutions: a batch creates its first Count executions claimed
// and the rest queued, each judged alone: a duplicate of a stored
// execution, a repeat of an earlier item and an invalid item fail with
// their own errors while the others are stored as returned.
func testCreateExecutions(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	if got, errs := s.CreateExecutions(ctx, nil, store.Claim{}); len(got) != 0 || len(errs) != 0 {
		t.Errorf("CreateExecutions(nil) = %v, %v; want two empty slices", got, errs)
	}
	stored := mustCreate(t, ctx, s, newExecution("p"))
	dupStored := newExecution("p")
	dupStored.EventID = stored.EventID
	first := newExecution("p")
	repeat := newExecution("p")
	repeat.EventID = first.EventID
	invalid := newExecution("p")
	invalid.Error = "boom\x00"
	other := newExecution("q")
	queued := newExecution("p")
	ignored := newExecution("p")
	// Ignored for a claimed item, kept for a queued one.
	ignored.Status, ignored.Owner, ignored.Attempt = store.StatusSucceeded, "someone", 7
	xs := []store.Execution{first, ignored, dupStored, repeat, invalid, other, queued}
	before := time.Now()
	got, errs := s.CreateExecutions(ctx, xs, store.Claim{Owner: "w1", Lease: longLease, Count: 3})
	if len(got) != len(xs) || len(errs) != len(xs) {
		t.Fatalf("CreateExecutions returned %d results and %d errors for %d executions", len(got), len(errs), len(xs))
	}
	cases := []struct {
		i       int
		wantErr error
		status  store.Status
	}{
		{0, nil, store.StatusRunning},
		{1, nil, store.StatusRunning},
		{2, store.ErrConflict, ""},   // claimed slot, but (p, event) is stored
		{3, store.ErrConflict, ""},   // repeats item 0's (p, event)
		{4, store.ErrInvalid, ""},    // an error with a NUL byte
		{5, nil, store.StatusQueued}, // another pipeline, same kind of event
		{6, nil, store.StatusQueued},
	}
	var queuedIDs []string
	for _, c := range cases {
		if c.wantErr != nil {
			if !errors.Is(errs[c.i], c.wantErr) {
				t.Errorf("item %d: err = %v; want %v", c.i, errs[c.i], c.wantErr)
			}
			if got[c.i].ID != "" {
				t.Errorf("item %d failed but returned execution %q", c.i, got[c.i].ID)
			}
			continue
		}
		if errs[c.i] != nil {
			t.Errorf("item %d: %v", c.i, errs[c.i])
			continue
		}
		x := got[c.i]
		if !isID(x.ID) || x.Status != c.status || x.CreatedAt.IsZero() || x.Pipeline != xs[c.i].Pipeline || x.EventID != xs[c.i].EventID {
			t.Errorf("item %d: ID %q Status %s CreatedAt %v Pipeline %q EventID %q; want an ID, %s, set, %q, %q",
				c.i, x.ID, x.Status, x.CreatedAt, x.Pipeline, x.EventID, c.status, xs[c.i].Pipeline, xs[c.i].EventID)
		}
		if c.status == store.StatusRunning {
			if x.Owner != "w1" || x.Attempt != 1 || x.StartedAt.IsZero() {
				t.Errorf("claimed item %d: Owner %q Attempt %d StartedAt %v; want w1, 1, set", c.i, x.Owner, x.Attempt, x.StartedAt)
			}
			if d := x.LeaseUntil.Sub(before); d < longLease-time.Minute/2 || d > longLease+time.Minute/2 {
				t.Errorf("claimed item %d: LeaseUntil is %v after the call; want about %v", c.i, d, longLease)
			}
		} else {
			queuedIDs = append(queuedIDs, x.ID)
		}
		back, err := s.GetExecution(ctx, x.ID)
		if err != nil {
			t.Errorf("GetExecution(item %d): %v", c.i, err)
			continue
		}
		if diff := cmp.Diff(x, back, cmpOpts); diff != "" {
			t.Errorf("item %d: stored differs from the result (-result +stored):\n%s", c.i, diff)
		}
	}
	// The claimed ones are held; only the queued ones are there to claim.
	claimed, err := s.ClaimExecutions(ctx, "w2", longLease, 10)
	if err != nil {
		t.Fatalf("ClaimExecutions: %v", err)
	}
	want := append([]string{stored.ID}, queuedIDs...)
	if diff := cmp.Diff(want, ids(claimed)); diff != "" {
		t.Errorf("ClaimExecutions after the batch (-want +got):\n%s", diff)
	}
	// The claimed owner holds its claim: its update is accepted.
	done := got[0]
	done.Status, done.FinishedAt = store.StatusSucceeded, time.Now()
	if _, err := s.UpdateExecution(ctx, done); err != nil {
		t.Errorf("UpdateExecution by the creating owner: %v", err)
	}
	// A batch that repeats only stored executions stores nothing.
	again, errs := s.CreateExecutions(ctx, []store.Execution{first, other}, store.Claim{})
	for i := range again {
		if !errors.Is(errs[i], store.ErrConflict) {
			t.Errorf("repeated batch, item %d: err = %v; want ErrConflict", i, errs[i])
		}
	}
}

// testCreateExecutionsInvalidClaim: a claim that is not valid fails every
// item with ErrInvalid and stores none.
func testCreateExecutionsInvalidClaim(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	for _, c := range []struct {
		name  string
		claim store.Claim
	}{
		{"negative count", store.Claim{Owner: "w1", Lease: longLease, Count: -1}},
		{"count past the batch", store.Claim{Owner: "w1", Lease: longLease, Count: 3}},
		{"no owner", store.Claim{Lease: longLease, Count: 1}},
		{"owner not UTF-8", store.Claim{Owner: "w\xff", Lease: longLease, Count: 1}},
		{"zero lease", store.Claim{Owner: "w1", Count: 1}},
		{"negative lease", store.Claim{Owner: "w1", Lease: -time.Second, Count: 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			xs := []store.Execution{newExecution("p"), newExecution("p")}
			got, errs := s.CreateExecutions(ctx, xs, c.claim)
			for i := range xs {
				if !errors.Is(errs[i], store.ErrInvalid) || got[i].ID != "" {
					t.Errorf("item %d: %q, %v; want ErrInvalid", i, got[i].ID, errs[i])
				}
			}
		})
	}
	page, err := s.ListExecutions(ctx, store.ExecutionQuery{Pipeline: "p"})
	if err != nil || len(page.Executions) != 0 {
		t.Errorf("after invalid claims, ListExecutions = %v, %v; want none", ids(page.Executions), err)
	}
}

// testCreateExecutionsRepeatOfFailed: an item repeating an earlier item's
// ID or (Pipeline, EventID) fails with ErrConflict even when that earlier
// item failed itself (its ID was taken), so which of them a batch stores
// does not depend on the adapter.
func testCreateExecutionsRepeatOfFailed(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	stored := mustCreate(t, ctx, s, newExecution("p"))
	takenID := newExecution("p") // a new (p, event), but the ID is stored's
	takenID.ID = stored.ID
	sameEvent := newExecution("p") // repeats takenID's (p, event)
	sameEvent.EventID, sameEvent.Event = takenID.EventID, takenID.Event
	takenEvent := newExecution("p") // stored's (p, event), a new ID
	takenEvent.ID, takenEvent.EventID, takenEvent.Event = "01JZZZZZZZZZZZZZZZZZZZZZZZ", stored.EventID, stored.Event
	sameID := newExecution("p") // a new (p, event), but takenEvent's ID
	sameID.ID = takenEvent.ID
	xs := []store.Execution{takenID, sameEvent, takenEvent, sameID}
	got, errs := s.CreateExecutions(ctx, xs, store.Claim{})
	for i := range xs {
		if !errors.Is(errs[i], store.ErrConflict) || got[i].ID != "" {
			t.Errorf("item %d: %q, %v; want ErrConflict", i, got[i].ID, errs[i])
		}
	}
	page, err := s.ListExecutions(ctx, store.ExecutionQuery{})
	if err != nil || len(page.Executions) != 1 {
		t.Errorf("after the batch, ListExecutions = %v, %v; want only %s", ids(page.Executions), err, stored.ID)
	}
}

// testCreateExecutionsBadText: an item whose ID, Pipeline, EventID, Status
// or Owner is not UTF-8 text without NUL bytes (PostgreSQL's text refuses
// both, so no adapter keeps it) fails alone with ErrInvalid; the others
// of the batch are stored.
func testCreateExecutionsBadText(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	good := func() store.Execution { return newExecution("p") }
	bad := []func(x *store.Execution){
		func(x *store.Execution) { x.EventID = "evt\x00" },
		func(x *store.Execution) { x.Pipeline = "p\xff" },
		func(x *store.Execution) { x.ID = "id\x00" },
		func(x *store.Execution) { x.Owner = "w\xff" },
		func(x *store.Execution) { x.Status = "queued\x00" },
	}
	xs := []store.Execution{good()}
	for _, set := range bad {
		x := good()
		set(&x)
		xs = append(xs, x)
	}
	xs = append(xs, good())
	got, errs := s.CreateExecutions(ctx, xs, store.Claim{})
	var want []string
	for i := range xs {
		switch {
		case i == 0 || i == len(xs)-1:
			if errs[i] != nil {
				t.Errorf("good item %d: %v; want it stored", i, errs[i])
				continue
			}
			want = append(want, got[i].ID)
		case !errors.Is(errs[i], store.ErrInvalid) || got[i].ID != "":
			t.Errorf("bad item %d: %q, %v; want ErrInvalid", i, got[i].ID, errs[i])
		}
	}
	page, err := s.ListExecutions(ctx, store.ExecutionQuery{})
	if err != nil || !cmp.Equal(want, ids(page.Executions), cmpopts.SortSlices(func(a, b string) bool { return a < b })) {
		t.Errorf("after the batch, ListExecutions = %v, %v; want %v", ids(page.Executions), err, want)
	}
}
