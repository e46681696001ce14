package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mockops/mockops/store"
)

// GroupScope is the store.State scope holding the concurrency groups'
// locks: one entry per (pipeline, group), keyed "pipeline\x1fgroup", whose
// value names the execution holding the group.
const GroupScope = "mockops.pipeline.concurrency"

// groupLock is the value of a group's state entry.
type groupLock struct {
	Holder string `json:"holder"`
	// Waiting is set by an execution handed back to wait for the group:
	// whoever takes a group marked so first checks that no older
	// execution of it is unfinished (creation order), and a holder
	// releasing it keeps the entry, empty, instead of deleting it.
	Waiting bool `json:"waiting,omitempty"`
}

// groupVerdict is what acquireGroup decided for a claimed execution.
type groupVerdict int

const (
	groupRun  groupVerdict = iota // the group is ours: run the steps
	groupWait                     // another execution has it: release and retry later
	groupDone                     // the execution was concluded (skipped or superseded)
)

// groupRetries bounds the compare-and-swap attempts of one acquisition
// round; losing them all is a wait, retried at the next claim round.
const groupRetries = 4

// groupKey is the state key of a group of pipeline.
func groupKey(pipeline, group string) string { return pipeline + "\x1f" + group }

// acquireGroup takes the execution's concurrency group, or concludes it
// (skip mode, superseded in cancel_in_progress mode, cancel requested), or
// says to wait. The lock lives in the store, so it holds across replicas:
// the holder is an execution id, and a holder that is terminal (or gone)
// no longer holds it, so a lock left by a dead engine is taken over once
// its execution finishes elsewhere (a dead owner's execution is resumed,
// still holding its group). r.mu is not held.
func (r *run) acquireGroup(ctx context.Context) (groupVerdict, error) {
	e, p := r.e, r.plan
	if !p.HasConcurrency() {
		// No concurrency: key, no group: executions of the pipeline run
		// side by side under the worker limit, as GitHub Actions runs
		// workflows without one, and cost no lock writes.
		return groupRun, nil
	}
	group, err := r.pre.group, error(nil)
	if r.pre.plan != p {
		group, err = p.ConcurrencyGroup(ctx, r.evv)
	}
	if err != nil {
		return groupDone, err
	}
	r.group = groupKey(r.x.Pipeline, group)
	// marked: this round tried to mark the group; if the mark was lost to
	// a concurrent release, the order must still be checked.
	marked := false
	for range groupRetries {
		lock, version, err := r.readGroup(ctx)
		if err != nil {
			return groupWait, err
		}
		holder := lock.Holder
		if holder == r.x.ID {
			return groupRun, nil // a resumed execution keeps its group
		}
		if r.x.CancelRequested {
			return r.concludeWithout(store.StatusCancelled, "cancelled before it started")
		}
		if holder != "" {
			switch p.mode {
			case ModeSkip:
				return r.concludeWithout(store.StatusCancelled, fmt.Sprintf("skipped: concurrency group %q is busy with execution %s", group, holder))
			case ModeCancelInProgress:
				if holder > r.x.ID {
					return r.concludeWithout(store.StatusCancelled, fmt.Sprintf("superseded: concurrency group %q runs the newer execution %s", group, holder))
				}
				if _, err := e.Cancel(ctx, holder); err != nil {
					return groupWait, err
				}
			}
			if !lock.Waiting {
				marked = true
				lock.Waiting = true
				if err := r.writeGroup(ctx, lock, version); errors.Is(err, store.ErrConflict) {
					continue
				} else if err != nil {
					return groupWait, err
				}
			}
			return groupWait, nil // until the holder has finished
		}
		next := groupLock{Holder: r.x.ID}
		if p.mode != ModeSkip && (lock.Waiting || marked) {
			older, newer, err := r.othersInGroup(ctx, group)
			if err != nil {
				return groupWait, err
			}
			next.Waiting = newer
			if len(older) > 0 {
				if p.mode == ModeQueue {
					// Creation order: the oldest goes first. Marked (unless
					// it is), so that whoever finds the group free next
					// checks the order too.
					if !lock.Waiting {
						if err := r.writeGroup(ctx, groupLock{Waiting: true}, version); errors.Is(err, store.ErrConflict) {
							continue
						} else if err != nil {
							return groupWait, err
						}
					}
					return groupWait, nil
				}
				for _, id := range older {
					if _, err := e.Cancel(ctx, id); err != nil {
						return groupWait, err
					}
				}
			}
		}
		err = r.writeGroup(ctx, next, version)
		if err == nil {
			return groupRun, nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return groupWait, err
		}
	}
	return groupWait, nil
}

