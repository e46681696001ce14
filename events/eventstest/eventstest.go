// Package eventstest is the conformance suite for events.Bus
// implementations. An adapter's test is a constructor and one call:
//
//	func TestConformance(t *testing.T) {
//		eventstest.Run(t, eventstest.Features{}, func(t *testing.T) events.Bus {
//			return events.NewMemoryBus(events.MemoryConfig{})
//		})
//	}
//
// The suite needs a bus that buffers at least 64 events per subscriber,
// delivers each subscriber's events in publish order, and whose Close
// returns only after every handler call has returned (the events.Bus
// contract): cases close the bus to know that no late delivery is still on
// its way. Cases synchronise only on what handlers have recorded (a
// handler records, then signals), never on sleeps, so a slow machine makes
// them slower, not flaky.
package eventstest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mockops/mockops/events"
)

// Features says what the bus under test promises beyond the common
// contract, so cases can hold it to that.
type Features struct {
	// AtLeastOnce: an event whose handler fails (error or panic) is
	// delivered again, and any event may be delivered more than once. When
	// false, the bus delivers each event at most once per subscriber.
	AtLeastOnce bool
	// Timeout bounds every wait for a delivery; zero means 10 seconds.
	Timeout time.Duration
}

func (f Features) timeout() time.Duration {
	if f.Timeout > 0 {
		return f.Timeout
	}
	return 10 * time.Second
}

// Run runs the conformance suite. newBus returns a fresh, empty bus for each
// case; the suite closes it when the case ends.
func Run(t *testing.T, f Features, newBus func(t *testing.T) events.Bus) {
	t.Helper()
	cases := []struct {
		name string
		run  func(t *testing.T, f Features, bus events.Bus)
	}{
		{"Delivery", testDelivery},
		{"Filters", testFilters},
		{"Ordering", testOrdering},
		{"FanOut", testFanOut},
		{"Unsubscribe", testUnsubscribe},
		{"ContextEndsSubscription", testContextEndsSubscription},
		{"Close", testClose},
		{"SlowSubscriberIsolation", testSlowSubscriber},
		{"ConcurrentPublishers", testConcurrentPublishers},
		{"HandlerPanic", testHandlerPanic},
		{"HandlerError", testHandlerError},
		{"InvalidEvent", testInvalidEvent},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bus := newBus(t)
			t.Cleanup(func() {
				if err := bus.Close(); err != nil {
					t.Errorf("Close() = %v; want nil", err)
				}
			})
			c.run(t, f, bus)
		})
	}
}

// recorder collects what a handler saw. For at-least-once buses it keeps
// only the first delivery of each ID in seen, and counts every delivery.
type recorder struct {
	mu     sync.Mutex
	seen   []events.Event
	counts map[string]int
	wake   chan struct{}
}

func newRecorder() *recorder {
	return &recorder{counts: make(map[string]int), wake: make(chan struct{}, 1)}
}

func (r *recorder) handle(_ context.Context, e events.Event) error {
	r.mu.Lock()
	if r.counts[e.ID] == 0 {
		r.seen = append(r.seen, e)
	}
	r.counts[e.ID]++
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return nil
}

func (r *recorder) snapshot() ([]events.Event, map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	counts := make(map[string]int, len(r.counts))
	for k, v := range r.counts {
		counts[k] = v
	}
	return append([]events.Event(nil), r.seen...), counts
}

// waitFor waits until the recorder has seen n distinct events.
func (r *recorder) waitFor(t *testing.T, f Features, n int) []events.Event {
	t.Helper()
	deadline := time.NewTimer(f.timeout())
	defer deadline.Stop()
	for {
		seen, _ := r.snapshot()
		if len(seen) >= n {
			return seen
		}
		select {
		case <-r.wake:
		case <-deadline.C:
			t.Fatalf("after %v: received %d distinct events; want %d", f.timeout(), len(seen), n)
		}
	}
}

// waitID waits until the recorder has seen the event with this ID.
func (r *recorder) waitID(t *testing.T, f Features, id string) {
	t.Helper()
	deadline := time.NewTimer(f.timeout())
	defer deadline.Stop()
	for {
		if _, counts := r.snapshot(); counts[id] > 0 {
			return
		}
		select {
		case <-r.wake:
		case <-deadline.C:
			t.Fatalf("after %v: event %s not delivered", f.timeout(), id)
		}
	}
}

// closeBus closes the bus in the middle of a case, to wait for every
// handler call still running: Close returns only after they have.
func closeBus(t *testing.T, bus events.Bus) {
	t.Helper()
	if err := bus.Close(); err != nil {
		t.Fatalf("Close() = %v; want nil", err)
	}
}

