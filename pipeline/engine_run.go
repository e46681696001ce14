package pipeline

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/store"
)

// namedSubscriber and namedBatchSubscriber are the durable bus's extra
// methods (store/sqlstore.Bus), found by type assertion so this package
// does not import sqlstore.
type namedSubscriber interface {
	SubscribeNamed(ctx context.Context, consumer string, f events.Filter, h events.Handler) (events.Subscription, error)
}

type namedBatchSubscriber interface {
	SubscribeNamedBatch(ctx context.Context, consumer string, f events.Filter, max int, h events.BatchHandler) (events.Subscription, error)
}

// Run loads the stored definitions, subscribes to the bus, and claims and
// runs executions until Shutdown is called or ctx ends. It returns after
// every goroutine it started has ended (a step abandoned for ignoring its
// ctx excepted: Go cannot stop it; see Stats): nil after Shutdown, ctx's
// error when ctx ended. When ctx ends, running executions are interrupted
// at once and released for another engine to resume, as by a Shutdown
// whose ctx has ended.
func (e *Engine) Run(ctx context.Context) error {
	e.mu.Lock()
	if e.running {
		e.mu.Unlock()
		return errors.New("pipeline: Run called twice")
	}
	e.running = true
	stopped := e.stopping
	e.mu.Unlock()
	defer close(e.doneCh)
	if stopped {
		return nil
	}
	if err := e.reload(ctx); err != nil {
		e.stop()
		return err
	}
	var subs []events.Subscription
	closeSubs := func() {
		for _, sub := range subs {
			_ = sub.Close()
		}
		for _, sub := range subs {
			// A durable subscription ends (and saves its position)
			// asynchronously; wait, so a successor may take the consumer
			// name as soon as Run returns.
			if d, ok := sub.(interface{ Done() <-chan struct{} }); ok {
				<-d.Done()
			}
		}
	}
	if b := e.cfg.Bus; b != nil {
		nbs, namedBatch := b.(namedBatchSubscriber)
		if ns, ok := b.(namedSubscriber); ok {
			var sub events.Subscription
			var err error
			if namedBatch && e.cfg.IntakeBatch > 1 {
				sub, err = nbs.SubscribeNamedBatch(ctx, e.cfg.Consumer, events.Filter{}, e.cfg.IntakeBatch, func(ctx context.Context, evs []events.Event) error {
					return e.intakeEvents(ctx, evs, 0, 1)
				})
			} else {
				sub, err = ns.SubscribeNamed(ctx, e.cfg.Consumer, events.Filter{}, func(ctx context.Context, ev events.Event) error {
					return e.intakeEvents(ctx, []events.Event{ev}, 0, 1)
				})
			}
			if err != nil {
				e.stop()
				return fmt.Errorf("pipeline: run: subscribe: %w", err)
			}
			subs = append(subs, sub)
		} else {
			k := e.cfg.IntakeWorkers
			bs, batched := b.(events.BatchSubscriber)
			batched = batched && e.cfg.IntakeBatch > 1
			for i := range k {
				var sub events.Subscription
				var err error
				if batched {
					sub, err = bs.SubscribeBatch(ctx, events.Filter{}, e.cfg.IntakeBatch, func(ctx context.Context, evs []events.Event) error {
						return e.intakeEvents(ctx, evs, i, k)
					})
				} else {
					sub, err = b.Subscribe(ctx, events.Filter{}, func(ctx context.Context, ev events.Event) error {
						return e.intakeEvents(ctx, []events.Event{ev}, i, k)
					})
				}
				if err != nil {
					// The subscriptions made may have started runs already:
					// Run owns them, so it ends them before it returns.
					e.stop()
					closeSubs()
					e.intakes.Wait()
					e.interrupt()
					e.runs.Wait()
					return fmt.Errorf("pipeline: run: subscribe: %w", err)
				}
				subs = append(subs, sub)
			}
		}
	}
	close(e.readyCh)
	loopCtx, cancelLoops := context.WithCancel(context.WithoutCancel(ctx))
	var loops sync.WaitGroup
	loops.Go(func() { e.claimLoop(loopCtx) })
	loops.Go(func() { e.renewLoop(loopCtx) })
	loops.Go(func() { e.reloadLoop(loopCtx) })
	loops.Go(func() { e.pruneLoop(loopCtx) })

	var err error
	select {
	case <-ctx.Done():
		err = ctx.Err()
		e.stop()
		e.interrupt()
	case <-e.stopCh:
	}
	closeSubs()
	e.intakes.Wait()
	cancelLoops()
	loops.Wait()
	e.runs.Wait()
	return err
}

