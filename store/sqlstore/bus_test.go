package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mockops/mockops/events"
)

// deliveries counts handler calls per event ID.
type deliveries struct {
	mu     sync.Mutex
	counts map[string]int
}

func newDeliveries() *deliveries { return &deliveries{counts: make(map[string]int)} }

// add records a delivery and returns how many distinct events it has seen.
func (d *deliveries) add(id string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.counts[id]++
	return len(d.counts)
}

// handle is an events.Handler that records every delivery.
func (d *deliveries) handle(_ context.Context, e events.Event) error {
	d.add(e.ID)
	return nil
}

func (d *deliveries) distinct() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.counts)
}

// waitDistinct polls until n distinct events were delivered.
func (d *deliveries) waitDistinct(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for d.distinct() < n {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %d distinct events delivered; want %d", timeout, d.distinct(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func mustEvent(t testing.TB, i int) events.Event {
	t.Helper()
	e, err := events.New(events.TypeConfigChanged, "ws", map[string]int{"i": i})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestBusRestartSQLite(t *testing.T) {
	for _, sub := range subscribeKinds {
		t.Run(sub.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bus.db")
			testBusRestart(t, sub.named, func() *Store { return openSQLiteAt(t, path) })
		})
	}
}

func TestBusRestartPostgres(t *testing.T) {
	for _, sub := range subscribeKinds {
		t.Run(sub.name, func(t *testing.T) {
			dsn, schema := newSchema(t)
			testBusRestart(t, sub.named, func() *Store { return openPostgresIn(t, dsn, schema) })
		})
	}
}

// namedSubscribe subscribes h as a durable consumer.
type namedSubscribe func(b *Bus, ctx context.Context, consumer string, h events.Handler) (events.Subscription, error)

// subscribeKinds are the two ways of subscribing a durable consumer: one
// event per call, and batches (the handler called for each event of a
// batch in turn, failing the batch at its first error).
var subscribeKinds = []struct {
	name  string
	named namedSubscribe
}{
	{"single", func(b *Bus, ctx context.Context, consumer string, h events.Handler) (events.Subscription, error) {
		return b.SubscribeNamed(ctx, consumer, events.Filter{}, h)
	}},
	{"batch", func(b *Bus, ctx context.Context, consumer string, h events.Handler) (events.Subscription, error) {
		return b.SubscribeNamedBatch(ctx, consumer, events.Filter{}, 50, eachEvent(h))
	}},
}

// eachEvent is a batch handler that calls h for each event in turn and
// stops at the first error (or panic, which it lets through).
func eachEvent(h events.Handler) events.BatchHandler {
	return func(ctx context.Context, es []events.Event) error {
		for _, e := range es {
			if err := h(ctx, e); err != nil {
				return err
			}
		}
		return nil
	}
}

// testBusRestart publishes 10,000 events while a named consumer handles
// them, stops the consumer (its bus and store) half-way with a delivery in
// flight, and starts it again on a new store: every event must arrive at
// least once, and the restart must resume from the saved position rather
// than from the beginning.
func testBusRestart(t *testing.T, subscribe namedSubscribe, open func() *Store) {
	const total, half, consumer = 10000, 5000, "restart-test"
	ctx := testCtx(t)
	cfg := BusConfig{}.withDefaults(sqliteDialect)
	pub := open().Bus(BusConfig{})
	defer pub.Close()

	got := newDeliveries()
	var handled atomic.Int64
	halfway := make(chan struct{})
	// The first run's handler stops short at the half-way event: it sees
	// it, then waits for shutdown and fails, as work interrupted by a
	// restart would. That event must be delivered again.
	first := func(ctx context.Context, e events.Event) error {
		got.add(e.ID)
		if handled.Add(1) == half {
			close(halfway)
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}
	s1 := open()
	bus1 := s1.Bus(BusConfig{})
	if _, err := subscribe(bus1, ctx, consumer, first); err != nil {
		t.Fatalf("SubscribeNamed: %v", err)
	}

	ids := make([]string, total)
	pubDone := make(chan error, 1)
	go func() {
		for i := range ids {
			if i == total*3/4 {
				// The rest is published across the restart: a consumer
				// slower than this publisher must not find it done.
				select {
				case <-halfway:
				case <-ctx.Done():
				}
			}
			e, err := events.New(events.TypeConfigChanged, "ws", map[string]int{"i": i})
			if err == nil {
				ids[i] = e.ID
				err = pub.Publish(ctx, e)
			}
			if err != nil {
				pubDone <- fmt.Errorf("publish %d: %w", i, err)
				return
			}
		}
		pubDone <- nil
	}()

	select {
	case <-halfway:
	case err := <-pubDone:
		t.Fatalf("publisher ended (%v) before the consumer reached %d events", err, half)
	case <-time.After(time.Minute):
		t.Fatalf("consumer handled %d events in a minute; want %d", handled.Load(), half)
	}
	if err := bus1.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s1.Close()
	before := handled.Load()

	second := func(ctx context.Context, e events.Event) error {
		got.add(e.ID)
		handled.Add(1)
		return nil
	}
	bus2 := open().Bus(BusConfig{})
	defer bus2.Close()
	if _, err := subscribe(bus2, ctx, consumer, second); err != nil {
		t.Fatalf("SubscribeNamed after restart: %v", err)
	}
	if err := <-pubDone; err != nil {
		t.Fatal(err)
	}
	got.waitDistinct(t, total, time.Minute)

	got.mu.Lock()
	defer got.mu.Unlock()
	twice := 0
	for i, id := range ids {
		switch n := got.counts[id]; {
		case n == 0:
			t.Errorf("event %d (%s) never delivered", i, id)
		case n > 1:
			twice++
		}
	}
	t.Logf("%d events: %d handled before the restart, %d deliveries in all, %d delivered twice",
		total, before, handled.Load(), twice)
	if twice == 0 {
		t.Errorf("no event delivered twice; want at least the one in flight at the restart")
	}
	// Resuming from the saved position repeats at most one batch; starting
	// over would repeat thousands.
	if twice > cfg.BatchSize {
		t.Errorf("%d events delivered twice; want at most a batch (%d): the consumer did not resume", twice, cfg.BatchSize)
	}
}

func TestBusConsumerBusy(t *testing.T) {
	s := newSQLiteStore(t)
	bus := s.Bus(BusConfig{})
	defer bus.Close()
	ctx := testCtx(t)
	nop := func(context.Context, events.Event) error { return nil }
	sub, err := bus.SubscribeNamed(ctx, "c", events.Filter{}, nop)
	if err != nil {
		t.Fatalf("SubscribeNamed: %v", err)
	}
	if _, err := s.Bus(BusConfig{}).SubscribeNamed(ctx, "c", events.Filter{}, nop); !errors.Is(err, ErrConsumerBusy) {
		t.Errorf("second SubscribeNamed(c) = %v; want ErrConsumerBusy", err)
	}
	sub.Close()
	<-sub.(*Subscription).Done()
	again, err := bus.SubscribeNamed(ctx, "c", events.Filter{}, nop)
	if err != nil {
		t.Fatalf("SubscribeNamed(c) after the first ended: %v", err)
	}
	again.Close()
	if _, err := bus.SubscribeNamed(ctx, "", events.Filter{}, nop); err == nil {
		t.Errorf("SubscribeNamed with an empty name = nil error; want one")
	}
}

// TestBusNamedStartsAtEnd: a consumer name seen for the first time starts
// after the events already stored, like an anonymous subscription.
func TestBusNamedStartsAtEnd(t *testing.T) {
	s := newSQLiteStore(t)
	bus := s.Bus(BusConfig{})
	defer bus.Close()
	ctx := testCtx(t)
	old := mustEvent(t, 0)
	if err := bus.Publish(ctx, old); err != nil {
		t.Fatal(err)
	}
	got := newDeliveries()
	if _, err := bus.SubscribeNamed(ctx, "late", events.Filter{}, got.handle); err != nil {
		t.Fatal(err)
	}
	fresh := mustEvent(t, 1)
	if err := bus.Publish(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	got.waitDistinct(t, 1, 10*time.Second)
	bus.Close()
	if got.counts[old.ID] != 0 || got.counts[fresh.ID] != 1 {
		t.Errorf("new consumer got old=%d fresh=%d deliveries; want 0 and 1", got.counts[old.ID], got.counts[fresh.ID])
	}
}

func TestBusShutdownDrains(t *testing.T) {
	s := newSQLiteStore(t)
	bus := s.Bus(BusConfig{BatchSize: 16})
	ctx := testCtx(t)
	got := newDeliveries()
	if _, err := bus.Subscribe(ctx, events.Filter{}, func(_ context.Context, e events.Event) error {
		time.Sleep(100 * time.Microsecond) // slower than publishing, so events queue up
		got.add(e.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	const n = 300
	for i := range n {
		if err := bus.Publish(ctx, mustEvent(t, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := bus.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := got.distinct(); d != n {
		t.Errorf("after Shutdown: %d events delivered; want all %d", d, n)
	}
	if err := bus.Publish(ctx, mustEvent(t, n)); !errors.Is(err, events.ErrClosed) {
		t.Errorf("Publish after Shutdown = %v; want ErrClosed", err)
	}
}

// TestBusMaxAttempts: with MaxAttempts set, an event that always fails is
// given up after that many deliveries and the subscription moves on.
func TestBusMaxAttempts(t *testing.T) {
	s := newSQLiteStore(t)
	bus := s.Bus(BusConfig{MaxAttempts: 3, RetryBackoff: time.Millisecond})
	defer bus.Close()
	ctx := testCtx(t)
	poison, next := mustEvent(t, 0), mustEvent(t, 1)
	got := newDeliveries()
	if _, err := bus.Subscribe(ctx, events.Filter{}, func(_ context.Context, e events.Event) error {
		got.add(e.ID)
		if e.ID == poison.ID {
			return errors.New("always fails")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, e := range []events.Event{poison, next} {
		if err := bus.Publish(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	got.waitDistinct(t, 2, 10*time.Second)
	bus.Close()
	if got.counts[poison.ID] != 3 || got.counts[next.ID] != 1 {
		t.Errorf("deliveries: poison %d, next %d; want 3 and 1", got.counts[poison.ID], got.counts[next.ID])
	}
}

// TestBusPollAcrossStoresSQLite: two stores on one file stand for two
// processes; the subscriber learns of the other's events by polling.
func TestBusPollAcrossStoresSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	sub := openSQLiteAt(t, path).Bus(BusConfig{PollInterval: 20 * time.Millisecond})
	pub := openSQLiteAt(t, path).Bus(BusConfig{})
	testBusAcross(t, sub, pub, 5*time.Second)
}

// TestBusWakesSiblingBusSQLite: a publish wakes the subscriptions of every
// bus of its store at once, not only its own bus's: the subscriber polls
// only once a minute.
func TestBusWakesSiblingBusSQLite(t *testing.T) {
	s := newSQLiteStore(t)
	testBusAcross(t, s.Bus(BusConfig{PollInterval: time.Minute}), s.Bus(BusConfig{}), 5*time.Second)
}

// TestBusNotifyAcrossReplicasPostgres: the subscriber polls only once a
// minute, so a delivery within seconds proves LISTEN/NOTIFY woke it.
func TestBusNotifyAcrossReplicasPostgres(t *testing.T) {
	dsn, schema := newSchema(t)
	sub := openPostgresIn(t, dsn, schema).Bus(BusConfig{PollInterval: time.Minute})
	pub := openPostgresIn(t, dsn, schema).Bus(BusConfig{})
	testBusAcross(t, sub, pub, 5*time.Second)
}

func testBusAcross(t *testing.T, sub, pub *Bus, within time.Duration) {
	defer sub.Close()
	defer pub.Close()
	ctx := testCtx(t)
	got := subscribeRecording(t, ctx, sub)
	// Let the listener connect first: a notification sent before LISTEN
	// is lost by design, and would be found by the (slow) poll instead.
	waitListening(t, sub)
	for i := range 3 {
		start := time.Now()
		if err := pub.Publish(ctx, mustEvent(t, i)); err != nil {
			t.Fatal(err)
		}
		got.waitDistinct(t, i+1, within)
		t.Logf("event %d delivered across stores in %v", i, time.Since(start))
	}
}

// subscribeRecording subscribes to every event of bus with a handler that
// records each delivery.
func subscribeRecording(t *testing.T, ctx context.Context, bus *Bus) *deliveries {
	t.Helper()
	got := newDeliveries()
	if _, err := bus.Subscribe(ctx, events.Filter{}, got.handle); err != nil {
		t.Fatal(err)
	}
	return got
}

// waitListening waits until a PostgreSQL bus's LISTEN connection is up; it
// returns at once on SQLite, which has none.
func waitListening(t *testing.T, b *Bus) {
	t.Helper()
	if b.s.pgConn == nil {
		return
	}
	select {
	case <-b.listening:
	case <-time.After(10 * time.Second):
		t.Fatal("the LISTEN connection did not come up within 10s")
	}
}

// TestBusSkipsUndecodableRow: a row that is not a CloudEvent (only a hand
// edit makes one) is logged and skipped instead of stalling the consumer.
func TestBusSkipsUndecodableRow(t *testing.T) {
	s := newSQLiteStore(t)
	bus := s.Bus(BusConfig{})
	defer bus.Close()
	ctx := testCtx(t)
	got := subscribeRecording(t, ctx, bus)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO mockops_bus_events (id, type, workspace, event, created_at) VALUES ('x', 't', '', 'not json', 0)`); err != nil {
		t.Fatal(err)
	}
	good := mustEvent(t, 1)
	if err := bus.Publish(ctx, good); err != nil {
		t.Fatal(err)
	}
	got.waitDistinct(t, 1, 10*time.Second)
	bus.Close()
	if len(got.counts) != 1 || got.counts[good.ID] != 1 {
		t.Errorf("deliveries = %v; want only %s once", got.counts, good.ID)
	}
}

// TestBusListenerReconnectsPostgres: when the LISTEN connection dies, the
// bus reconnects on its own, and events published meanwhile still wake the
// subscriber long before its (one minute) poll.
func TestBusListenerReconnectsPostgres(t *testing.T) {
	dsn, schema := newSchema(t)
	s := openPostgresIn(t, dsn, schema)
	sub := s.Bus(BusConfig{PollInterval: time.Minute})
	defer sub.Close()
	pub := openPostgresIn(t, dsn, schema).Bus(BusConfig{})
	defer pub.Close()
	ctx := testCtx(t)
	got := subscribeRecording(t, ctx, sub)
	// Both buses must be listening, or the count below races the
	// publisher's listener coming up.
	waitListening(t, sub)
	waitListening(t, pub)
	var killed int
	err := s.db.QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE query = $1 AND pid <> pg_backend_pid()`, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()).Scan(&killed)
	if err != nil {
		t.Fatal(err)
	}
	if killed != 2 { // the publisher's bus listens on the channel too
		t.Fatalf("terminated %d LISTEN connections; want 2", killed)
	}
	for i := range 3 {
		if err := pub.Publish(ctx, mustEvent(t, i)); err != nil {
			t.Fatal(err)
		}
		got.waitDistinct(t, i+1, 10*time.Second)
	}
}

// A package that takes an events.Bus finds durable subscriptions through an
// interface of its own, like this one, without importing sqlstore.
var _ interface {
	SubscribeNamed(ctx context.Context, consumer string, f events.Filter, h events.Handler) (events.Subscription, error)
} = (*Bus)(nil)

// TestBusStuckPublish: a Publish stuck on the database (here, waiting for
// the SQLite write slot another writer holds) holds up neither Shutdown
// past its ctx nor Close, and fails with ErrClosed once the bus closes.
func TestBusStuckPublish(t *testing.T) {
	for _, stop := range []struct {
		name string
		stop func(b *Bus) error
	}{
		{"Shutdown", func(b *Bus) error {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			if err := b.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("Shutdown = %v; want DeadlineExceeded", err)
			}
			return nil
		}},
		{"Close", (*Bus).Close},
	} {
		t.Run(stop.name, func(t *testing.T) {
			s := newSQLiteStore(t)
			bus := s.Bus(BusConfig{})
			s.writeSem <- struct{}{} // a writer that never finishes
			defer func() { <-s.writeSem }()
			published := make(chan error, 1)
			go func() { published <- bus.Publish(context.Background(), mustEvent(t, 0)) }()
			// Wait until Publish is past the intake (it holds the read lock
			// while it waits for the write slot): a fixed sleep raced
			// with a slow start under -race.
			for bus.intake.TryLock() {
				bus.intake.Unlock()
				time.Sleep(time.Millisecond)
			}

			stopped := make(chan error, 1)
			go func() { stopped <- stop.stop(bus) }()
			select {
			case err := <-stopped:
				if err != nil {
					t.Error(err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s did not return within 5s while a Publish was stuck", stop.name)
			}
			if err := <-published; !errors.Is(err, events.ErrClosed) {
				t.Errorf("stuck Publish after %s = %v; want ErrClosed", stop.name, err)
			}
		})
	}
}

func TestBusInterruptedHandlerKeepsAttemptSQLite(t *testing.T) {
	testBusInterruptedHandlerKeepsAttempt(t, func(t *testing.T) func() *Store {
		path := filepath.Join(t.TempDir(), "bus.db")
		return func() *Store { return openSQLiteAt(t, path) }
	})
}

func TestBusInterruptedHandlerKeepsAttemptPostgres(t *testing.T) {
	testBusInterruptedHandlerKeepsAttempt(t, func(t *testing.T) func() *Store {
		dsn, schema := newSchema(t)
		return func() *Store { return openPostgresIn(t, dsn, schema) }
	})
}

// testBusInterruptedHandlerKeepsAttempt: with MaxAttempts 1, a handler
// that Close or Shutdown interrupts (it fails because its ctx ended) has not
// used up the event's only attempt: after a restart the named consumer gets
// the event again instead of skipping it.
func testBusInterruptedHandlerKeepsAttempt(t *testing.T, database func(t *testing.T) func() *Store) {
	tests := []struct {
		name string
		stop func(b *Bus) error
	}{
		{"Close", (*Bus).Close},
		{"Shutdown", func(b *Bus) error {
			// The handler never finishes on its own, so Shutdown's ctx
			// ends and it closes the bus, interrupting the handler.
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			if err := b.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("Shutdown = %v; want DeadlineExceeded", err)
			}
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const consumer = "interrupted"
			open := database(t)
			ctx := testCtx(t)
			cfg := BusConfig{MaxAttempts: 1, RetryBackoff: time.Millisecond}

			bus1 := open().Bus(cfg)
			started := make(chan struct{})
			var once sync.Once
			if _, err := bus1.SubscribeNamed(ctx, consumer, events.Filter{}, func(ctx context.Context, e events.Event) error {
				once.Do(func() { close(started) })
				<-ctx.Done() // work that only the stop interrupts
				return ctx.Err()
			}); err != nil {
				t.Fatalf("SubscribeNamed: %v", err)
			}
			e := mustEvent(t, 0)
			if err := bus1.Publish(ctx, e); err != nil {
				t.Fatal(err)
			}
			select {
			case <-started:
			case <-time.After(10 * time.Second):
				t.Fatal("the handler did not start within 10s")
			}
			if err := tt.stop(bus1); err != nil {
				t.Fatal(err)
			}

			// Restart: a new store and bus on the same database.
			bus2 := open().Bus(cfg)
			defer bus2.Close()
			got := make(chan string, 1)
			if _, err := bus2.SubscribeNamed(ctx, consumer, events.Filter{}, func(_ context.Context, e events.Event) error {
				select {
				case got <- e.ID:
				default:
				}
				return nil
			}); err != nil {
				t.Fatalf("SubscribeNamed after restart: %v", err)
			}
			select {
			case id := <-got:
				if id != e.ID {
					t.Errorf("after restart the consumer got %s; want the interrupted event %s", id, e.ID)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("after restart the interrupted event %s was not delivered again within 10s: the interruption used up its only attempt", e.ID)
			}
		})
	}
}
