package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/store"
)

const (
	qPublishSQLite = `INSERT INTO mockops_bus_events (id, type, workspace, event, created_at) VALUES (?, ?, ?, ?, ?)`
	// The transaction-scoped advisory lock is taken before the identity
	// value is drawn and held until commit, so sequence numbers become
	// visible in increasing order: a consumer that has read up to N never
	// sees a smaller number commit later and skips it. pg_notify in
	// RETURNING makes the wake-up part of the same commit.
	qPublishPostgres = `WITH lock AS (SELECT pg_advisory_xact_lock(?::bigint))
		INSERT INTO mockops_bus_events (id, type, workspace, event, created_at)
		SELECT ?::text, ?::text, ?::text, ?::json, ?::timestamptz FROM lock
		RETURNING pg_notify(?::text, '')`
	// The end of the stream is the last sequence number ever drawn, not
	// the highest one stored: PruneEvents may have deleted every row, and
	// a consumer's position then lies past MAX(seq) quite rightly. On
	// SQLite AUTOINCREMENT keeps that number in sqlite_sequence (MAX(seq)
	// covers a database whose sqlite_sequence row was lost). qBusEnd is the
	// SQLite form; PostgreSQL uses qBusEndPostgres.
	qBusEnd = `SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'mockops_bus_events'), 0),
		COALESCE((SELECT MAX(seq) FROM mockops_bus_events), 0))`
	// On PostgreSQL the identity's sequence holds it. Reading it needs
	// SELECT or USAGE on the sequence, which inserting through the
	// identity does not, so a role with only DML on the tables gets
	// readable = false and the highest stored seq instead (as the
	// pg_sequences view does it).
	qBusEndPostgres = `SELECT s.readable,
		CASE WHEN s.readable THEN COALESCE(pg_sequence_last_value(s.id), 0) ELSE 0 END,
		(SELECT COALESCE(MAX(seq), 0) FROM mockops_bus_events)
		FROM (SELECT q.id, has_sequence_privilege(q.id, 'SELECT,USAGE') AS readable
			FROM (SELECT pg_get_serial_sequence('mockops_bus_events', 'seq')::regclass AS id) q) s`
	qBusFetch         = `SELECT seq, type, workspace, event FROM mockops_bus_events WHERE seq > ? ORDER BY seq LIMIT ?`
	qConsumerInit     = `INSERT INTO mockops_bus_consumers (name, position, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`
	qConsumerPosition = `SELECT position FROM mockops_bus_consumers WHERE name = ?`
	// Positions only move forward, whatever order saves arrive in.
	qConsumerUpdate = `UPDATE mockops_bus_consumers SET position = ?, updated_at = ? WHERE name = ? AND position < ?`
	qConsumerDelete = `DELETE FROM mockops_bus_consumers WHERE name = ?`
)

// ErrConsumerBusy is returned by SubscribeNamed and DeleteConsumer when
// this process already has a live subscription with that consumer name.
var ErrConsumerBusy = errors.New("sqlstore: consumer already subscribed")

// BusConfig tunes a durable Bus. The zero value is ready to use.
type BusConfig struct {
	// PollInterval is how often an idle subscription looks for events that
	// no wake-up announced; 0 means 250ms on SQLite and 2s on PostgreSQL,
	// where LISTEN/NOTIFY does the waking and polling is only a fallback.
	PollInterval time.Duration
	// BatchSize is how many events a subscription reads per query, and the
	// most a named consumer handles between position saves (it also saves
	// every 200ms while busy); 0 means 128.
	BatchSize int
	// RetryBackoff is the pause before a failed delivery is retried,
	// doubling per failure up to MaxRetryBackoff; 0 means 10ms and 2s.
	RetryBackoff, MaxRetryBackoff time.Duration
	// MaxAttempts bounds deliveries of one event to one subscription; once
	// reached, the event is logged and skipped. A handler that fails
	// because Close, Shutdown or the subscription's end interrupted it has
	// not used an attempt: the event stays unhandled and a named consumer
	// gets it again after a restart. 0 retries until the handler succeeds
	// or the subscription ends, so nothing is ever skipped. In a batch
	// subscription (SubscribeBatch, SubscribeNamedBatch) the call of a
	// batch that failed counts for none of its events, since one of them
	// may have failed it for all: each is then delivered alone, with
	// MaxAttempts attempts of its own.
	MaxAttempts int
	// Logger receives handler failures and listener reconnects; nil uses
	// the Store's.
	Logger *slog.Logger
}

