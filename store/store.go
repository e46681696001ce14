// Package store defines what MockOps persists and the Store interface its
// adapters implement: store/memory (in process) and store/sqlstore (SQLite
// embedded by default, PostgreSQL when several replicas share work).
//
// The records are plain data so that this package needs no domain package;
// pipeline, federation and coverage use them where the thing they describe
// is a record (an execution, a rollup).
//
// # Concurrency
//
// Every adapter is safe for concurrent use, and the guarantees below hold
// across processes for the SQL adapter:
//
//   - Definitions and state entries carry a Version. A Put whose Version is
//     not the stored one fails with ErrConflict (optimistic concurrency);
//     Version 0 means "create, must not exist" and AnyVersion skips the check.
//   - Executions are unique on (Pipeline, EventID), so a trigger seen by
//     several replicas runs once.
//   - ClaimExecutions hands an execution to one owner for a lease; each
//     claim increments Attempt, and UpdateExecution succeeds only for the
//     owner and attempt that hold the claim (fencing), so a late update from
//     an owner whose lease was taken over is rejected.
//   - Coverage rollups are additive: AddRollups adds counts, so replicas
//     flushing into one database give correct totals.
//
// Conformance is checked by store/storetest, which every adapter runs.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mockops/mockops/events"
)

// Errors callers branch on, always wrapped with context; test with errors.Is.
var (
	// ErrNotFound: no record with that key.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a version mismatch, a duplicate key, or an update by an
	// owner that no longer holds the claim.
	ErrConflict = errors.New("store: conflict")
	// ErrInvalid: an argument or record no adapter accepts, such as a lease
	// that is not positive or a payload that is not JSON. Every adapter
	// refuses the same inputs with it, before writing anything.
	ErrInvalid = errors.New("store: invalid input")
)

// AnyVersion as a record's Version makes a Put or Delete unconditional.
const AnyVersion int64 = -1

// Store is every concern together, as the adapters implement it.
type Store interface {
	Pipelines
	Executions
	Federations
	Coverage
	State
	Close() error
}

// Pipeline is a stored pipeline definition.
type Pipeline struct {
	Name      string
	Version   int64  // the stored version; on Put, the version the caller read
	Source    []byte // the definition as written (YAML)
	Enabled   bool
	Workspace string // "" = every workspace
	UpdatedAt time.Time
}

// PipelineQuery filters ListPipelines. The zero value lists every pipeline.
type PipelineQuery struct {
	Workspace   string // only pipelines scoped to this workspace
	EnabledOnly bool
}

// Pipelines stores pipeline definitions.
type Pipelines interface {
	// PutPipeline creates or replaces p.Name if p.Version matches the stored
	// version (0 to create), and returns the stored record with its new
	// Version and UpdatedAt.
	PutPipeline(ctx context.Context, p Pipeline) (Pipeline, error)
	GetPipeline(ctx context.Context, name string) (Pipeline, error)
	// ListPipelines returns pipelines ordered by name.
	ListPipelines(ctx context.Context, q PipelineQuery) ([]Pipeline, error)
	// DeletePipeline removes name if version matches (or is AnyVersion).
	DeletePipeline(ctx context.Context, name string, version int64) error
}

// Status is the state of an execution or a step run.
type Status string

// Execution and step statuses. Skipped applies to steps only.
const (
	StatusQueued    Status = "queued"
	StatusRunning   Status = "running"
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
	StatusCancelled Status = "cancelled"
	StatusTimedOut  Status = "timed_out"
	StatusSkipped   Status = "skipped"
)

// Terminal reports whether s is a final status.
func (s Status) Terminal() bool {
	switch s {
	case StatusSucceeded, StatusFailed, StatusCancelled, StatusTimedOut, StatusSkipped:
		return true
	}
	return false
}

// Execution is one run of one pipeline version for one event.
type Execution struct {
	ID       string // unique; CreateExecution fills an events.NewID when empty
	Pipeline string
	Version  int64 // the pipeline version being run
	EventID  string
	Event    events.Event
	Status   Status
	Error    string
	Steps    []StepRun

	// Attempt counts claims: each ClaimExecutions increments it, and it is
	// the fencing token UpdateExecution checks together with Owner.
	Attempt    int
	Owner      string
	LeaseUntil time.Time
	// CancelRequested is set by CancelExecution for a running execution;
	// its owner sees it on its next read and stops.
	CancelRequested bool

	CreatedAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time
}

// StepRun records one step of an execution.
type StepRun struct {
	ID         string // the step id in the definition
	Uses       string // the step type
	Status     Status
	Outcome    Status // result before continue_on_error
	Conclusion Status // result after continue_on_error
	Attempts   int
	StartedAt  time.Time
	FinishedAt time.Time
	With       json.RawMessage // rendered config, secrets redacted
	Output     json.RawMessage
	Error      string
}

