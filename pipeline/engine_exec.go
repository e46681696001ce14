package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mockops/mockops/store"
)

// Causes of a run's contexts ending, told apart with context.Cause.
var (
	// errInterrupted: Shutdown's ctx or Run's ended; the execution is left
	// for another engine.
	errInterrupted = errors.New("pipeline: engine interrupted")
	// errLostClaim: the store refused an update (another owner holds the
	// claim); nothing more may be written.
	errLostClaim = errors.New("pipeline: claim lost")
	// errCancelled: Cancel was called for the execution.
	errCancelled = errors.New("pipeline: execution cancelled")
	// errPipelineTimeout: the pipeline-level timeout passed.
	errPipelineTimeout = errors.New("pipeline: execution timed out")
	// errStepTimeout: the step's own timeout passed.
	errStepTimeout = errors.New("pipeline: step timed out")
)

// run is one execution this engine holds a claim on.
type run struct {
	e    *Engine
	plan *Plan
	evv  *EventVars
	log  *slog.Logger

	// claimed is the local monotonic time of the claim and claimLease the
	// LeaseUntil the store set (on its clock): a renewal writes
	// claimLease + time.Since(claimed), never a wall-clock time of ours.
	claimed    time.Time
	claimLease time.Time

	// base is cancelled only to interrupt (shutdown, lost claim); exec, its
	// child, also on cancellation and the pipeline timeout. Steps started
	// after exec ended (cancelled(), always()) run on base.
	cancelBase context.CancelCauseFunc
	cancelExec context.CancelCauseFunc

	// mu guards x and states, and serialises the writes of x: steps
	// running in parallel each write the whole record.
	mu     sync.Mutex
	x      store.Execution
	states map[string]StepState // finished steps, as expressions see them
	lost   bool                 // an update was refused: write nothing more

	// group is the state key of the concurrency group once acquireGroup
	// computed it; waited is set when the claim was handed back to wait
	// for it (its end then wakes no claim round). pre is what was worked
	// out before the run started.
	group  string
	waited bool
	pre    prepared
}

// start runs a claimed execution in its own goroutine, with what pre
// holds of it (its zero value: nothing).
func (e *Engine) start(x store.Execution, claimed time.Time, pre prepared) {
	baseCtx, cancelBase := context.WithCancelCause(e.traceExecution(x))
	execCtx, cancelExec := context.WithCancelCause(baseCtx)
	evv := pre.evv
	if evv == nil {
		evv = NewEventVars(x.Event)
	}
	r := &run{
		e: e, x: x, evv: evv,
		log:        e.log.With("pipeline", x.Pipeline, "execution", x.ID),
		claimed:    claimed,
		claimLease: x.LeaseUntil,
		cancelBase: cancelBase,
		cancelExec: cancelExec,
		states:     map[string]StepState{},
		pre:        pre,
	}
	e.mu.Lock()
	e.inflight[x.ID] = r
	hard := isClosed(e.hardCh)
	e.mu.Unlock()
	if hard {
		r.interrupt(errInterrupted)
	}
	e.runs.Go(func() {
		defer e.finish(r)
		defer r.endSpan(baseCtx)
		defer cancelBase(nil)
		r.execute(baseCtx, execCtx)
	})
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func (e *Engine) finish(r *run) {
	e.mu.Lock()
	if e.inflight[r.x.ID] == r {
		// Not a newer run of the same execution, which this engine may
		// have claimed again after this one's lease lapsed unrenewed.
		delete(e.inflight, r.x.ID)
	}
	e.mu.Unlock()
	e.signalFinished()
	if r.waited {
		// Not claimed again at once, but at the next wake-up: the end
		// of the execution holding its group.
		e.backlog.Store(true)
	} else {
		e.poke() // room for another claim
	}
}

func (r *run) interrupt(cause error) { r.cancelBase(cause) }

func (r *run) requestCancel() { r.cancelExec(errCancelled) }

// leaseUntil is the renewed lease: the claimed one moved on by the time
// elapsed since the claim on our monotonic clock.
func (r *run) leaseUntil() time.Time {
	return r.claimLease.Add(time.Since(r.claimed))
}

// persist writes the execution as it stands, renewing the lease. A refusal
// (another owner holds the claim) interrupts the run; a cancellation
// requested through another engine cancels it.
func (r *run) persist() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.persistLocked()
}

func (r *run) persistLocked() {
	if r.lost {
		return
	}
	r.x.LeaseUntil = r.leaseUntil()
	got, err := r.e.updateExecution(r.x)
	switch {
	case errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound):
		r.lost = true
		r.log.Warn("pipeline: claim lost; abandoning the execution", "err", err)
		r.interrupt(errLostClaim)
	case err != nil:
		r.log.Error("pipeline: update execution", "err", err)
	case got.CancelRequested:
		r.requestCancel()
	}
}

