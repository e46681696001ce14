package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/mockops/mockops/store"
)

// RescuePolicy says what an engine does with an execution whose previous
// owner's lease expired (the owner died, hung, or was interrupted by a
// Shutdown whose ctx ended).
type RescuePolicy int

const (
	// RescueResume runs the execution from its first unfinished step;
	// completed steps are not run again. The default.
	RescueResume RescuePolicy = iota
	// RescueFail records the execution failed without running anything:
	// for hosts whose steps must not be attempted twice, even with an
	// idempotency key. The steps left running are recorded failed,
	// those never started skipped.
	RescueFail
)

// The defaults of the retention fields of Config.
const (
	DefaultPruneInterval = time.Minute
	DefaultPruneBatch    = 500
)

// ErrNoPrune: Config.Retention is set but the store cannot delete
// executions (it has no PruneExecutions method).
var ErrNoPrune = errors.New("pipeline: the store cannot prune executions")

// executionPruner is the optional store capability retention needs;
// store/memory and store/sqlstore have it. It is found by type assertion
// so that store.Store keeps the methods every adapter must have.
type executionPruner interface {
	PruneExecutions(ctx context.Context, finishedBefore time.Time, limit int) (int, error)
}

// eventPruner is the optional store capability that deletes the durable
// bus's stored events: store/sqlstore has it, since its bus keeps events
// as rows of the store's database. PruneEvents deletes only events that
// every named consumer (the engine's Config.Consumer among them) has
// handled, so retention never takes an event from under a durable
// consumer that has yet to see it.
type eventPruner interface {
	PruneEvents(ctx context.Context, olderThan time.Time) (int64, error)
}

// ops is the engine state behind tracing and retention, built once by
// NewEngine.
type ops struct {
	tracer      trace.Tracer
	pruner      executionPruner // nil when Retention is 0
	eventPruner eventPruner     // nil when Retention is 0 or the store keeps no bus events
}

// newOps applies the defaults of the tracing and retention fields of cfg
// and checks them.
func newOps(cfg *Config) (ops, error) {
	if cfg.Retention < 0 || cfg.PruneInterval < 0 || cfg.PruneBatch < 0 {
		return ops{}, errors.New("pipeline: engine: Retention, PruneInterval and PruneBatch must not be negative")
	}
	if cfg.OnRescue != RescueResume && cfg.OnRescue != RescueFail {
		return ops{}, fmt.Errorf("pipeline: engine: unknown OnRescue %d", cfg.OnRescue)
	}
	if cfg.PruneInterval == 0 {
		cfg.PruneInterval = DefaultPruneInterval
	}
	if cfg.PruneBatch == 0 {
		cfg.PruneBatch = DefaultPruneBatch
	}
	o := ops{tracer: newTracer(cfg.TracerProvider)}
	if cfg.Retention > 0 {
		p, ok := cfg.Store.(executionPruner)
		if !ok {
			return ops{}, fmt.Errorf("%w: Retention %v needs a store with PruneExecutions; %T has none", ErrNoPrune, cfg.Retention, cfg.Store)
		}
		o.pruner = p
		o.eventPruner, _ = cfg.Store.(eventPruner)
	}
	return o, nil
}

// pruneLoop deletes finished executions (and handled bus events) older
// than Retention every PruneInterval until ctx ends. Every replica may run
// it: deletes of the same rows by two engines are harmless.
func (e *Engine) pruneLoop(ctx context.Context) {
	if e.ops.pruner == nil {
		return
	}
	t := time.NewTicker(e.cfg.PruneInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := e.Prune(ctx); err != nil && ctx.Err() == nil {
			e.log.Error("pipeline: prune", "err", err)
		}
	}
}

// Prune deletes now the executions that finished more than
// Config.Retention ago (by Config.Clock), in batches of
// Config.PruneBatch, each its own store call so that no call holds the
// store for the whole history; it returns how many it deleted (what the
// batches before a failure deleted, with the error). Run calls it every
// PruneInterval. Without Retention it wraps ErrNoPrune.
//
// When the store also keeps the durable bus's events (it has PruneEvents,
// as store/sqlstore does), Prune then deletes the stored events published
// before the same cut-off that every named consumer has handled; an event
// a durable consumer has yet to handle stays, however old. Those are
// counted in Stats().PrunedEvents, not in the result. A failure of either
// part does not stop the other.
func (e *Engine) Prune(ctx context.Context) (int, error) {
	if e.ops.pruner == nil {
		return 0, fmt.Errorf("%w: Config.Retention is not set", ErrNoPrune)
	}
	cut := e.now().Add(-e.cfg.Retention)
	n, err := e.pruneExecutions(ctx, cut)
	if e.ops.eventPruner != nil && ctx.Err() == nil {
		err = errors.Join(err, e.pruneEvents(ctx, cut))
	}
	return n, err
}

// pruneExecutions is Prune's part for executions.
func (e *Engine) pruneExecutions(ctx context.Context, cut time.Time) (int, error) {
	total := 0
	for {
		n, err := e.ops.pruner.PruneExecutions(ctx, cut, e.cfg.PruneBatch)
		total += n
		e.stats.pruned.Add(int64(n))
		if err != nil {
			return total, fmt.Errorf("pipeline: prune: %w", err)
		}
		if n < e.cfg.PruneBatch {
			if total > 0 {
				e.log.Info("pipeline: pruned finished executions", "count", total, "finished_before", cut)
			}
			return total, nil
		}
	}
}

// pruneEvents is Prune's part for the durable bus's stored events;
// PruneEvents batches by itself.
func (e *Engine) pruneEvents(ctx context.Context, cut time.Time) error {
	n, err := e.ops.eventPruner.PruneEvents(ctx, cut)
	e.stats.prunedEvents.Add(n)
	if n > 0 {
		e.log.Info("pipeline: pruned handled bus events", "count", n, "published_before", cut)
	}
	if err != nil {
		return fmt.Errorf("pipeline: prune bus events: %w", err)
	}
	return nil
}

// rescued reports whether this claim took the execution over from an
// owner whose lease expired, counts it, and under RescueFail records it
// failed; it returns true when the run must stop there.
//
// An earlier claim that got as far as running is told apart from one
// that only waited for its concurrency group (which clears StartedAt, so
// the next claim sets it anew) by StartedAt: it predates this claim, whose
// store time is the claimed lease minus Lease.
func (r *run) rescued() bool {
	e := r.e
	r.mu.Lock()
	defer r.mu.Unlock()
	claimAt := r.claimLease.Add(-e.cfg.Lease)
	if r.x.Attempt <= 1 || r.x.StartedAt.IsZero() || !r.x.StartedAt.Before(claimAt.Add(-time.Millisecond)) {
		return false
	}
	e.stats.rescues.Add(1)
	if e.cfg.OnRescue != RescueFail {
		r.log.Info("pipeline: resuming an execution whose lease expired", "attempt", r.x.Attempt)
		return false
	}
	now := e.now()
	for i := range r.x.Steps {
		if st := &r.x.Steps[i]; st.Status == store.StatusRunning {
			st.Status, st.Outcome, st.Conclusion = store.StatusFailed, store.StatusFailed, store.StatusFailed
			st.Error = "abandoned: its engine's lease expired while it ran"
			st.FinishedAt = now
		}
	}
	r.log.Warn("pipeline: failing an execution whose lease expired (Config.OnRescue)", "attempt", r.x.Attempt)
	r.conclude(store.StatusFailed, "pipeline: the previous owner's lease expired; failed by Config.OnRescue")
	return true
}
