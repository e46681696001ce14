package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mockops/mockops/internal/cursor"
	"github.com/mockops/mockops/store"
)

// CreateExecution implements store.Executions. The row, steps included, is
// one INSERT, so a crash leaves either the whole execution or none of it.
func (s *Store) CreateExecution(ctx context.Context, x store.Execution) (store.Execution, error) {
	got, errs := s.CreateExecutions(ctx, []store.Execution{x}, store.Claim{})
	return got[0], errs[0]
}

// CreateClaimedExecution implements store.Executions: one INSERT that
// stores the execution claimed, its lease on the database's clock.
func (s *Store) CreateClaimedExecution(ctx context.Context, x store.Execution, owner string, lease time.Duration) (store.Execution, error) {
	got, errs := s.CreateExecutions(ctx, []store.Execution{x}, store.Claim{Owner: owner, Lease: lease, Count: 1})
	return got[0], errs[0]
}

// GetExecution implements store.Executions.
func (s *Store) GetExecution(ctx context.Context, id string) (store.Execution, error) {
	x, err := scanExecution(s.r().QueryRowContext(ctx, s.q.getExecution, id))
	if err != nil {
		return store.Execution{}, notFound(err, "get execution %q", id)
	}
	return x, nil
}

// ListExecutions implements store.Executions.
func (s *Store) ListExecutions(ctx context.Context, q store.ExecutionQuery) (store.ExecutionPage, error) {
	limit := q.PageLimit()
	// One row more than asked says whether there is a next page.
	args := make([]any, 0, 4)
	byPipeline, byStatus, paged := 0, 0, 0
	if q.Pipeline != "" {
		args, byPipeline = append(args, q.Pipeline), 1
	}
	if q.Status != "" {
		args, byStatus = append(args, string(q.Status)), 1
	}
	if q.Cursor != "" {
		after, err := cursor.Decode(q.Cursor)
		if err != nil {
			return store.ExecutionPage{}, fmt.Errorf("sqlstore: list executions: %w: %w", store.ErrInvalidCursor, err)
		}
		args, paged = append(args, after), 1
	}
	args = append(args, limit+1)
	rows, err := s.r().QueryContext(ctx, s.q.listExecutions[byPipeline][byStatus][paged], args...)
	if err != nil {
		return store.ExecutionPage{}, fmt.Errorf("sqlstore: list executions: %w", err)
	}
	xs, err := collect(rows, scanExecution)
	if err != nil {
		return store.ExecutionPage{}, fmt.Errorf("sqlstore: list executions: %w", err)
	}
	var page store.ExecutionPage
	if len(xs) > limit {
		xs = xs[:limit]
		page.Next = cursor.Encode(xs[limit-1].ID)
	}
	page.Executions = xs
	return page, nil
}