// writeGroup swaps r's group entry for l if it is still at version.
func (r *run) writeGroup(ctx context.Context, l groupLock, version int64) error {
	val, _ := json.Marshal(l)
	_, err := r.e.st.PutState(ctx, store.StateEntry{Scope: GroupScope, Key: r.group, Value: val, Version: version})
	if err != nil {
		return fmt.Errorf("pipeline: %s: write concurrency group: %w", r.x.Pipeline, err)
	}
	return nil
}

// readGroup returns r's group entry with Holder "" when no live execution
// holds it, and the entry's version to swap against (0 when there is
// none).
func (r *run) readGroup(ctx context.Context) (groupLock, int64, error) {
	e := r.e
	var l groupLock
	ent, err := e.st.GetState(ctx, GroupScope, r.group)
	if errors.Is(err, store.ErrNotFound) {
		return l, 0, nil
	}
	if err != nil {
		return l, 0, fmt.Errorf("pipeline: %s: read concurrency group: %w", r.x.Pipeline, err)
	}
	if err := json.Unmarshal(ent.Value, &l); err != nil {
		return groupLock{}, ent.Version, nil // unreadable: free, overwritten by the taker
	}
	if l.Holder == "" || l.Holder == r.x.ID {
		return l, ent.Version, nil
	}
	hx, err := e.st.GetExecution(ctx, l.Holder)
	switch {
	case errors.Is(err, store.ErrNotFound), err == nil && hx.Status.Terminal():
		l.Holder = ""
	case err != nil:
		return l, 0, fmt.Errorf("pipeline: %s: read concurrency group holder: %w", r.x.Pipeline, err)
	}
	return l, ent.Version, nil
}

// othersInGroup returns the unfinished executions of r's pipeline created
// before r (smaller ID) that belong to the same group, and whether a newer
// one exists.
func (r *run) othersInGroup(ctx context.Context, group string) (older []string, newer bool, err error) {
	for _, status := range []store.Status{store.StatusQueued, store.StatusRunning} {
		q := store.ExecutionQuery{Pipeline: r.x.Pipeline, Status: status, Limit: 1000}
		for {
			page, err := r.e.st.ListExecutions(ctx, q)
			if err != nil {
				return nil, false, fmt.Errorf("pipeline: %s: list executions of the concurrency group: %w", r.x.Pipeline, err)
			}
			for _, x := range page.Executions {
				if x.ID == r.x.ID || x.Status.Terminal() {
					continue
				}
				if r.plan.group != nil {
					g, err := r.plan.ConcurrencyGroup(ctx, NewEventVars(x.Event))
					if err != nil || g != group {
						continue // an unrenderable group never ran
					}
				}
				if x.ID > r.x.ID {
					newer = true
				} else {
					older = append(older, x.ID)
				}
			}
			if page.Next == "" {
				break
			}
			q.Cursor = page.Next
		}
	}
	return older, newer, nil
}

// concludeWithout ends the execution without running a step.
func (r *run) concludeWithout(status store.Status, msg string) (groupVerdict, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.prepareSteps()
	r.conclude(status, msg)
	return groupDone, nil
}

// releaseWaiting hands a claimed execution that must wait for its group
// back: its lease ended, so the next claim round takes it again, and
// StartedAt cleared so its pipeline timeout counts from the claim that
// runs it. It stays running rather than queued: othersInGroup lists the
// queued executions and then the running ones, and an execution moving
// only from queued to running is seen by one of the two listings.
func (r *run) releaseWaiting() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lost {
		return
	}
	r.x.StartedAt = time.Time{}
	r.x.LeaseUntil = r.claimLease.Add(-r.e.cfg.Lease)
	if _, err := r.e.st.UpdateExecution(context.Background(), r.x); err != nil {
		r.log.Warn("pipeline: release waiting execution", "err", err)
	}
	r.e.stats.groupWaits.Add(1)
	r.e.groupWaited.Store(true)
}

