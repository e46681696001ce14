package pipeline_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/memory"
	"github.com/mockops/mockops/store/sqlstore"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// probeConfig configures the test step type "probe": Key selects the
// behaviour the test registered, the other fields are echoed to it.
type probeConfig struct {
	Key    string `json:"key" step:"required"`
	Secret string `json:"secret"`
	Value  any    `json:"value"`
}

// probeFunc is one behaviour of the probe step.
type probeFunc func(ctx context.Context, in steps.Input, cfg probeConfig) (steps.Output, error)

// calls records which probes ran, in order, and how many run at once.
type calls struct {
	mu      sync.Mutex
	order   []string
	running int
	peak    int
}

func (c *calls) enter(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.order = append(c.order, key)
	c.running++
	c.peak = max(c.peak, c.running)
}

func (c *calls) leave() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.running--
}

func (c *calls) got() ([]string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.order...), c.peak
}

// registry returns a registry with "probe" dispatching to funcs by key
// (a key without a func succeeds with no outputs) and recording calls.
func registry(funcs map[string]probeFunc, c *calls) *steps.Registry {
	r := steps.NewRegistry()
	steps.MustRegister(r, "probe", func(cfg probeConfig) (steps.Step, error) {
		return steps.StepFunc(func(ctx context.Context, in steps.Input) (steps.Output, error) {
			if c != nil {
				c.enter(cfg.Key)
				defer c.leave()
			}
			if f := funcs[cfg.Key]; f != nil {
				return f(ctx, in, cfg)
			}
			return steps.Output{}, nil
		}), nil
	})
	return r
}

// storeKinds are the stores every store-independent engine test runs on.
var storeKinds = []struct {
	name string
	open func(t testing.TB) store.Store
}{
	{"memory", func(testing.TB) store.Store { return memory.New() }},
	{"sqlite", openSQLite},
	{"postgres", openPostgres},
}

// openPostgres opens a store in a fresh schema of the server at
// MOCKOPS_TEST_POSTGRES_DSN, dropped when the test ends; without the
// variable the test is skipped.
func openPostgres(t testing.TB) store.Store {
	t.Helper()
	dsn := os.Getenv("MOCKOPS_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("MOCKOPS_TEST_POSTGRES_DSN is not set")
	}
	var raw [6]byte
	_, _ = rand.Read(raw[:])
	schema := "mockops_engine_test_" + hex.EncodeToString(raw[:])
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
	st, err := sqlstore.OpenConfig(context.Background(), dsn, sqlstore.Config{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func openSQLite(t testing.TB) store.Store {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "engine.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// harness is an engine running in the background for one test.
type harness struct {
	t   testing.TB
	eng *pipeline.Engine
	st  store.Store
	bus events.Bus
	err chan error // Run's result
}

// start builds an engine from cfg and runs it until the test ends. A nil
// cfg.Store gets a memory store; a nil cfg.Bus a memory bus.
func start(t testing.TB, cfg pipeline.Config) *harness {
	t.Helper()
	if cfg.Store == nil {
		cfg.Store = memory.New()
	}
	if cfg.Bus == nil {
		b := events.NewMemoryBus(events.MemoryConfig{})
		t.Cleanup(func() { b.Close() })
		cfg.Bus = b
	}
	eng, err := pipeline.NewEngine(cfg)
	if err != nil {
		t.Fatalf("NewEngine = %v", err)
	}
	h := &harness{t: t, eng: eng, st: cfg.Store, bus: cfg.Bus, err: make(chan error, 1)}
	go func() { h.err <- eng.Run(context.Background()) }()
	t.Cleanup(func() { h.stop() })
	select {
	case <-eng.Ready():
	case err := <-h.err:
		h.err = nil
		t.Fatalf("Run = %v before it was ready", err)
	}
	return h
}

// stop shuts the engine down, letting executions finish, and checks Run
// ended cleanly. It is idempotent.
func (h *harness) stop() {
	if h.err == nil {
		return
	}
	if err := h.eng.Shutdown(context.Background()); err != nil {
		h.t.Errorf("Shutdown = %v", err)
	}
	if err := <-h.err; err != nil {
		h.t.Errorf("Run = %v", err)
	}
	h.err = nil
}

func (h *harness) put(src string) store.Pipeline {
	h.t.Helper()
	rec, err := h.eng.PutSource(context.Background(), "test.yaml", []byte(src), store.AnyVersion)
	if err != nil {
		h.t.Fatalf("PutSource = %v", err)
	}
	return rec
}

// trigger runs pipeline by hand and waits for the execution to finish.
func (h *harness) trigger(name string, ev events.Event) store.Execution {
	h.t.Helper()
	id, err := h.eng.Trigger(context.Background(), name, ev)
	if err != nil {
		h.t.Fatalf("Trigger(%s) = %v", name, err)
	}
	return h.wait(id)
}

func (h *harness) wait(id string) store.Execution {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	x, err := h.eng.Wait(ctx, id)
	if err != nil {
		h.t.Fatalf("Wait(%s) = %v", id, err)
	}
	return x
}

// stepStatuses summarises an execution's steps as id -> status.
func stepStatuses(x store.Execution) map[string]store.Status {
	out := map[string]store.Status{}
	for _, s := range x.Steps {
		out[s.ID] = s.Status
	}
	return out
}

func stepRun(t testing.TB, x store.Execution, id string) store.StepRun {
	t.Helper()
	for _, s := range x.Steps {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("execution %s has no step %q: %+v", x.ID, id, x.Steps)
	return store.StepRun{}
}

// listAll returns every execution of pipeline.
func listAll(t testing.TB, st store.Store, pipeline string) []store.Execution {
	t.Helper()
	var out []store.Execution
	q := store.ExecutionQuery{Pipeline: pipeline, Limit: 1000}
	for {
		page, err := st.ListExecutions(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Executions...)
		if page.Next == "" {
			return out
		}
		q.Cursor = page.Next
	}
}

var errBoom = errors.New("boom")
