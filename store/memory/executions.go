package memory

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/internal/cursor"
	"github.com/mockops/mockops/store"
)

// executionTable holds the executions with the two orders the queries need,
// so that neither a page nor a claim has to sort: order has every ID
// ascending (IDs are time-sortable, so new ones are nearly always appended),
// and active has the IDs of unfinished executions ascending, which keeps
// claims from walking the whole history.
//
// A finished execution stays in active, counted in dead, until a claim
// passes it at the front (where claims finish them, oldest first) or dead
// IDs are the majority and active is compacted: deleting it at once would
// move the rest of a long backlog on every finish.
type executionTable struct {
	byID    map[string]*store.Execution
	byEvent map[eventKey]string // the (Pipeline, EventID) uniqueness index
	order   []string
	active  []string
	dead    int               // finished executions still in active
	slab    []store.Execution // where new executions are allocated
}

// slabSize is how many executions are allocated at once: one allocation
// per slabSize executions keeps creation cheap and the heap's object count
// low. A pruned execution's record is zeroed (see PruneExecutions), so a
// slab kept alive by its other records holds no pruned payload.
const slabSize = 256

// alloc returns a new execution's storage.
func (tab *executionTable) alloc() *store.Execution {
	if len(tab.slab) == cap(tab.slab) {
		tab.slab = make([]store.Execution, 0, slabSize)
	}
	tab.slab = tab.slab[:len(tab.slab)+1]
	return &tab.slab[len(tab.slab)-1]
}

type eventKey struct{ pipeline, eventID string }

func newExecutionTable() executionTable {
	return executionTable{
		byID:    make(map[string]*store.Execution),
		byEvent: make(map[eventKey]string),
	}
}

// insertSorted adds id to the ascending slice ids.
func insertSorted(ids []string, id string) []string {
	if n := len(ids); n == 0 || ids[n-1] < id {
		return append(ids, id) // the usual case: IDs grow with time
	}
	i, _ := slices.BinarySearch(ids, id)
	return slices.Insert(ids, i, id)
}

// setActive keeps active in step with an execution's status change. The
// caller changes the stored status after the call.
func (tab *executionTable) setActive(id string, was, is store.Status) {
	switch {
	case was.Terminal() && !is.Terminal():
		if _, ok := slices.BinarySearch(tab.active, id); ok {
			tab.dead-- // still there, dead: alive again
			return
		}
		tab.active = insertSorted(tab.active, id)
	case !was.Terminal() && is.Terminal():
		tab.dead++
		if tab.dead > 64 && tab.dead*2 > len(tab.active) {
			tab.compact(id)
		}
	}
}

// compact drops the finished executions from active, and finishing, the
// one about to be marked finished.
func (tab *executionTable) compact(finishing string) {
	live := make([]string, 0, len(tab.active)-tab.dead)
	for _, id := range tab.active {
		if id != finishing && !tab.byID[id].Status.Terminal() {
			live = append(live, id)
		}
	}
	tab.active, tab.dead = live, 0
}

// CreateExecution implements store.Executions.
func (s *Store) CreateExecution(ctx context.Context, x store.Execution) (store.Execution, error) {
	if err := s.check(ctx, "create execution"); err != nil {
		return store.Execution{}, err
	}
	stored, err := prepareExecution(x, now())
	if err != nil {
		return store.Execution{}, err
	}
	s.execMu.Lock()
	defer s.execMu.Unlock()
	return s.insertExecution(stored, x)
}

// CreateClaimedExecution implements store.Executions.
func (s *Store) CreateClaimedExecution(ctx context.Context, x store.Execution, owner string, lease time.Duration) (store.Execution, error) {
	c := store.Claim{Owner: owner, Lease: lease, Count: 1}
	if err := c.Validate(1); err != nil {
		return store.Execution{}, fmt.Errorf("memory: create claimed execution: %w", err)
	}
	return s.CreateExecution(ctx, claimed(x, c, now()))
}

