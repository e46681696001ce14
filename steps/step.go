package steps

import (
	"context"
	"errors"
	"log/slog"

	"github.com/mockops/mockops/events"
)

// Step is one run of a configured step. Run must honour ctx: the engine
// cancels it on timeout or cancellation and abandons a step that ignores
// it after a grace period.
type Step interface {
	Run(ctx context.Context, in Input) (Output, error)
}

// StepFunc adapts a function to Step.
type StepFunc func(ctx context.Context, in Input) (Output, error)

// Run calls f.
func (f StepFunc) Run(ctx context.Context, in Input) (Output, error) { return f(ctx, in) }

// Input is what a step sees when it runs.
type Input struct {
	Event     events.Event
	With      map[string]any // rendered config, before decoding into the config struct
	Pipeline  string
	Execution string
	StepID    string
	Attempt   int // 1 for the first attempt
	// IdempotencyKey is unique to this attempt of this step of this
	// execution ("<execution>/<step>/<attempt>"), stable if the attempt's
	// request is retried: pass it to systems that accept one.
	IdempotencyKey string
	Steps          map[string]Output // outputs of earlier steps, by step id
	Logger         *slog.Logger      // never nil when called by the engine
	Publisher      events.Publisher  // for steps that emit events
	// Traceparent is the W3C traceparent of the step's span (the
	// triggering event's when the engine records no spans; "" when there
	// is neither): pass it to systems the step calls. The engine's
	// Publisher stamps it, with the span's tracestate, on the events the
	// step emits.
	Traceparent string
}

// Output is what a step produces. Outputs are readable by later steps as
// `steps.<id>.outputs.<key>`; values must encode to JSON.
type Output struct {
	Outputs map[string]any
}

// Permanent marks err as one that retrying cannot fix. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was marked by
// Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }
