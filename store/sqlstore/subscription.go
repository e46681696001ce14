package sqlstore

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mockops/mockops/events"
)

// Subscription is a live subscription of a durable Bus.
type Subscription struct{ sub *busSub }

var _ events.Subscription = (*Subscription)(nil)

// Close ends the subscription: after it returns no further event is handed
// to the handler (a call in progress may finish). It does not wait for the
// subscription's goroutine, so a handler may close its own subscription;
// use Done to wait. Close is idempotent and returns nil.
func (s *Subscription) Close() error {
	s.sub.close()
	return nil
}

// Done is closed when the subscription's goroutine has ended and, for a
// named consumer, its position is saved: a new subscription with the same
// name may start then.
func (s *Subscription) Done() <-chan struct{} { return s.sub.done }

// busSub is one subscription's state; pos and saved are owned by its
// goroutine.
type busSub struct {
	bus     *Bus
	name    string // durable consumer name; "" = anonymous
	filter  events.Filter
	handler events.Handler
	// batch, when not nil, receives the events of a read together, up to
	// batchMax at a time (handler delivers them again one by one when a
	// batch fails).
	batch    events.BatchHandler
	batchMax int
	ctx      context.Context // ends with the subscription; handed to the handler
	cancel   context.CancelFunc
	wake     chan struct{} // capacity 1: "there may be new rows"
	done     chan struct{}

	mu     sync.Mutex
	closed bool // guarded by mu; checked right before every handler call

	pos     int64     // seq of the last event handled (or filtered out)
	saved   int64     // the position last written to the database
	savedAt time.Time // when saved was last written (or the subscription began)
}

// saveInterval bounds how long a named consumer's handled position may stay
// unsaved while events keep arriving.
const saveInterval = 200 * time.Millisecond

func (sub *busSub) close() {
	sub.mu.Lock()
	sub.closed = true
	sub.mu.Unlock()
	sub.cancel()
}

// live reports whether the handler may still be called.
func (sub *busSub) live() bool {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return !sub.closed && sub.ctx.Err() == nil
}

// busRow is one stored event as a subscription reads it.
type busRow struct {
	seq   int64
	event events.Event // only Type and Workspace unless match is set
	match bool         // the subscription's filter matches; event is decoded
	bad   error        // why the stored event could not be decoded
}

func (sub *busSub) run() {
	b := sub.bus
	defer b.subsWG.Done()
	defer close(sub.done)
	defer b.s.releaseConsumer(sub.name)
	defer b.remove(sub)
	defer sub.savePosition()
	defer sub.cancel()

	poll := time.NewTimer(b.cfg.PollInterval)
	defer poll.Stop()
	draining := false
	failures := 0
	for {
		rows, err := sub.fetch()
		if err != nil {
			if sub.ctx.Err() != nil {
				return
			}
			// The database is unreachable or busy: keep the position and
			// try again, backing off, rather than end the subscription.
			failures++
			b.log.Warn("sqlstore: bus: reading events failed", "consumer", sub.name, "err", err)
			if !sub.sleep(backoff(b.cfg.RetryBackoff, b.cfg.MaxRetryBackoff, failures)) {
				return
			}
			continue
		}
		failures = 0
		if sub.batch != nil {
			if !sub.deliverBatches(rows) {
				return
			}
		} else {
			for _, r := range rows {
				if !sub.deliver(r) {
					return
				}
				sub.pos = r.seq
			}
		}
		// Saving after every wake-up would double the writes of a consumer
		// that keeps up with a trickle of events; a crash repeats at most a
		// batch or saveInterval worth of them.
		if sub.pos-sub.saved >= int64(b.cfg.BatchSize) || time.Since(sub.savedAt) >= saveInterval {
			sub.savePosition()
		}
		if len(rows) == b.cfg.BatchSize {
			continue // there may be more right behind
		}
		if draining {
			return // caught up after intake stopped: nothing more will come
		}
		wait := b.cfg.PollInterval
		if sub.pos != sub.saved {
			wait = min(wait, saveInterval) // come back to save even if nothing arrives
		}
		poll.Reset(wait)
		select {
		case <-sub.wake:
		case <-poll.C:
		case <-b.drain:
			draining = true
		case <-sub.ctx.Done():
			return
		}
	}
}

