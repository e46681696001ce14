package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for the tests' admin connection
	"go.uber.org/goleak"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/events/eventstest"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/storetest"
)

// postgresEnv names the PostgreSQL server the PostgreSQL tests use; each
// test gets a schema of its own there, dropped when it ends.
const postgresEnv = "MOCKOPS_TEST_POSTGRES_DSN"

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testCtx bounds a test's database calls, so a hang fails the test.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// newSQLiteStore opens a store on a new database file in t's temporary
// directory and closes it when t ends.
func newSQLiteStore(t testing.TB) *Store {
	t.Helper()
	return openSQLiteAt(t, filepath.Join(t.TempDir(), "mockops.db"))
}

func openSQLiteAt(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(testCtx(t), "sqlite:"+path)
	if err != nil {
		t.Fatalf("Open(sqlite:%s) = %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// postgresDSN returns the test server's DSN, skipping t when none is set.
func postgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(postgresEnv)
	if dsn == "" {
		t.Skipf("PostgreSQL tests need a server: set %s=postgres://user@127.0.0.1:5432/db?sslmode=disable to run them", postgresEnv)
	}
	return dsn
}

// newSchema creates an empty schema on the test server and drops it, with
// everything in it, when t ends.
func newSchema(t testing.TB) (dsn, schema string) {
	t.Helper()
	dsn = postgresDSN(t)
	var raw [6]byte
	rand.Read(raw[:])
	schema = "mockops_test_" + hex.EncodeToString(raw[:])
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("sql.Open(pgx): %v", err)
	}
	ctx := testCtx(t)
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		admin.Close()
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	return dsn, schema
}

// newPostgresStore opens a store in a fresh schema of the test server.
func newPostgresStore(t testing.TB) *Store {
	t.Helper()
	dsn, schema := newSchema(t)
	return openPostgresIn(t, dsn, schema)
}

func openPostgresIn(t testing.TB, dsn, schema string) *Store {
	t.Helper()
	s, err := OpenConfig(testCtx(t), dsn, Config{Schema: schema, MaxOpenConns: 4})
	if err != nil {
		t.Fatalf("OpenConfig(postgres, schema %s) = %v", schema, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformanceSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return newSQLiteStore(t) })
}

func TestConformanceSQLiteMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(testCtx(t), "sqlite::memory:")
		if err != nil {
			t.Fatalf("Open(sqlite::memory:) = %v", err)
		}
		return s
	})
}

func TestConformancePostgres(t *testing.T) {
	postgresDSN(t)
	storetest.Run(t, func(t *testing.T) store.Store { return newPostgresStore(t) })
}

// fastBus is the bus configuration of the conformance runs: quick retries,
// so the cases about failing handlers do not wait on production backoff.
var fastBus = BusConfig{RetryBackoff: time.Millisecond, MaxRetryBackoff: 20 * time.Millisecond}

func TestBusConformanceSQLite(t *testing.T) {
	eventstest.Run(t, eventstest.Features{AtLeastOnce: true}, func(t *testing.T) events.Bus {
		return newSQLiteStore(t).Bus(fastBus)
	})
}

func TestBusConformancePostgres(t *testing.T) {
	postgresDSN(t)
	eventstest.Run(t, eventstest.Features{AtLeastOnce: true}, func(t *testing.T) events.Bus {
		return newPostgresStore(t).Bus(fastBus)
	})
}

// batchBus is a Bus whose Subscribe goes through SubscribeBatch, so that
// the conformance suite checks batch delivery, its retries included.
type batchBus struct{ *Bus }

func (b batchBus) Subscribe(ctx context.Context, f events.Filter, h events.Handler) (events.Subscription, error) {
	return b.SubscribeBatch(ctx, f, 3, eachEvent(h))
}

func TestBusBatchConformanceSQLite(t *testing.T) {
	eventstest.Run(t, eventstest.Features{AtLeastOnce: true}, func(t *testing.T) events.Bus {
		return batchBus{newSQLiteStore(t).Bus(fastBus)}
	})
}

func TestBusBatchConformancePostgres(t *testing.T) {
	postgresDSN(t)
	eventstest.Run(t, eventstest.Features{AtLeastOnce: true}, func(t *testing.T) events.Bus {
		return batchBus{newPostgresStore(t).Bus(fastBus)}
	})
}

// TestOpenPostgresqlScheme: postgres:// and postgresql:// are the same.
func TestOpenPostgresqlScheme(t *testing.T) {
	dsn, schema := newSchema(t)
	// Whichever spelling the environment uses, open with the other one.
	alt := "postgresql://" + strings.TrimPrefix(dsn, "postgres://")
	if strings.HasPrefix(dsn, "postgresql://") {
		alt = "postgres://" + strings.TrimPrefix(dsn, "postgresql://")
	}
	s, err := OpenConfig(testCtx(t), alt, Config{Schema: schema})
	if err != nil {
		t.Fatalf("OpenConfig(%s) = %v", redact(alt), err)
	}
	defer s.Close()
	if s.Dialect() != DialectPostgres {
		t.Errorf("Dialect() = %q; want %q", s.Dialect(), DialectPostgres)
	}
}
