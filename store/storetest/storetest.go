// Package storetest is the conformance suite for store.Store adapters. An
// adapter's test is a constructor and one call:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return memory.New() })
//	}
//
// Every case gets a fresh, empty store from newStore and closes it when the
// case ends, so cases never see each other's records. The suite compares
// timestamps within a microsecond, because SQL adapters keep microsecond
// precision, and compares JSON payloads by meaning rather than by bytes
// (PostgreSQL's jsonb does not keep whitespace), except where the contract
// promises bytes: pipeline Source, federation Spec and state Value.
//
// The suite runs in seconds: the few cases about lease expiry wait for a
// lease of tens of milliseconds to pass, and nothing else sleeps.
//
// # Readings of the contract
//
// Where store.Store leaves room, the suite holds every adapter to one
// reading, so that code tested against one adapter behaves alike on the
// others:
//
//   - A Put with a Version other than 0 or AnyVersion for a record that does
//     not exist is an ErrConflict (the version is not the stored one), and
//     a Delete of a missing record is an ErrNotFound whatever the version.
//   - PipelineQuery.Workspace matches pipelines scoped to exactly that
//     workspace; pipelines for every workspace ("") are not included.
//   - ListExecutions returns Next == "" on the last page even when that page
//     is full, and a Limit above the adapter's cap is clamped, not refused.
//   - UpdateExecution leaves CancelRequested, Pipeline, EventID, Event,
//     Version and CreatedAt alone, and a re-claim keeps the first StartedAt.
//   - Bucket identity in AddRollups is the instant, not its time zone.
//   - A method called with a cancelled context fails with an error wrapping
//     context.Canceled and writes nothing.
//   - Bad input fails alike everywhere: a state value or step payload that
//     is not one JSON document in UTF-8, an execution whose event does not
//     validate or whose ID, Pipeline, EventID, Status, Owner or Error is not
//     UTF-8 text without NUL bytes, and a lease that is not positive are
//     refused with store.ErrInvalid before anything is written (in a
//     CreateExecutions batch, that item alone).
//   - Records are values: changing a record's slices or maps after passing
//     it to the store, or after getting it back, changes nothing stored.
//   - PruneExecutions (ExecutionPruner), which store.Store leaves out but
//     the suite requires, deletes executions in a terminal state whose
//     FinishedAt is set and before the cut-off, both taken at the
//     microsecond; those that finished first go first (ties by ID), at
//     most limit per call, none for a limit that is not positive. A pruned
//     execution's (pipeline, event) pair is free again: that event would
//     start a new execution.
//
// BenchExecution and BenchRollups are the workloads of the store benchmarks,
// exported so that every adapter measures the same thing and a benchmark can
// put the memory adapter beside the one measured.
package storetest

import (
	"context"
	"encoding/json"
	"maps"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mockops/mockops/store"
)

