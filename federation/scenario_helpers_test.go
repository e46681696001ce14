package federation

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/mockops/mockops/store/sqlstore"
)

// activator is a host ScenarioActivator that keeps, per workspace, the
// scenario it is in, and a log of every call; fail names a workspace whose
// switch into a scenario (only, when set) fails.
type activator struct {
	mu     sync.Mutex
	fail   string
	only   string
	panics bool
	in     map[string]string
	calls  []string
}

func (a *activator) ActivateScenario(ctx context.Context, ws, scenario string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, "activate "+ws+" "+scenario)
	if ws == a.fail && (a.only == "" || a.only == scenario) {
		if a.panics {
			panic("activator broke")
		}
		return errors.New("workspace refused the scenario")
	}
	if a.in == nil {
		a.in = make(map[string]string)
	}
	a.in[ws] = scenario
	return nil
}

func (a *activator) DeactivateScenario(ctx context.Context, ws, scenario string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, "deactivate "+ws+" "+scenario)
	if a.in[ws] != scenario {
		return fmt.Errorf("workspace %q is in %q, not %q", ws, a.in[ws], scenario)
	}
	delete(a.in, ws)
	return nil
}

func (a *activator) state() (map[string]string, []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	in := make(map[string]string, len(a.in))
	for k, v := range a.in {
		in[k] = v
	}
	return in, append([]string(nil), a.calls...)
}

// openSQLite opens a real SQLite store in the test's directory; several
// calls with the same file share one database, as replicas do.
func openSQLite(t testing.TB, file string) *sqlstore.Store {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(file))
	if err != nil {
		t.Fatalf("sqlstore.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// shopSrc is a federation of three mock services in a chain of
// dependencies, with scenarios that switch them.
const shopSrc = `
name: shop
services:
  - name: payments
    base_path: /payments
    workspace: payments-ws
    reality: mock_v3
    depends_on: [orders]
  - name: orders
    base_path: /orders
    workspace: orders-ws
    reality: mock_v3
    upstream: %s
    depends_on: [auth]
  - name: auth
    base_path: /auth
    workspace: auth-ws
    reality: mock_v3
    upstream: %s
scenarios:
  - name: real-orders
    services: { orders: { reality: real } }
  - name: outage
    services:
      payments: { reality: chaos_driven, chaos: { abort: { p: 1, status: 503 } } }
  - name: slow
    services:
      auth: { reality: chaos_driven, chaos: { base: mock, latency: { p: 1, fixed: 1ms } } }
`

func shop(t testing.TB, upstream string) *Federation {
	t.Helper()
	return mustParse(t, fmt.Sprintf(shopSrc, upstream, upstream))
}

// openPostgres opens a store in a fresh schema of the server at
// MOCKOPS_TEST_POSTGRES_DSN, dropped when the test ends; replicas open the
// same schema. Without the variable the test is skipped: the one allowed
// skip.
func openPostgres(t testing.TB) (open func() *sqlstore.Store) {
	t.Helper()
	dsn := os.Getenv("MOCKOPS_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("MOCKOPS_TEST_POSTGRES_DSN is not set: PostgreSQL case not run")
	}
	var raw [6]byte
	_, _ = rand.Read(raw[:])
	schema := "mockops_federation_test_" + hex.EncodeToString(raw[:])
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Errorf("sql.Open(pgx): %v", err)
			return
		}
		defer admin.Close()
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return func() *sqlstore.Store {
		st, err := sqlstore.OpenConfig(context.Background(), dsn, sqlstore.Config{Schema: schema})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
}

// databases opens the stores of replicas sharing one database: SQLite
// always, PostgreSQL when MOCKOPS_TEST_POSTGRES_DSN is set.
var databases = []struct {
	name string
	open func(t *testing.T) func() *sqlstore.Store
}{
	{"sqlite", func(t *testing.T) func() *sqlstore.Store {
		db := filepath.Join(t.TempDir(), "replicas.db")
		return func() *sqlstore.Store { return openSQLite(t, db) }
	}},
	{"postgres", func(t *testing.T) func() *sqlstore.Store { return openPostgres(t) }},
}
