package memory

import (
	"container/heap"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/mockops/mockops/store"
)

// pruneChunk is how many executions PruneExecutions looks at per hold of
// the read lock: a long history is walked in pieces, so claims and
// updates get in between instead of waiting for the whole walk.
const pruneChunk = 4096

// PruneExecutions deletes up to limit executions in a terminal state that
// finished before finishedBefore, and returns how many it deleted. Those
// that finished first go first (ties by ID), which is the order of the SQL
// adapter's finished_at index; times compare at the microsecond, as that
// adapter stores them. Unfinished executions, and finished ones without a
// FinishedAt, are never deleted. Deleting an execution frees its
// (pipeline, event) pair: a redelivery of that event would start a new
// execution, so keep finished ones longer than any bus may redeliver. A
// limit that is not positive deletes nothing.
//
// It picks under the read lock, a chunk at a time, and deletes what it
// picked under one hold of the write lock, looking at each again first: an
// execution changed or deleted in between is left alone, so a call may
// delete fewer than limit while others prune or update at the same time.
// If ctx ends during the walk nothing is deleted.
func (s *Store) PruneExecutions(ctx context.Context, finishedBefore time.Time, limit int) (int, error) {
	if err := s.check(ctx, "prune executions"); err != nil {
		return 0, err
	}
	if limit <= 0 {
		return 0, nil
	}
	cut := finishedBefore.Truncate(time.Microsecond)
	picked := &pruneHeap{}
	after := "" // the last ID looked at; "" = from the start
	for {
		last, more := s.pickChunk(cut, limit, after, picked)
		if !more {
			break
		}
		after = last
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("memory: prune executions: %w", err)
		}
	}
	if picked.Len() == 0 {
		return 0, nil
	}
	ids := make([]string, picked.Len())
	for i, p := range *picked {
		ids[i] = p.id
	}
	slices.Sort(ids)
	return s.deletePruned(cut, ids), nil
}

// prunedAt reports whether x may be pruned at cut, and the time it
// finished at the microsecond.
func prunedAt(x *store.Execution, cut time.Time) (time.Time, bool) {
	if !x.Status.Terminal() || x.FinishedAt.IsZero() {
		return time.Time{}, false
	}
	f := x.FinishedAt.Truncate(time.Microsecond)
	return f, f.Before(cut)
}

// pickChunk offers picked the prunable executions among the next
// pruneChunk IDs after after, and reports the last ID it looked at and
// whether any IDs are left past it.
func (s *Store) pickChunk(cut time.Time, limit int, after string, picked *pruneHeap) (string, bool) {
	s.execMu.RLock()
	defer s.execMu.RUnlock()
	tab := &s.execs
	i := 0
	if after != "" {
		var found bool
		if i, found = slices.BinarySearch(tab.order, after); found {
			i++
		}
	}
	end := min(i+pruneChunk, len(tab.order))
	last := after
	for _, id := range tab.order[i:end] {
		last = id
		if f, ok := prunedAt(tab.byID[id], cut); ok {
			picked.offer(pruneItem{f, id}, limit)
		}
	}
	return last, end < len(tab.order)
}

// deletePruned deletes the executions ids (ascending) that may still be
// pruned at cut, and returns how many it deleted.
func (s *Store) deletePruned(cut time.Time, ids []string) int {
	s.execMu.Lock()
	defer s.execMu.Unlock()
	tab := &s.execs
	gone := ids[:0] // ascending, as order is
	for _, id := range ids {
		x, ok := tab.byID[id]
		if !ok {
			continue
		}
		if _, ok := prunedAt(x, cut); !ok {
			continue
		}
		gone = append(gone, id)
		delete(tab.byEvent, eventKey{x.Pipeline, x.EventID})
		delete(tab.byID, id)
		*x = store.Execution{} // drop the payloads the slab still points at
	}
	if len(gone) > 0 {
		tab.order = removeSorted(tab.order, gone)
		n := len(tab.active)
		tab.active = removeSorted(tab.active, gone)
		tab.dead -= n - len(tab.active) // every pruned one still in active was dead
	}
	return len(gone)
}

// pruneItem is an execution in pruning order.
type pruneItem struct {
	finished time.Time // at the microsecond
	id       string
}

func (a pruneItem) before(b pruneItem) bool {
	if c := a.finished.Compare(b.finished); c != 0 {
		return c < 0
	}
	return a.id < b.id
}

// pruneHeap keeps the first executions in pruning order offered to it, up
// to a limit: a max-heap whose root is the last of them, so a walk of the
// whole history picks a batch in O(n log limit) without sorting it.
type pruneHeap []pruneItem

func (h pruneHeap) Len() int           { return len(h) }
func (h pruneHeap) Less(i, j int) bool { return h[j].before(h[i]) }
func (h pruneHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *pruneHeap) Push(x any)        { *h = append(*h, x.(pruneItem)) }
func (h *pruneHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// offer adds p if fewer than limit are kept or p comes before the last.
func (h *pruneHeap) offer(p pruneItem, limit int) {
	switch {
	case h.Len() < limit:
		heap.Push(h, p)
	case p.before((*h)[0]):
		(*h)[0] = p
		heap.Fix(h, 0)
	}
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
