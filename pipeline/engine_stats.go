package pipeline

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/mockops/mockops/store"
)

// Stats is a snapshot of an engine's counters since it was built.
type Stats struct {
	// Events seen by intake: those that matched at least one pipeline
	// (counted per match), matched none, or failed a filter (per plan).
	TriggerMatches, TriggerNoMatch, TriggerErrors int64
	// DepthRefused counts events refused for their causation depth;
	// Duplicates counts (pipeline, event) pairs that already had an
	// execution (redeliveries).
	DepthRefused, Duplicates int64
	// Executions finished here, by status.
	Executions map[store.Status]int64
	// Steps finished here, by status; Retries counts retried attempts.
	Steps   map[store.Status]int64
	Retries int64
	// Abandoned counts step attempts that ignored their ctx past the grace
	// period; StepGoroutines is how many step goroutines are alive now,
	// abandoned ones included.
	Abandoned      int64
	StepGoroutines int64
	// GroupWaits counts claims handed back to the queue because another
	// execution held their concurrency group.
	GroupWaits int64
	// InFlight is how many executions this engine holds claims on.
	InFlight int
	// QueueDepth is how many step attempts of those executions wait now
	// for one of the Workers slots: the engine's own run queue. (Executions
	// queued in the store for any replica are the store's to count.)
	QueueDepth int64
	// Rescues counts executions claimed here after another owner had
	// started running them and its lease expired, or it released them
	// interrupted (resumed or, with RescueFail, failed); a claim handed
	// back before it ran (waiting for its concurrency group, or
	// interrupted then) is not one. Pruned counts finished executions
	// deleted by retention, PrunedEvents the durable bus's stored events
	// it deleted with them (a store with PruneEvents, see Engine.Prune).
	Rescues, Pruned, PrunedEvents int64
}

// engineStats are the counters behind Stats.
type engineStats struct {
	triggerMatches, triggerNoMatch, triggerErrors atomic.Int64
	depthRefused, duplicates, retries, abandoned  atomic.Int64
	groupWaits                                    atomic.Int64
	rescues, pruned, prunedEvents, slotWaiting    atomic.Int64
	execs, steps                                  [len(statuses)]atomic.Int64
}

var statuses = [...]store.Status{
	store.StatusQueued, store.StatusRunning, store.StatusSucceeded, store.StatusFailed,
	store.StatusCancelled, store.StatusTimedOut, store.StatusSkipped,
}

func statusIndex(s store.Status) int {
	for i, x := range statuses {
		if x == s {
			return i
		}
	}
	return 0
}

func (s *engineStats) finished(st store.Status)     { s.execs[statusIndex(st)].Add(1) }
func (s *engineStats) stepFinished(st store.Status) { s.steps[statusIndex(st)].Add(1) }

// Stats returns a snapshot of the engine's counters.
func (e *Engine) Stats() Stats {
	s := &e.stats
	out := Stats{
		TriggerMatches: s.triggerMatches.Load(), TriggerNoMatch: s.triggerNoMatch.Load(),
		TriggerErrors: s.triggerErrors.Load(), DepthRefused: s.depthRefused.Load(),
		Duplicates: s.duplicates.Load(), Retries: s.retries.Load(), Abandoned: s.abandoned.Load(),
		StepGoroutines: e.stepsRunning.Load(), GroupWaits: s.groupWaits.Load(),
		QueueDepth: s.slotWaiting.Load(), Rescues: s.rescues.Load(), Pruned: s.pruned.Load(),
		PrunedEvents: s.prunedEvents.Load(), Executions: map[store.Status]int64{}, Steps: map[store.Status]int64{},
	}
	for i, st := range statuses {
		if n := s.execs[i].Load(); n > 0 {
			out.Executions[st] = n
		}
		if n := s.steps[i].Load(); n > 0 {
			out.Steps[st] = n
		}
	}
	e.mu.Lock()
	out.InFlight = len(e.inflight)
	e.mu.Unlock()
	return out
}

// StatsWindow is how many of a pipeline's newest executions PipelineStats
// reads.
const StatsWindow = 1000

// PipelineStats summarises a pipeline's newest executions (at most
// StatsWindow), as every replica stored them.
type PipelineStats struct {
	Pipeline string
	// Executions read, by status (queued and running included).
	ByStatus map[store.Status]int
	// Finished is how many of them are in a terminal state; SuccessRate is
	// succeeded / Finished, nil when nothing finished (never a made-up
	// 100%).
	Finished    int
	SuccessRate *float64
	// P50 and P95 are nearest-rank percentiles of the finished executions'
	// durations (FinishedAt - StartedAt); zero when nothing finished.
	P50, P95 time.Duration
}

// PipelineStats reads the newest executions of pipeline name from the
// store and summarises them (see PipelineStats).
func (e *Engine) PipelineStats(ctx context.Context, name string) (PipelineStats, error) {
	out := PipelineStats{Pipeline: name, ByStatus: map[store.Status]int{}}
	var durations []time.Duration
	succeeded, read := 0, 0
	q := store.ExecutionQuery{Pipeline: name, Limit: StatsWindow}
	for read < StatsWindow {
		page, err := e.st.ListExecutions(ctx, q)
		if err != nil {
			return PipelineStats{}, fmt.Errorf("pipeline: stats %s: %w", name, err)
		}
		for _, x := range page.Executions {
			if read == StatsWindow {
				break
			}
			read++
			out.ByStatus[x.Status]++
			if !x.Status.Terminal() {
				continue
			}
			out.Finished++
			if x.Status == store.StatusSucceeded {
				succeeded++
			}
			if !x.StartedAt.IsZero() && !x.FinishedAt.IsZero() {
				durations = append(durations, x.FinishedAt.Sub(x.StartedAt))
			}
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	if out.Finished > 0 {
		r := float64(succeeded) / float64(out.Finished)
		out.SuccessRate = &r
	}
	if len(durations) > 0 {
		slices.Sort(durations)
		out.P50, out.P95 = rank(durations, 50), rank(durations, 95)
	}
	return out, nil
}

// rank is the nearest-rank percentile p of sorted ds.
func rank(ds []time.Duration, p int) time.Duration {
	i := (p*len(ds) + 99) / 100 // ceil(p/100 * n)
	return ds[max(i, 1)-1]
}

// acquireSlot takes one of the Workers slots for a step attempt, counted
// in QueueDepth while it waits; the caller releases it with <-e.sem. It
// fails with ctx's cause when ctx ends first.
func (e *Engine) acquireSlot(ctx context.Context) error {
	select {
	case e.sem <- struct{}{}: // a free slot: no wait to count
		return nil
	default:
	}
	e.stats.slotWaiting.Add(1)
	defer e.stats.slotWaiting.Add(-1)
	select {
	case e.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