// fetch reads the next batch after the subscription's position.
func (sub *busSub) fetch() ([]busRow, error) {
	s := sub.bus.s
	rows, err := s.r().QueryContext(sub.ctx, s.q.busFetch, sub.pos, sub.bus.cfg.BatchSize)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r scanner) (busRow, error) {
		var (
			row busRow
			typ string
			raw []byte
		)
		if err := r.Scan(&row.seq, &typ, &row.event.Workspace, &raw); err != nil {
			return row, err
		}
		// The type and workspace columns are enough for the filter, so an
		// event this subscription does not want is never decoded.
		row.event.Type = events.Type(typ)
		if row.match = sub.filter.Match(row.event); !row.match {
			return row, nil
		}
		// A row that does not decode (Publish validates, so only a hand
		// edit makes one) is handed on as bad rather than failing the read,
		// which would stall the subscription on it forever.
		row.bad = row.event.UnmarshalJSON(raw)
		return row, nil
	})
}

// deliver hands r to the handler if the filter matches, retrying failures
// with backoff. It returns false if the subscription ended before the event
// was handled, so the position stays before it and it is delivered again
// after a restart. Only a failure while the subscription is live counts
// against MaxAttempts.
func (sub *busSub) deliver(r busRow) bool {
	if !r.match {
		return sub.ctx.Err() == nil
	}
	if r.bad != nil {
		sub.bus.log.Error("sqlstore: bus: skipping an undecodable event", "consumer", sub.name, "seq", r.seq, "err", r.bad)
		return sub.ctx.Err() == nil
	}
	cfg := sub.bus.cfg
	for attempt := 1; ; attempt++ {
		if !sub.live() {
			return false
		}
		err := sub.call(r.event)
		if err == nil {
			return true
		}
		if !sub.live() {
			// The subscription ended while the handler ran, so the failure
			// is most likely the interruption (a cancelled ctx), not the
			// event's fault: it uses up no attempt, and the position stays
			// before the event so a restart delivers it again.
			return false
		}
		if cfg.MaxAttempts > 0 && attempt >= cfg.MaxAttempts {
			sub.bus.log.Error("sqlstore: bus: giving up on event", "consumer", sub.name,
				"type", r.event.Type, "id", r.event.ID, "seq", r.seq, "attempts", attempt, "err", err)
			return true
		}
		sub.bus.log.Warn("sqlstore: bus: handler failed; retrying", "consumer", sub.name,
			"type", r.event.Type, "id", r.event.ID, "attempt", attempt, "err", err)
		if !sub.sleep(backoff(cfg.RetryBackoff, cfg.MaxRetryBackoff, attempt)) {
			return false
		}
	}
}

// deliverBatches hands rows to the batch handler, batchMax deliverable
// events at a time, moving the position past each batch once it is
// handled. A batch that fails is delivered again event by event through
// deliver, with its retries. It returns false if the subscription ended
// first; the position then stays before the batch.
func (sub *busSub) deliverBatches(rows []busRow) bool {
	es := make([]events.Event, 0, min(len(rows), sub.batchMax))
	for i := 0; i < len(rows); {
		es = es[:0]
		j := i
		for ; j < len(rows) && len(es) < sub.batchMax; j++ {
			switch r := rows[j]; {
			case !r.match:
			case r.bad != nil:
				sub.bus.log.Error("sqlstore: bus: skipping an undecodable event", "consumer", sub.name, "seq", r.seq, "err", r.bad)
			default:
				es = append(es, r.event)
			}
		}
		if len(es) > 0 {
			if !sub.live() {
				return false
			}
			if err := sub.callBatch(es); err != nil {
				if !sub.live() {
					return false // interrupted, most likely: see deliver
				}
				sub.bus.log.Warn("sqlstore: bus: batch handler failed; delivering its events one by one", "consumer", sub.name,
					"events", len(es), "first", es[0].ID, "err", err)
				for _, r := range rows[i:j] {
					if r.match && r.bad == nil && !sub.deliver(r) {
						return false
					}
					sub.pos = r.seq
				}
			}
		} else if sub.ctx.Err() != nil {
			return false
		}
		sub.pos = rows[j-1].seq
		i = j
	}
	return true
}

