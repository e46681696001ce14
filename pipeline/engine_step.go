package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/steps"
	"github.com/mockops/mockops/store"
)

// errPanicked marks a step that panicked: recorded as a failure, not retried.
var errPanicked = errors.New("step panicked")

// errAbandoned marks a step that did not return within the grace period
// after its ctx ended.
var errAbandoned = errors.New("step ignored its context and was abandoned")

// runStep runs one step to a terminal status, with retries, and records
// every change. ctx is the context the step runs on (exec, or base for a
// step that runs after a cancellation); exec tells a cancellation apart.
// On an interruption the step is left as it is, for the next claim.
func (r *run) runStep(ctx, exec context.Context, id string) {
	ctx, endSpan := r.traceStep(ctx, id)
	defer endSpan()
	s := r.plan.byID[id]
	log := r.log.With("step", id)
	rc := r.renderContext(id, exec)
	rendered, err := r.plan.Render(ctx, id, rc)
	if err != nil {
		if interrupted(ctx) {
			return
		}
		r.finishStep(id, s, store.StatusFailed, steps.Output{}, err, redactor{})
		return
	}
	red := newRedactor(rendered.secrets)
	with, err := json.Marshal(rendered.Redacted())
	if err != nil {
		with = nil
	}
	typ, ok := r.e.cfg.Steps.Lookup(s.uses)
	if !ok {
		r.finishStep(id, s, store.StatusFailed, steps.Output{}, steps.Permanent(fmt.Errorf("pipeline: step type %q is not registered", s.uses)), red)
		return
	}

	r.mu.Lock()
	prev := r.x.Steps[r.stepIndex(id)].Attempts
	r.mu.Unlock()
	budget := max(s.retry.Attempts, prev+1) // an interrupted attempt earns one more
	for attempt := prev + 1; ; attempt++ {
		r.mu.Lock()
		st := &r.x.Steps[r.stepIndex(id)]
		st.Status, st.Attempts, st.With = store.StatusRunning, attempt, with
		if st.StartedAt.IsZero() {
			st.StartedAt = r.e.now()
		}
		r.persistLocked()
		r.mu.Unlock()

		out, err := r.attempt(ctx, s, typ, rendered.With, rc, attempt, red)
		if interrupted(ctx) {
			return
		}
		status := store.StatusSucceeded
		switch {
		case err == nil:
			r.finishStep(id, s, status, out, nil, red)
			return
		case errors.Is(err, errStepTimeout), errors.Is(context.Cause(ctx), errPipelineTimeout):
			status = store.StatusTimedOut
		case errors.Is(context.Cause(ctx), errCancelled):
			status = store.StatusCancelled
		default:
			status = store.StatusFailed
		}
		retryable := status != store.StatusCancelled && ctx.Err() == nil &&
			!steps.IsPermanent(err) && !errors.Is(err, errPanicked) && attempt < budget
		if !retryable {
			r.finishStep(id, s, status, steps.Output{}, err, red)
			return
		}
		r.e.stats.retries.Add(1)
		d := backoff(s.retry, attempt)
		log.Info("pipeline: step failed; retrying", "attempt", attempt, "backoff", d, "err", red.string(err.Error()))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			if interrupted(ctx) {
				return
			}
			r.finishStep(id, s, statusOf(ctx), steps.Output{}, err, red)
			return
		case <-t.C:
		}
	}
}

// statusOf is the status of a step whose ctx ended.
func statusOf(ctx context.Context) store.Status {
	if errors.Is(context.Cause(ctx), errCancelled) {
		return store.StatusCancelled
	}
	return store.StatusTimedOut
}

func interrupted(ctx context.Context) bool {
	c := context.Cause(ctx)
	return errors.Is(c, errInterrupted) || errors.Is(c, errLostClaim)
}

// backoff is exponential with full jitter: a uniform draw in
// [0, min(MaxBackoff, Backoff*2^(attempt-1))].
func backoff(p Retry, attempt int) time.Duration {
	ceil := p.Backoff
	for i := 1; i < attempt && ceil < p.MaxBackoff; i++ {
		ceil *= 2
	}
	ceil = min(ceil, p.MaxBackoff)
	if ceil <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(ceil) + 1))
}

type stepResult struct {
	out steps.Output
	err error
}

