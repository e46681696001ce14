package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/mockops/mockops/internal/expr"
	"github.com/mockops/mockops/steps"
)

// ErrUnknownStep is returned (wrapped) for a step id the plan lacks.
var ErrUnknownStep = errors.New("pipeline: unknown step")

// StepState is what a step that already ran exposes to later expressions.
type StepState struct {
	Outputs    map[string]any
	Outcome    string // success, failure, cancelled, skipped
	Conclusion string // success when continue_on_error hid a failure
}

// RenderContext is what a step's expressions see.
type RenderContext struct {
	// Event is the triggering event, built once per event with
	// NewEventVars and shared by every call for it (nil: an empty event).
	Event     *EventVars
	Steps     map[string]StepState // earlier steps, by id
	Execution string               // execution id
	Attempt   int
	// Secrets resolves `${{ secrets.NAME }}`. Nil: a step that reads a
	// secret fails to render, unless it is ready for the secret to be
	// missing (has(secrets.NAME), secrets.?NAME).
	Secrets steps.SecretSource
	// Failed and Cancelled are the execution's status so far, read by
	// success(), failure() and cancelled().
	Failed, Cancelled bool
}

// Rendered is a step's rendered `with:`.
type Rendered struct {
	// With is the config for the step itself: secrets in clear. Never
	// store or log it; store Redacted.
	With map[string]any
	// secrets holds the values of the secrets read, for Redacted.
	secrets []string
}

// Redacted returns a deep copy of With in which every secret the step read
// is replaced by "***": in strings, bytes and map keys at any depth, raw or
// JSON-escaped (as a list or map interpolated into text writes it). This is
// what may be stored or logged. Expressions may use a secret only as it is
// (see the package doc), so no form of it escapes.
func (r Rendered) Redacted() map[string]any {
	v, _ := newRedactor(r.secrets).value(r.With).(map[string]any)
	return v
}

// vars builds the variables of one evaluation. It returns the values of
// the secrets fetched, also with an error (to redact it).
func (p *Plan) vars(ctx context.Context, rc RenderContext, s *Step) (*expr.Vars, []string, error) {
	ev, err := rc.Event.decoded()
	if err != nil {
		return nil, nil, fmt.Errorf("pipeline: %s: %w", p.name, err)
	}
	v := &expr.Vars{
		Event:     ev,
		Steps:     make(map[string]expr.StepVars, len(rc.Steps)),
		Pipeline:  p.pvars,
		Execution: map[string]any{"id": rc.Execution, "attempt": int64(rc.Attempt)},
		Status:    expr.Status{Failed: rc.Failed, Cancelled: rc.Cancelled},
	}
	for id, st := range rc.Steps {
		v.Steps[id] = expr.StepVars{Outputs: st.Outputs, Outcome: st.Outcome, Conclusion: st.Conclusion}
	}
	if s == nil || len(s.secrets) == 0 {
		return v, nil, nil
	}
	v.Secrets = make(map[string]string, len(s.secrets))
	var values []string
	for _, name := range s.secrets {
		optional := slices.Contains(s.optionalSecrets, name)
		if rc.Secrets == nil {
			if optional {
				continue
			}
			return nil, values, fmt.Errorf("pipeline: %s: no secret source for secret %s: %w", p.name, name, steps.ErrSecretNotFound)
		}
		val, err := rc.Secrets.Secret(ctx, name)
		switch {
		case optional && errors.Is(err, steps.ErrSecretNotFound):
			continue // left out: has(secrets.NAME) is false
		case err != nil:
			return nil, values, fmt.Errorf("pipeline: %s: secret %s: %w", p.name, name, err)
		case !utf8.ValidString(val):
			// Its forms in JSON would depend on the text around it.
			return nil, values, fmt.Errorf("pipeline: %s: secret %s is not valid UTF-8", p.name, name)
		}
		v.Secrets[name] = val
		values = append(values, val)
	}
	return v, values, nil
}

// Render renders a step's `with:` (defaults merged) for an event and the
// outputs of earlier steps. Only the secrets the step reads are fetched.
// An error never holds a secret: it comes back redacted as Redacted would
// redact a value, so it may be stored and logged as it is (it still
// matches context.Canceled, context.DeadlineExceeded,
// steps.ErrSecretNotFound, ErrUnknownStep and ErrInvalidPayload with
// errors.Is, but unwraps to nothing else).
func (p *Plan) Render(ctx context.Context, stepID string, rc RenderContext) (Rendered, error) {
	s, ok := p.byID[stepID]
	if !ok {
		return Rendered{}, fmt.Errorf("%w: %s has no step %q", ErrUnknownStep, p.name, stepID)
	}
	vars, secrets, err := p.vars(ctx, rc, s)
	if err != nil {
		return Rendered{}, newRedactor(secrets).error(err)
	}
	out, err := s.with.Eval(ctx, vars, "with")
	if err != nil {
		return Rendered{}, newRedactor(secrets).error(fmt.Errorf("pipeline: %s: step %s: %w", p.name, stepID, err))
	}
	m, _ := out.(map[string]any)
	return Rendered{With: m, secrets: secrets}, nil
}

// ShouldRun evaluates a step's `if:`. Without one the step runs on
// success(); a condition that calls none of the status functions is
// combined with success(), as in GitHub Actions, so `if: event.data.x`
// does not run after a failure.
func (p *Plan) ShouldRun(ctx context.Context, stepID string, rc RenderContext) (bool, error) {
	s, ok := p.byID[stepID]
	if !ok {
		return false, fmt.Errorf("%w: %s has no step %q", ErrUnknownStep, p.name, stepID)
	}
	success := !rc.Failed && !rc.Cancelled
	if s.cond == nil {
		return success, nil
	}
	if !s.cond.Refs().Status && !success {
		return false, nil
	}
	vars, _, err := p.vars(ctx, rc, nil)
	if err != nil {
		return false, err
	}
	ok, err = s.cond.EvalBool(ctx, vars)
	if err != nil {
		return false, fmt.Errorf("pipeline: %s: step %s: if: %w", p.name, stepID, err)
	}
	return ok, nil
}

// HasConcurrency reports whether the definition declares `concurrency:`.
// Only then does the engine hold a group per execution; without it,
// executions of the pipeline run in parallel.
func (p *Plan) HasConcurrency() bool { return p.grouped }

// ConcurrencyGroup renders the concurrency group for ev. Without a
// `concurrency.group` (`concurrency: {mode: skip}`, say), every run of the
// pipeline shares one group named after it.
func (p *Plan) ConcurrencyGroup(ctx context.Context, ev *EventVars) (string, error) {
	if p.group == nil {
		return p.name, nil
	}
	evv, err := ev.decoded()
	if err != nil {
		return "", fmt.Errorf("pipeline: %s: %w", p.name, err)
	}
	v, err := p.group.Eval(ctx, &expr.Vars{Event: evv, Pipeline: p.pvars})
	if err != nil {
		return "", fmt.Errorf("pipeline: %s: concurrency.group: %w", p.name, err)
	}
	s, err := expr.Stringify(v)
	if err != nil {
		return "", fmt.Errorf("pipeline: %s: concurrency.group: %w", p.name, err)
	}
	return s, nil
}