// Ready is closed once Run has loaded the definitions and subscribed to
// the bus: events published from then on reach the engine.
func (e *Engine) Ready() <-chan struct{} { return e.readyCh }

// Shutdown stops intake and claims, lets the executions in flight finish,
// and when ctx ends first interrupts them: each is left running in the
// store with its lease released (its completed steps kept), so the next
// engine that claims it resumes from its first unfinished step. It
// returns once Run has returned (ctx's error if it had to interrupt). It
// may be called before, during or after Run, and more than once.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.stop()
	e.mu.Lock()
	running := e.running
	e.mu.Unlock()
	if !running {
		return nil
	}
	select {
	case <-e.doneCh:
		return nil
	case <-ctx.Done():
		e.interrupt()
		<-e.doneCh
		return ctx.Err()
	}
}

// stop starts stopping: no more intake or claims.
func (e *Engine) stop() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.stopping {
		e.stopping = true
		close(e.stopCh)
	}
}

// interrupt ends every execution in flight without finishing it.
func (e *Engine) interrupt() {
	e.mu.Lock()
	defer e.mu.Unlock()
	select {
	case <-e.hardCh:
	default:
		close(e.hardCh)
	}
	for _, r := range e.inflight {
		r.interrupt(errInterrupted)
	}
}

func (e *Engine) isStopping() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stopping
}

// poke wakes the claim loop.
func (e *Engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// intakeEvents is the bus handler: one execution per matching pipeline of
// each event of evs, created with one store write. A duplicate (pipeline,
// event) is a no-op, so a redelivered event starts nothing twice. An error
// (the store failing) makes an at-least-once bus deliver the events again.
//
// With k intake subscriptions (Config.IntakeWorkers), each receives every
// event and this is share part of k: it creates the executions of the
// (pipeline, concurrency group) pairs that hash to it. Executions of one
// group are thus created by one subscription, in publish order, as with a
// single one, while the creations of different groups overlap their
// store round trips. Counters of a whole event (no match, filter errors,
// refusals) are kept by share 0 alone.
func (e *Engine) intakeEvents(ctx context.Context, evs []events.Event, part, k int) error {
	// Counted, so that Run returns only once no intake is left writing:
	// a bus need not wait for a handler when its subscription closes.
	e.mu.Lock()
	if e.stopping {
		e.mu.Unlock()
		// Run is closing the subscriptions. Returned while ctx is live, the
		// error would be a failed delivery, which a durable bus counts
		// against MaxAttempts and may give the events up for; returned
		// once the subscription has ended, it is an interruption, and the
		// events are left for the next engine. Bounded by Grace, for a bus
		// whose ctx does not end with its subscription.
		t := time.NewTimer(e.cfg.Grace)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		return ErrStopped
	}
	e.intakes.Add(1)
	e.mu.Unlock()
	defer e.intakes.Done()
	s := e.snap.Load()
	var todo []creation
	for _, ev := range evs {
		todo = e.match(ctx, s, ev, part, k, todo)
	}
	if len(todo) == 0 {
		return nil
	}
	return e.createAll(ctx, todo)
}

// creation is an execution intake is to create: l's for ev (evv, when
// set, is ev's, already decoded for matching).
type creation struct {
	l   *loaded
	ev  events.Event
	evv *EventVars
}

// match appends to todo the executions ev starts in share part of k.
func (e *Engine) match(ctx context.Context, s *snapshot, ev events.Event, part, k int, todo []creation) []creation {
	if e.tooDeep(ev) {
		if part == 0 {
			e.log.Warn("pipeline: event refused: causation chain too deep", "event", ev.ID, "type", ev.Type, "depth", ev.Depth(), "limit", e.cfg.MaxDepth)
			e.stats.depthRefused.Add(1)
		}
		return todo
	}
	evv := NewEventVars(ev)
	hits, failed := s.index.Match(ctx, evv)
	if part == 0 {
		for _, f := range failed {
			e.stats.triggerErrors.Add(1)
			e.log.Warn("pipeline: trigger filter failed", "pipeline", f.Plan.name, "event", ev.ID, "err", f.Err)
		}
		if len(hits) == 0 && len(failed) == 0 {
			e.stats.triggerNoMatch.Add(1)
		}
	}
	for _, h := range hits {
		if k > 1 && share(ctx, h.Plan, evv, k) != part {
			continue
		}
		e.stats.triggerMatches.Add(1)
		if l, ok := s.byName[h.Plan.name]; ok {
			todo = append(todo, creation{l, ev, evv})
		}
	}
	return todo
}

// share is the intake share of a hit: a hash of its pipeline and
// concurrency group, or of its event for a pipeline without
// `concurrency:` (no order to keep, so its creations spread over every
// share). A group that does not render shares by pipeline (its execution
// fails when claimed, as with one subscription).
func share(ctx context.Context, p *Plan, evv *EventVars, k int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(p.name))
	if !p.HasConcurrency() {
		_, _ = h.Write([]byte{0x1e})
		_, _ = h.Write([]byte(evv.ev.ID))
	} else if g, err := p.ConcurrencyGroup(ctx, evv); err == nil {
		_, _ = h.Write([]byte{0x1f})
		_, _ = h.Write([]byte(g))
	}
	return int(h.Sum32() % uint32(k))
}

