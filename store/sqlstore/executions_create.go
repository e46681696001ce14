package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/store"
)

// newRow is an execution prepared for its INSERT: normalised, validated,
// its payloads encoded.
type newRow struct {
	x            store.Execution
	event, steps any // JSON text, or nil for none
	claimed      bool
	stored       bool // the INSERT stored it (no conflict)
}

// CreateExecutions implements store.Executions. On PostgreSQL the batch is
// one INSERT (qInsertExecutionsPostgres): one round trip and one commit,
// whatever its size. On SQLite it is one transaction of an INSERT per row,
// which costs SQLite's one commit for the batch. A row that conflicts with
// a stored one is skipped by ON CONFLICT DO NOTHING, not failed, so it
// fails alone; a row that repeats an earlier row's ID or (Pipeline,
// EventID) fails here, before anything is sent, so the earlier one wins on
// every adapter.
func (s *Store) CreateExecutions(ctx context.Context, xs []store.Execution, c store.Claim) ([]store.Execution, []error) {
	got, errs := make([]store.Execution, len(xs)), make([]error, len(xs))
	if err := c.Validate(len(xs)); err != nil {
		for i := range errs {
			errs[i] = fmt.Errorf("sqlstore: create executions: %w", err)
		}
		return got, errs
	}
	now := normTime(s.now())
	rows := make([]newRow, 0, len(xs))
	at := make([]int, 0, len(xs)) // rows[j] is xs[at[j]]
	var ids, keys map[string]bool
	if len(xs) > 1 {
		ids, keys = make(map[string]bool, len(xs)), make(map[string]bool, len(xs))
	}
	for i, x := range xs {
		r, err := prepareCreate(x, now, i < c.Count, c.Owner)
		if err != nil {
			errs[i] = err
			continue
		}
		if ids != nil {
			key := r.x.Pipeline + "\x00" + r.x.EventID
			if ids[r.x.ID] || keys[key] {
				errs[i] = conflictError(r.x)
				continue
			}
			ids[r.x.ID], keys[key] = true, true
		}
		rows, at = append(rows, r), append(at, i)
	}
	if len(rows) == 0 {
		return got, errs
	}
	// Rounded up, as in ClaimExecutions.
	micros := int64((c.Lease + time.Microsecond - 1) / time.Microsecond)
	var err error
	if s.q.insertExecutions != "" {
		err = s.write(ctx, func(db execer) error { return s.insertBatch(ctx, db, rows, micros) })
	} else {
		err = s.insertRows(ctx, rows, micros)
	}
	for j, i := range at {
		switch r := rows[j]; {
		case err != nil:
			errs[i] = fmt.Errorf("sqlstore: create execution of %q: %w", r.x.Pipeline, err)
		case !r.stored:
			errs[i] = conflictError(r.x)
		default:
			got[i] = r.x
		}
	}
	return got, errs
}

// prepareCreate fills in what CreateExecution fills in (and, for a claimed
// execution, what the claim sets, but for the lease and start the database
// sets), then normalises, validates and encodes x.
func prepareCreate(x store.Execution, now time.Time, claimed bool, owner string) (newRow, error) {
	if x.ID == "" {
		x.ID = events.NewID(now)
	}
	if x.CreatedAt.IsZero() {
		x.CreatedAt = now
	}
	if claimed {
		x.Status, x.Owner, x.Attempt = store.StatusRunning, owner, 1
		x.LeaseUntil, x.StartedAt, x.FinishedAt = time.Time{}, time.Time{}, time.Time{}
	} else if x.Status == "" {
		x.Status = store.StatusQueued
	}
	x = normExecution(x)
	if err := x.Validate(); err != nil {
		return newRow{}, fmt.Errorf("sqlstore: create execution: %w", err)
	}
	event, err := encodeEvent(x.Event)
	if err != nil {
		return newRow{}, fmt.Errorf("sqlstore: create execution of %q: %w", x.Pipeline, err)
	}
	steps, err := encodeSteps(x.Steps)
	if err != nil {
		return newRow{}, fmt.Errorf("sqlstore: create execution of %q: %w", x.Pipeline, err)
	}
	return newRow{x: x, event: event, steps: steps, claimed: claimed}, nil
}