// ClaimExecutions implements store.Executions. Leases are measured on the
// database's clock (see qClaimExecutions), so LeaseUntil and StartedAt of
// the claimed executions are the database's times.
func (s *Store) ClaimExecutions(ctx context.Context, owner string, lease time.Duration, n int) ([]store.Execution, error) {
	if lease <= 0 {
		return nil, fmt.Errorf("sqlstore: claim executions for %q: lease %v: %w", owner, lease, store.ErrInvalid)
	}
	if n <= 0 {
		return nil, nil
	}
	var out []store.Execution
	err := s.write(ctx, func(db execer) error {
		// Rounded up, so that a lease shorter than the column's microsecond
		// is not one that has already ended.
		micros := (lease + time.Microsecond - 1) / time.Microsecond
		rows, err := db.QueryContext(ctx, s.q.claimExecutions, n, owner, int64(micros))
		if err != nil {
			return err
		}
		out, err = collect(rows, scanExecution)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: claim executions for %q: %w", owner, err)
	}
	// RETURNING comes back in no promised order; the contract says oldest
	// first, by ID, the key every adapter orders claims by.
	slices.SortFunc(out, func(a, b store.Execution) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// UpdateExecution implements store.Executions.
func (s *Store) UpdateExecution(ctx context.Context, x store.Execution) (store.Execution, error) {
	x, steps, err := prepareUpdate(x)
	if err != nil {
		return store.Execution{}, err
	}
	var got store.Execution
	err = s.write(ctx, func(db execer) error {
		var err error
		got, err = s.updateOne(ctx, db, x, steps)
		return err
	})
	if errors.Is(err, errClaimMoved) {
		// No row matched: either there is no such execution or the claim
		// has moved on to another owner or attempt.
		return store.Execution{}, s.claimError(ctx, s.r(), x)
	}
	if err != nil {
		return store.Execution{}, fmt.Errorf("sqlstore: update execution %q: %w", x.ID, err)
	}
	return got, nil
}

// UpdateExecutions implements store.Executions: one transaction for the
// whole batch, so SQLite's single writer and PostgreSQL's commit (its WAL
// flush) are paid once for many executions. Rows are written in ID order,
// so two batches touching the same rows lock them in the same order and
// cannot deadlock. A row whose claim moved on matches nothing and fails
// alone; an error of the database fails the batch. On PostgreSQL a batch
// of more than one row is a single statement (qUpdateExecutionsPostgres):
// one round trip instead of one per row plus BEGIN and COMMIT.
func (s *Store) UpdateExecutions(ctx context.Context, xs []store.Execution) ([]store.Execution, []error) {
	got, errs := make([]store.Execution, len(xs)), make([]error, len(xs))
	prepared := make([]store.Execution, len(xs))
	encoded := make([]any, len(xs))
	order := make([]int, 0, len(xs))
	seen := make(map[string]bool, len(xs))
	for i, x := range xs {
		if seen[x.ID] {
			errs[i] = fmt.Errorf("sqlstore: update executions: execution %q appears twice: %w", x.ID, store.ErrInvalid)
			continue
		}
		seen[x.ID] = true
		prepared[i], encoded[i], errs[i] = prepareUpdate(x)
		if errs[i] == nil {
			order = append(order, i)
		}
	}
	if len(order) == 0 {
		return got, errs
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(prepared[a].ID, prepared[b].ID) })
	moved := make([]bool, len(xs))
	if s.q.updateExecutions != "" && len(order) > 1 {
		err := s.updateBatch(ctx, prepared, encoded, order, got, moved)
		for _, i := range order {
			switch {
			case err != nil:
				got[i], errs[i] = store.Execution{}, fmt.Errorf("sqlstore: update execution %q: %w", prepared[i].ID, err)
			case moved[i]:
				errs[i] = s.claimError(ctx, s.r(), prepared[i])
			}
		}
		return got, errs
	}
	err := s.inTx(ctx, func(tx execer) error {
		for _, i := range order {
			var err error
			got[i], err = s.updateOne(ctx, tx, prepared[i], encoded[i])
			moved[i] = errors.Is(err, errClaimMoved)
			if err != nil && !moved[i] {
				return err
			}
		}
		return nil
	})
	for _, i := range order {
		switch {
		case err != nil:
			got[i], errs[i] = store.Execution{}, fmt.Errorf("sqlstore: update execution %q: %w", prepared[i].ID, err)
		case moved[i]:
			errs[i] = s.claimError(ctx, s.r(), prepared[i])
		}
	}
	return got, errs
}

// updateBatch writes the rows order names in one statement (PostgreSQL's
// qUpdateExecutionsPostgres), filling got for the rows it updated and
// moved for those whose claim moved on.
func (s *Store) updateBatch(ctx context.Context, prepared []store.Execution, encoded []any, order []int, got []store.Execution, moved []bool) error {
	n := len(order)
	ids, owners, statuses, msgs := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	attempts := make([]int64, n)
	steps := make([]*string, n)
	leases, starts, finishes := make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n)
	at := make(map[string]int, n)
	for j, i := range order {
		x := prepared[i]
		at[x.ID] = i
		ids[j], owners[j], attempts[j] = x.ID, x.Owner, int64(x.Attempt)
		statuses[j], msgs[j] = string(x.Status), x.Error
		if st, ok := encoded[i].(string); ok {
			steps[j] = &st
		}
		leases[j], starts[j], finishes[j] = optTS(x.LeaseUntil), optTS(x.StartedAt), optTS(x.FinishedAt)
	}
	return s.write(ctx, func(db execer) error {
		rows, err := db.QueryContext(ctx, s.q.updateExecutions,
			ids, owners, attempts, statuses, msgs, steps, leases, starts, finishes)
		if err != nil {
			return err
		}
		xs, err := collect(rows, scanExecution)
		if err != nil {
			return err
		}
		done := make(map[int]bool, len(xs))
		for _, x := range xs {
			i, ok := at[x.ID]
			if !ok {
				return fmt.Errorf("batch update returned execution %q, not in the batch", x.ID)
			}
			got[i], done[i] = x, true
		}
		for _, i := range order {
			moved[i] = !done[i]
		}
		return nil
	})
}

// optTS is a stored time as an array element: nil for the zero time.
func optTS(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = normTime(t)
	return &t
}

// errClaimMoved: the update matched no row.
var errClaimMoved = errors.New("sqlstore: no row holds that claim")

// prepareUpdate normalises x and encodes its steps. Only the error and
// the steps of x are written, so only they must be valid.
func prepareUpdate(x store.Execution) (store.Execution, any, error) {
	x = normExecution(x)
	if err := (store.Execution{Pipeline: x.Pipeline, Error: x.Error, Steps: x.Steps}).Validate(); err != nil {
		return x, nil, fmt.Errorf("sqlstore: update execution %q: %w", x.ID, err)
	}
	steps, err := encodeSteps(x.Steps)
	if err != nil {
		return x, nil, fmt.Errorf("sqlstore: update execution %q: %w", x.ID, err)
	}
	return x, steps, nil
}

// updateOne runs the fenced update of x; errClaimMoved when no row matched.
func (s *Store) updateOne(ctx context.Context, db execer, x store.Execution, steps any) (store.Execution, error) {
	d := s.d
	got, err := scanExecution(db.QueryRowContext(ctx, s.q.updateExecution,
		string(x.Status), x.Error, steps, d.nullTS(x.LeaseUntil), d.nullTS(x.StartedAt), d.nullTS(x.FinishedAt),
		x.ID, x.Owner, x.Attempt))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Execution{}, errClaimMoved
	}
	return got, err
}