// createAll creates the executions of todo with one store write. As many
// as this engine has room for are created already claimed and started at
// once, which spares each a claim's round trip and the wait for the claim
// loop; the rest are left queued for a claim. The first in todo (the
// oldest events) get the room, and a group of which todo holds several
// executions is marked first (markBursts), so a group's executions still
// start in publish order, whether started here at once or claimed later.
func (e *Engine) createAll(ctx context.Context, todo []creation) error {
	// The room is reserved until the runs are in flight, so concurrent
	// intakes and claims never hold more than maxInflight.
	e.mu.Lock()
	room := 0
	if !e.stopping {
		room = max(0, min(len(todo), e.maxInflight()-len(e.inflight)-e.reserved))
	}
	e.reserved += room
	e.mu.Unlock()
	// Before the executions exist: once they do, a claim may take the
	// queued ones, even before those created claimed have started.
	groups := e.markBursts(ctx, todo)
	xs := make([]store.Execution, len(todo))
	for i, c := range todo {
		xs[i] = store.Execution{Pipeline: c.l.rec.Name, Version: c.l.rec.Version, EventID: c.ev.ID, Event: c.ev, Status: store.StatusQueued}
	}
	got, errs := e.st.CreateExecutions(ctx, xs, store.Claim{Owner: e.owner, Lease: e.cfg.Lease, Count: room})
	claimed := time.Now()
	// Run waits for the runs once stopping is set: a run is added only
	// while it is not, under the same lock.
	e.mu.Lock()
	stopping := e.stopping
	for i := range room {
		if errs[i] != nil || stopping {
			e.reserved--
		} else {
			e.runs.Add(1)
		}
	}
	e.mu.Unlock()
	var failed []error
	queued := false
	for i, err := range errs {
		switch {
		case err == nil:
			queued = queued || i >= room
		case errors.Is(err, store.ErrConflict):
			e.stats.duplicates.Add(1) // already created: a redelivery
		default:
			failed = append(failed, fmt.Errorf("pipeline: %s: create execution for event %s: %w", todo[i].l.rec.Name, todo[i].ev.ID, err))
		}
	}
	for i := range room {
		if errs[i] != nil {
			continue
		}
		x := got[i]
		if stopping {
			// Left for the next claim at once, as an interrupted run is,
			// but with StartedAt cleared, as a claim handed back to wait
			// for its group is: it never ran, so the next claim is no
			// rescue (which RescueFail would fail) and its pipeline
			// timeout counts from that claim.
			x.LeaseUntil = x.LeaseUntil.Add(-e.cfg.Lease)
			x.StartedAt = time.Time{}
			if _, err := e.updateExecution(x); err != nil {
				e.log.Warn("pipeline: release execution created while stopping", "pipeline", x.Pipeline, "execution", x.ID, "err", err)
			}
			continue
		}
		// The event's EventVars from matching: x.Event is that event.
		pre := prepared{evv: todo[i].evv}
		if groups != nil && groups[i].plan != nil {
			pre = groups[i]
		}
		e.start(x, claimed, pre)
		e.mu.Lock()
		e.reserved-- // now counted in inflight
		e.mu.Unlock()
		e.runs.Done()
	}
	if queued {
		e.backlog.Store(true)
		e.poke()
	}
	return errors.Join(failed...)
}