// callBatch is call for a batch.
func (sub *busSub) callBatch(es []events.Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			sub.bus.log.Error("sqlstore: bus: batch handler panicked", "consumer", sub.name,
				"events", len(es), "first", es[0].ID, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("batch handler panicked: %v", r)
		}
	}()
	return sub.batch(sub.ctx, es)
}

// call runs the handler, turning a panic into an error so that the event
// is retried like any other failure and the subscription lives on. The
// stack is logged here, since the retry's log line only has the error.
func (sub *busSub) call(e events.Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			sub.bus.log.Error("sqlstore: bus: handler panicked", "consumer", sub.name,
				"type", e.Type, "id", e.ID, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	return sub.handler(sub.ctx, e)
}

// sleep waits d unless the subscription ends first; it reports whether the
// subscription is still live.
func (sub *busSub) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-sub.ctx.Done():
		return false
	}
}

// savePosition writes a named consumer's position if it moved. It runs
// during delivery (see run) and once more as the subscription ends, then
// with a fresh, bounded context, because the subscription's own has ended.
func (sub *busSub) savePosition() {
	if sub.name == "" || sub.pos == sub.saved {
		sub.savedAt = time.Now()
		return
	}
	s := sub.bus.s
	ctx, cancel := context.WithTimeout(context.WithoutCancel(sub.ctx), 5*time.Second)
	defer cancel()
	err := s.write(ctx, func(db execer) error {
		_, err := db.ExecContext(ctx, s.q.consumerUpdate, sub.pos, s.d.ts(s.now()), sub.name, sub.pos)
		return err
	})
	if err != nil {
		// Not fatal: the events since the last save are delivered again
		// after a restart, which at-least-once allows.
		sub.bus.log.Warn("sqlstore: bus: saving position failed", "consumer", sub.name, "position", sub.pos, "err", err)
		return
	}
	sub.saved, sub.savedAt = sub.pos, time.Now()
}

// backoff is base doubled per earlier failure, capped at limit.
func backoff(base, limit time.Duration, failures int) time.Duration {
	d := base
	for i := 1; i < failures && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// listen keeps a dedicated PostgreSQL connection LISTENing on the bus's
// channel and wakes the subscriptions on every notification, reconnecting
// with backoff until the bus closes. Polling covers the gaps.
func (b *Bus) listen() {
	defer b.listenerWG.Done()
	failures := 0
	for {
		connected, err := b.listenOnce()
		if b.ctx.Err() != nil {
			return
		}
		if connected {
			failures = 0
		}
		failures++
		b.log.Warn("sqlstore: bus: LISTEN connection lost; reconnecting", "err", err)
		t := time.NewTimer(backoff(100*time.Millisecond, 5*time.Second, failures))
		select {
		case <-t.C:
		case <-b.ctx.Done():
			t.Stop()
			return
		}
	}
}

// listenOnce runs one LISTEN connection until it fails or the bus closes,
// and reports whether it got as far as listening.
func (b *Bus) listenOnce() (bool, error) {
	conn, err := pgx.ConnectConfig(b.ctx, b.s.pgConn.Copy())
	if err != nil {
		return false, err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn.Close(ctx)
	}()
	if _, err := conn.Exec(b.ctx, "LISTEN "+pgx.Identifier{b.s.channel}.Sanitize()); err != nil {
		return false, err
	}
	b.listeningOnce.Do(func() { close(b.listening) })
	// Events published while no connection was listening announced
	// themselves to nobody.
	b.wakeAll()
	for {
		if _, err := conn.WaitForNotification(b.ctx); err != nil {
			return true, err
		}
		b.wakeAll()
	}
}