// ExecutionQuery filters ListExecutions. Results are newest first (by ID,
// which events.NewID makes time-sortable).
type ExecutionQuery struct {
	Pipeline string
	Status   Status
	Limit    int    // <= 0 means 50; adapters cap it at 1000 (PageLimit)
	Cursor   string // from a previous page's Next; "" = first page
}

// PageLimit is how many executions a page of q holds: Limit, 50 when it is
// not positive, at most 1000. Every adapter pages by it.
func (q ExecutionQuery) PageLimit() int { return pageLimit(q.Limit, 50, 1000) }

// ExecutionPage is one page of ListExecutions. Next is "" on the last page.
type ExecutionPage struct {
	Executions []Execution
	Next       string
}

// Claim says which executions of a CreateExecutions batch are created
// already claimed, and by whom. The zero Claim claims none.
type Claim struct {
	Owner string
	Lease time.Duration
	Count int // the first Count executions of the batch
}

// Validate reports whether c is a valid Claim for a batch of n
// executions, with an error wrapping ErrInvalid if not.
func (c Claim) Validate(n int) error {
	switch {
	case c.Count < 0 || c.Count > n:
		return fmt.Errorf("claim of %d executions in a batch of %d: %w", c.Count, n, ErrInvalid)
	case c.Count == 0:
		return nil
	case c.Owner == "":
		return fmt.Errorf("claim with an empty owner: %w", ErrInvalid)
	case checkText(c.Owner) != nil:
		return fmt.Errorf("claim for %q: owner %w: %w", c.Owner, checkText(c.Owner), ErrInvalid)
	case c.Lease <= 0:
		return fmt.Errorf("claim for %q: lease %v: %w", c.Owner, c.Lease, ErrInvalid)
	}
	return nil
}

// Executions stores executions and hands them to workers.
type Executions interface {
	// CreateExecution stores a new execution (status queued unless set) and
	// returns it with ID and CreatedAt filled. A second execution for the
	// same (Pipeline, EventID) fails with ErrConflict, and one that
	// Execution.Validate refuses fails with ErrInvalid.
	CreateExecution(ctx context.Context, x Execution) (Execution, error)
	// CreateClaimedExecution is CreateExecution and ClaimExecutions of the
	// new execution in one write, for an engine that receives an event and
	// has room to run it at once: the execution is stored running, claimed
	// by owner (Attempt 1, LeaseUntil now+lease and StartedAt now, on the
	// store's clock as for a claim). x's Status, Owner, Attempt, LeaseUntil,
	// StartedAt and FinishedAt are ignored. Uniqueness and validation are
	// CreateExecution's; a lease that is not positive fails with ErrInvalid.
	CreateClaimedExecution(ctx context.Context, x Execution, owner string, lease time.Duration) (Execution, error)
	// CreateExecutions is CreateExecution for several executions in one
	// write (one statement or transaction in the SQL adapters), which is
	// what makes an engine's intake cheap: one commit for a batch of
	// events. The first c.Count executions of xs are created claimed by
	// c.Owner for c.Lease, as CreateClaimedExecution creates one; the rest
	// as CreateExecution does. Each item is judged alone: got[i] and
	// errs[i] are what creating xs[i] alone would have returned, so a
	// duplicate (Pipeline, EventID), in the store or earlier in xs, fails
	// with ErrConflict without failing the others. An item repeating the
	// ID or (Pipeline, EventID) of an earlier valid item of xs fails so
	// even when that earlier one failed too (its ID was taken): the first
	// of them is the only one tried. A c that is not valid
	// (Count outside 0..len(xs), or Count > 0 with an Owner that is empty
	// or not UTF-8 text without NUL bytes, or a Lease that is not
	// positive) fails every item with ErrInvalid, and an
	// error of the whole write is every item's error. Both slices have
	// len(xs).
	CreateExecutions(ctx context.Context, xs []Execution, c Claim) (got []Execution, errs []error)
	GetExecution(ctx context.Context, id string) (Execution, error)
	ListExecutions(ctx context.Context, q ExecutionQuery) (ExecutionPage, error)
	// ClaimExecutions gives owner up to n executions that are queued, or
	// running with an expired lease, oldest first by ID (which
	// events.NewID makes strictly increasing within a process; every
	// adapter uses this one key, never CreatedAt): each becomes running,
	// with Owner set, LeaseUntil now+lease, Attempt incremented and StartedAt
	// set if it was zero. No execution is handed to two owners at once.
	// A lease that is not positive fails with ErrInvalid.
	//
	// SQL adapters measure leases on the database's clock, so the clocks
	// of replicas sharing a database need not agree. LeaseUntil is that
	// clock's time; an owner extending its lease through UpdateExecution
	// should compute the new LeaseUntil from the claimed one plus the time
	// elapsed on its own monotonic clock, never from its wall clock.
	ClaimExecutions(ctx context.Context, owner string, lease time.Duration, n int) ([]Execution, error)
	// UpdateExecution writes Status, Error, Steps, LeaseUntil, StartedAt and
	// FinishedAt of x.ID, provided x.Owner and x.Attempt still hold the
	// claim; otherwise it fails with ErrConflict. Steps whose payloads are
	// not JSON fail with ErrInvalid, as in CreateExecution.
	UpdateExecution(ctx context.Context, x Execution) (Execution, error)
	// UpdateExecutions is UpdateExecution for several executions at once,
	// written together (one transaction in the SQL adapters), which is
	// what makes an engine's completions cheap: one commit for many. Each
	// item is judged alone: got[i] and errs[i] are what UpdateExecution(xs[i])
	// would have returned, so a row whose claim moved on fails with
	// ErrConflict without failing the others. An error of the whole write
	// (the database is unreachable) is every item's error. Both slices
	// have len(xs); an ID may appear only once in xs (ErrInvalid otherwise).
	UpdateExecutions(ctx context.Context, xs []Execution) (got []Execution, errs []error)
	// CancelExecution cancels a queued execution at once and asks the owner
	// of a running one to stop (CancelRequested). A finished execution is
	// returned unchanged.
	CancelExecution(ctx context.Context, id string) (Execution, error)
}

