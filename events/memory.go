package events

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
)

// Overflow says what Publish does when a subscriber's queue is full.
type Overflow int

const (
	// Block waits for room, until the publish context ends or the bus
	// closes. No event is lost, but a subscriber that never drains its queue
	// eventually holds up publishers.
	Block Overflow = iota
	// DropOldest discards the oldest queued event to make room.
	DropOldest
	// DropNewest discards the event being published.
	DropNewest
)

func (o Overflow) String() string {
	switch o {
	case Block:
		return "block"
	case DropOldest:
		return "drop_oldest"
	case DropNewest:
		return "drop_newest"
	}
	return fmt.Sprintf("Overflow(%d)", int(o))
}

// DefaultQueueSize is the per-subscriber queue length when
// MemoryConfig.QueueSize is zero.
const DefaultQueueSize = 1024

// MemoryConfig configures a MemoryBus. The zero value is ready to use: a
// 1024-event queue per subscriber, Block on overflow, no logging.
type MemoryConfig struct {
	QueueSize int          // events queued per subscriber; <= 0 means DefaultQueueSize
	Overflow  Overflow     // what to do when a subscriber's queue is full
	Logger    *slog.Logger // handler errors and panics; nil discards
}

// Stats are a MemoryBus's counters since it was created, summed over every
// subscription it ever had.
type Stats struct {
	Published   uint64 // events accepted by Publish
	Delivered   uint64 // handler calls that returned nil (events, for a batch handler's calls)
	Failed      uint64 // handler calls that returned an error (events, for a batch handler's calls)
	Panics      uint64 // handler calls that panicked (recovered; calls, for a batch handler too)
	Dropped     uint64 // events discarded by DropOldest or DropNewest
	Discarded   uint64 // events still queued when their subscription or the bus closed
	Subscribers int    // live subscriptions
	Queued      int    // events waiting in queues now
}

// MemoryBus is the in-process Bus. Each subscription has its own bounded
// queue and worker goroutine, so a slow handler delays only its own
// subscription (up to the overflow policy) and handlers see events in
// publish order. See the package documentation for the full contract.
type MemoryBus struct {
	queueSize int
	overflow  Overflow
	log       *slog.Logger

	closing   chan struct{} // closed when Shutdown or Close starts: blocked publishers give up
	closeOnce sync.Once
	drain     chan struct{} // closed by Shutdown: workers empty their queues, then end
	drainOnce sync.Once

	// life guards closed. Publish and Subscribe hold the read lock while
	// they use the bus, so once stopIntake holds the write lock no event can
	// slip into a queue that is being drained.
	life   sync.RWMutex
	closed bool

	subs    atomic.Pointer[[]*memSub] // copy-on-write: Publish ranges a snapshot
	subsMu  sync.Mutex                // serialises writers of subs and retired
	retired subCounter                // counters of ended subscriptions

	published atomic.Uint64
	workers   sync.WaitGroup
}

var _ Bus = (*MemoryBus)(nil)

// NewMemoryBus returns a running in-memory bus.
func NewMemoryBus(cfg MemoryConfig) *MemoryBus {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &MemoryBus{
		queueSize: cfg.QueueSize,
		overflow:  cfg.Overflow,
		log:       log,
		closing:   make(chan struct{}),
		drain:     make(chan struct{}),
	}
}

// Publish queues e for every subscription whose filter matches it. With the
// Block policy it waits for room in full queues until ctx ends (returning
// ctx.Err()) or the bus closes (ErrClosed); subscriptions earlier in the
// fan-out may already have the event then. Publish does not allocate.
func (b *MemoryBus) Publish(ctx context.Context, e Event) error {
	if err := checkPublishable(e); err != nil {
		return err
	}
	b.life.RLock()
	defer b.life.RUnlock()
	if b.closed {
		return ErrClosed
	}
	b.published.Add(1)
	for _, s := range b.snapshot() {
		if !s.filter.Match(e) {
			continue
		}
		if err := b.enqueue(ctx, s, e); err != nil {
			return err
		}
	}
	return nil
}