func (c BusConfig) withDefaults(d *dialect) BusConfig {
	if c.PollInterval <= 0 {
		c.PollInterval = 250 * time.Millisecond
		if d == postgresDialect {
			c.PollInterval = 2 * time.Second
		}
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 128
	}
	if c.RetryBackoff <= 0 {
		c.RetryBackoff = 10 * time.Millisecond
	}
	if c.MaxRetryBackoff <= 0 {
		c.MaxRetryBackoff = 2 * time.Second
	}
	c.MaxRetryBackoff = max(c.MaxRetryBackoff, c.RetryBackoff)
	return c
}

// Bus is the durable events.Bus: events are rows of the store's database,
// each subscription reads them in order from its own position, and named
// consumers keep that position in the database across restarts. See the
// package documentation for its guarantees.
type Bus struct {
	s   *Store
	cfg BusConfig
	log *slog.Logger

	// ctx ends when the bus closes; it bounds the listener, and the
	// database calls of Publish and Subscribe (see callCtx).
	ctx    context.Context
	cancel context.CancelFunc
	drain  chan struct{} // closed by Shutdown: subscriptions finish what is stored, then end

	// intake guards closed. Publish holds it for reading while it
	// writes, so once stopIntake holds it every publish through this bus
	// is either stored or refused, and a draining subscription that finds
	// nothing more has really seen everything.
	intake sync.RWMutex
	closed bool

	mu   sync.Mutex
	subs map[*busSub]struct{} // guarded by mu

	// listening is closed once the LISTEN connection is first up; from
	// then on publications in other processes wake this bus at once.
	listening     chan struct{}
	listeningOnce sync.Once

	subsWG     sync.WaitGroup
	listenerWG sync.WaitGroup
	closeOnce  sync.Once
	drainOnce  sync.Once
}

var _ events.Bus = (*Bus)(nil)

