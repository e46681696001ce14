package pipeline

import (
	"sync/atomic"

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
	// InFlight is how many executions this engine holds claims on.
	InFlight int
}

// engineStats are the counters behind Stats.
type engineStats struct {
	triggerMatches, triggerNoMatch, triggerErrors atomic.Int64
	depthRefused, duplicates, retries, abandoned  atomic.Int64
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
		StepGoroutines: e.stepsRunning.Load(),
		Executions:     map[store.Status]int64{}, Steps: map[store.Status]int64{},
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
