package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
)

// lockWrites waits for this process's SQLite write slot, or returns at once
// for PostgreSQL. The returned func releases the slot.
func (s *Store) lockWrites(ctx context.Context) (func(), error) {
	if s.writeSem == nil {
		return func() {}, nil
	}
	select {
	case s.writeSem <- struct{}{}:
		return func() { <-s.writeSem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// execer runs statements on the pool or inside a transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// dbtx is an execer that uses the store's prepared statements where it has
// them: the pool when tx is nil, else the transaction's connection.
type dbtx struct {
	s  *Store
	tx *sql.Tx
}

// r is the execer for reads and single-statement writes.
func (s *Store) r() dbtx { return dbtx{s: s} }

// stmt returns the prepared form of q, or nil if q is not prepared (always
// on PostgreSQL, whose driver keeps its own per-connection cache).
func (d dbtx) stmt(ctx context.Context, q string) *sql.Stmt {
	st := d.s.stmts[q]
	if st != nil && d.tx != nil {
		st = d.tx.StmtContext(ctx, st)
	}
	return st
}

func (d dbtx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := d.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	if d.tx != nil {
		return d.tx.ExecContext(ctx, q, args...)
	}
	return d.s.db.ExecContext(ctx, q, args...)
}

func (d dbtx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := d.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	if d.tx != nil {
		return d.tx.QueryContext(ctx, q, args...)
	}
	return d.s.db.QueryContext(ctx, q, args...)
}

func (d dbtx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := d.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	if d.tx != nil {
		return d.tx.QueryRowContext(ctx, q, args...)
	}
	return d.s.db.QueryRowContext(ctx, q, args...)
}

// prepareAll prepares every query of the store once. SQLite compiles a
// statement on every unprepared call, which costs more than running these
// small queries; database/sql then re-prepares lazily on each pool
// connection. The map is complete before the Store is shared, so lookups
// need no lock.
func (s *Store) prepareAll(ctx context.Context) error {
	s.stmts = make(map[string]*sql.Stmt)
	for _, q := range s.q.all() {
		if _, ok := s.stmts[q]; ok {
			continue
		}
		st, err := s.db.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", q, err)
		}
		s.stmts[q] = st
	}
	return nil
}

// write runs one autocommit write. A single statement is its own
// transaction in both databases, and saves PostgreSQL the BEGIN and COMMIT
// round trips.
func (s *Store) write(ctx context.Context, fn func(db execer) error) error {
	unlock, err := s.lockWrites(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	return fn(s.r())
}

// inTx runs fn in one transaction (BEGIN IMMEDIATE on SQLite), committing if
// fn returns nil and rolling back otherwise.
func (s *Store) inTx(ctx context.Context, fn func(tx execer) error) error {
	unlock, err := s.lockWrites(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(dbtx{s: s, tx: tx}); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