// attempt runs the step once under its timeout (and the slots of Workers),
// recovering a panic, and abandons it if it outlives its ctx by Grace.
func (r *run) attempt(ctx context.Context, s *Step, typ *steps.Type, with map[string]any, rc RenderContext, attempt int, red redactor) (steps.Output, error) {
	if err := r.e.acquireSlot(ctx); err != nil {
		return steps.Output{}, err
	}
	defer func() { <-r.e.sem }()

	stepCtx, cancel := context.WithTimeoutCause(ctx, s.timeout, errStepTimeout)
	defer cancel()
	outputs := make(map[string]steps.Output, len(rc.Steps))
	for id, st := range rc.Steps {
		outputs[id] = steps.Output{Outputs: st.Outputs}
	}
	in := steps.Input{
		Event: r.evv.ev, With: with, Pipeline: r.x.Pipeline, Execution: r.x.ID, StepID: s.id,
		Attempt: attempt, IdempotencyKey: r.x.ID + "/" + s.id + "/" + strconv.Itoa(attempt), Steps: outputs, Logger: r.log.With("step", s.id, "attempt", attempt),
		Publisher: r.publisher(ctx), Traceparent: traceparentOf(ctx, r.evv.ev),
	}
	res := make(chan stepResult, 1)
	r.e.stepsRunning.Add(1)
	go func() {
		defer r.e.stepsRunning.Add(-1)
		defer func() {
			if p := recover(); p != nil {
				// The stack goes to the log only; the record gets the value.
				r.log.Error("pipeline: step panicked", "step", s.id, "attempt", attempt,
					"panic", red.string(fmt.Sprint(p)), "stack", red.string(string(debug.Stack())))
				res <- stepResult{err: fmt.Errorf("%w: %v", errPanicked, p)}
			}
		}()
		st, err := typ.New(with)
		if err != nil {
			res <- stepResult{err: err}
			return
		}
		out, err := st.Run(stepCtx, in)
		res <- stepResult{out: out, err: err}
	}()
	select {
	case x := <-res:
		if x.err != nil && stepCtx.Err() != nil {
			return x.out, fmt.Errorf("%w: %w", context.Cause(stepCtx), x.err)
		}
		return x.out, x.err
	case <-stepCtx.Done():
	}
	grace := time.NewTimer(r.e.cfg.Grace)
	defer grace.Stop()
	select {
	case x := <-res:
		if x.err == nil {
			return x.out, nil // finished in time after all
		}
		return x.out, fmt.Errorf("%w: %w", context.Cause(stepCtx), x.err)
	case <-grace.C:
		r.e.stats.abandoned.Add(1)
		return steps.Output{}, fmt.Errorf("%w: %w after %v", context.Cause(stepCtx), errAbandoned, r.e.cfg.Grace)
	}
}

// finishStep records a step's terminal status with its outputs (size
// capped, redacted) and error (redacted).
func (r *run) finishStep(id string, s *Step, status store.Status, out steps.Output, err error, red redactor) {
	var output json.RawMessage
	var outputs map[string]any
	if status == store.StatusSucceeded && out.Outputs != nil {
		b, merr := json.Marshal(out.Outputs)
		if merr != nil {
			status, err = store.StatusFailed, fmt.Errorf("pipeline: outputs do not encode to JSON: %w", merr)
		} else {
			b = []byte(red.string(string(b)))
			_ = json.Unmarshal(b, &outputs) // what later steps and a resumed run see alike
			if len(b) > r.e.cfg.MaxOutputSize {
				b, _ = json.Marshal(map[string]any{"truncated": true, "size": len(b)})
			}
			output = b
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := &r.x.Steps[r.stepIndex(id)]
	st.Status, st.Outcome, st.Conclusion = status, status, status
	if status != store.StatusSucceeded && s.continueOnError {
		st.Conclusion = store.StatusSucceeded
	}
	if st.StartedAt.IsZero() {
		st.StartedAt = r.e.now()
	}
	st.FinishedAt = r.e.now()
	st.Output = output
	st.Error = ""
	if err != nil {
		st.Error = cleanText(red.string(err.Error()))
	}
	r.states[id] = StepState{Outputs: outputs, Outcome: celOutcome(st.Outcome), Conclusion: celOutcome(st.Conclusion)}
	r.persistStepLocked()
	r.e.stats.stepFinished(status)
}

// causedPublisher is a step's Publisher: every event it emits is marked as
// caused by the execution's event, and refused past the depth limit.
type causedPublisher struct {
	e      *Engine
	parent events.Event
}

func (p *causedPublisher) Publish(ctx context.Context, ev events.Event) error {
	ev = ev.CausedBy(p.parent)
	if p.e.tooDeep(ev) {
		return steps.Permanent(fmt.Errorf("%w: event %s would have depth %d", ErrCausationDepth, ev.ID, ev.Depth()))
	}
	if p.e.cfg.Bus == nil {
		return steps.Permanent(errors.New("pipeline: the engine has no bus to publish on"))
	}
	return p.e.cfg.Bus.Publish(ctx, ev)
}
