package pipeline_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/sqlstore"
)

// openPostgresShared opens n stores on one fresh schema of the server at
// MOCKOPS_TEST_POSTGRES_DSN, as n processes would, dropped when the test
// ends; without the variable the test is skipped.
func openPostgresShared(t *testing.T, n int) []*sqlstore.Store {
	t.Helper()
	dsn := os.Getenv("MOCKOPS_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("MOCKOPS_TEST_POSTGRES_DSN is not set: the replica test needs PostgreSQL")
	}
	var raw [6]byte
	_, _ = rand.Read(raw[:])
	schema := "mockops_replicas_test_" + hex.EncodeToString(raw[:])
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
	var out []*sqlstore.Store
	for range n {
		st, err := sqlstore.OpenConfig(context.Background(), dsn, sqlstore.Config{Schema: schema, MaxOpenConns: 6})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		out = append(out, st)
	}
	return out
}

// replicaPipelines are the five pipelines of the replica test, each with
// the oracle of the events it matches. One group per event, so nothing
// queues behind anything else.
var replicaPipelines = []struct {
	src     string
	matches func(typ string, n int, kind string) bool
}{
	{"name: p0\non: [{event: acme.a}]", func(typ string, _ int, _ string) bool { return typ == "acme.a" }},
	{"name: p1\non: [{event: acme.b}]", func(typ string, _ int, _ string) bool { return typ == "acme.b" }},
	{"name: p2\non: [{event: acme.a, if: event.data.n % 3 == 0}, {event: acme.b, if: event.data.n % 3 == 0}]",
		func(typ string, n int, _ string) bool { return (typ == "acme.a" || typ == "acme.b") && n%3 == 0 }},
	{"name: p3\non: [{event: acme.c, if: event.data.kind == \"x\"}]", func(typ string, _ int, kind string) bool { return typ == "acme.c" && kind == "x" }},
	{"name: p4\non: [{event: acme.a, if: event.data.n % 2 == 1}, {event: acme.c}]",
		func(typ string, n int, _ string) bool { return (typ == "acme.a" && n%2 == 1) || typ == "acme.c" }},
}

// runLog counts step completions per (pipeline, event) and attempt.
type runLog struct {
	mu    sync.Mutex
	done  map[[2]string][]int // attempts that completed
	total int
	half  int
	once  sync.Once
	halfC chan struct{} // closed once half the expected runs completed
}