// CreateExecutions implements store.Executions: the batch is created under
// one hold of the lock. An item that repeats an earlier valid item's ID or
// (Pipeline, EventID) fails with ErrConflict whether or not that earlier
// one was stored, as in the SQL adapter, which turns such repeats away
// before its INSERT.
func (s *Store) CreateExecutions(ctx context.Context, xs []store.Execution, c store.Claim) ([]store.Execution, []error) {
	got, errs := make([]store.Execution, len(xs)), make([]error, len(xs))
	err := s.check(ctx, "create executions")
	if err == nil {
		if err = c.Validate(len(xs)); err != nil {
			err = fmt.Errorf("memory: create executions: %w", err)
		}
	}
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return got, errs
	}
	t := now()
	stored := make([]store.Execution, len(xs))
	var ids map[string]bool
	var keys map[eventKey]bool
	if len(xs) > 1 {
		ids, keys = make(map[string]bool, len(xs)), make(map[eventKey]bool, len(xs))
	}
	for i, x := range xs {
		if i < c.Count {
			x = claimed(x, c, t)
		}
		if stored[i], errs[i] = prepareExecution(x, t); errs[i] != nil || ids == nil {
			continue
		}
		y := stored[i]
		key := eventKey{y.Pipeline, y.EventID}
		if ids[y.ID] || keys[key] {
			errs[i] = fmt.Errorf("memory: create execution %s of %q for event %s: repeats an earlier one of the batch: %w", y.ID, y.Pipeline, y.EventID, store.ErrConflict)
			continue
		}
		ids[y.ID], keys[key] = true, true
	}
	s.execMu.Lock()
	defer s.execMu.Unlock()
	for i := range xs {
		if errs[i] == nil {
			got[i], errs[i] = s.insertExecution(stored[i], xs[i])
		}
	}
	return got, errs
}

// claimed is x as a claim by c at t makes it.
func claimed(x store.Execution, c store.Claim, t time.Time) store.Execution {
	x.Status, x.Owner, x.Attempt = store.StatusRunning, c.Owner, 1
	x.LeaseUntil, x.StartedAt, x.FinishedAt = t.Add(c.Lease), t, time.Time{}
	return x
}

// prepareExecution validates x and returns the record to store: a copy
// whose payloads the caller cannot change, with the ID, CreatedAt and
// Status that CreateExecution fills in.
func prepareExecution(x store.Execution, t time.Time) (store.Execution, error) {
	if err := x.Validate(); err != nil {
		return store.Execution{}, fmt.Errorf("memory: create execution: %w", err)
	}
	x = cloneExecution(x)
	if x.ID == "" {
		x.ID = events.NewID(t)
	}
	if x.CreatedAt.IsZero() {
		x.CreatedAt = t
	}
	if x.Status == "" {
		x.Status = store.StatusQueued
	}
	return x, nil
}

// insertExecution stores x, prepared from in, unless its ID or its
// (Pipeline, EventID) is taken. The caller holds execMu.
func (s *Store) insertExecution(x, in store.Execution) (store.Execution, error) {
	tab := &s.execs
	key := eventKey{x.Pipeline, x.EventID}
	if _, ok := tab.byID[x.ID]; ok {
		return store.Execution{}, fmt.Errorf("memory: create execution %s: id exists: %w", x.ID, store.ErrConflict)
	}
	if id, ok := tab.byEvent[key]; ok {
		return store.Execution{}, fmt.Errorf("memory: create execution: pipeline %q already has execution %s for event %s: %w",
			x.Pipeline, id, x.EventID, store.ErrConflict)
	}
	stored := tab.alloc()
	*stored = x
	tab.byID[x.ID] = stored
	tab.byEvent[key] = x.ID
	tab.order = insertSorted(tab.order, x.ID)
	if !x.Status.Terminal() {
		tab.active = insertSorted(tab.active, x.ID)
	}
	// The result shares the caller's payloads, not the store's (see the
	// package comment).
	out := *stored
	out.Event.Data, out.Event.Extensions, out.Steps = in.Event.Data, in.Event.Extensions, in.Steps
	return out, nil
}

