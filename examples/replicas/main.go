// Command replicas runs several pipeline engines as replicas sharing one
// PostgreSQL database, as several instances of a mock server would: each
// has its own connection pool, durable bus consumer and engine; events
// published through any of them run each matching pipeline exactly once,
// on whichever replica claims the execution first.
//
//	go run ./examples/replicas -dsn 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable'
//
// It needs a PostgreSQL server: -dsn, or MOCKOPS_TEST_POSTGRES_DSN. Without
// one it says so and exits 0. It works in a schema of its own, created for
// the run and dropped at the end, so it leaves the database as it was.
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/sqlstore"
)

const definition = `name: record-schema-change
on:
  - event: schema.changed
steps:
  - id: record
    uses: record
`

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "replicas:", err)
		os.Exit(1)
	}
}

// tally counts the step runs per replica, and per event, so that a run
// twice would show.
type tally struct {
	mu        sync.Mutex
	byReplica map[string]int
	byEvent   map[string]int
}

func (t *tally) add(replica, event string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.byReplica[replica]++
	t.byEvent[event]++
}

func run(ctx context.Context, args []string, out io.Writer) (err error) {
	fl := flag.NewFlagSet("replicas", flag.ContinueOnError)
	dsn := fl.String("dsn", os.Getenv("MOCKOPS_TEST_POSTGRES_DSN"), "PostgreSQL to share (default $MOCKOPS_TEST_POSTGRES_DSN)")
	n := fl.Int("n", 3, "replicas")
	evs := fl.Int("events", 12, "events to publish")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *dsn == "" {
		fmt.Fprintln(out, "replicas: several engines sharing one PostgreSQL database, each event run once.")
		fmt.Fprintln(out, "No database given: pass -dsn postgres://... or set MOCKOPS_TEST_POSTGRES_DSN to run it.")
		return nil
	}
	schema, err := newSchema()
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, dropSchema(context.WithoutCancel(ctx), *dsn, schema)) }()

	t := &tally{byReplica: map[string]int{}, byEvent: map[string]int{}}
	var replicas []*replica
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		for _, r := range replicas {
			err = errors.Join(err, r.stop(sctx))
		}
	}()
	for i := range *n {
		r, err := startReplica(ctx, fmt.Sprintf("replica-%d", i+1), *dsn, schema, t)
		if err != nil {
			return err
		}
		replicas = append(replicas, r)
	}
	// One replica stores the definition; the others read it now (they
	// would on their next poll anyway).
	if _, err := replicas[0].eng.PutSource(ctx, "record.yaml", []byte(definition), 0); err != nil {
		return err
	}
	for _, r := range replicas[1:] {
		if err := r.eng.Reload(ctx); err != nil {
			return err
		}
	}

	// Events published through every replica's bus, in turn.
	for i := range *evs {
		e, err := events.SchemaChanged("payments", events.SchemaChange{SchemaType: "openapi", Path: fmt.Sprintf("specs/v%d.yaml", i)})
		if err != nil {
			return err
		}
		if err := replicas[i%len(replicas)].bus.Publish(ctx, e); err != nil {
			return err
		}
	}
	xs, err := waitAll(ctx, replicas[0].eng, *evs)
	if err != nil {
		return err
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	names := make([]string, 0, len(t.byReplica))
	for name := range t.byReplica {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(out, "%s ran %d\n", name, t.byReplica[name])
	}
	twice := 0
	for _, c := range t.byEvent {
		if c > 1 {
			twice++
		}
	}
	fmt.Fprintf(out, "%d replicas, %d events, %d executions succeeded, %d events run more than once\n", len(replicas), *evs, len(xs), twice)
	if twice > 0 || len(t.byEvent) != *evs {
		return fmt.Errorf("%d events ran, %d more than once; want %d once each", len(t.byEvent), twice, *evs)
	}
	return nil
}

// replica is one instance: its own pool, bus and engine.
type replica struct {
	st   *sqlstore.Store
	bus  *sqlstore.Bus
	eng  *pipeline.Engine
	done chan error
}

func startReplica(ctx context.Context, name, dsn, schema string, t *tally) (*replica, error) {
	st, err := sqlstore.OpenConfig(ctx, dsn, sqlstore.Config{Schema: schema})
	if err != nil {
		return nil, err
	}
	reg := steps.NewRegistry()
	err = steps.Register(reg, "record", func(struct{}) (steps.Step, error) {
		return steps.StepFunc(func(ctx context.Context, in steps.Input) (steps.Output, error) {
			t.add(name, in.Event.ID)
			return steps.Output{Outputs: map[string]any{"replica": name}}, nil
		}), nil
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	r := &replica{st: st, bus: st.Bus(sqlstore.BusConfig{}), done: make(chan error, 1)}
	// Distinct consumer names: each replica's engine receives every event,
	// and the store's uniqueness on (pipeline, event) keeps one execution.
	r.eng, err = pipeline.NewEngine(pipeline.Config{Bus: r.bus, Store: st, Steps: reg, Owner: name, Consumer: name, PollInterval: 200 * time.Millisecond})
	if err != nil {
		r.bus.Close()
		st.Close()
		return nil, err
	}
	go func() { r.done <- r.eng.Run(context.WithoutCancel(ctx)) }()
	select {
	case <-r.eng.Ready():
	case err := <-r.done:
		r.bus.Close()
		st.Close()
		return nil, err
	}
	return r, nil
}

func (r *replica) stop(ctx context.Context) error {
	err := errors.Join(r.eng.Shutdown(ctx), <-r.done, r.bus.Shutdown(ctx), r.bus.Close())
	return errors.Join(err, r.st.Close())
}

// waitAll waits until want executions have finished and returns them.
func waitAll(ctx context.Context, eng *pipeline.Engine, want int) ([]store.Execution, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		page, err := eng.Executions(ctx, store.ExecutionQuery{Limit: 1000})
		if err != nil {
			return nil, err
		}
		finished := 0
		for _, x := range page.Executions {
			if x.Status.Terminal() {
				finished++
			}
		}
		if finished >= want {
			var ok []store.Execution
			for _, x := range page.Executions {
				if x.Status == store.StatusSucceeded {
					ok = append(ok, x)
				}
			}
			return ok, nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil, fmt.Errorf("%d of %d executions finished: %w", finished, want, ctx.Err())
		}
	}
}

func newSchema() (string, error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "mockops_replicas_" + hex.EncodeToString(b), nil
}

func dropSchema(ctx context.Context, dsn, schema string) error {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
	return err
}
