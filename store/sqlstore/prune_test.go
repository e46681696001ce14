package sqlstore

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/store"
)

func TestPruneEventsSQLite(t *testing.T) { testPruneEvents(t, newSQLiteStore(t)) }

func TestPruneEventsPostgres(t *testing.T) { testPruneEvents(t, newPostgresStore(t)) }

// testPruneEvents: pruning deletes only events older than the cut-off that
// every named consumer has handled, and a consumer still gets the rest.
func testPruneEvents(t *testing.T, s *Store) {
	ctx := testCtx(t)
	bus := s.Bus(BusConfig{PollInterval: 10 * time.Millisecond})
	defer bus.Close()
	var published []string
	for i := range 6 {
		e := mustEvent(t, i)
		if err := bus.Publish(ctx, e); err != nil {
			t.Fatal(err)
		}
		published = append(published, e.ID)
	}
	var seqs []int64
	rows, err := s.db.QueryContext(ctx, "SELECT seq FROM mockops_bus_events ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	if err := rows.Err(); err != nil || len(seqs) != 6 {
		t.Fatalf("stored seqs = %v, %v; want 6", seqs, err)
	}
	// Consumer "slow" has handled the first three events.
	if _, err := s.db.ExecContext(ctx, s.d.bind(`INSERT INTO mockops_bus_consumers (name, position, updated_at) VALUES (?, ?, ?)`),
		"slow", seqs[2], s.d.ts(time.Now())); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		olderThan time.Time
		want      int64
	}{
		{"window excludes everything", time.Now().Add(-time.Hour), 0},
		{"held back by the consumer", time.Now().Add(time.Hour), 3},
		{"nothing left to prune", time.Now().Add(time.Hour), 0},
	}
	for _, tt := range tests {
		n, err := s.PruneEvents(ctx, tt.olderThan)
		if err != nil || n != tt.want {
			t.Fatalf("%s: PruneEvents = %d, %v; want %d", tt.name, n, err, tt.want)
		}
	}

	// The consumer resumes with the three events it has not handled.
	got := make(chan string, 6)
	sub, err := bus.SubscribeNamed(ctx, "slow", events.Filter{}, func(_ context.Context, e events.Event) error {
		got <- e.ID
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for _, want := range published[3:] {
		select {
		case id := <-got:
			if id != want {
				t.Fatalf("consumer got %s; want %s", id, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("consumer did not get %s after pruning", want)
		}
	}

	// Without any named consumer, the window alone decides.
	if _, err := s.db.ExecContext(ctx, "DELETE FROM mockops_bus_consumers"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneEvents(ctx, time.Now().Add(time.Hour)); err != nil || n != 3 {
		t.Errorf("PruneEvents with no consumers = %d, %v; want 3", n, err)
	}
}

// warnings is a slog.Handler that keeps the messages logged at Warn or
// above.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnings) Handle(_ context.Context, r slog.Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, r.Message)
	return nil
}
func (w *warnings) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnings) WithGroup(string) slog.Handler      { return w }

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.msgs
	w.msgs = nil
	return out
}

func TestBusPositionAfterEmptyingPruneSQLite(t *testing.T) {
	testBusPositionAfterEmptyingPrune(t, newSQLiteStore(t), "DELETE FROM sqlite_sequence WHERE name = 'mockops_bus_events'")
}

func TestBusPositionAfterEmptyingPrunePostgres(t *testing.T) {
	testBusPositionAfterEmptyingPrune(t, newPostgresStore(t), "TRUNCATE mockops_bus_events RESTART IDENTITY")
}

// testBusPositionAfterEmptyingPrune: once PruneEvents has deleted every
// stored event, a named consumer that restarts is not "past the end of the
// stream" (the end is the sequence, not the highest stored seq), new
// consumers start at the sequence, and the next event is delivered. A real
// reset of the sequence (reset, run on the emptied table) is still reported.
func testBusPositionAfterEmptyingPrune(t *testing.T, s *Store, reset string) {
	ctx := testCtx(t)
	logs := &warnings{}
	cfg := BusConfig{PollInterval: 10 * time.Millisecond, Logger: slog.New(logs)}
	bus := s.Bus(cfg)
	defer bus.Close()

	// run subscribes consumer (its start position, and any warning about
	// it, are settled before SubscribeNamed returns), publishes n events,
	// waits until the consumer has handled them, and ends it, which saves
	// its position.
	run := func(consumer string, n int) {
		t.Helper()
		got := make(chan string, n)
		sub, err := bus.SubscribeNamed(ctx, consumer, events.Filter{}, func(_ context.Context, e events.Event) error {
			got <- e.ID
			return nil
		})
		if err != nil {
			t.Fatalf("SubscribeNamed(%s): %v", consumer, err)
		}
		defer func() {
			sub.Close()
			<-sub.(*Subscription).Done()
		}()
		for i := range n {
			if err := bus.Publish(ctx, mustEvent(t, i)); err != nil {
				t.Fatal(err)
			}
		}
		for range n {
			select {
			case <-got:
			case <-time.After(10 * time.Second):
				t.Fatalf("consumer %s did not get its %d events within 10s", consumer, n)
			}
		}
	}
	position := func(consumer string) int64 {
		t.Helper()
		var pos int64
		if err := s.db.QueryRowContext(ctx, s.d.bind(qConsumerPosition), consumer).Scan(&pos); err != nil {
			t.Fatalf("position of %s: %v", consumer, err)
		}
		return pos
	}
	prune := func(want int64) {
		t.Helper()
		if n, err := s.PruneEvents(ctx, time.Now().Add(time.Hour)); err != nil || n != want {
			t.Fatalf("PruneEvents = %d, %v; want %d", n, err, want)
		}
	}

	run("c", 3)
	if pos := position("c"); pos != 3 {
		t.Fatalf("consumer c saved position %d; want 3", pos)
	}
	prune(3) // the table is empty now
	if w := logs.take(); len(w) != 0 {
		t.Fatalf("before the restart: warnings %q; want none", w)
	}

	// Restart on the emptied table: no warning, and the next event arrives.
	run("c", 1)
	if w := logs.take(); len(w) != 0 {
		t.Errorf("restarting consumer c after an emptying prune logged %q; want no warning", w)
	}
	if pos := position("c"); pos != 4 {
		t.Errorf("consumer c after the next event is at %d; want 4", pos)
	}

	// A new consumer starts at the sequence, not at the highest stored seq
	// (none: the table is empty again).
	prune(1)
	run("new", 0)
	if pos := position("new"); pos != 4 {
		t.Errorf("new consumer on an emptied table starts at %d; want 4 (the sequence)", pos)
	}
	if w := logs.take(); len(w) != 0 {
		t.Errorf("new consumer logged %q; want no warning", w)
	}

	// A reset of the sequence itself is what the warning is for.
	if _, err := s.db.ExecContext(ctx, reset); err != nil {
		t.Fatalf("%s: %v", reset, err)
	}
	run("c", 0)
	if w := logs.take(); len(w) != 1 {
		t.Errorf("restarting consumer c after a sequence reset logged %q; want one warning", w)
	}
}

// TestBusEndWithoutSequencePrivilegePostgres: a role with only DML on the
// tables (no privilege on the identity's sequence, which inserting does not
// need) still subscribes and publishes: the stream's end falls back to the
// highest stored seq instead of failing on the sequence.
func TestBusEndWithoutSequencePrivilegePostgres(t *testing.T) {
	dsn, schema := newSchema(t)
	ctx := testCtx(t)
	owner := openPostgresIn(t, dsn, schema) // migrates the schema
	role := "mockops_dml_" + schema[len("mockops_test_"):]
	for _, q := range []string{
		"CREATE ROLE " + role + " LOGIN",
		"GRANT USAGE ON SCHEMA " + schema + " TO " + role,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA " + schema + " TO " + role,
	} {
		if _, err := owner.db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		for _, q := range []string{"DROP OWNED BY " + role, "DROP ROLE " + role} {
			if _, err := owner.db.ExecContext(context.Background(), q); err != nil {
				t.Errorf("%s: %v", q, err)
			}
		}
	})
	pc, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	pc.User = role
	pc.RuntimeParams["search_path"] = schema
	db := stdlib.OpenDB(*pc)
	// Open would migrate, which this role may not; the store is built
	// around the pool as Open builds it.
	s := newStore(db, postgresDialect, Config{})
	s.channel, s.publishLock = owner.channel, owner.publishLock
	t.Cleanup(func() { s.Close() })

	bus := s.Bus(BusConfig{PollInterval: 10 * time.Millisecond})
	defer bus.Close()
	for i := range 2 {
		if err := bus.Publish(ctx, mustEvent(t, i)); err != nil {
			t.Fatalf("Publish as %s: %v", role, err)
		}
	}
	end, exact, err := s.busEnd(ctx)
	if err != nil || exact || end != 2 {
		t.Errorf("busEnd as %s = %d, %v, %v; want 2, false (the stored end), nil", role, end, exact, err)
	}
	got := make(chan string, 1)
	if _, err := bus.SubscribeNamed(ctx, "dml", events.Filter{}, func(_ context.Context, e events.Event) error {
		got <- e.ID
		return nil
	}); err != nil {
		t.Fatalf("SubscribeNamed as %s: %v", role, err)
	}
	e := mustEvent(t, 2)
	if err := bus.Publish(ctx, e); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-got:
		if id != e.ID {
			t.Errorf("consumer got %s; want %s", id, e.ID)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("consumer of role %s got nothing within 10s", role)
	}
	// The owner reads the sequence itself.
	if end, exact, err := owner.busEnd(ctx); err != nil || !exact || end != 3 {
		t.Errorf("busEnd as the owner = %d, %v, %v; want 3, true, nil", end, exact, err)
	}
}

