package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/store"
)

// restrictedRole creates a login role that may use schema and read and
// write its tables (and sequences) but create nothing, as a DBA grants an
// application role, and returns a DSN that connects as it. The grants
// cover the tables that exist now. The role is dropped when t ends.
func restrictedRole(t *testing.T, dsn, schema string) string {
	t.Helper()
	var raw [4]byte
	rand.Read(raw[:])
	role := "mockops_app_" + hex.EncodeToString(raw[:])
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	r, sch := pgx.Identifier{role}.Sanitize(), pgx.Identifier{schema}.Sanitize()
	for _, q := range []string{
		"CREATE ROLE " + r + " LOGIN",
		"GRANT USAGE ON SCHEMA " + sch + " TO " + r,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA " + sch + " TO " + r,
		"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA " + sch + " TO " + r,
	} {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			admin.Close()
			t.Fatalf("%s: %v", q, err)
		}
	}
	// Registered after newSchema's cleanup, so this runs first: the grants
	// go before the role, and the schema after both.
	t.Cleanup(func() {
		defer admin.Close()
		for _, q := range []string{"DROP OWNED BY " + r, "DROP ROLE " + r} {
			if _, err := admin.ExecContext(context.Background(), q); err != nil {
				t.Errorf("%s: %v", q, err)
			}
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("%s is not a URL: %v", postgresEnv, err)
	}
	u.User = url.User(role)
	return u.String()
}

// schemaState is what a test compares to prove that an Open changed
// nothing: the tables, indexes and recorded migrations of a schema.
type schemaState struct {
	Objects    []string
	Migrations []int64
}

func postgresSchemaState(t *testing.T, dsn, schema string) schemaState {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := testCtx(t)
	var st schemaState
	rows, err := db.QueryContext(ctx, `SELECT c.relkind::text || ':' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 ORDER BY 1`, schema)
	if err != nil {
		t.Fatal(err)
	}
	st.Objects, err = collect(rows, func(r scanner) (string, error) {
		var s string
		return s, r.Scan(&s)
	})
	if err != nil {
		t.Fatal(err)
	}
	var exists bool
	if err := db.QueryRowContext(ctx, `SELECT to_regclass($1) IS NOT NULL`, pgx.Identifier{schema, "mockops_schema_migrations"}.Sanitize()).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		rows, err := db.QueryContext(ctx, `SELECT version FROM `+pgx.Identifier{schema, "mockops_schema_migrations"}.Sanitize()+` ORDER BY version`)
		if err != nil {
			t.Fatal(err)
		}
		st.Migrations, err = collect(rows, func(r scanner) (int64, error) {
			var v int64
			return v, r.Scan(&v)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// applyFirstMigration gives a schema the state an older MockOps left:
// migration 0001 applied and recorded, nothing after it.
func applyFirstMigration(t *testing.T, db *sql.DB, d *dialect, setup string) {
	t.Helper()
	migs, err := loadMigrations(d.name)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{setup, migrationsTable[d.name], migs[0].sql} {
		if q == "" {
			continue
		}
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}
	if _, err := conn.ExecContext(ctx, d.bind(qMigrationRecord), migs[0].version, migs[0].name, d.ts(time.Now())); err != nil {
		t.Fatal(err)
	}
}

// useStore does what an application role does all day: state, an
// execution claimed and finished, a published event.
func useStore(t *testing.T, s *Store) {
	t.Helper()
	ctx := testCtx(t)
	if _, err := s.PutState(ctx, store.StateEntry{Scope: "f", Key: "k", Value: json.RawMessage(`1`), Version: store.AnyVersion}); err != nil {
		t.Errorf("PutState: %v", err)
	}
	ev, err := events.New(events.TypeConfigChanged, "ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateExecution(ctx, store.Execution{Pipeline: "p", EventID: ev.ID, Event: ev}); err != nil {
		t.Errorf("CreateExecution: %v", err)
	}
	xs, err := s.ClaimExecutions(ctx, "w", time.Minute, 1)
	if err != nil || len(xs) != 1 {
		t.Fatalf("ClaimExecutions = %d, %v; want 1", len(xs), err)
	}
	xs[0].Status = store.StatusSucceeded
	if _, err := s.UpdateExecution(ctx, xs[0]); err != nil {
		t.Errorf("UpdateExecution: %v", err)
	}
	bus := s.Bus(BusConfig{})
	defer bus.Close()
	if err := bus.Publish(ctx, ev); err != nil {
		t.Errorf("Publish: %v", err)
	}
}

// TestOpenRestrictedRolePostgres: a role with USAGE on the schema and DML
// on its tables, and no CREATE anywhere, opens a migrated schema (with and
// without ReadOnlySchema) and works in it. Open used to run CREATE TABLE IF
// NOT EXISTS first, which PostgreSQL refuses such a role.
func TestOpenRestrictedRolePostgres(t *testing.T) {
	dsn, schema := newSchema(t)
	openPostgresIn(t, dsn, schema).Close() // migrated by the owner
	roleDSN := restrictedRole(t, dsn, schema)
	before := postgresSchemaState(t, dsn, schema)
	for _, readOnly := range []bool{false, true} {
		s, err := OpenConfig(testCtx(t), roleDSN, Config{Schema: schema, ReadOnlySchema: readOnly})
		if err != nil {
			t.Fatalf("OpenConfig(restricted role, ReadOnlySchema %v) = %v; want the migrated schema opened", readOnly, err)
		}
		useStore(t, s)
		s.Close()
	}
	if diff := cmp.Diff(before, postgresSchemaState(t, dsn, schema)); diff != "" {
		t.Errorf("opening as the restricted role changed the schema (-before +after):\n%s", diff)
	}
}

// TestReadOnlySchemaPostgres: with ReadOnlySchema, Open of a schema that
// is empty, half migrated or missing fails with ErrSchemaOutdated and
// changes nothing, even for a role that could migrate it.
func TestReadOnlySchemaPostgres(t *testing.T) {
	dsn, empty := newSchema(t)
	_, outdated := newSchema(t)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	applyFirstMigration(t, admin, postgresDialect, "SET search_path TO "+pgx.Identifier{outdated}.Sanitize())

	roleEmpty := restrictedRole(t, dsn, empty)
	roleOutdated := restrictedRole(t, dsn, outdated)
	tests := []struct {
		name, dsn, schema string
	}{
		{"empty schema, owner", dsn, empty},
		{"empty schema, restricted role", roleEmpty, empty},
		{"0001 only, owner", dsn, outdated},
		{"0001 only, restricted role", roleOutdated, outdated},
		{"missing schema, owner", dsn, "mockops_test_missing"},
	}
	for _, tt := range tests {
		before := postgresSchemaState(t, dsn, tt.schema)
		s, err := OpenConfig(testCtx(t), tt.dsn, Config{Schema: tt.schema, ReadOnlySchema: true})
		if err == nil {
			s.Close()
		}
		if !errors.Is(err, ErrSchemaOutdated) {
			t.Errorf("%s: OpenConfig(ReadOnlySchema) = %v; want ErrSchemaOutdated", tt.name, err)
		}
		if diff := cmp.Diff(before, postgresSchemaState(t, dsn, tt.schema)); diff != "" {
			t.Errorf("%s: OpenConfig(ReadOnlySchema) changed the schema (-before +after):\n%s", tt.name, diff)
		}
		t.Logf("%s: %v", tt.name, err)
	}
	var n int
	if err := admin.QueryRowContext(testCtx(t), "SELECT count(*) FROM pg_namespace WHERE nspname = 'mockops_test_missing'").Scan(&n); err != nil || n != 0 {
		t.Errorf("schemas named mockops_test_missing after a ReadOnlySchema open = %d, %v; want 0", n, err)
	}

	// Migrating with the owner makes the same schema open read-only.
	openPostgresIn(t, dsn, outdated).Close()
	s, err := OpenConfig(testCtx(t), roleOutdated, Config{Schema: outdated, ReadOnlySchema: true})
	if err != nil {
		t.Fatalf("OpenConfig(ReadOnlySchema) after the owner migrated = %v", err)
	}
	s.Close()
}

func sqliteSchemaState(t *testing.T, path string) schemaState {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := testCtx(t)
	var st schemaState
	rows, err := db.QueryContext(ctx, `SELECT type || ':' || name FROM sqlite_master ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	if st.Objects, err = collect(rows, func(r scanner) (string, error) {
		var s string
		return s, r.Scan(&s)
	}); err != nil {
		t.Fatal(err)
	}
	rows, err = db.QueryContext(ctx, `SELECT version FROM mockops_schema_migrations ORDER BY version`)
	if err != nil {
		return st // no migrations table
	}
	if st.Migrations, err = collect(rows, func(r scanner) (int64, error) {
		var v int64
		return v, r.Scan(&v)
	}); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestReadOnlySchemaSQLite: the same rule on SQLite, where a missing file
// must not be created either.
func TestReadOnlySchemaSQLite(t *testing.T) {
	dir := t.TempDir()
	ctx := testCtx(t)

	missing := filepath.Join(dir, "missing.db")
	if s, err := OpenConfig(ctx, "sqlite:"+missing, Config{ReadOnlySchema: true}); !errors.Is(err, ErrSchemaOutdated) {
		if err == nil {
			s.Close()
		}
		t.Errorf("OpenConfig(missing file, ReadOnlySchema) = %v; want ErrSchemaOutdated", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after OpenConfig(missing file, ReadOnlySchema): Stat = %v; want no file", err)
	}

	outdated := filepath.Join(dir, "outdated.db")
	db, err := sql.Open("sqlite", outdated)
	if err != nil {
		t.Fatal(err)
	}
	applyFirstMigration(t, db, sqliteDialect, "")
	db.Close()
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil { // an empty file is an empty database
		t.Fatal(err)
	}
	for _, path := range []string{empty, outdated} {
		before := sqliteSchemaState(t, path)
		s, err := OpenConfig(ctx, "sqlite:"+path, Config{ReadOnlySchema: true})
		if err == nil {
			s.Close()
		}
		if !errors.Is(err, ErrSchemaOutdated) {
			t.Errorf("OpenConfig(%s, ReadOnlySchema) = %v; want ErrSchemaOutdated", filepath.Base(path), err)
		}
		if diff := cmp.Diff(before, sqliteSchemaState(t, path)); diff != "" {
			t.Errorf("OpenConfig(%s, ReadOnlySchema) changed the schema (-before +after):\n%s", filepath.Base(path), diff)
		}
	}

	// Migrated (by an Open without the option), it opens and works.
	openSQLiteAt(t, outdated).Close()
	s, err := OpenConfig(ctx, "sqlite:"+outdated, Config{ReadOnlySchema: true})
	if err != nil {
		t.Fatalf("OpenConfig(migrated, ReadOnlySchema) = %v", err)
	}
	defer s.Close()
	useStore(t, s)
}