func conflictError(x store.Execution) error {
	return fmt.Errorf("sqlstore: create execution %q of %q for event %q: %w", x.ID, x.Pipeline, x.EventID, store.ErrConflict)
}

// insertRows stores rows on SQLite: one transaction, unless there is one
// row, whose INSERT commits by itself.
func (s *Store) insertRows(ctx context.Context, rows []newRow, micros int64) error {
	insert := func(db execer) error {
		for j := range rows {
			if err := s.insertRow(ctx, db, &rows[j], micros); err != nil {
				return err
			}
		}
		return nil
	}
	if len(rows) == 1 {
		return s.write(ctx, insert)
	}
	return s.inTx(ctx, insert)
}

// insertRow runs the INSERT of one row, setting r.stored, and for a
// claimed row its lease and start as the database set them.
func (s *Store) insertRow(ctx context.Context, db execer, r *newRow, micros int64) error {
	x, d := &r.x, s.d
	if r.claimed {
		err := db.QueryRowContext(ctx, s.q.insertClaimedExecution,
			x.ID, x.Pipeline, x.Version, x.EventID, r.event, x.Error, r.steps,
			x.Owner, micros, x.CancelRequested, d.ts(x.CreatedAt)).Scan(timeCol{&x.LeaseUntil}, timeCol{&x.StartedAt})
		if errors.Is(err, sql.ErrNoRows) {
			return nil // a conflict: not stored
		}
		r.stored = err == nil
		return err
	}
	res, err := db.ExecContext(ctx, s.q.insertExecution,
		x.ID, x.Pipeline, x.Version, x.EventID, r.event, string(x.Status), x.Error, r.steps,
		x.Attempt, x.Owner, d.nullTS(x.LeaseUntil), x.CancelRequested,
		d.ts(x.CreatedAt), d.nullTS(x.StartedAt), d.nullTS(x.FinishedAt))
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	r.stored = n == 1
	return err
}

// insertBatch stores rows on PostgreSQL in one statement, the rows as
// parallel arrays (qInsertExecutionsPostgres).
func (s *Store) insertBatch(ctx context.Context, db execer, rows []newRow, micros int64) error {
	n := len(rows)
	ids, pipelines, eventIDs, statuses, msgs, owners := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	versions, attempts := make([]int64, n), make([]int64, n)
	evs, steps := make([]*string, n), make([]*string, n)
	leases, starts, finishes := make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n)
	created := make([]time.Time, n)
	cancels, claimed := make([]bool, n), make([]bool, n)
	at := make(map[string]int, n)
	for j, r := range rows {
		x := r.x
		at[x.ID] = j
		ids[j], pipelines[j], versions[j], eventIDs[j] = x.ID, x.Pipeline, x.Version, x.EventID
		statuses[j], msgs[j], attempts[j], owners[j] = string(x.Status), x.Error, int64(x.Attempt), x.Owner
		if e, ok := r.event.(string); ok {
			evs[j] = &e
		}
		if st, ok := r.steps.(string); ok {
			steps[j] = &st
		}
		leases[j], starts[j], finishes[j] = optTS(x.LeaseUntil), optTS(x.StartedAt), optTS(x.FinishedAt)
		created[j], cancels[j], claimed[j] = x.CreatedAt, x.CancelRequested, r.claimed
	}
	res, err := db.QueryContext(ctx, s.q.insertExecutions, micros,
		ids, pipelines, versions, eventIDs, evs, statuses, msgs, steps,
		attempts, owners, leases, cancels, created, starts, finishes, claimed)
	if err != nil {
		return err
	}
	defer res.Close()
	for res.Next() {
		var (
			id           string
			lease, start time.Time
		)
		if err := res.Scan(&id, timeCol{&lease}, timeCol{&start}); err != nil {
			return err
		}
		j, ok := at[id]
		if !ok {
			return fmt.Errorf("batch insert returned execution %q, not in the batch", id)
		}
		rows[j].stored = true
		if rows[j].claimed {
			rows[j].x.LeaseUntil, rows[j].x.StartedAt = lease, start
		}
	}
	return res.Err()
}