func (b *MemoryBus) enqueue(ctx context.Context, s *memSub, e Event) error {
	switch b.overflow {
	case DropNewest:
		select {
		case s.queue <- e:
		default:
			s.counts.dropped.Add(1)
		}
		return nil
	case DropOldest:
		for {
			select {
			case s.queue <- e:
				return nil
			default:
			}
			select {
			case old := <-s.queue:
				if !isWake(old) { // a wake-up token is not an event
					s.counts.dropped.Add(1)
				}
			default: // the worker took one meanwhile: try again
			}
		}
	default:
		select {
		case s.queue <- e:
			return nil
		default:
		}
		select {
		case s.queue <- e:
			return nil
		case <-s.ctx.Done():
			select {
			case <-b.closing: // the whole bus is closing: the event was not accepted
				return ErrClosed
			default: // only this subscription ended: the event is not for it any more
				return nil
			}
		case <-b.closing:
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Subscribe starts a worker that hands matching events to h in publish
// order. The subscription ends when it is closed, when ctx ends or when the
// bus closes; h's ctx ends then too.
func (b *MemoryBus) Subscribe(ctx context.Context, f Filter, h Handler) (Subscription, error) {
	if h == nil {
		return nil, fmt.Errorf("events: subscribe: nil handler")
	}
	return b.subscribe(ctx, f, &memSub{handler: h})
}

// SubscribeBatch implements BatchSubscriber: Subscribe, but the worker
// hands h every event waiting in the subscription's queue, up to max (at
// least 1), in one call. Delivered and Failed count events; Panics counts
// calls.
func (b *MemoryBus) SubscribeBatch(ctx context.Context, f Filter, limit int, h BatchHandler) (Subscription, error) {
	if h == nil {
		return nil, fmt.Errorf("events: subscribe batch: nil handler")
	}
	limit = min(max(limit, 1), b.queueSize)
	return b.subscribe(ctx, f, &memSub{batch: h, buf: make([]Event, 0, limit)})
}

// subscribe registers s, whose handler is set, and starts its worker.
func (b *MemoryBus) subscribe(ctx context.Context, f Filter, s *memSub) (Subscription, error) {
	b.life.RLock()
	defer b.life.RUnlock()
	if b.closed {
		return nil, ErrClosed
	}
	sctx, cancel := context.WithCancel(ctx)
	s.bus = b
	s.filter = Filter{Types: append([]Type(nil), f.Types...), Workspace: f.Workspace}
	s.queue = make(chan Event, b.queueSize)
	s.ctx, s.cancel = sctx, cancel
	b.subsMu.Lock()
	old := b.snapshot()
	subs := make([]*memSub, len(old), len(old)+1)
	copy(subs, old)
	subs = append(subs, s)
	b.subs.Store(&subs)
	b.subsMu.Unlock()
	b.workers.Add(1)
	go s.run()
	// The worker sleeps in a plain receive on its queue; when the
	// subscription ends a wake-up token gets it to look.
	context.AfterFunc(sctx, s.wake)
	return s, nil
}

// Shutdown stops intake and lets every subscription deliver what it has
// queued, then ends the workers. If ctx ends first, it closes the bus at
// once (cancelling handlers' contexts), waits for the workers to return and
// returns ctx's error. Calling it again, or after Close, is harmless.
func (b *MemoryBus) Shutdown(ctx context.Context) error {
	b.stopIntake()
	b.drainOnce.Do(func() { close(b.drain) })
	for _, s := range b.snapshot() {
		s.wake()
	}
	done := make(chan struct{})
	go func() {
		b.workers.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		b.cancelAll()
		<-done
		return ctx.Err()
	}
}

// Close stops the bus at once: queued events are discarded (and counted),
// handlers' contexts are cancelled, and Close returns when every worker has
// returned. It is idempotent and always returns nil.
func (b *MemoryBus) Close() error {
	b.stopIntake()
	b.cancelAll()
	b.workers.Wait()
	return nil
}

// stopIntake makes Publish and Subscribe fail from now on. Closing the
// channel first releases publishers blocked on full queues, so taking the
// write lock cannot wait on a stuck subscriber.
func (b *MemoryBus) stopIntake() {
	b.closeOnce.Do(func() { close(b.closing) })
	b.life.Lock()
	b.closed = true
	b.life.Unlock()
}

func (b *MemoryBus) snapshot() []*memSub {
	if p := b.subs.Load(); p != nil {
		return *p
	}
	return nil
}

func (b *MemoryBus) cancelAll() {
	for _, s := range b.snapshot() {
		s.cancel()
	}
}

// Stats returns the bus's counters. It is safe to call at any time,
// including after Close.
func (b *MemoryBus) Stats() Stats {
	b.subsMu.Lock()
	defer b.subsMu.Unlock()
	subs := b.snapshot()
	st := Stats{Published: b.published.Load(), Subscribers: len(subs)}
	b.retired.addTo(&st)
	for _, s := range subs {
		s.counts.addTo(&st)
		st.Queued += len(s.queue)
	}
	return st
}

// remove takes an ended subscription off the bus and folds its counters
// into the retired totals, counting what is left in its queue as
// discarded. A publisher still holding an older snapshot may yet drop an
// event into the dead queue; that event was published after the
// subscription ended, so it was never due to it.
func (b *MemoryBus) remove(s *memSub) {
	b.subsMu.Lock()
	defer b.subsMu.Unlock()
	old := b.snapshot()
	i := -1
	for j, t := range old {
		if t == s {
			i = j
			break
		}
	}
	if i < 0 {
		return
	}
	subs := make([]*memSub, 0, len(old)-1)
	subs = append(subs, old[:i]...)
	subs = append(subs, old[i+1:]...)
	b.subs.Store(&subs)
	for len(s.queue) > 0 {
		if e := <-s.queue; !isWake(e) {
			s.counts.discarded.Add(1)
		}
	}
	b.retired.add(&s.counts)
}

// subCounter holds one subscription's counters. It is padded so the
// worker's increments do not share a cache line with fields publishers read.
type subCounter struct {
	_         [64]byte
	delivered atomic.Uint64
	failed    atomic.Uint64
	panics    atomic.Uint64
	dropped   atomic.Uint64
	discarded atomic.Uint64
	_         [64]byte
}

func (c *subCounter) add(o *subCounter) {
	c.delivered.Add(o.delivered.Load())
	c.failed.Add(o.failed.Load())
	c.panics.Add(o.panics.Load())
	c.dropped.Add(o.dropped.Load())
	c.discarded.Add(o.discarded.Load())
}

func (c *subCounter) addTo(st *Stats) {
	st.Delivered += c.delivered.Load()
	st.Failed += c.failed.Load()
	st.Panics += c.panics.Load()
	st.Dropped += c.dropped.Load()
	st.Discarded += c.discarded.Load()
}

type memSub struct {
	bus     *MemoryBus
	filter  Filter
	handler Handler      // nil for a batch subscription
	batch   BatchHandler // nil for a plain one
	buf     []Event      // a batch subscription's batch; cap is its max
	queue   chan Event
	ctx     context.Context // ends with the subscription; handed to the handler
	cancel  context.CancelFunc
	counts  subCounter
}

// Close ends the subscription. It does not wait for the worker, so a
// handler may close its own subscription.
func (s *memSub) Close() error {
	s.cancel()
	return nil
}

func (s *memSub) run() {
	defer s.bus.workers.Done()
	defer s.bus.remove(s)
	defer s.cancel()
	done, drain := s.ctx.Done(), s.bus.drain
	for {
		var e Event
		select {
		case e = <-s.queue:
		default:
			// The queue is empty: end if the subscription has ended or the
			// bus is draining (intake has stopped, so it stays empty), else
			// sleep. A plain receive parks and wakes several times cheaper
			// than a select over the queue, done and drain; wake puts a
			// token in the queue whenever one of those changes.
			select {
			case <-done:
				return
			case <-drain:
				return
			default:
			}
			e = <-s.queue
		}
		if isWake(e) {
			continue
		}
		if s.batch != nil {
			if !s.deliverBatch(e) {
				return
			}
			continue
		}
		if !s.deliver(e) {
			return
		}
	}
}

// deliverBatch hands first and the events queued behind it, up to the
// batch's max, to the batch handler, as deliver hands one event.
func (s *memSub) deliverBatch(first Event) bool {
	es := append(s.buf[:0], first)
more:
	for len(es) < cap(es) {
		select {
		case e := <-s.queue:
			if !isWake(e) {
				es = append(es, e)
			}
		default:
			break more
		}
	}
	select {
	case <-s.ctx.Done():
		s.counts.discarded.Add(uint64(len(es)))
		return false
	default:
	}
	s.callBatch(es)
	clear(es) // drop references to the events' payloads
	return true
}

// callBatch is call for a batch.
func (s *memSub) callBatch(es []Event) {
	defer func() {
		if r := recover(); r != nil {
			s.counts.panics.Add(1)
			s.bus.log.Error("events: batch handler panicked", "events", len(es), "first", es[0].ID, "panic", r)
		}
	}()
	if err := s.batch(s.ctx, es); err != nil {
		s.counts.failed.Add(uint64(len(es)))
		s.bus.log.Warn("events: batch handler failed", "events", len(es), "first", es[0].ID, "err", err)
		return
	}
	s.counts.delivered.Add(uint64(len(es)))
}

// wake puts a wake-up token in the queue, so a worker asleep on it looks
// at its subscription's state. A full queue needs none: the worker is busy
// and checks the state before every delivery.
func (s *memSub) wake() {
	select {
	case s.queue <- Event{}:
	default:
	}
}

// isWake reports whether e is a wake-up token. Publish never queues an
// event without an ID, so the zero Event is free for this.
func isWake(e Event) bool { return e.ID == "" }

// deliver calls the handler unless the subscription has ended, and reports
// whether it did. The ended check makes Close strict: an event dequeued
// after Close returned is never handed over.
func (s *memSub) deliver(e Event) bool {
	select {
	case <-s.ctx.Done():
		s.counts.discarded.Add(1)
		return false
	default:
	}
	s.call(e)
	return true
}

// call runs the handler, counting its result; a panic is recovered so one
// bad event cannot end the subscription.
func (s *memSub) call(e Event) {
	defer func() {
		if r := recover(); r != nil {
			s.counts.panics.Add(1)
			s.bus.log.Error("events: handler panicked", "type", e.Type, "id", e.ID, "panic", r)
		}
	}()
	if err := s.handler(s.ctx, e); err != nil {
		s.counts.failed.Add(1)
		s.bus.log.Warn("events: handler failed", "type", e.Type, "id", e.ID, "err", err)
		return
	}
	s.counts.delivered.Add(1)
}
