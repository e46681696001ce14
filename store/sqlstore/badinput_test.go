package sqlstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mockops/mockops/store"
)

func TestOpenUnsupportedDSN(t *testing.T) {
	for _, dsn := range []string{
		"mysql://root@127.0.0.1/mockops",
		"store.db", // no scheme at all
		"sqlite:",  // no path
		"",
		"file:store.db",
		"sqlite://data/store.db", // ambiguous URL form
	} {
		s, err := Open(testCtx(t), dsn)
		if !errors.Is(err, ErrUnsupportedDSN) {
			t.Errorf("Open(%q) = %v; want ErrUnsupportedDSN", dsn, err)
		}
		if s != nil {
			t.Errorf("Open(%q) returned a store along with its error", dsn)
			s.Close()
		}
	}
}

func TestOpenUnreachablePostgres(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	// Port 1 on the loopback address: nothing listens there.
	s, err := Open(ctx, "postgres://postgres@127.0.0.1:1/mockops?sslmode=disable&connect_timeout=2")
	elapsed := time.Since(start)
	if err == nil {
		s.Close()
		t.Fatal("Open(postgres on 127.0.0.1:1) = nil error; want a connection error")
	}
	var connErr *pgconn.ConnectError
	if !errors.As(err, &connErr) && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Open(postgres on 127.0.0.1:1) = %v; want a wrapped *pgconn.ConnectError or the deadline", err)
	}
	if elapsed > 5*time.Second {
		t.Errorf("Open took %v to give up; want it bounded by ctx (3s)", elapsed)
	}
	t.Logf("unreachable: %v", err)
}

func TestOpenCorruptSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "corrupt.db")
	garbage := make([]byte, 64<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range garbage {
		garbage[i] = byte(rng.UintN(256))
	}
	if err := os.WriteFile(path, garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(testCtx(t), "sqlite:"+path)
	if err == nil {
		s.Close()
		t.Fatalf("Open(garbage file) = nil error; want ErrNotDatabase")
	}
	if !errors.Is(err, ErrNotDatabase) {
		t.Errorf("Open(garbage file) = %v; want ErrNotDatabase", err)
	}
	// Never "repair" by overwriting: the bytes must be as they were.
	after, rerr := os.ReadFile(path)
	if rerr != nil {
		t.Fatal(rerr)
	}
	if !bytes.Equal(garbage, after) {
		t.Errorf("Open(garbage file) changed the file")
	}
	t.Logf("corrupt: %v", err)
}

// futureVersion is a migration no build of this package knows.
const futureVersion = 9999

func TestOpenNewerSchemaSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "future.db")
	s := openSQLiteAt(t, path)
	ctx := testCtx(t)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO mockops_schema_migrations (version, name, applied_at) VALUES (?, 'from_the_future', 0)`, futureVersion); err != nil {
		t.Fatal(err)
	}
	s.Close()
	checkRefusesNewerSchema(t, func() (*Store, error) { return Open(ctx, "sqlite:"+path) })
}

func TestOpenNewerSchemaPostgres(t *testing.T) {
	dsn, schema := newSchema(t)
	s := openPostgresIn(t, dsn, schema)
	ctx := testCtx(t)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO mockops_schema_migrations (version, name, applied_at) VALUES ($1, 'from_the_future', now())`, futureVersion); err != nil {
		t.Fatal(err)
	}
	s.Close()
	checkRefusesNewerSchema(t, func() (*Store, error) { return OpenConfig(ctx, dsn, Config{Schema: schema}) })
}

func checkRefusesNewerSchema(t *testing.T, open func() (*Store, error)) {
	t.Helper()
	s, err := open()
	if err == nil {
		s.Close()
		t.Fatal("Open(database migrated by a newer version) = nil error; want ErrSchemaTooNew")
	}
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("Open(database migrated by a newer version) = %v; want ErrSchemaTooNew", err)
	}
	t.Logf("newer schema: %v", err)
}

func TestMigrateIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "twice.db")
	s := openSQLiteAt(t, path)
	ctx := testCtx(t)
	for i := range 2 {
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate #%d: %v", i+2, err)
		}
	}
	want, err := loadMigrations(DialectSQLite)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM mockops_schema_migrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(want) {
		t.Errorf("after three migrations runs: %d recorded; want %d", n, len(want))
	}
	s.Close()
	// Reopening (which migrates again) keeps the data.
	s = openSQLiteAt(t, path)
	if _, err := s.PutState(ctx, store.StateEntry{Scope: "s", Key: "k", Value: json.RawMessage(`1`)}); err != nil {
		t.Fatalf("PutState after reopening: %v", err)
	}
}

func TestMigrations(t *testing.T) {
	for _, d := range []string{DialectSQLite, DialectPostgres} {
		fsys, err := Migrations(d)
		if err != nil {
			t.Fatalf("Migrations(%q): %v", d, err)
		}
		b, err := fs.ReadFile(fsys, "0001_init.up.sql")
		if err != nil || !bytes.Contains(b, []byte("CREATE TABLE mockops_executions")) {
			t.Errorf("Migrations(%q): 0001_init.up.sql = %d bytes, %v; want the initial schema", d, len(b), err)
		}
	}
	if _, err := Migrations("mysql"); err == nil {
		t.Errorf("Migrations(mysql) = nil error; want an unknown dialect error")
	}
}

// TestSQLitePragmas: every connection runs in WAL mode with a busy
// timeout and foreign keys on, and a pragma the DSN sets itself wins.
func TestSQLitePragmas(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	tests := []struct {
		dsn  string
		want map[string]string
	}{
		{"sqlite:" + filepath.Join(dir, "default.db"), map[string]string{
			"journal_mode": "wal", "busy_timeout": "10000", "foreign_keys": "1", "synchronous": "1",
		}},
		{"sqlite:" + filepath.Join(dir, "full.db") + "?_pragma=synchronous(FULL)&_pragma=busy_timeout(250)", map[string]string{
			"journal_mode": "wal", "busy_timeout": "250", "foreign_keys": "1", "synchronous": "2",
		}},
		{"sqlite::memory:", map[string]string{"journal_mode": "memory", "foreign_keys": "1"}},
	}
	for _, tt := range tests {
		s, err := Open(ctx, tt.dsn)
		if err != nil {
			t.Fatalf("Open(%s) = %v", tt.dsn, err)
		}
		for name, want := range tt.want {
			var got string
			if err := s.db.QueryRowContext(ctx, "PRAGMA "+name).Scan(&got); err != nil {
				t.Fatalf("PRAGMA %s: %v", name, err)
			}
			if got != want {
				t.Errorf("Open(%s): PRAGMA %s = %s; want %s", tt.dsn, name, got, want)
			}
		}
		s.Close()
	}
}