// persistStepLocked writes a step's end, unless it was the last step to
// end: then schedule returns and execute writes the execution at once (its
// conclusion, or its release when interrupted), which stores the step
// with it, so one write is spared. Nothing is weakened: that write comes
// a few instructions after the step's own would have, so a crash loses
// the step's end in the same window as before; and a refusal (the claim
// lost) is learnt from it instead, which conclude and releaseGroup
// heed. r.mu is held.
func (r *run) persistStepLocked() {
	for _, st := range r.x.Steps {
		if !st.Status.Terminal() {
			r.persistLocked()
			return
		}
	}
}

// execute runs the steps in DAG order and records the outcome.
func (r *run) execute(base, exec context.Context) {
	e, x := r.e, &r.x
	if r.rescued() {
		return
	}
	l, err := e.loadedPlan(x.Pipeline)
	if err == nil && l.rec.Version != x.Version && startedAny(x.Steps) {
		err = fmt.Errorf("pipeline: %s: version %d changed to %d while the execution ran", x.Pipeline, x.Version, l.rec.Version)
	}
	if err != nil {
		r.mu.Lock()
		r.conclude(store.StatusFailed, err.Error())
		r.mu.Unlock()
		return
	}
	if l.rec.Version != x.Version {
		r.log.Info("pipeline: running the loaded version", "created_with", x.Version, "loaded", l.rec.Version)
	}
	r.plan = l.def.plan
	switch v, err := r.acquireGroup(base); {
	case v == groupDone && err != nil:
		r.mu.Lock()
		r.prepareSteps()
		r.conclude(store.StatusFailed, err.Error())
		r.mu.Unlock()
		return
	case v == groupDone:
		return
	case v == groupWait:
		if err != nil && base.Err() == nil {
			r.log.Error("pipeline: concurrency group", "err", err)
		}
		r.waited = true
		r.releaseWaiting()
		return
	}
	defer r.releaseGroup()
	if t := r.plan.timeout; t > 0 {
		// StartedAt is the store's time of the first claim; the claim's
		// own store time is claimLease - Lease.
		deadline := r.claimed.Add(t - r.claimLease.Add(-e.cfg.Lease).Sub(x.StartedAt))
		var cancel context.CancelFunc
		exec, cancel = context.WithDeadlineCause(exec, deadline, errPipelineTimeout)
		defer cancel()
	}

	r.mu.Lock()
	r.prepareSteps()
	r.x.Status = store.StatusRunning // as the claim stored it
	if x.CancelRequested {
		r.requestCancel()
	}
	// Nothing to write yet: the claim recorded the running status, and
	// the first step's start writes the step list.
	r.mu.Unlock()

	r.schedule(base, exec)

	r.mu.Lock()
	defer r.mu.Unlock()
	if cause := context.Cause(base); cause != nil {
		if errors.Is(cause, errInterrupted) && !r.lost {
			// Release: a lease that ended at the claim's own store time
			// lets the next claim take it at once.
			r.x.LeaseUntil = r.claimLease.Add(-e.cfg.Lease)
			if _, err := e.updateExecution(r.x); err != nil {
				r.log.Warn("pipeline: release interrupted execution", "err", err)
			}
		}
		return
	}
	switch cause := context.Cause(exec); {
	case errors.Is(cause, errCancelled):
		r.conclude(store.StatusCancelled, "cancelled")
	case errors.Is(cause, errPipelineTimeout):
		r.conclude(store.StatusTimedOut, fmt.Sprintf("pipeline timeout %v passed", r.plan.timeout))
	default:
		for _, st := range r.x.Steps {
			if st.Conclusion != store.StatusSucceeded && st.Conclusion != store.StatusSkipped {
				r.conclude(store.StatusFailed, fmt.Sprintf("step %s %s: %s", st.ID, st.Status, st.Error))
				return
			}
		}
		r.conclude(store.StatusSucceeded, "")
	}
}

func startedAny(srs []store.StepRun) bool {
	return slices.ContainsFunc(srs, func(s store.StepRun) bool { return s.Attempts > 0 || s.Status.Terminal() })
}

// conclude writes the final status. r.mu is held.
func (r *run) conclude(status store.Status, msg string) {
	now := r.e.now()
	for i := range r.x.Steps {
		if st := &r.x.Steps[i]; !st.Status.Terminal() {
			// Never reached (cancelled before it could start).
			st.Status, st.Outcome, st.Conclusion = store.StatusSkipped, store.StatusSkipped, store.StatusSkipped
			st.FinishedAt = now
		}
	}
	r.x.Status = status
	r.x.Error = cleanText(msg)
	r.x.FinishedAt = now.UTC()
	r.persistLocked()
	if r.lost {
		// Refused: another owner holds the claim (the last step's end,
		// written with this conclusion, is often what learns it). The
		// execution is not finished, and its group is the new owner's.
		return
	}
	r.e.stats.finished(status)
	r.log.Info("pipeline: execution finished", "status", status)
}

