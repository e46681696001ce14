package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/mockops/mockops/events"
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
	Event     events.Event
	Steps     map[string]StepState // earlier steps, by id
	Execution string               // execution id
	Attempt   int
	// Secrets resolves `${{ secrets.NAME }}`. Nil: a step that reads a
	// secret fails to render.
	Secrets steps.SecretSource
	// Failed and Cancelled are the execution's status so far, read by
	// success(), failure() and cancelled().
	Failed, Cancelled bool
}

// Rendered is a step's rendered `with:`.
type Rendered struct {
	With map[string]any
	// secrets holds the values of the secrets read, for Redacted.
	secrets []string
}

// Redacted returns a copy of With in which every occurrence of a secret
// value is replaced by "***": what may be stored or logged.
func (r Rendered) Redacted() map[string]any {
	// Longest first: were a secret a prefix of another, replacing the
	// shorter one first would leave the rest of the longer one in clear.
	secrets := slices.Clone(r.secrets)
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	v, _ := redact(r.With, secrets).(map[string]any)
	return v
}

func redact(v any, secrets []string) any {
	switch x := v.(type) {
	case string:
		for _, s := range secrets {
			if s != "" {
				x = strings.ReplaceAll(x, s, "***")
			}
		}
		return x
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = redact(x[i], secrets)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = redact(e, secrets)
		}
		return out
	}
	return v
}

func (p *Plan) vars(ctx context.Context, rc RenderContext, secretNames []string) (*expr.Vars, []string, error) {
	ev, err := expr.NewEventVars(rc.Event)
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
	for id, s := range rc.Steps {
		v.Steps[id] = expr.StepVars{Outputs: s.Outputs, Outcome: s.Outcome, Conclusion: s.Conclusion}
	}
	var values []string
	if len(secretNames) > 0 {
		if rc.Secrets == nil {
			return nil, nil, fmt.Errorf("pipeline: %s: no secret source for secrets %s", p.name, strings.Join(secretNames, ", "))
		}
		v.Secrets = make(map[string]string, len(secretNames))
		for _, name := range secretNames {
			s, err := rc.Secrets.Secret(ctx, name)
			if err != nil {
				return nil, nil, fmt.Errorf("pipeline: %s: secret %s: %w", p.name, name, err)
			}
			v.Secrets[name] = s
			values = append(values, s)
		}
	}
	return v, values, nil
}

// Render renders a step's `with:` (defaults merged) for an event and the
// outputs of earlier steps. Only the secrets the step reads are fetched.
func (p *Plan) Render(ctx context.Context, stepID string, rc RenderContext) (Rendered, error) {
	s, ok := p.byID[stepID]
	if !ok {
		return Rendered{}, fmt.Errorf("%w: %s has no step %q", ErrUnknownStep, p.name, stepID)
	}
	vars, secrets, err := p.vars(ctx, rc, s.secrets)
	if err != nil {
		return Rendered{}, err
	}
	out, err := s.with.Eval(ctx, vars, "with")
	if err != nil {
		return Rendered{}, fmt.Errorf("pipeline: %s: step %s: %w", p.name, stepID, err)
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

// ConcurrencyGroup renders the concurrency group for ev. Without a
// `concurrency.group`, every run of the pipeline shares one group named
// after it.
func (p *Plan) ConcurrencyGroup(ctx context.Context, ev events.Event) (string, error) {
	if p.group == nil {
		return p.name, nil
	}
	evv, err := expr.NewEventVars(ev)
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
