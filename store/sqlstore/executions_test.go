package sqlstore

import (
	"errors"
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
