package memory

import (
	"context"
	"slices"
	"time"

	"github.com/mockops/mockops/store"
)

// PruneExecutions deletes up to limit executions in a terminal state that
// finished before finishedBefore, oldest first (by ID), and returns how
// many it deleted. Unfinished executions are never deleted. Deleting an
// execution frees its (pipeline, event) pair: a redelivery of that event
// would start a new execution, so keep finished ones longer than any bus
// may redeliver. A limit that is not positive deletes nothing.
func (s *Store) PruneExecutions(ctx context.Context, finishedBefore time.Time, limit int) (int, error) {
	if err := s.check(ctx, "prune executions"); err != nil {
		return 0, err
	}
	if limit <= 0 {
		return 0, nil
	}
	s.execMu.Lock()
	defer s.execMu.Unlock()
	tab := &s.execs
	gone := map[string]bool{}
	for _, id := range tab.order {
		x := tab.byID[id]
		if !x.Status.Terminal() || x.FinishedAt.IsZero() || !x.FinishedAt.Before(finishedBefore) {
			continue
		}
		gone[id] = true
		delete(tab.byEvent, eventKey{x.Pipeline, x.EventID})
		delete(tab.byID, id)
		*x = store.Execution{} // drop the payloads the slab still points at
		if len(gone) == limit {
			break
		}
	}
	if len(gone) == 0 {
		return 0, nil
	}
	tab.order = slices.DeleteFunc(tab.order, func(id string) bool { return gone[id] })
	n := len(tab.active)
	tab.active = slices.DeleteFunc(tab.active, func(id string) bool { return gone[id] })
	tab.dead -= n - len(tab.active) // every pruned one still in active was dead
	return len(gone), nil
}