func TestDeleteConsumerLetsPruneProceedSQLite(t *testing.T) {
	testDeleteConsumerLetsPruneProceed(t, newSQLiteStore(t))
}

func TestDeleteConsumerLetsPruneProceedPostgres(t *testing.T) {
	testDeleteConsumerLetsPruneProceed(t, newPostgresStore(t))
}

// testDeleteConsumerLetsPruneProceed: a consumer that stopped at the
// start holds back every event; once DeleteConsumer retires it, PruneEvents
// deletes the events only it had not handled. Deleting a name with a live
// subscription fails with ErrConsumerBusy, an unknown name with
// store.ErrNotFound.
func testDeleteConsumerLetsPruneProceed(t *testing.T, s *Store) {
	ctx := testCtx(t)
	bus := s.Bus(BusConfig{PollInterval: 10 * time.Millisecond})
	defer bus.Close()
	nop := func(context.Context, events.Event) error { return nil }

	// "abandoned" subscribes once, at the empty stream's end, and never
	// comes back.
	abandoned, err := bus.SubscribeNamed(ctx, "abandoned", events.Filter{}, nop)
	if err != nil {
		t.Fatal(err)
	}
	abandoned.Close()
	<-abandoned.(*Subscription).Done()

	// "active" handles all four events and stays subscribed.
	got := make(chan string, 4)
	active, err := bus.SubscribeNamed(ctx, "active", events.Filter{}, func(_ context.Context, e events.Event) error {
		got <- e.ID
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if err := bus.Publish(ctx, mustEvent(t, i)); err != nil {
			t.Fatal(err)
		}
	}
	for range 4 {
		select {
		case <-got:
		case <-time.After(10 * time.Second):
			t.Fatal("consumer active did not get its events within 10s")
		}
	}
	active.Close()
	<-active.(*Subscription).Done() // its position (4) is saved

	future := time.Now().Add(time.Hour)
	if n, err := s.PruneEvents(ctx, future); err != nil || n != 0 {
		t.Fatalf("PruneEvents with consumer abandoned at 0 = %d, %v; want 0", n, err)
	}

	// A live subscription cannot be retired under itself.
	again, err := bus.SubscribeNamed(ctx, "active", events.Filter{}, nop)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteConsumer(ctx, "active"); !errors.Is(err, ErrConsumerBusy) {
		t.Errorf("DeleteConsumer(active) while subscribed = %v; want ErrConsumerBusy", err)
	}
	again.Close()
	<-again.(*Subscription).Done()

	if err := s.DeleteConsumer(ctx, "abandoned"); err != nil {
		t.Fatalf("DeleteConsumer(abandoned) = %v; want nil", err)
	}
	if n, err := s.PruneEvents(ctx, future); err != nil || n != 4 {
		t.Errorf("PruneEvents after DeleteConsumer(abandoned) = %d, %v; want 4", n, err)
	}

	tests := []struct {
		name string
		want error
	}{
		{"abandoned", store.ErrNotFound}, // already deleted
		{"never-subscribed", store.ErrNotFound},
		{"", store.ErrNotFound},
		{"active", nil},
	}
	for _, tt := range tests {
		if err := s.DeleteConsumer(ctx, tt.name); !errors.Is(err, tt.want) {
			t.Errorf("DeleteConsumer(%q) = %v; want %v", tt.name, err, tt.want)
		}
	}

	// A retired name is new again: it starts at the current end.
	sub, err := bus.SubscribeNamed(ctx, "abandoned", events.Filter{}, nop)
	if err != nil {
		t.Fatal(err)
	}
	sub.Close()
	<-sub.(*Subscription).Done()
	var pos int64
	if err := s.db.QueryRowContext(ctx, s.d.bind(qConsumerPosition), "abandoned").Scan(&pos); err != nil || pos != 4 {
		t.Errorf("re-created consumer abandoned is at %d, %v; want 4 (the end)", pos, err)
	}
}