// Run runs the conformance suite against the stores newStore returns. Each
// case gets a new store, which the suite closes (once) when the case ends;
// newStore registers any further cleanup it needs with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	cases := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"Versions", testVersions},
		{"PipelineRoundTrip", testPipelineRoundTrip},
		{"ListPipelines", testListPipelines},
		{"FederationRoundTrip", testFederationRoundTrip},
		{"ListFederations", testListFederations},
		{"Activation", testActivation},
		{"StateRoundTrip", testStateRoundTrip},
		{"ListState", testListState},
		{"CreateExecution", testCreateExecution},
		{"ExecutionRoundTrip", testExecutionRoundTrip},
		{"ExecutionUniqueness", testExecutionUniqueness},
		{"ListExecutions", testListExecutions},
		{"ListExecutionsPagination", testListExecutionsPagination},
		{"InvalidCursor", testInvalidCursor},
		{"PaginationConcurrentInserts", testPaginationConcurrentInserts},
		{"ClaimOrder", testClaimOrder},
		{"ClaimOrderWithinMillisecond", testClaimOrderWithinMillisecond},
		{"ClaimInvalidLease", testClaimInvalidLease},
		{"ClaimLeased", testClaimLeased},
		{"ClaimExpiredLease", testClaimExpiredLease},
		{"ClaimSkipsFinished", testClaimSkipsFinished},
		{"UpdateExecution", testUpdateExecution},
		{"UpdateExecutions", testUpdateExecutions},
		{"CreateClaimedExecution", testCreateClaimedExecution},
		{"CreateExecutions", testCreateExecutions},
		{"CreateExecutionsInvalidClaim", testCreateExecutionsInvalidClaim},
		{"CreateExecutionsRepeatOfFailed", testCreateExecutionsRepeatOfFailed},
		{"CreateExecutionsBadText", testCreateExecutionsBadText},
		{"CancelExecution", testCancelExecution},
		{"AddRollups", testAddRollups},
		{"ListRollups", testListRollups},
		{"ListRollupsPages", testListRollupsPages},
		{"ConcurrentRollups", testConcurrentRollups},
		{"StateCompareAndSwap", testStateCompareAndSwap},
		{"InvalidState", testInvalidState},
		{"InvalidExecution", testInvalidExecution},
		{"ConcurrentCreateSameEvent", testConcurrentCreateSameEvent},
		{"ParallelWriters", testParallelWriters},
		{"ConcurrentClaims", testConcurrentClaims},
		{"Isolation", testIsolation},
		{"CancelledContext", testCancelledContext},
		{"PruneExecutions", testPruneExecutions},
		{"PruneLimit", testPruneLimit},
		{"PruneOrder", testPruneOrder},
		{"PruneFreesEvent", testPruneFreesEvent},
		{"PruneConcurrent", testPruneConcurrent},
		{"PruneCancelled", testPruneCancelled},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t)
			if s == nil {
				t.Fatal("newStore returned nil")
			}
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close() = %v; want nil", err)
				}
			})
			c.run(t, s)
		})
	}
}

// clockSlack bounds how far a timestamp the store sets may lie outside the
// interval around the call that set it: adapters may truncate to
// microseconds or take the time from a database server's clock.
const clockSlack = time.Second

// cmpOpts compares records the way the contract promises them back:
// timestamps within a microsecond, JSON by meaning, and nil and empty
// collections alike (an SQL adapter cannot tell them apart).
var cmpOpts = cmp.Options{
	cmpopts.EquateApproxTime(time.Microsecond),
	cmp.Comparer(jsonEqual),
	cmp.Comparer(func(a, b map[string]string) bool { return maps.Equal(a, b) }),
	cmp.FilterValues(func(a, b []store.StepRun) bool { return len(a) == 0 && len(b) == 0 },
		cmp.Comparer(func(a, b []store.StepRun) bool { return true })),
}

// bytesOpts is cmpOpts for records whose payload must come back byte for
// byte (Source, Spec, Value): only the timestamps are approximate.
var bytesOpts = cmp.Options{
	cmpopts.EquateApproxTime(time.Microsecond),
	cmp.Comparer(func(a, b json.RawMessage) bool { return string(a) == string(b) }),
}

// jsonEqual reports whether a and b encode the same JSON value; an empty
// message and JSON null both mean "no value".
func jsonEqual(a, b json.RawMessage) bool {
	va, okA := decodeJSON(a)
	vb, okB := decodeJSON(b)
	if !okA || !okB {
		return string(a) == string(b)
	}
	return reflect.DeepEqual(va, vb)
}

func decodeJSON(m json.RawMessage) (any, bool) {
	if len(m) == 0 {
		return nil, true
	}
	var v any
	if err := json.Unmarshal(m, &v); err != nil {
		return nil, false
	}
	return v, true
}

// checkTime fails t unless got lies in [before, after] give or take
// clockSlack.
func checkTime(t *testing.T, what string, got, before, after time.Time) {
	t.Helper()
	if got.IsZero() {
		t.Errorf("%s is zero; want a time between %v and %v", what, before, after)
		return
	}
	if got.Before(before.Add(-clockSlack)) || got.After(after.Add(clockSlack)) {
		t.Errorf("%s = %v; want between %v and %v", what, got, before, after)
	}
}

// ctxFor returns a context that ends with the test, bounded so that a
// deadlocked adapter fails the case instead of hanging the whole run.
func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}