func (e *Engine) create(ctx context.Context, l *loaded, ev events.Event) (store.Execution, error) {
	x, err := e.st.CreateExecution(ctx, store.Execution{
		Pipeline: l.rec.Name, Version: l.rec.Version, EventID: ev.ID, Event: ev, Status: store.StatusQueued,
	})
	if err != nil {
		return store.Execution{}, fmt.Errorf("pipeline: %s: create execution for event %s: %w", l.rec.Name, ev.ID, err)
	}
	return x, nil
}

// Trigger creates an execution of pipeline for ev by hand (whether or not
// its triggers match ev, and even when it is disabled) and returns its id
// once it is stored. ev's missing ID, Source, Type and Time are filled in
// (an ID unique to this call, source "mockops/pipeline", type
// "pipeline.manual"). A second Trigger with the same ev.ID fails wrapping
// store.ErrConflict. The execution runs when an engine's Run claims it.
func (e *Engine) Trigger(ctx context.Context, pipeline string, ev events.Event) (string, error) {
	if e.isStopping() {
		return "", ErrStopped
	}
	l, err := e.loadedPlan(pipeline)
	if errors.Is(err, ErrNotLoaded) {
		if rerr := e.reload(ctx); rerr != nil {
			return "", rerr
		}
		l, err = e.loadedPlan(pipeline)
	}
	if err != nil {
		return "", err
	}
	now := e.now()
	if ev.ID == "" {
		ev.ID = events.NewID(now)
	}
	if ev.Source == "" {
		ev.Source = "mockops/pipeline"
	}
	if ev.Type == "" {
		ev.Type = "pipeline.manual"
	}
	if ev.Time.IsZero() {
		ev.Time = now.UTC()
	}
	if e.tooDeep(ev) {
		return "", fmt.Errorf("%w: event %s has depth %d", ErrCausationDepth, ev.ID, ev.Depth())
	}
	x, err := e.create(ctx, l, ev)
	if err != nil {
		return "", err
	}
	e.backlog.Store(true)
	e.poke()
	return x.ID, nil
}

// Wait blocks until execution id is in a terminal state, and returns it.
func (e *Engine) Wait(ctx context.Context, id string) (store.Execution, error) {
	for {
		e.mu.Lock()
		fin := e.finished
		e.mu.Unlock()
		x, err := e.st.GetExecution(ctx, id)
		if err != nil {
			return store.Execution{}, fmt.Errorf("pipeline: wait %s: %w", id, err)
		}
		if x.Status.Terminal() {
			return x, nil
		}
		t := time.NewTimer(e.cfg.PollInterval) // for executions run elsewhere
		select {
		case <-ctx.Done():
			t.Stop()
			return x, fmt.Errorf("pipeline: wait %s: %w", id, ctx.Err())
		case <-fin:
		case <-t.C:
		}
		t.Stop()
	}
}

// Cancel cancels execution id: a queued one at once, a running one as soon
// as its owner sees the request (at once when it is this engine, at its
// next lease renewal otherwise). Steps whose `if:` calls cancelled() or
// always() still run. It returns the execution as the store has it.
func (e *Engine) Cancel(ctx context.Context, id string) (store.Execution, error) {
	x, err := e.st.CancelExecution(ctx, id)
	if err != nil {
		return store.Execution{}, fmt.Errorf("pipeline: cancel %s: %w", id, err)
	}
	e.mu.Lock()
	r := e.inflight[id]
	e.mu.Unlock()
	if r != nil {
		r.requestCancel()
	}
	if x.Status.Terminal() {
		e.signalFinished()
	}
	return x, nil
}

