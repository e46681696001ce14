package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

//go:embed migrations
var migrationFiles embed.FS

// Migrations returns the migration files of a dialect (DialectSQLite or
// DialectPostgres), named NNNN_description.up.sql, for hosts that apply
// migrations with their own tool. Such a host must also record each applied
// version in mockops_schema_migrations (version, name, applied_at), because
// Open checks it and applies whatever is missing.
func Migrations(dialect string) (fs.FS, error) {
	switch dialect {
	case DialectSQLite, DialectPostgres:
		return fs.Sub(migrationFiles, "migrations/"+dialect)
	}
	return nil, fmt.Errorf("sqlstore: migrations: unknown dialect %q (want %q or %q)", dialect, DialectSQLite, DialectPostgres)
}

type migration struct {
	version int64
	name    string
	sql     string
}

// loadMigrations reads a dialect's embedded migrations in version order.
func loadMigrations(dialect string) ([]migration, error) {
	fsys, err := Migrations(dialect)
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(fsys, "*.up.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, name := range names {
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("sqlstore: migration %s: name must start with a positive version and _", name)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: strings.TrimSuffix(path.Base(name), ".up.sql"), sql: string(b)})
	}
	slices.SortFunc(out, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
	return out, nil
}

// migrationsTable records applied migrations; its shape is part of the
// contract with hosts that migrate by themselves, so it never changes.
var migrationsTable = map[string]string{
	DialectSQLite: `CREATE TABLE IF NOT EXISTS mockops_schema_migrations (
		version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`,
	DialectPostgres: `CREATE TABLE IF NOT EXISTS mockops_schema_migrations (
		version bigint NOT NULL PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`,
}

const (
	qMigrationVersions = `SELECT version FROM mockops_schema_migrations`
	qMigrationApplied  = `SELECT 1 FROM mockops_schema_migrations WHERE version = ?`
	qMigrationRecord   = `INSERT INTO mockops_schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`
)

// migrateLockKey is the PostgreSQL advisory lock that serialises Migrate
// across replicas starting at once ("mockops" in ASCII).
const migrateLockKey int64 = 0x6d6f636b6f7073

// Migrate applies every embedded migration the database has not recorded,
// each in its own transaction together with its record, in version order.
// Running it again is a no-op. If the database records a version this
// binary does not know, it returns ErrSchemaTooNew and changes nothing.
func (s *Store) Migrate(ctx context.Context) error {
	migs, err := loadMigrations(s.d.name)
	if err != nil {
		return err
	}
	unlock, err := s.lockWrites(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	defer unlock()
	// One connection throughout, so the PostgreSQL session lock below
	// covers every statement.
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	defer conn.Close()
	if s.d == postgresDialect {
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrateLockKey); err != nil {
			return fmt.Errorf("sqlstore: migrate: lock: %w", err)
		}
		defer func() {
			// Unlock even if ctx has ended; if that fails, drop the
			// connection rather than return it to the pool still locked.
			_, uerr := conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrateLockKey)
			if uerr != nil {
				conn.Raw(func(any) error { return driver.ErrBadConn })
			}
		}()
	}
	if _, err := conn.ExecContext(ctx, migrationsTable[s.d.name]); err != nil {
		return fmt.Errorf("sqlstore: migrate: create migrations table: %w", err)
	}
	applied, err := appliedVersions(ctx, conn)
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	known := make(map[int64]bool, len(migs))
	for _, m := range migs {
		known[m.version] = true
	}
	for v := range applied {
		if !known[v] {
			return fmt.Errorf("%w: it records migration %d, this binary knows up to %d", ErrSchemaTooNew, v, migs[len(migs)-1].version)
		}
	}
	for _, m := range migs {
		if applied[m.version] {
			continue
		}
		if err := s.applyMigration(ctx, conn, m); err != nil {
			return fmt.Errorf("sqlstore: migrate %s: %w", m.name, err)
		}
	}
	return nil
}

func appliedVersions(ctx context.Context, conn *sql.Conn) (map[int64]bool, error) {
	rows, err := conn.QueryContext(ctx, qMigrationVersions)
	if err != nil {
		return nil, fmt.Errorf("read applied migrations: %w", err)
	}
	defer rows.Close()
	applied := make(map[int64]bool)
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		applied[v] = true
	}
	return applied, rows.Err()
}

func (s *Store) applyMigration(ctx context.Context, conn *sql.Conn, m migration) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Another SQLite process may have applied it since we looked; the
	// IMMEDIATE transaction now excludes it, so look again.
	var one int
	err = tx.QueryRowContext(ctx, s.q.migrationApplied, m.version).Scan(&one)
	if err == nil {
		return nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.q.migrationRecord, m.version, m.name, s.d.ts(s.now())); err != nil {
		return err
	}
	return tx.Commit()
}
