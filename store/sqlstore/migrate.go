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
// Open checks it and applies whatever is missing (or, with
// Config.ReadOnlySchema, refuses to open until nothing is).
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
// If the database records a version this binary does not know, it returns
// ErrSchemaTooNew and changes nothing.
//
// It reads the recorded versions before anything else and runs no DDL at
// all (not even CREATE TABLE IF NOT EXISTS, for which PostgreSQL checks the
// CREATE privilege first) when nothing is missing, so a role with only
// USAGE on the schema and DML on the tables can open a migrated database.
// Running it again is a no-op.
func (s *Store) Migrate(ctx context.Context) error {
	migs, err := loadMigrations(s.d.name)
	if err != nil {
		return err
	}
	// The first look needs no lock: a fully migrated database, the usual
	// case, is left without any write.
	pending, err := s.pendingMigrations(ctx, s.db, migs)
	if err != nil || len(pending) == 0 {
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
	// Another replica may have migrated while this one waited for the lock.
	if pending, err = s.pendingMigrations(ctx, conn, migs); err != nil {
		return err
	}
	for _, m := range pending {
		if err := s.applyMigration(ctx, conn, m); err != nil {
			return fmt.Errorf("sqlstore: migrate %s: %w", m.name, err)
		}
	}
	return nil
}

// verifySchema is Migrate for Config.ReadOnlySchema: it reads the recorded
// versions and fails, changing nothing, unless every embedded migration is
// applied.
func (s *Store) verifySchema(ctx context.Context) error {
	migs, err := loadMigrations(s.d.name)
	if err != nil {
		return err
	}
	pending, err := s.pendingMigrations(ctx, s.db, migs)
	if err != nil || len(pending) == 0 {
		return err
	}
	names := make([]string, len(pending))
	for i, m := range pending {
		names[i] = m.name
	}
	return fmt.Errorf("%w: %s lacks migrations %s; with ReadOnlySchema Open never migrates: run Migrate (or sqlstore.Migrations with your own tool) as a role that may change the schema",
		ErrSchemaOutdated, s.where, strings.Join(names, ", "))
}

// querier is what pendingMigrations reads through: the pool or one
// connection.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// pendingMigrations returns the migrations of migs the database has not
// recorded, in order; all of them when it has no migrations table. A
// recorded version missing from migs is ErrSchemaTooNew.
func (s *Store) pendingMigrations(ctx context.Context, db querier, migs []migration) ([]migration, error) {
	var exists bool
	if err := db.QueryRowContext(ctx, qMigrationsTableExists[s.d.name]).Scan(&exists); err != nil {
		return nil, fmt.Errorf("sqlstore: migrate: look for the migrations table: %w", err)
	}
	applied := map[int64]bool{}
	if exists {
		var err error
		if applied, err = appliedVersions(ctx, db); err != nil {
			return nil, fmt.Errorf("sqlstore: migrate: %w", err)
		}
	}
	known := make(map[int64]bool, len(migs))
	for _, m := range migs {
		known[m.version] = true
	}
	for v := range applied {
		if !known[v] {
			return nil, fmt.Errorf("%w: it records migration %d, this binary knows up to %d", ErrSchemaTooNew, v, migs[len(migs)-1].version)
		}
	}
	var pending []migration
	for _, m := range migs {
		if !applied[m.version] {
			pending = append(pending, m)
		}
	}
	return pending, nil
}

// qMigrationsTableExists asks the catalog, which any role may read,
// whether the migrations table is there: in PostgreSQL the first table of
// that name on the search_path, as every other statement resolves it.
var qMigrationsTableExists = map[string]string{
	DialectSQLite:   `SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'mockops_schema_migrations')`,
	DialectPostgres: `SELECT to_regclass('mockops_schema_migrations') IS NOT NULL`,
}

func appliedVersions(ctx context.Context, db querier) (map[int64]bool, error) {
	rows, err := db.QueryContext(ctx, qMigrationVersions)
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
