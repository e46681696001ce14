package sqlstore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mockops/mockops/events"
)

// TestBusPublishLockPrecedesSeqPostgres pins down what keeps a PostgreSQL
// subscription from skipping events: a publisher waits for the schema's
// publish lock before it draws a sequence number. Were the number drawn
// first, a publisher that draws 2 could commit while the holder of 1 has
// not, a subscription could read 2 and move past 1 for good.
func TestBusPublishLockPrecedesSeqPostgres(t *testing.T) {
	s := newPostgresStore(t)
	bus := s.Bus(BusConfig{})
	defer bus.Close()
	ctx := testCtx(t)
	if err := bus.Publish(ctx, mustEvent(t, 0)); err != nil {
		t.Fatal(err)
	}
	lastSeq := func() int64 {
		t.Helper()
		var v int64
		err := s.db.QueryRowContext(ctx,
			`SELECT pg_sequence_last_value(pg_get_serial_sequence('mockops_bus_events', 'seq')::regclass)`).Scan(&v)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if got := lastSeq(); got != 1 {
		t.Fatalf("sequence after one publish = %d; want 1", got)
	}

	// Hold the publish lock as a slow publisher would.
	holder, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback()
	if _, err := holder.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", s.publishLock); err != nil {
		t.Fatal(err)
	}
	published := make(chan error, 1)
	go func() { published <- bus.Publish(ctx, mustEvent(t, 1)) }()

	// Wait until the second publisher is queued on the lock.
	key := uint64(s.publishLock)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM pg_locks
			WHERE locktype = 'advisory' AND NOT granted AND classid = $1::bigint::oid AND objid = $2::bigint::oid`,
			int64(key>>32), int64(key&0xffffffff)).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		select {
		case err := <-published:
			t.Fatalf("Publish returned (%v) while another transaction held the publish lock", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the publisher never waited for the publish lock")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := lastSeq(); got != 1 {
		t.Errorf("sequence while the publisher waits for the lock = %d; want 1: the number was drawn before the lock", got)
	}
	if err := holder.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := <-published; err != nil {
		t.Fatalf("Publish after the lock was released: %v", err)
	}
	if got := lastSeq(); got != 2 {
		t.Errorf("sequence after the second publish = %d; want 2", got)
	}
}

func TestBusConcurrentPublishersSQLite(t *testing.T) {
	path := t.TempDir() + "/publishers.db"
	testBusConcurrentPublishers(t, func() *Store { return openSQLiteAt(t, path) }, 300)
}

func TestBusConcurrentPublishersPostgres(t *testing.T) {
	dsn, schema := newSchema(t)
	testBusConcurrentPublishers(t, func() *Store { return openPostgresIn(t, dsn, schema) }, 1000)
}

// testBusConcurrentPublishers has publishers on three stores (replicas)
// commit at once while a subscription on a fourth reads as fast as it can:
// it must see every event exactly once (no handler fails, no restart), and
// each publisher's events in the order it published them.
func testBusConcurrentPublishers(t *testing.T, open func() *Store, perPublisher int) {
	const replicas, perReplica = 3, 2
	ctx := testCtx(t)
	sub := open().Bus(BusConfig{PollInterval: time.Millisecond})
	defer sub.Close()

	type place struct{ publisher, i int }
	var (
		mu     sync.Mutex
		seen   = make(map[string]int)
		last   = make(map[int]int)
		origin = make(map[string]place)
		bad    []string
	)
	// Register the IDs before publishing, so the handler can place them.
	evs := make([][]events.Event, replicas*perReplica)
	for p := range evs {
		evs[p] = make([]events.Event, perPublisher)
		for i := range evs[p] {
			evs[p][i] = mustEvent(t, p*perPublisher+i)
			origin[evs[p][i].ID] = place{p, i}
			last[p] = -1
		}
	}
	_, err := sub.Subscribe(ctx, events.Filter{}, func(_ context.Context, e events.Event) error {
		mu.Lock()
		defer mu.Unlock()
		seen[e.ID]++
		o := origin[e.ID]
		if o.i <= last[o.publisher] {
			bad = append(bad, fmt.Sprintf("publisher %d: event %d after event %d", o.publisher, o.i, last[o.publisher]))
		}
		last[o.publisher] = o.i
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, len(evs))
	for r := range replicas {
		bus := open().Bus(BusConfig{})
		defer bus.Close()
		for w := range perReplica {
			p := r*perReplica + w
			wg.Go(func() {
				for _, e := range evs[p] {
					if err := bus.Publish(ctx, e); err != nil {
						errs <- fmt.Errorf("publisher %d: %w", p, err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	total := len(evs) * perPublisher
	deadline := time.Now().Add(time.Minute)
	for {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n == total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events delivered within a minute", n, total)
		}
		time.Sleep(5 * time.Millisecond)
	}
	sub.Close()
	mu.Lock()
	defer mu.Unlock()
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s delivered %d times; want once", id, n)
		}
	}
	for _, b := range bad {
		t.Error(b)
	}
}

// TestOpenOddSchemaPostgres: Config.Schema is an identifier, never SQL, and
// a long multibyte name still gives the bus a valid NOTIFY channel.
func TestOpenOddSchemaPostgres(t *testing.T) {
	dsn := postgresDSN(t)
	for _, schema := range []string{
		`mockops "odd"; DROP TABLE x; --`,
		"mockops_ünïcödé_" + string([]rune("ééééééééééééééééééééééééé")),
	} {
		t.Run(schema, func(t *testing.T) {
			ctx := testCtx(t)
			s, err := OpenConfig(ctx, dsn, Config{Schema: schema})
			if err != nil {
				t.Fatalf("OpenConfig(schema %q) = %v", schema, err)
			}
			t.Cleanup(func() {
				s.db.ExecContext(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
				s.Close()
			})
			var got string
			if err := s.db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&got); err != nil {
				t.Fatal(err)
			}
			if want := truncateIdentifier(schema); got != want {
				t.Errorf("current_schema() = %q; want %q", got, want)
			}
			bus := s.Bus(BusConfig{PollInterval: time.Minute})
			defer bus.Close()
			rec := subscribeRecording(t, ctx, bus)
			waitListening(t, bus)
			if err := bus.Publish(ctx, mustEvent(t, 0)); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			rec.waitDistinct(t, 1, 10*time.Second)
		})
	}
}

// truncateIdentifier is PostgreSQL's cut of an identifier to 63 bytes.
func truncateIdentifier(s string) string {
	for len(s) > 63 {
		r := []rune(s)
		s = string(r[:len(r)-1])
	}
	return s
}
