package coverage

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for the admin connection that makes schemas
	"go.uber.org/goleak"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/store/sqlstore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// goldenSpecSrc exercises every branch kind: explicit codes, "2XX",
// "default", a required request body, a deprecated operation.
const goldenSpecSrc = `
openapi: 3.0.3
info: {title: golden, version: "1"}
paths:
  /pets:
    get:
      operationId: listPets
      responses:
        "200": {description: ok}
        default: {description: error}
    post:
      operationId: createPet
      requestBody:
        required: true
        content: {application/json: {schema: {type: object}}}
      responses:
        "2XX": {description: created}
  /pets/{id}:
    get:
      operationId: getPet
      responses:
        "200": {description: ok}
        "404": {description: not found}
    delete:
      operationId: deletePet
      deprecated: true
      responses:
        "204": {description: gone}
  /stores:
    get:
      operationId: listStores
      responses:
        "200": {description: ok}
`

// emptySpecSrc declares no operation: every denominator is empty.
const emptySpecSrc = `
openapi: 3.1.0
info: {title: empty, version: "1"}
paths: {}
`

func mustSpec(t testing.TB, src string) *Spec {
	t.Helper()
	s, err := LoadOpenAPI([]byte(src))
	if err != nil {
		t.Fatalf("LoadOpenAPI = %v", err)
	}
	return s
}

// fakeClock is an injected clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var t0 = time.Date(2026, 1, 5, 10, 15, 0, 0, time.UTC)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func newCollector(t testing.TB, cfg Config) *Collector {
	t.Helper()
	c, err := NewCollector(cfg)
	if err != nil {
		t.Fatalf("NewCollector = %v", err)
	}
	return c
}

// storeKinds are the real stores replica tests run against: SQLite
// always, PostgreSQL when MOCKOPS_TEST_POSTGRES_DSN names a server.
func storeKinds(t *testing.T) map[string]func(t *testing.T) Store {
	kinds := map[string]func(t *testing.T) Store{
		"sqlite": func(t *testing.T) Store { return openSQLite(t, filepath.Join(t.TempDir(), "cov.db")) },
	}
	if os.Getenv("MOCKOPS_TEST_POSTGRES_DSN") != "" {
		kinds["postgres"] = newPostgres
	} else {
		t.Log("PostgreSQL replica runs need a server: set MOCKOPS_TEST_POSTGRES_DSN to run them")
	}
	return kinds
}

func openSQLite(t testing.TB, path string) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(testCtx(t), "sqlite:"+path)
	if err != nil {
		t.Fatalf("sqlstore.Open(sqlite:%s) = %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newPostgres opens a store in a schema of its own, dropped when t ends
// (the approach of store/sqlstore's tests).
func newPostgres(t *testing.T) Store {
	dsn := os.Getenv("MOCKOPS_TEST_POSTGRES_DSN")
	var raw [6]byte
	rand.Read(raw[:])
	schema := "mockops_cov_" + hex.EncodeToString(raw[:])
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("sql.Open(pgx) = %v", err)
	}
	if _, err := admin.ExecContext(testCtx(t), "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	s, err := sqlstore.OpenConfig(testCtx(t), dsn, sqlstore.Config{Schema: schema, MaxOpenConns: 4})
	if err != nil {
		t.Fatalf("sqlstore.OpenConfig(postgres) = %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// eventLog is a real memory bus with one subscriber that keeps what it
// receives; drain shuts the bus down so every published event is in.
type eventLog struct {
	bus *events.MemoryBus
	mu  sync.Mutex
	evs []events.Event
}

func newEventLog(t *testing.T) *eventLog {
	l := &eventLog{bus: events.NewMemoryBus(events.MemoryConfig{})}
	if _, err := l.bus.Subscribe(testCtx(t), events.Filter{}, func(_ context.Context, e events.Event) error {
		l.mu.Lock()
		l.evs = append(l.evs, e)
		l.mu.Unlock()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.bus.Close() })
	return l
}

func (l *eventLog) drain(t *testing.T) []events.Event {
	t.Helper()
	if err := l.bus.Shutdown(testCtx(t)); err != nil {
		t.Fatalf("bus.Shutdown = %v", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]events.Event(nil), l.evs...)
}