// releaseGroup frees r's group once the execution is terminal, so the
// next claim round need not look the holder up. A failure is harmless: a
// terminal holder no longer holds its group.
func (r *run) releaseGroup() {
	r.mu.Lock()
	done := r.x.Status.Terminal() && !r.lost // a refused conclusion did not end it
	r.mu.Unlock()
	if r.group == "" || !done {
		return // an interrupted execution keeps its group for its resumption
	}
	ctx := context.Background()
	for range groupRetries {
		ent, err := r.e.st.GetState(ctx, GroupScope, r.group)
		if err != nil {
			return
		}
		var l groupLock
		if json.Unmarshal(ent.Value, &l) != nil || l.Holder != r.x.ID {
			return
		}
		// A waiter's mark written meanwhile makes this a conflict: read
		// again, so the mark is kept.
		if l.Waiting {
			err = r.writeGroup(ctx, groupLock{Waiting: true}, ent.Version)
		} else {
			err = r.e.st.DeleteState(ctx, GroupScope, r.group, ent.Version)
		}
		if !errors.Is(err, store.ErrConflict) {
			if err != nil {
				r.log.Warn("pipeline: release concurrency group", "err", err)
			}
			return
		}
	}
}

// prepared is what intake or a claim round worked out for an execution
// before starting it, which its run need not work out again: the
// EventVars of its event, and the concurrency group plan rendered (plan
// nil: none).
type prepared struct {
	evv   *EventVars
	plan  *Plan
	group string
}

// markBursts marks Waiting the queue-mode group of which cs, executions
// about to be created or started together (an intake batch, a claim
// round; l nil for a pipeline not loaded), hold several, before any is
// started: whoever takes a marked group first checks that no older
// execution of it is unfinished, so the oldest goes first, whether the
// others start with it or are claimed later. Unmarked, the group would go
// to the first to come: started at once, the newest, nearly always (Go
// runs the goroutine started last first). A failure leaves the group
// unmarked, which costs the order only; a mark for executions that turn
// out duplicates costs the next taker a listing. It returns the groups it
// rendered, by index in cs (nil if none).
func (e *Engine) markBursts(ctx context.Context, cs []creation) []prepared {
	if len(cs) < 2 {
		return nil
	}
	// A group holds several only if its pipeline does: the groups of the
	// others need not be rendered.
	n := map[string]int{}
	for _, c := range cs {
		if c.l == nil {
			continue
		}
		if p := c.l.def.plan; p.HasConcurrency() && p.mode == ModeQueue {
			n[c.l.rec.Name]++ // skip and cancel_in_progress keep one, not an order
		}
	}
	groups := map[string]int{}
	var keys []string
	var out []prepared
	for i, c := range cs {
		if c.l == nil || n[c.l.rec.Name] < 2 {
			continue
		}
		evv := c.evv
		if evv == nil {
			evv = NewEventVars(c.ev)
		}
		g, err := c.l.def.plan.ConcurrencyGroup(ctx, evv)
		if err != nil {
			continue // fails when it runs
		}
		if out == nil {
			out = make([]prepared, len(cs))
		}
		out[i] = prepared{evv, c.l.def.plan, g}
		k := groupKey(c.l.rec.Name, g)
		if groups[k]++; groups[k] == 2 {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if err := e.markGroup(ctx, k); err != nil && ctx.Err() == nil {
			e.log.Warn("pipeline: mark concurrency group", "group", k, "err", err)
		}
	}
	return out
}

// markGroup sets the Waiting mark of group entry key, keeping its holder.
func (e *Engine) markGroup(ctx context.Context, key string) error {
	for range groupRetries {
		var l groupLock
		var version int64
		ent, err := e.st.GetState(ctx, GroupScope, key)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		default:
			if json.Unmarshal(ent.Value, &l) == nil && l.Waiting {
				return nil
			}
			version = ent.Version
		}
		l.Waiting = true
		val, _ := json.Marshal(l)
		_, err = e.st.PutState(ctx, store.StateEntry{Scope: GroupScope, Key: key, Value: val, Version: version})
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return nil // others keep writing it: a waiter's mark, most likely
}