// Executions lists stored executions, newest first.
func (e *Engine) Executions(ctx context.Context, q store.ExecutionQuery) (store.ExecutionPage, error) {
	p, err := e.st.ListExecutions(ctx, q)
	if err != nil {
		return store.ExecutionPage{}, fmt.Errorf("pipeline: executions: %w", err)
	}
	return p, nil
}

func (e *Engine) signalFinished() {
	e.mu.Lock()
	defer e.mu.Unlock()
	close(e.finished)
	e.finished = make(chan struct{})
}

// claimLoop claims executions while there is room, when woken (an
// execution created or finished here) and every PollInterval.
func (e *Engine) claimLoop(ctx context.Context) {
	t := time.NewTicker(e.cfg.PollInterval)
	defer t.Stop()
	for {
		for e.claim(ctx) && !e.groupWaited.Swap(false) {
		}
		// A wake-up claims only when this engine left something to claim
		// (backlog): executions it created queued, or handed back to wait
		// for their group. Most executions are created claimed, and a
		// claim that finds nothing still costs a write (SQLite's one
		// writer). Work from elsewhere waits for the tick.
		for wait := true; wait; {
			select {
			case <-ctx.Done():
				return
			case <-e.stopCh:
				return
			case <-e.wake:
				wait = !e.backlog.Load()
			case <-t.C:
				e.backlog.Store(true)
				wait = false
			}
		}
	}
}

// claim claims as many executions as there is room for, and reports
// whether it filled the room (there may be more to claim).
func (e *Engine) claim(ctx context.Context) bool {
	e.mu.Lock()
	free := e.maxInflight() - len(e.inflight) - e.reserved
	stopping := e.stopping
	e.mu.Unlock()
	if free <= 0 || stopping {
		return false
	}
	// Cleared before the claim reads: a creation after the read sets it
	// again, so its wake-up is not lost.
	e.backlog.Store(false)
	xs, err := e.st.ClaimExecutions(ctx, e.owner, e.cfg.Lease, free)
	if err != nil {
		e.backlog.Store(true)
		if ctx.Err() == nil {
			e.log.Error("pipeline: claim executions", "owner", e.owner, "err", err)
		}
		return false
	}
	if len(xs) == free {
		e.backlog.Store(true) // there may be more
	}
	claimed := time.Now()
	var groups []prepared
	if len(xs) > 1 {
		s := e.snap.Load()
		cs := make([]creation, len(xs))
		for i, x := range xs {
			cs[i] = creation{l: s.byName[x.Pipeline], ev: x.Event} // l nil: not loaded, fails when it runs
		}
		groups = e.markBursts(ctx, cs)
	}
	for i, x := range xs {
		var pre prepared
		if groups != nil {
			pre = groups[i]
		}
		e.start(x, claimed, pre)
	}
	return len(xs) == free
}

// maxInflight bounds the executions claimed at once: more than Workers,
// since an execution mostly waits (for a step slot, a backoff, a slow
// step), and claiming ahead keeps the slots busy between finishes.
func (e *Engine) maxInflight() int { return 4 * e.cfg.Workers }

// renewLoop extends the leases of the executions in flight every Lease/3,
// and with the same write learns of cancellations requested elsewhere.
func (e *Engine) renewLoop(ctx context.Context) {
	t := time.NewTicker(e.cfg.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		e.mu.Lock()
		rs := make([]*run, 0, len(e.inflight))
		for _, r := range e.inflight {
			rs = append(rs, r)
		}
		e.mu.Unlock()
		for _, r := range rs {
			r.persist()
		}
	}
}

func (e *Engine) reloadLoop(ctx context.Context) {
	t := time.NewTicker(e.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := e.reload(ctx); err != nil && ctx.Err() == nil {
			e.log.Error("pipeline: reload definitions", "err", err)
		}
	}
}