func (l *runLog) step(ctx context.Context, in steps.Input, _ probeConfig) (steps.Output, error) {
	// Long enough for the kill to catch r0 with runs in flight even when its
	// writes are quick (one-statement batches) and the machine is loaded.
	t := time.NewTimer(20 * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return steps.Output{}, ctx.Err()
	case <-t.C:
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	k := [2]string{in.Pipeline, in.Event.ID}
	l.done[k] = append(l.done[k], in.Attempt)
	l.total++
	if l.total >= l.half {
		l.once.Do(func() { close(l.halfC) })
	}
	return steps.Output{}, nil
}

// TestEngineReplicasPostgres: three engines, each with its own store
// connection pool and durable bus consumer on one PostgreSQL schema,
// receive 2,000 events for five pipelines: every matching (pipeline,
// event) gets exactly one execution, which succeeds, and its step's
// recorded attempt completed exactly once. Half-way one engine is killed
// (Shutdown with an ended ctx: its running executions are interrupted);
// the executions it held finish on the other two.
func TestEngineReplicasPostgres(t *testing.T) {
	const replicas, nEvents = 3, 2000
	stores := openPostgresShared(t, replicas+1) // the last one publishes
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	types := []string{"acme.a", "acme.b", "acme.c"}
	evs := make([]events.Event, nEvents)
	want := map[[2]string]bool{}
	for i := range evs {
		typ, kind := types[i%3], map[bool]string{true: "x", false: "y"}[i%4 == 0]
		evs[i] = event(t, events.Type(typ), "ws", map[string]any{"n": i, "kind": kind})
		for j, p := range replicaPipelines {
			if p.matches(typ, i, kind) {
				want[[2]string{fmt.Sprintf("p%d", j), evs[i].ID}] = true
			}
		}
	}
	log := &runLog{done: map[[2]string][]int{}, half: len(want) / 2, halfC: make(chan struct{})}
	reg := registry(map[string]probeFunc{"work": log.step}, nil)

	var hs []*harness
	for i := range replicas {
		st := stores[i]
		hs = append(hs, start(t, pipeline.Config{
			Store: st, Bus: st.Bus(sqlstore.BusConfig{PollInterval: 200 * time.Millisecond}),
			Steps: reg, Owner: fmt.Sprintf("r%d", i), Consumer: fmt.Sprintf("replica-%d", i),
			Workers: 8, Lease: 2 * time.Second, PollInterval: 200 * time.Millisecond,
		}))
	}
	for _, p := range replicaPipelines {
		hs[0].put(p.src + "\nconcurrency: {group: \"${{ event.id }}\"}\nsteps: [{id: s, uses: probe, with: {key: work}}]\n")
	}
	for _, h := range hs[1:] {
		if err := h.eng.Reload(ctx); err != nil {
			t.Fatal(err)
		}
	}
	pub := stores[replicas].Bus(sqlstore.BusConfig{})
	defer pub.Close()
	published := make(chan error, 1)
	go func() {
		for _, ev := range evs {
			if err := pub.Publish(ctx, ev); err != nil {
				published <- err
				return
			}
		}
		published <- nil
	}()

	// Half-way, kill r0 and note what it held.
	select {
	case <-log.halfC:
	case <-ctx.Done():
		t.Fatal("half the runs never completed")
	}
	// What r0 runs now: listed just before the kill, so some of these
	// it may still finish itself; the others are interrupted.
	// Listed again until r0 holds some: between two polls of its bus
	// consumer it may have nothing in flight, and a kill then tests nothing.
	held := map[string]bool{}
	for len(held) == 0 {
		if ctx.Err() != nil {
			t.Fatal("r0 never held a run after half the runs completed")
		}
		q := store.ExecutionQuery{Status: store.StatusRunning, Limit: 1000}
		for {
			page, err := stores[1].ListExecutions(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range page.Executions {
				if x.Owner == "r0" {
					held[x.ID] = true
				}
			}
			if page.Next == "" {
				break
			}
			q.Cursor = page.Next
		}
	}
	ended, stop := context.WithCancel(ctx)
	stop()
	_ = hs[0].eng.Shutdown(ended) // interrupts at once
	if err := <-published; err != nil {
		t.Fatal(err)
	}

	// Wait for every expected execution to finish (polling the store:
	// the executions run in three engines).
	var xs []store.Execution
	for {
		xs = xs[:0]
		finished := 0
		for j := range replicaPipelines {
			for _, x := range listAll(t, stores[1], fmt.Sprintf("p%d", j)) {
				xs = append(xs, x)
				if x.Status.Terminal() {
					finished++
				}
			}
		}
		if finished >= len(want) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d of %d executions finished before the deadline", finished, len(want))
		case <-time.After(200 * time.Millisecond):
		}
	}

	owners := map[string]int{}
	got := map[[2]string]store.Execution{}
	for _, x := range xs {
		k := [2]string{x.Pipeline, x.EventID}
		if _, dup := got[k]; dup {
			t.Errorf("two executions for %v", k)
		}
		got[k] = x
		owners[x.Owner]++
		if !want[k] {
			t.Errorf("execution %s for %v, which does not match", x.ID, k)
		}
		if x.Status != store.StatusSucceeded {
			t.Errorf("execution %s for %v: %s (%s)", x.ID, k, x.Status, x.Error)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d executions; want %d", len(got), len(want))
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	rerun := 0
	for k, x := range got {
		recorded := x.Steps[0].Attempts
		n := 0
		for _, a := range log.done[k] {
			if a == recorded {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%v: the recorded attempt %d completed %d times; want once", k, recorded, n)
		}
		if len(log.done[k]) > 1 {
			rerun++
			if x.Attempt == 1 {
				t.Errorf("%v: step completed %d times in an execution claimed once", k, len(log.done[k]))
			}
		}
	}
	elsewhere := 0
	for id := range held {
		x, err := stores[1].GetExecution(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if x.Status != store.StatusSucceeded {
			t.Errorf("execution %s held by the killed replica: %s by %s; want succeeded", id, x.Status, x.Owner)
		}
		if x.Owner != "r0" {
			elsewhere++
		}
	}
	if elsewhere == 0 {
		t.Errorf("none of the %d executions the killed replica held finished elsewhere: the test did not kill it mid-run", len(held))
	}
	var rescues int64
	for _, h := range hs[1:] {
		rescues += h.eng.Stats().Rescues
	}
	t.Logf("%d executions for %d events; by owner %v; r0 held %d at its kill, %d of them finished elsewhere; %d rescued; %d steps completed again after an interrupt",
		len(got), nEvents, owners, len(held), elsewhere, rescues, rerun)
}
