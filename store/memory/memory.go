// Package memory is an in-process store.Store: the adapter for tests,
// single-process hosts and the baseline of the SQL adapter's benchmarks.
// Nothing survives the process. Rollups accumulate for the life of the
// Store, since the store contract has no way to delete them; executions do
// too, until PruneExecutions (the engine's retention) deletes finished ones.
//
// # Concurrency
//
// A Store is safe for concurrent use. Each concern (definitions, state,
// executions, coverage) has its own lock, so a coverage flush never waits for
// a claim. Every call sees the effects of every call that returned before it
// started, and each call is atomic: an AddRollups batch or a claim of n
// executions is seen whole or not at all.
//
// # Copies
//
// Records are copied on the way in and on the way out, including their byte
// slices, JSON payloads, maps and step lists, so a caller can neither change
// stored state through a record it passed or got back nor see a later change
// through it. That is what the SQL adapter gives for free, and code tested
// against this package must not come to rely on anything less.
//
// The record CreateExecution or UpdateExecution returns may share its
// payloads (Event.Data, Event.Extensions, Steps) with the record the caller
// passed in, which is the caller's own memory, never the store's: those
// calls are the hot path of every execution, and copying the caller's
// payloads back to the caller would only cost allocations.
package memory

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mockops/mockops/store"
)

// ErrClosed is returned (wrapped) by every method called after Close.
var ErrClosed = errors.New("memory: store closed")

// Store is an in-memory store.Store. The zero value is not usable; call New.
type Store struct {
	closed atomic.Bool

	defsMu      sync.RWMutex
	pipelines   map[string]store.Pipeline
	federations map[string]store.FederationRecord
	activations map[string]store.ScenarioActivation

	stateMu sync.RWMutex
	state   map[string]map[string]store.StateEntry // scope -> key -> entry

	execMu sync.RWMutex
	execs  executionTable

	covMu   sync.RWMutex
	rollups map[rollupKey]store.Rollup
}

var _ store.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{
		pipelines:   make(map[string]store.Pipeline),
		federations: make(map[string]store.FederationRecord),
		activations: make(map[string]store.ScenarioActivation),
		state:       make(map[string]map[string]store.StateEntry),
		execs:       newExecutionTable(),
		rollups:     make(map[rollupKey]store.Rollup),
	}
}

// Close releases nothing, since there is nothing to release, but makes
// every later call fail with ErrClosed, as the SQL adapter's calls fail once
// its database is closed. It is safe to call more than once.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}

// check is the first thing every method does: a cancelled call or a closed
// store must not read or write anything.
func (s *Store) check(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: %s: %w", op, err)
	}
	if s.closed.Load() {
		return fmt.Errorf("%w: %s", ErrClosed, op)
	}
	return nil
}

// now is the time the store stamps on records: UTC without a monotonic
// reading, so stamped records compare with == and print alike.
func now() time.Time {
	return time.Now().UTC()
}

// checkPut applies the optimistic concurrency rule of every versioned
// record: 0 creates, the stored version replaces, AnyVersion does either.
// It returns the version to store.
func checkPut(op, name string, stored int64, exists bool, version int64) (int64, error) {
	switch {
	case version == store.AnyVersion:
	case !exists && version != 0:
		return 0, fmt.Errorf("memory: %s %q: version %d does not exist: %w", op, name, version, store.ErrConflict)
	case exists && version != stored:
		return 0, fmt.Errorf("memory: %s %q: version %d, stored %d: %w", op, name, version, stored, store.ErrConflict)
	}
	if !exists {
		return 1, nil
	}
	return stored + 1, nil
}

// checkDelete applies the version rule of a delete.
func checkDelete(op, name string, stored int64, exists bool, version int64) error {
	switch {
	case !exists:
		return fmt.Errorf("memory: %s %q: %w", op, name, store.ErrNotFound)
	case version != store.AnyVersion && version != stored:
		return fmt.Errorf("memory: %s %q: version %d, stored %d: %w", op, name, version, stored, store.ErrConflict)
	}
	return nil
}