// FederationRecord is a stored federation definition.
type FederationRecord struct {
	Name      string
	Version   int64
	Spec      []byte // the definition as written (YAML)
	UpdatedAt time.Time
}

// ScenarioActivation records which scenario is active in a federation.
type ScenarioActivation struct {
	Federation string
	Scenario   string // "" = none
	Version    int64
	UpdatedAt  time.Time
}

// Federations stores federation definitions and their active scenario.
type Federations interface {
	PutFederation(ctx context.Context, f FederationRecord) (FederationRecord, error)
	GetFederation(ctx context.Context, name string) (FederationRecord, error)
	// ListFederations returns federations ordered by name.
	ListFederations(ctx context.Context) ([]FederationRecord, error)
	DeleteFederation(ctx context.Context, name string, version int64) error
	// PutActivation sets the active scenario with the same version rule as
	// the definitions; GetActivation returns ErrNotFound if none was set.
	PutActivation(ctx context.Context, a ScenarioActivation) (ScenarioActivation, error)
	GetActivation(ctx context.Context, federation string) (ScenarioActivation, error)
}

// Rollup is an additive coverage counter: how often Key of Kind was seen
// in Workspace and Service during the bucket starting at Bucket.
type Rollup struct {
	Kind      string // what is counted: "scenario", "persona", "endpoint", "drift", ...
	Workspace string
	Service   string
	Key       string
	Bucket    time.Time // start of the time bucket (UTC); zero for all-time counters
	Count     int64
	LastSeen  time.Time // the latest observation; merged with max
}

// RollupQuery filters ListRollups; empty fields match everything, and
// From/To bound Bucket (From inclusive, To exclusive).
type RollupQuery struct {
	Kind      string
	Workspace string
	Service   string
	From, To  time.Time
	Limit     int    // <= 0 means 1000; adapters cap it at 10000 (PageLimit)
	Cursor    string // from a previous page's Next; "" = first page
}

// PageLimit is how many rollups a page of q holds: Limit, 1000 when it is
// not positive, at most 10000. Every adapter pages by it.
func (q RollupQuery) PageLimit() int { return pageLimit(q.Limit, 1000, 10000) }

func pageLimit(limit, def, most int) int {
	if limit <= 0 {
		return def
	}
	return min(limit, most)
}

// RollupPage is one page of ListRollups. Next is "" on the last page.
type RollupPage struct {
	Rollups []Rollup
	Next    string
}

// Coverage stores coverage rollups.
type Coverage interface {
	// AddRollups adds each rollup's Count to the stored one with the same
	// (Kind, Workspace, Service, Key, Bucket), creating it if needed, and
	// keeps the later LastSeen. The batch is applied atomically.
	AddRollups(ctx context.Context, rs []Rollup) error
	// ListRollups returns a page of the matching rollups ordered by Kind,
	// Workspace, Service, Key, then Bucket. A page is bounded (see
	// RollupQuery.Limit), so a report over many rollups reads them page by
	// page; the cursor is the last key of a page, so rollups added
	// meanwhile never make a later page repeat or skip one.
	ListRollups(ctx context.Context, q RollupQuery) (RollupPage, error)
}

// StateEntry is one value in a shared-state scope (a federation's
// cross-workspace key/value space).
type StateEntry struct {
	Scope     string
	Key       string
	Value     json.RawMessage
	Version   int64
	UpdatedAt time.Time
}

// State is a versioned key/value space with compare-and-swap.
type State interface {
	GetState(ctx context.Context, scope, key string) (StateEntry, error)
	// PutState writes e if e.Version matches the stored version (0 to
	// create, AnyVersion to skip the check) and returns the stored entry.
	// A Value StateEntry.Validate refuses fails with ErrInvalid.
	PutState(ctx context.Context, e StateEntry) (StateEntry, error)
	DeleteState(ctx context.Context, scope, key string, version int64) error
	// ListState returns a scope's entries ordered by key.
	ListState(ctx context.Context, scope string) ([]StateEntry, error)
}