// prepareSteps gives the execution one StepRun per step in Plan.Order,
// keeping those a previous claim recorded, and rebuilds the expressions'
// view of the finished ones. r.mu is held.
func (r *run) prepareSteps() {
	have := make(map[string]store.StepRun, len(r.x.Steps))
	for _, st := range r.x.Steps {
		have[st.ID] = st
	}
	out := make([]store.StepRun, 0, len(r.plan.order))
	for _, id := range r.plan.order {
		st, ok := have[id]
		if !ok {
			st = store.StepRun{ID: id, Uses: r.plan.byID[id].uses, Status: store.StatusQueued}
		}
		if st.Status.Terminal() {
			var outputs map[string]any
			if len(st.Output) > 0 {
				_ = json.Unmarshal(st.Output, &outputs)
			}
			r.states[id] = StepState{Outputs: outputs, Outcome: celOutcome(st.Outcome), Conclusion: celOutcome(st.Conclusion)}
		}
		out = append(out, st)
	}
	r.x.Steps = out
}

// celOutcome is a status as steps.<id>.outcome reads it.
func celOutcome(s store.Status) string {
	switch s {
	case store.StatusSucceeded:
		return "success"
	case store.StatusFailed, store.StatusTimedOut:
		return "failure"
	case store.StatusCancelled:
		return "cancelled"
	case store.StatusSkipped:
		return "skipped"
	}
	return string(s)
}

func (r *run) stepIndex(id string) int {
	return slices.IndexFunc(r.x.Steps, func(s store.StepRun) bool { return s.ID == id })
}

// schedule starts every step whose needs have finished, as soon as they
// have, until all have finished or the run is interrupted.
func (r *run) schedule(base, exec context.Context) {
	order := r.plan.order
	done := make(map[string]bool, len(order))
	r.mu.Lock()
	for _, st := range r.x.Steps {
		done[st.ID] = st.Status.Terminal()
	}
	r.mu.Unlock()
	started := map[string]bool{}
	results := make(chan string, len(order))
	active := 0
	for {
		for _, id := range order {
			if done[id] || started[id] || base.Err() != nil {
				continue
			}
			s := r.plan.byID[id]
			if !allDone(s.needs, done) {
				continue
			}
			stepCtx, ok := r.decide(base, exec, id)
			if !ok {
				done[id] = true // skipped; later steps in this pass see it
				continue
			}
			started[id] = true
			active++
			go func() {
				r.runStep(stepCtx, exec, id)
				results <- id
			}()
		}
		if active == 0 {
			return
		}
		id := <-results
		active--
		r.mu.Lock()
		done[id] = r.x.Steps[r.stepIndex(id)].Status.Terminal()
		r.mu.Unlock()
		if !done[id] {
			started[id] = true // interrupted: leave it for the next claim
		}
	}
}

func allDone(ids []string, done map[string]bool) bool {
	for _, id := range ids {
		if !done[id] {
			return false
		}
	}
	return true
}

// decide evaluates a step's `if:` and returns the context it runs on, or
// records it skipped.
func (r *run) decide(base, exec context.Context, id string) (context.Context, bool) {
	rc := r.renderContext(id, exec)
	run, err := r.plan.ShouldRun(exec, id, rc)
	if exec.Err() != nil {
		// cancelled() and always() steps outlive the cancellation.
		run, err = r.plan.ShouldRun(base, id, rc)
	}
	if err == nil && run {
		if exec.Err() != nil {
			return base, true
		}
		return exec, true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := &r.x.Steps[r.stepIndex(id)]
	now := r.e.now()
	st.Status, st.Outcome, st.Conclusion = store.StatusSkipped, store.StatusSkipped, store.StatusSkipped
	if err != nil {
		st.Status, st.Outcome, st.Conclusion = store.StatusFailed, store.StatusFailed, store.StatusFailed
		st.Error = cleanText(err.Error())
		r.log.Warn("pipeline: step condition failed", "step", id, "err", err)
	}
	st.FinishedAt = now
	r.states[id] = StepState{Outcome: celOutcome(st.Outcome), Conclusion: celOutcome(st.Conclusion)}
	r.persistStepLocked()
	return nil, false
}

// renderContext is what a step's expressions see: the finished steps, and
// the status of the steps it (transitively) needs.
func (r *run) renderContext(id string, exec context.Context) RenderContext {
	r.mu.Lock()
	defer r.mu.Unlock()
	states := make(map[string]StepState, len(r.states))
	failed := false
	for _, a := range r.ancestors(id) {
		if st, ok := r.states[a]; ok && st.Conclusion == "failure" {
			failed = true
		}
	}
	for k, v := range r.states {
		states[k] = v
	}
	return RenderContext{
		Event: r.evv, Steps: states, Execution: r.x.ID, Attempt: r.x.Attempt,
		Secrets: r.e.cfg.Secrets, Failed: failed, Cancelled: exec.Err() != nil,
	}
}

// ancestors returns the steps id transitively needs.
func (r *run) ancestors(id string) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(string)
	walk = func(s string) {
		for _, n := range r.plan.byID[s].needs {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
				walk(n)
			}
		}
	}
	walk(id)
	return out
}

// cleanText makes s storable as an error: valid UTF-8 without NUL.
func cleanText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