// GetExecution implements store.Executions.
func (s *Store) GetExecution(ctx context.Context, id string) (store.Execution, error) {
	if err := s.check(ctx, "get execution"); err != nil {
		return store.Execution{}, err
	}
	s.execMu.RLock()
	defer s.execMu.RUnlock()
	x, ok := s.execs.byID[id]
	if !ok {
		return store.Execution{}, fmt.Errorf("memory: get execution %s: %w", id, store.ErrNotFound)
	}
	return cloneExecution(*x), nil
}

// ListExecutions implements store.Executions. The cursor is the last ID of
// the previous page: a page holds IDs strictly below it, so executions
// created while a caller pages (which have higher IDs) never shift what the
// remaining pages hold.
func (s *Store) ListExecutions(ctx context.Context, q store.ExecutionQuery) (store.ExecutionPage, error) {
	if err := s.check(ctx, "list executions"); err != nil {
		return store.ExecutionPage{}, err
	}
	limit := q.PageLimit()
	after := ""
	if q.Cursor != "" {
		var err error
		if after, err = cursor.Decode(q.Cursor); err != nil {
			return store.ExecutionPage{}, fmt.Errorf("memory: list executions: %w: %w", store.ErrInvalidCursor, err)
		}
	}

	s.execMu.RLock()
	defer s.execMu.RUnlock()
	tab := &s.execs
	end := len(tab.order)
	if after != "" {
		end, _ = slices.BinarySearch(tab.order, after)
	}
	var page store.ExecutionPage
	for i := end - 1; i >= 0; i-- {
		x := tab.byID[tab.order[i]]
		if (q.Pipeline != "" && x.Pipeline != q.Pipeline) || (q.Status != "" && x.Status != q.Status) {
			continue
		}
		if len(page.Executions) == limit {
			// One more match exists, so this page is not the last.
			last := page.Executions[limit-1].ID
			page.Next = cursor.Encode(last)
			break
		}
		page.Executions = append(page.Executions, cloneExecution(*x))
	}
	return page, nil
}

// ClaimExecutions implements store.Executions.
func (s *Store) ClaimExecutions(ctx context.Context, owner string, lease time.Duration, n int) ([]store.Execution, error) {
	if err := s.check(ctx, "claim executions"); err != nil {
		return nil, err
	}
	if lease <= 0 {
		return nil, fmt.Errorf("memory: claim executions for %q: lease %v: %w", owner, lease, store.ErrInvalid)
	}
	if n <= 0 {
		return nil, nil
	}
	s.execMu.Lock()
	defer s.execMu.Unlock()
	t := now()
	var out []store.Execution
	// Finished executions at the front are dropped as the walk passes.
	tab := &s.execs
	front := 0
	defer func() {
		tab.active = tab.active[front:]
		tab.dead -= front
	}()
	for i, id := range tab.active {
		x := tab.byID[id]
		if x.Status.Terminal() {
			if front == i {
				front++
			}
			continue
		}
		claimable := x.Status == store.StatusQueued ||
			(x.Status == store.StatusRunning && !x.LeaseUntil.After(t))
		if !claimable {
			continue
		}
		x.Status = store.StatusRunning
		x.Owner = owner
		x.LeaseUntil = t.Add(lease)
		x.Attempt++
		if x.StartedAt.IsZero() {
			x.StartedAt = t
		}
		out = append(out, cloneExecution(*x))
		if len(out) == n {
			break
		}
	}
	return out, nil
}

// UpdateExecution implements store.Executions. An execution nobody has
// claimed has no claim to hold, so updating it is a conflict too.
func (s *Store) UpdateExecution(ctx context.Context, x store.Execution) (store.Execution, error) {
	if err := s.check(ctx, "update execution"); err != nil {
		return store.Execution{}, err
	}
	if err := validUpdate(x); err != nil {
		return store.Execution{}, err
	}
	s.execMu.Lock()
	defer s.execMu.Unlock()
	return s.updateLocked(x)
}

