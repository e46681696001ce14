package memory

import (
	"context"
	"slices"
	"time"

	"github.com/mockops/mockops/store"
)

// pruneChunk is how many executions PruneExecutions looks at per hold of
// the write lock: a long history is walked in pieces, so claims and
// updates get in between instead of waiting for the whole walk.
const pruneChunk = 4096

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
	total := 0
	after := "" // the last ID looked at; "" = from the start
	for total < limit {
		n, last, more := s.pruneChunk(finishedBefore, limit-total, after)
		total += n
		if !more {
			break
		}
		after = last
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
	return total, nil
}

// pruneChunk deletes up to limit prunable executions among the next
// pruneChunk IDs after after, and reports the last ID it looked at and
// whether any IDs are left past it.
func (s *Store) pruneChunk(finishedBefore time.Time, limit int, after string) (int, string, bool) {
	s.execMu.Lock()
	defer s.execMu.Unlock()
	tab := &s.execs
	i := 0
	if after != "" {
		i, _ = slices.BinarySearch(tab.order, after)
		if i < len(tab.order) && tab.order[i] == after {
			i++
		}
	}
	end := min(i+pruneChunk, len(tab.order))
	var gone []string // ascending, as order is
	last := after
	for _, id := range tab.order[i:end] {
		last = id
		x := tab.byID[id]
		if !x.Status.Terminal() || x.FinishedAt.IsZero() || !x.FinishedAt.Before(finishedBefore) {
			continue
		}
		gone = append(gone, id)
		delete(tab.byEvent, eventKey{x.Pipeline, x.EventID})
		delete(tab.byID, id)
		*x = store.Execution{} // drop the payloads the slab still points at
		if len(gone) == limit {
			break
		}
	}
	if len(gone) > 0 {
		tab.order = removeSorted(tab.order, gone)
		n := len(tab.active)
		tab.active = removeSorted(tab.active, gone)
		tab.dead -= n - len(tab.active) // every pruned one still in active was dead
	}
	more := false
	if k, _ := slices.BinarySearch(tab.order, last); k < len(tab.order) {
		more = tab.order[k] != last || k+1 < len(tab.order)
	}
	return len(gone), last, more
}

// removeSorted removes gone from ids, both ascending: the part before
// the first one removed is not touched, the rest is one merge pass.
func removeSorted(ids, gone []string) []string {
	start, _ := slices.BinarySearch(ids, gone[0])
	out := ids[:start]
	j := 0
	for _, id := range ids[start:] {
		for j < len(gone) && gone[j] < id {
			j++
		}
		if j < len(gone) && gone[j] == id {
			j++
			continue
		}
		out = append(out, id)
	}
	clear(ids[len(out):])
	return out
}