// Bus returns a durable bus over the store's database. On PostgreSQL it
// keeps one extra connection that LISTENs for publications; the bus ends
// with Close, Shutdown, or the Store's Close.
func (s *Store) Bus(cfg BusConfig) *Bus {
	cfg = cfg.withDefaults(s.d)
	log := cfg.Logger
	if log == nil {
		log = s.log
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &Bus{
		s: s, cfg: cfg, log: log,
		ctx: ctx, cancel: cancel,
		drain:     make(chan struct{}),
		subs:      make(map[*busSub]struct{}),
		listening: make(chan struct{}),
	}
	s.mu.Lock()
	if s.closed {
		b.closed = true
		cancel()
	} else {
		s.buses[b] = struct{}{}
	}
	s.mu.Unlock()
	if !b.closed && s.pgConn != nil {
		b.listenerWG.Add(1)
		go b.listen()
	}
	return b
}

// Publish stores e; it returns once the row is committed, so the event
// survives a crash from then on. Every subscription whose filter matches
// receives it at least once.
func (b *Bus) Publish(ctx context.Context, e events.Event) error {
	raw, err := e.MarshalJSON() // validates: an invalid event wraps events.ErrInvalid
	if err != nil {
		return err
	}
	b.intake.RLock()
	defer b.intake.RUnlock()
	if b.closed {
		return events.ErrClosed
	}
	ctx, done := b.callCtx(ctx)
	defer done()
	s := b.s
	now := s.d.ts(s.now())
	err = s.write(ctx, func(db execer) error {
		var err error
		if s.d == postgresDialect {
			_, err = db.ExecContext(ctx, s.q.publish, s.publishLock, e.ID, string(e.Type), e.Workspace, string(raw), now, s.channel)
		} else {
			_, err = db.ExecContext(ctx, s.q.publish, e.ID, string(e.Type), e.Workspace, string(raw), now)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: publish %s %s: %w", e.Type, e.ID, b.closedErr(err))
	}
	// Every bus of this store, not only this one: a second Bus in the same
	// process would otherwise wait for its poll (SQLite has no NOTIFY).
	s.wakeBuses()
	return nil
}

// Subscribe starts an anonymous subscription: it receives the events
// published after Subscribe returns, and its position lives only in memory.
// Use SubscribeNamed for a subscription that resumes after a restart.
func (b *Bus) Subscribe(ctx context.Context, f events.Filter, h events.Handler) (events.Subscription, error) {
	sub, err := b.subscribe(ctx, "", f, h, nil, 0)
	if err != nil {
		return nil, err // not a typed nil inside the interface
	}
	return sub, nil
}

// SubscribeNamed starts a subscription for the durable consumer name. The
// first time a name is seen it starts at the current end of the stream;
// afterwards it resumes after the last event it handled, even in another
// process. One consumer name should have one live subscription at a time:
// within a process a second one fails with ErrConsumerBusy. The result is a
// *Subscription; its type is events.Subscription so that a package that
// takes an events.Bus can declare this method in an interface of its own,
// without importing sqlstore.
func (b *Bus) SubscribeNamed(ctx context.Context, consumer string, f events.Filter, h events.Handler) (events.Subscription, error) {
	if consumer == "" {
		return nil, fmt.Errorf("sqlstore: subscribe: empty consumer name")
	}
	sub, err := b.subscribe(ctx, consumer, f, h, nil, 0)
	if err != nil {
		return nil, err
	}
	return sub, nil
}

// SubscribeBatch implements events.BatchSubscriber: Subscribe, but the
// matching events of each read (at most BusConfig.BatchSize) are handed
// to h together, up to max at a time. See SubscribeNamedBatch for how a
// failed batch is retried.
func (b *Bus) SubscribeBatch(ctx context.Context, f events.Filter, max int, h events.BatchHandler) (events.Subscription, error) {
	sub, err := b.subscribeBatch(ctx, "", f, max, h)
	if err != nil {
		return nil, err
	}
	return sub, nil
}

// SubscribeNamedBatch is SubscribeNamed with the batches of
// SubscribeBatch: for a handler that pays per write, not per event (the
// pipeline engine's intake, one INSERT per batch). The position moves
// past a batch only once h has handled it. A batch that fails is
// delivered again one event at a time, each with SubscribeNamed's retries
// and MaxAttempts, so an event that keeps failing is given up alone and
// holds back no other; the events of the batch that h had handled are
// handled again then, which at-least-once delivery allows.
func (b *Bus) SubscribeNamedBatch(ctx context.Context, consumer string, f events.Filter, max int, h events.BatchHandler) (events.Subscription, error) {
	if consumer == "" {
		return nil, fmt.Errorf("sqlstore: subscribe: empty consumer name")
	}
	sub, err := b.subscribeBatch(ctx, consumer, f, max, h)
	if err != nil {
		return nil, err
	}
	return sub, nil
}

func (b *Bus) subscribeBatch(ctx context.Context, consumer string, f events.Filter, max int, h events.BatchHandler) (*Subscription, error) {
	if h == nil {
		return nil, fmt.Errorf("sqlstore: subscribe: nil handler")
	}
	// A batch delivered again one event at a time goes through deliver,
	// as a plain subscription's events do.
	one := func(ctx context.Context, e events.Event) error { return h(ctx, []events.Event{e}) }
	return b.subscribe(ctx, consumer, f, one, h, max)
}

// subscribe starts a subscription whose handler is h, or batch (with h
// for the events it delivers one at a time) when batch is not nil.
func (b *Bus) subscribe(ctx context.Context, consumer string, f events.Filter, h events.Handler, batch events.BatchHandler, batchMax int) (*Subscription, error) {
	if h == nil {
		return nil, fmt.Errorf("sqlstore: subscribe: nil handler")
	}
	b.intake.RLock()
	defer b.intake.RUnlock()
	if b.closed {
		return nil, events.ErrClosed
	}
	if consumer != "" && !b.s.claimConsumer(consumer) {
		return nil, fmt.Errorf("%w: %q", ErrConsumerBusy, consumer)
	}
	callCtx, done := b.callCtx(ctx)
	pos, err := b.startPosition(callCtx, consumer)
	done()
	if err != nil {
		b.s.releaseConsumer(consumer)
		return nil, fmt.Errorf("sqlstore: subscribe %q: %w", consumer, b.closedErr(err))
	}
	sctx, cancel := context.WithCancel(ctx)
	sub := &busSub{
		bus: b, name: consumer,
		filter:  events.Filter{Types: append([]events.Type(nil), f.Types...), Workspace: f.Workspace},
		handler: h,
		batch:   batch, batchMax: min(max(batchMax, 1), b.cfg.BatchSize),
		ctx: sctx, cancel: cancel,
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
		pos:  pos, saved: pos, savedAt: time.Now(),
	}
	b.mu.Lock()
	b.subs[sub] = struct{}{}
	b.subsWG.Add(1)
	b.mu.Unlock()
	go sub.run()
	return &Subscription{sub: sub}, nil
}

// callCtx is ctx, also cancelled when the bus closes. Publish and
// Subscribe hold the intake lock across their database calls, and Close and
// Shutdown wait for that lock: a call stuck on the database (an unreachable
// server, a lock held elsewhere) must not hold up a Close, or a Shutdown
// past its ctx.
func (b *Bus) callCtx(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(b.ctx, cancel)
	return ctx, func() {
		stop()
		cancel()
	}
}

// closedErr is err, or events.ErrClosed with err's text if the bus closed
// meanwhile, which is then the likely reason err happened.
func (b *Bus) closedErr(err error) error {
	if b.ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", events.ErrClosed, err)
	}
	return err
}

// startPosition is where a new subscription starts reading: the stream's
// current end for an anonymous one, the stored position for a named one
// (recorded as the current end if the name is new). It is read before
// Subscribe returns, so nothing published afterwards can be missed.
func (b *Bus) startPosition(ctx context.Context, consumer string) (int64, error) {
	s := b.s
	end, exact, err := s.busEnd(ctx)
	if err != nil {
		return 0, err
	}
	if consumer == "" {
		return end, nil
	}
	err = s.write(ctx, func(db execer) error {
		_, err := db.ExecContext(ctx, s.q.consumerInit, consumer, end, s.d.ts(s.now()))
		return err
	})
	if err != nil {
		return 0, err
	}
	var pos int64
	if err := s.r().QueryRowContext(ctx, s.q.consumerPosition, consumer).Scan(&pos); err != nil {
		return 0, err
	}
	if pos > end && exact {
		// Only a reset of the sequence (TRUNCATE ... RESTART IDENTITY, a
		// restore) does this, never a prune, and the consumer then misses
		// every event until the sequence passes its position: say so.
		// Without the sequence (see qBusEndPostgres) a prune that emptied
		// the table looks the same, so nothing is said.
		b.log.Warn("sqlstore: bus: consumer position is past the end of the stream; events up to it will not be delivered",
			"consumer", consumer, "position", pos, "end", end)
	}
	return pos, nil
}

// busEnd returns the last sequence number the events table has drawn, and
// whether it is exactly that: false when the PostgreSQL role may not read
// the sequence, and end is the highest seq still stored.
func (s *Store) busEnd(ctx context.Context) (end int64, exact bool, err error) {
	if s.d != postgresDialect {
		err := s.r().QueryRowContext(ctx, s.q.busEnd).Scan(&end)
		return end, err == nil, err
	}
	var last, stored int64
	if err := s.r().QueryRowContext(ctx, qBusEndPostgres).Scan(&exact, &last, &stored); err != nil {
		return 0, false, err
	}
	return max(last, stored), exact, nil
}

// Shutdown stops intake, lets every subscription handle what is already
// stored and save its position, then ends them. If ctx ends first it closes
// the bus at once and returns ctx's error. Calling it again, or after
// Close, is harmless.
func (b *Bus) Shutdown(ctx context.Context) error {
	// Should ctx end while calls in flight hold up intake, abort them.
	defer context.AfterFunc(ctx, b.cancel)()
	b.stopIntake()
	b.drainOnce.Do(func() { close(b.drain) })
	done := make(chan struct{})
	go func() {
		b.subsWG.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	b.Close()
	<-done
	return err
}

// Close stops the bus at once: handlers' contexts are cancelled, a Publish
// or Subscribe still waiting on the database fails with events.ErrClosed
// (such a Publish may or may not have stored its event), and Close returns
// when every goroutine of the bus has ended and each named subscription has
// saved the position of the last event it handled. It is idempotent and
// returns nil.
func (b *Bus) Close() error {
	// Cancelling first aborts the publishes and subscribes in flight,
	// which stopIntake waits for; it also ends the listener.
	b.cancel()
	b.stopIntake()
	b.closeOnce.Do(func() {
		b.mu.Lock()
		subs := slices.Collect(maps.Keys(b.subs))
		b.mu.Unlock()
		for _, sub := range subs {
			sub.close()
		}
		b.subsWG.Wait()
		b.listenerWG.Wait()
		b.s.mu.Lock()
		delete(b.s.buses, b)
		b.s.mu.Unlock()
	})
	return nil
}

// stopIntake makes Publish and Subscribe fail from now on; it waits for
// the calls already past their check.
func (b *Bus) stopIntake() {
	b.intake.Lock()
	b.closed = true
	b.intake.Unlock()
}

// wakeAll tells every subscription that new events may be stored.
func (b *Bus) wakeAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for sub := range b.subs {
		select {
		case sub.wake <- struct{}{}:
		default: // already signalled
		}
	}
}

// wakeBuses wakes the subscriptions of every bus made from s.
func (s *Store) wakeBuses() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for b := range s.buses {
		b.wakeAll()
	}
}

func (b *Bus) remove(sub *busSub) {
	b.mu.Lock()
	delete(b.subs, sub)
	b.mu.Unlock()
}

// DeleteConsumer retires the durable consumer name: its saved position is
// deleted, so PruneEvents no longer keeps events for it, and the name is
// new again (a later SubscribeNamed starts at the then current end). Use it
// for a consumer that is gone for good, whose position would otherwise hold
// back pruning forever. It fails with ErrConsumerBusy while this process has
// a live subscription with that name, and with store.ErrNotFound if no
// consumer has it. A subscription to the name still running in another
// process is not detected: its position saves then change nothing, and it
// starts at the end when it next subscribes.
func (s *Store) DeleteConsumer(ctx context.Context, name string) error {
	if name == "" { // SubscribeNamed refuses it, so no consumer has it
		return fmt.Errorf("sqlstore: delete consumer %q: %w", name, store.ErrNotFound)
	}
	// Holding the name keeps a SubscribeNamed in this process from
	// starting on the row while it is deleted.
	if !s.claimConsumer(name) {
		return fmt.Errorf("%w: %q; end its subscription before deleting it", ErrConsumerBusy, name)
	}
	defer s.releaseConsumer(name)
	var n int64
	err := s.write(ctx, func(db execer) error {
		res, err := db.ExecContext(ctx, s.d.bind(qConsumerDelete), name)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: delete consumer %q: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: delete consumer %q: %w", name, store.ErrNotFound)
	}
	return nil
}

// claimConsumer marks a consumer name as in use by this process.
func (s *Store) claimConsumer(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.consumers == nil {
		s.consumers = make(map[string]bool)
	}
	if s.consumers[name] {
		return false
	}
	s.consumers[name] = true
	return true
}

func (s *Store) releaseConsumer(name string) {
	if name == "" {
		return
	}
	s.mu.Lock()
	delete(s.consumers, name)
	s.mu.Unlock()
}