// UpdateExecutions implements store.Executions: every item under one hold
// of the lock, each judged as UpdateExecution would judge it.
func (s *Store) UpdateExecutions(ctx context.Context, xs []store.Execution) ([]store.Execution, []error) {
	got, errs := make([]store.Execution, len(xs)), make([]error, len(xs))
	if err := s.check(ctx, "update executions"); err != nil {
		for i := range errs {
			errs[i] = err
		}
		return got, errs
	}
	seen := make(map[string]bool, len(xs))
	for i, x := range xs {
		if seen[x.ID] {
			errs[i] = fmt.Errorf("memory: update executions: execution %s appears twice: %w", x.ID, store.ErrInvalid)
		}
		seen[x.ID] = true
		if errs[i] == nil {
			errs[i] = validUpdate(x)
		}
	}
	s.execMu.Lock()
	defer s.execMu.Unlock()
	for i, x := range xs {
		if errs[i] == nil {
			got[i], errs[i] = s.updateLocked(x)
		}
	}
	return got, errs
}

// validUpdate checks what an update writes: only the error and the steps
// of x, so only they must be valid.
func validUpdate(x store.Execution) error {
	if err := (store.Execution{Pipeline: x.Pipeline, Error: x.Error, Steps: x.Steps}).Validate(); err != nil {
		return fmt.Errorf("memory: update execution %s: %w", x.ID, err)
	}
	return nil
}

// updateLocked writes x if its claim holds. s.execMu is held.
func (s *Store) updateLocked(x store.Execution) (store.Execution, error) {
	stored, ok := s.execs.byID[x.ID]
	if !ok {
		return store.Execution{}, fmt.Errorf("memory: update execution %s: %w", x.ID, store.ErrNotFound)
	}
	if stored.Owner == "" || x.Owner != stored.Owner || x.Attempt != stored.Attempt {
		return store.Execution{}, fmt.Errorf("memory: update execution %s: claim %q attempt %d, held by %q attempt %d: %w",
			x.ID, x.Owner, x.Attempt, stored.Owner, stored.Attempt, store.ErrConflict)
	}
	s.execs.setActive(x.ID, stored.Status, x.Status)
	stored.Status = x.Status
	stored.Error = x.Error
	stored.Steps = copySteps(stored.Steps, x.Steps)
	stored.LeaseUntil = x.LeaseUntil
	stored.StartedAt = x.StartedAt
	stored.FinishedAt = x.FinishedAt
	// The result takes its Steps from x rather than copying the stored
	// ones back out (see the package comment): updates are the hot path of
	// an execution.
	out := *stored
	out.Steps = x.Steps
	out.Event.Data = shareBytes(stored.Event.Data, x.Event.Data)
	out.Event.Extensions = shareMap(stored.Event.Extensions, x.Event.Extensions)
	return out, nil
}

// shareBytes returns the caller's copy of stored if it holds the same
// bytes, and a clone of stored otherwise. Update results need the stored
// event, which the caller nearly always passed back unchanged.
func shareBytes(stored, callers json.RawMessage) json.RawMessage {
	if (stored == nil) == (callers == nil) && bytes.Equal(stored, callers) {
		return callers
	}
	return slices.Clone(stored)
}

// shareMap is shareBytes for the event's extensions.
func shareMap(stored, callers map[string]string) map[string]string {
	if (stored == nil) == (callers == nil) && maps.Equal(stored, callers) {
		return callers
	}
	return maps.Clone(stored)
}

// CancelExecution implements store.Executions.
func (s *Store) CancelExecution(ctx context.Context, id string) (store.Execution, error) {
	if err := s.check(ctx, "cancel execution"); err != nil {
		return store.Execution{}, err
	}
	s.execMu.Lock()
	defer s.execMu.Unlock()
	x, ok := s.execs.byID[id]
	if !ok {
		return store.Execution{}, fmt.Errorf("memory: cancel execution %s: %w", id, store.ErrNotFound)
	}
	switch x.Status {
	case store.StatusQueued:
		s.execs.setActive(id, x.Status, store.StatusCancelled)
		x.Status = store.StatusCancelled
		x.FinishedAt = now()
	case store.StatusRunning:
		x.CancelRequested = true
	}
	return cloneExecution(*x), nil
}
