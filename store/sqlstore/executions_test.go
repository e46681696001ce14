package sqlstore

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/store"
)

// Edge cases of the claim rules that the conformance suite does not pin
// down, checked against both dialects because each has its own NULL and
// comparison rules.

func TestClaimEdgesSQLite(t *testing.T)   { testClaimEdges(t, newSQLiteStore(t)) }
func TestClaimEdgesPostgres(t *testing.T) { testClaimEdges(t, newPostgresStore(t)) }

func testClaimEdges(t *testing.T, s *Store) {
	ctx := testCtx(t)
	newX := func(status store.Status) store.Execution {
		ev, err := events.New(events.TypeConfigChanged, "ws", nil)
		if err != nil {
			t.Fatal(err)
		}
		x, err := s.CreateExecution(ctx, store.Execution{Pipeline: "p", EventID: ev.ID, Event: ev, Status: status})
		if err != nil {
			t.Fatal(err)
		}
		return x
	}

	// A never-claimed execution has no claim to hold: updating it as
	// nobody (owner "", attempt 0) is a conflict, not a silent write.
	queued := newX(store.StatusQueued)
	queued.Status = store.StatusSucceeded
	if _, err := s.UpdateExecution(ctx, queued); !errors.Is(err, store.ErrConflict) {
		t.Errorf("UpdateExecution(never claimed) = %v; want ErrConflict", err)
	}
	if _, err := s.CancelExecution(ctx, queued.ID); err != nil { // out of the way of the claims below
		t.Fatal(err)
	}

	// Running with no lease at all (written by hand or by an older
	// version) counts as expired, as a zero LeaseUntil is in the past.
	orphan := newX(store.StatusRunning)
	got, err := s.ClaimExecutions(ctx, "rescuer", time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != orphan.ID || got[0].Attempt != 1 || got[0].Owner != "rescuer" {
		t.Errorf("ClaimExecutions with a lease-less running execution = %+v; want it, attempt 1, owner rescuer", got)
	}
}

// TestLeaseClockSkew: two replicas share a database, one with a clock an
// hour fast and one an hour slow. Leases are on the database's clock, so
// the fast one cannot see the slow one's live lease as expired and take the
// running execution, and the slow one's lease does not end an hour early.
func TestLeaseClockSkewSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "skew.db")
	testLeaseClockSkew(t, openSQLiteAt(t, path), openSQLiteAt(t, path))
}

func TestLeaseClockSkewPostgres(t *testing.T) {
	dsn, schema := newSchema(t)
	testLeaseClockSkew(t, openPostgresIn(t, dsn, schema), openPostgresIn(t, dsn, schema))
}

func testLeaseClockSkew(t *testing.T, slow, fast *Store) {
	ctx := testCtx(t)
	slow.now = func() time.Time { return time.Now().Add(-time.Hour) }
	fast.now = func() time.Time { return time.Now().Add(time.Hour) }
	ev, err := events.New(events.TypeConfigChanged, "ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	x, err := slow.CreateExecution(ctx, store.Execution{Pipeline: "p", EventID: ev.ID, Event: ev})
	if err != nil {
		t.Fatal(err)
	}
	const lease = time.Minute
	before := time.Now()
	claimed, err := slow.ClaimExecutions(ctx, "slow", lease, 1)
	after := time.Now()
	if err != nil || len(claimed) != 1 || claimed[0].ID != x.ID {
		t.Fatalf("ClaimExecutions(slow) = %v, %v; want [%s]", claimed, err, x.ID)
	}
	// The database runs on this host's clock; allow for SQLite's
	// millisecond resolution.
	if got := claimed[0].LeaseUntil; got.Before(before.Add(lease-time.Second)) || got.After(after.Add(lease+time.Second)) {
		t.Errorf("LeaseUntil claimed by a replica an hour slow = %v; want the database's now + %v (about %v)", got, lease, before.Add(lease))
	}
	stolen, err := fast.ClaimExecutions(ctx, "fast", lease, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(stolen) != 0 {
		t.Errorf("ClaimExecutions by a replica an hour fast during a live lease = %v; want none", stolen)
	}
	stored, err := fast.GetExecution(ctx, x.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Owner != "slow" || stored.Attempt != 1 {
		t.Errorf("after the fast replica's claim: Owner=%q Attempt=%d; want slow, 1", stored.Owner, stored.Attempt)
	}
}