// claimError says why an update of x matched no row: there is no such
// execution, or another owner or attempt holds it.
func (s *Store) claimError(ctx context.Context, db execer, x store.Execution) error {
	var (
		owner   string
		attempt int
	)
	err := db.QueryRowContext(ctx, s.q.executionOwner, x.ID).Scan(&owner, &attempt)
	if err != nil {
		return notFound(err, "update execution %q", x.ID)
	}
	return fmt.Errorf("sqlstore: update execution %q: held by %q attempt %d, not %q attempt %d: %w",
		x.ID, owner, attempt, x.Owner, x.Attempt, store.ErrConflict)
}

// CancelExecution implements store.Executions.
func (s *Store) CancelExecution(ctx context.Context, id string) (store.Execution, error) {
	now := normTime(s.now())
	var x store.Execution
	err := s.write(ctx, func(db execer) error {
		var err error
		x, err = scanExecution(db.QueryRowContext(ctx, s.q.cancelExecution, s.d.ts(now), id))
		return err
	})
	if err != nil {
		return store.Execution{}, notFound(err, "cancel execution %q", id)
	}
	return x, nil
}

func scanExecution(r scanner) (store.Execution, error) {
	var (
		x             store.Execution
		status        string
		event, steps  []byte
		attempt, vers int64
	)
	err := r.Scan(&x.ID, &x.Pipeline, &vers, &x.EventID, &event, &status, &x.Error, &steps,
		&attempt, &x.Owner, timeCol{&x.LeaseUntil}, &x.CancelRequested,
		timeCol{&x.CreatedAt}, timeCol{&x.StartedAt}, timeCol{&x.FinishedAt})
	if err != nil {
		return store.Execution{}, err
	}
	x.Version, x.Attempt, x.Status = vers, int(attempt), store.Status(status)
	if x.Event, err = decodeEvent(event); err != nil {
		return store.Execution{}, fmt.Errorf("execution %q: %w", x.ID, err)
	}
	if x.Steps, err = decodeSteps(steps); err != nil {
		return store.Execution{}, fmt.Errorf("execution %q: %w", x.ID, err)
	}
	return x, nil
}

// normExecution gives x's times the stored form, so what a write returns
// equals what a later read returns.
func normExecution(x store.Execution) store.Execution {
	x.LeaseUntil = normTime(x.LeaseUntil)
	x.CreatedAt = normTime(x.CreatedAt)
	x.StartedAt = normTime(x.StartedAt)
	x.FinishedAt = normTime(x.FinishedAt)
	if x.Steps != nil {
		steps := make([]store.StepRun, len(x.Steps))
		for i, st := range x.Steps {
			st.StartedAt = normTime(st.StartedAt)
			st.FinishedAt = normTime(st.FinishedAt)
			steps[i] = st
		}
		x.Steps = steps
	}
	return x
}