func mustEvent(t *testing.T, typ events.Type, ws string, data any) events.Event {
	t.Helper()
	e, err := events.New(typ, ws, data)
	if err != nil {
		t.Fatalf("events.New(%q, %q, %v) = %v", typ, ws, data, err)
	}
	return e
}

func subscribe(t *testing.T, bus events.Bus, f events.Filter, h events.Handler) events.Subscription {
	t.Helper()
	sub, err := bus.Subscribe(t.Context(), f, h)
	if err != nil {
		t.Fatalf("Subscribe(%+v) = %v", f, err)
	}
	t.Cleanup(func() { sub.Close() })
	return sub
}

func publish(t *testing.T, bus events.Publisher, es ...events.Event) {
	t.Helper()
	for _, e := range es {
		if err := bus.Publish(t.Context(), e); err != nil {
			t.Fatalf("Publish(%s %s) = %v", e.Type, e.ID, err)
		}
	}
}

func ids(es []events.Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func seq(t *testing.T, e events.Event) int {
	t.Helper()
	n := e.Get("seq")
	if !n.Exists() {
		t.Fatalf("event %s has no seq", e.ID)
	}
	return int(n.Int())
}

func testDelivery(t *testing.T, f Features, bus events.Bus) {
	rec := newRecorder()
	subscribe(t, bus, events.Filter{}, rec.handle)
	e := mustEvent(t, events.TypeSchemaChanged, "payments", events.SchemaChange{SchemaType: "openapi", Path: "specs/payments.yaml"})
	e.Subject = "specs/payments.yaml"
	e.Org = "acme"
	e.Extensions = map[string]string{"traceparent": "00-abc-def-01"}
	publish(t, bus, e)
	got := rec.waitFor(t, f, 1)
	// A durable bus stores the payload as JSON, so compare it semantically.
	opts := cmp.Options{cmpopts.EquateEmpty(), cmp.Comparer(func(a, b json.RawMessage) bool {
		var x, y any
		return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && cmp.Equal(x, y)
	})}
	if diff := cmp.Diff(e, got[0], opts); diff != "" {
		t.Errorf("delivered event differs (-published +delivered):\n%s", diff)
	}
}

func testFilters(t *testing.T, f Features, bus events.Bus) {
	schemaA := mustEvent(t, events.TypeSchemaChanged, "a", nil)
	schemaB := mustEvent(t, events.TypeSchemaChanged, "b", nil)
	driftA := mustEvent(t, events.TypeDriftThresholdExceeded, "a", nil)
	driftB := mustEvent(t, events.TypeDriftThresholdExceeded, "b", nil)
	custom := mustEvent(t, "acme.custom", "", nil)
	// barrier matches every filter below; once each subscriber has it,
	// in-order delivery means every earlier event has been decided.
	barrier := mustEvent(t, events.TypeSchemaChanged, "a", nil)
	tests := []struct {
		name   string
		filter events.Filter
		want   []events.Event
	}{
		{"all", events.Filter{}, []events.Event{schemaA, schemaB, driftA, driftB, custom, barrier}},
		{"type", events.Filter{Types: []events.Type{events.TypeSchemaChanged}}, []events.Event{schemaA, schemaB, barrier}},
		{"types", events.Filter{Types: []events.Type{events.TypeSchemaChanged, events.TypeDriftThresholdExceeded}}, []events.Event{schemaA, schemaB, driftA, driftB, barrier}},
		{"workspace", events.Filter{Workspace: "a"}, []events.Event{schemaA, driftA, barrier}},
		{"type and workspace", events.Filter{Types: []events.Type{events.TypeSchemaChanged}, Workspace: "a"}, []events.Event{schemaA, barrier}},
	}
	recs := make([]*recorder, len(tests))
	for i, tt := range tests {
		recs[i] = newRecorder()
		subscribe(t, bus, tt.filter, recs[i].handle)
	}
	publish(t, bus, schemaA, schemaB, driftA, driftB, custom, barrier)
	for i, tt := range tests {
		recs[i].waitID(t, f, barrier.ID)
		got, _ := recs[i].snapshot()
		if diff := cmp.Diff(ids(tt.want), ids(got)); diff != "" {
			t.Errorf("filter %s (%+v) delivered (-want +got):\n%s", tt.name, tt.filter, diff)
		}
	}
}

func testOrdering(t *testing.T, f Features, bus events.Bus) {
	const n = 500
	rec := newRecorder()
	subscribe(t, bus, events.Filter{}, rec.handle)
	for i := range n {
		publish(t, bus, mustEvent(t, events.TypeConfigChanged, "ws", map[string]int{"seq": i}))
	}
	got := rec.waitFor(t, f, n)
	for i, e := range got {
		if s := seq(t, e); s != i {
			t.Fatalf("delivery %d has seq %d; want %d (events out of order)", i, s, i)
		}
	}
}

func testFanOut(t *testing.T, f Features, bus events.Bus) {
	const subs, n = 4, 100
	recs := make([]*recorder, subs)
	for i := range recs {
		recs[i] = newRecorder()
		subscribe(t, bus, events.Filter{}, recs[i].handle)
	}
	var want []string
	for i := range n {
		e := mustEvent(t, events.TypeScenarioPublished, "ws", map[string]int{"seq": i})
		want = append(want, e.ID)
		publish(t, bus, e)
	}
	for i, rec := range recs {
		got := rec.waitFor(t, f, n)
		if diff := cmp.Diff(want, ids(got)); diff != "" {
			t.Errorf("subscriber %d received (-want +got):\n%s", i, diff)
		}
	}
}

func testUnsubscribe(t *testing.T, f Features, bus events.Bus) {
	var (
		mu          sync.Mutex
		closed      bool
		lateCalls   int
		closedCalls int
	)
	closedRec := newRecorder()
	sub := subscribe(t, bus, events.Filter{}, func(ctx context.Context, e events.Event) error {
		mu.Lock()
		if closed {
			lateCalls++
		}
		closedCalls++
		mu.Unlock()
		return closedRec.handle(ctx, e)
	})
	other := newRecorder()
	subscribe(t, bus, events.Filter{}, other.handle)

	first := mustEvent(t, events.TypePersonaPublished, "ws", nil)
	publish(t, bus, first)
	closedRec.waitID(t, f, first.ID)
	other.waitID(t, f, first.ID)

	if err := sub.Close(); err != nil {
		t.Fatalf("Subscription.Close() = %v; want nil", err)
	}
	mu.Lock()
	closed = true
	mu.Unlock()
	if err := sub.Close(); err != nil {
		t.Fatalf("second Subscription.Close() = %v; want nil", err)
	}

	second := mustEvent(t, events.TypePersonaPublished, "ws", nil)
	publish(t, bus, second)
	other.waitID(t, f, second.ID)
	closeBus(t, bus) // every handler call has returned: a late one is counted
	mu.Lock()
	defer mu.Unlock()
	if lateCalls != 0 {
		t.Errorf("closed subscription's handler was called %d times after Close returned; want 0", lateCalls)
	}
}

func testContextEndsSubscription(t *testing.T, f Features, bus events.Bus) {
	ctx, cancel := context.WithCancel(t.Context())
	handlerCtx := make(chan context.Context, 1)
	var mu sync.Mutex
	var after []string
	var cancelled bool
	// The handler records before it signals: were it to signal first, the
	// test could mark the context cancelled between the two, and the first
	// event, delivered before the cancellation, would count as late.
	sub, err := bus.Subscribe(ctx, events.Filter{}, func(hctx context.Context, e events.Event) error {
		mu.Lock()
		if cancelled {
			after = append(after, e.ID)
		}
		mu.Unlock()
		select {
		case handlerCtx <- hctx:
		default:
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Subscribe = %v", err)
	}
	defer sub.Close()
	witness := newRecorder()
	subscribe(t, bus, events.Filter{}, witness.handle)

	first := mustEvent(t, events.TypeWorkspaceCreated, "ws", nil)
	publish(t, bus, first)
	var hctx context.Context
	select {
	case hctx = <-handlerCtx:
	case <-time.After(f.timeout()):
		t.Fatalf("first event not delivered within %v", f.timeout())
	}
	witness.waitID(t, f, first.ID)

	mu.Lock()
	cancelled = true
	mu.Unlock()
	cancel()
	select {
	case <-hctx.Done():
	case <-time.After(f.timeout()):
		t.Fatalf("handler context still live %v after the subscription context ended", f.timeout())
	}
	second := mustEvent(t, events.TypeWorkspaceCreated, "ws", nil)
	publish(t, bus, second)
	witness.waitID(t, f, second.ID)
	// The witness having the event says nothing about when the ended
	// subscription would have got it; Close returns only after every
	// handler call has returned, so a late delivery is in after by now.
	closeBus(t, bus)
	mu.Lock()
	defer mu.Unlock()
	if len(after) != 0 {
		t.Errorf("handler received %v after its context ended; want nothing", after)
	}
}

func testClose(t *testing.T, f Features, bus events.Bus) {
	handlerCtx := make(chan context.Context, 1)
	subscribe(t, bus, events.Filter{}, func(ctx context.Context, e events.Event) error {
		select {
		case handlerCtx <- ctx:
		default:
		}
		return nil
	})
	publish(t, bus, mustEvent(t, events.TypeConfigChanged, "ws", nil))
	var hctx context.Context
	select {
	case hctx = <-handlerCtx:
	case <-time.After(f.timeout()):
		t.Fatalf("event not delivered within %v", f.timeout())
	}
	if err := bus.Close(); err != nil {
		t.Fatalf("Close() = %v; want nil", err)
	}
	if err := bus.Close(); err != nil {
		t.Fatalf("second Close() = %v; want nil", err)
	}
	select {
	case <-hctx.Done():
	default:
		t.Errorf("handler context not cancelled after Close returned")
	}
	err := bus.Publish(t.Context(), mustEvent(t, events.TypeConfigChanged, "ws", nil))
	if !errors.Is(err, events.ErrClosed) {
		t.Errorf("Publish after Close = %v; want ErrClosed", err)
	}
	if _, err := bus.Subscribe(t.Context(), events.Filter{}, func(context.Context, events.Event) error { return nil }); !errors.Is(err, events.ErrClosed) {
		t.Errorf("Subscribe after Close = %v; want ErrClosed", err)
	}
}

func testSlowSubscriber(t *testing.T, f Features, bus events.Bus) {
	const n = 50
	release := make(chan struct{})
	defer close(release)
	blocked := make(chan struct{}, 1)
	subscribe(t, bus, events.Filter{}, func(ctx context.Context, e events.Event) error {
		select {
		case blocked <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})
	fast := newRecorder()
	subscribe(t, bus, events.Filter{}, fast.handle)
	for i := range n {
		publish(t, bus, mustEvent(t, events.TypeDriftThresholdExceeded, "ws", map[string]int{"seq": i}))
	}
	select {
	case <-blocked:
	case <-time.After(f.timeout()):
		t.Fatalf("slow subscriber never got its first event")
	}
	// The slow handler is stuck on its first event: the fast one must still
	// get all of them.
	fast.waitFor(t, f, n)
}

func testConcurrentPublishers(t *testing.T, f Features, bus events.Bus) {
	const publishers, each = 8, 100
	rec := newRecorder()
	subscribe(t, bus, events.Filter{}, rec.handle)
	var wg sync.WaitGroup
	errs := make(chan error, publishers)
	for p := range publishers {
		wg.Go(func() {
			for i := range each {
				e, err := events.New(events.TypeSchemaChanged, "ws", map[string]int{"pub": p, "seq": i})
				if err == nil {
					err = bus.Publish(t.Context(), e)
				}
				if err != nil {
					errs <- fmt.Errorf("publisher %d event %d: %w", p, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := rec.waitFor(t, f, publishers*each)
	next := make([]int, publishers)
	for _, e := range got {
		p := int(e.Get("pub").Int())
		if s := seq(t, e); s != next[p] {
			t.Fatalf("publisher %d: got seq %d; want %d (one publisher's events out of order)", p, s, next[p])
		}
		next[p]++
	}
}

func testHandlerPanic(t *testing.T, f Features, bus events.Bus) {
	rec := newRecorder()
	var once sync.Once
	subscribe(t, bus, events.Filter{}, func(ctx context.Context, e events.Event) error {
		once.Do(func() { panic("handler bug") })
		return rec.handle(ctx, e)
	})
	first := mustEvent(t, events.TypeConfigChanged, "ws", nil)
	second := mustEvent(t, events.TypeConfigChanged, "ws", nil)
	publish(t, bus, first, second)
	rec.waitID(t, f, second.ID)
	if f.AtLeastOnce {
		rec.waitID(t, f, first.ID) // the panicking delivery is retried
	}
}

func testHandlerError(t *testing.T, f Features, bus events.Bus) {
	rec := newRecorder()
	var mu sync.Mutex
	attempts := map[string]int{}
	subscribe(t, bus, events.Filter{}, func(ctx context.Context, e events.Event) error {
		mu.Lock()
		attempts[e.ID]++
		n := attempts[e.ID]
		mu.Unlock()
		if n == 1 && e.Get("fail").Bool() {
			return errors.New("transient failure")
		}
		return rec.handle(ctx, e)
	})
	failing := mustEvent(t, events.TypeConfigChanged, "ws", map[string]bool{"fail": true})
	next := mustEvent(t, events.TypeConfigChanged, "ws", nil)
	publish(t, bus, failing, next)
	rec.waitID(t, f, next.ID)
	if f.AtLeastOnce {
		rec.waitID(t, f, failing.ID)
		return
	}
	closeBus(t, bus) // a redelivery, if the bus made one, has happened by now
	mu.Lock()
	defer mu.Unlock()
	if attempts[failing.ID] != 1 {
		t.Errorf("failing event delivered %d times; want 1 (the bus is at-most-once)", attempts[failing.ID])
	}
}

func testInvalidEvent(t *testing.T, _ Features, bus events.Bus) {
	for _, e := range []events.Event{{}, {ID: "x", Source: "s"}, {ID: "x", Type: "t"}} {
		if err := bus.Publish(t.Context(), e); !errors.Is(err, events.ErrInvalid) {
			t.Errorf("Publish(%+v) = %v; want ErrInvalid", e, err)
		}
	}
}
