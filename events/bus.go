package events

import (
	"context"
	"errors"
	"slices"
)

// ErrClosed is returned by Publish and Subscribe once a bus is closed or
// shutting down.
var ErrClosed = errors.New("events: bus closed")

// Handler receives one event. Its ctx ends when the subscription or the bus
// is closed; a handler that blocks must watch it. What an error means depends
// on the bus: the memory bus counts and logs it, an at-least-once bus
// delivers the event again.
type Handler func(ctx context.Context, e Event) error

// Filter selects the events a subscriber receives. The zero Filter selects
// every event.
type Filter struct {
	Types     []Type // any of these types; empty = every type
	Workspace string // only this workspace; empty = every workspace
}

// Match reports whether e passes the filter.
func (f Filter) Match(e Event) bool {
	if f.Workspace != "" && f.Workspace != e.Workspace {
		return false
	}
	return len(f.Types) == 0 || slices.Contains(f.Types, e.Type)
}

// Publisher sends events. Publish returns once every matching subscriber
// has the event queued (or, for a durable bus, once it is stored).
type Publisher interface {
	Publish(ctx context.Context, e Event) error
}

// Subscriber registers handlers. The subscription ends when it is closed,
// when ctx ends, or when the bus is closed.
type Subscriber interface {
	Subscribe(ctx context.Context, f Filter, h Handler) (Subscription, error)
}

// BatchHandler receives the events waiting for a subscription together,
// in the order a Handler would receive them one by one. es is never empty
// and is valid only until the handler returns (the bus reuses it). An
// error stands for the whole batch, as a Handler's does for its event.
type BatchHandler func(ctx context.Context, es []Event) error

// BatchSubscriber is a Subscriber that can hand a handler every event
// already waiting for it, up to max, in one call: for a handler that
// writes what it receives and pays per write (a commit), not per event.
// A batch never waits to fill: a lone event is handed over at once, so
// batches grow only when events arrive faster than the handler returns.
// The memory bus is one.
type BatchSubscriber interface {
	SubscribeBatch(ctx context.Context, f Filter, max int, h BatchHandler) (Subscription, error)
}

// Subscription is a registered handler. Close is idempotent; after it
// returns, no further event is handed to the handler (a call already in
// progress may finish).
type Subscription interface {
	Close() error
}

// Bus carries events from publishers to subscribers. Close stops it at once,
// returns only after every handler call in progress has returned, and is
// idempotent; afterwards Publish and Subscribe return ErrClosed.
type Bus interface {
	Publisher
	Subscriber
	Close() error
}

// checkPublishable is the part of Validate that a bus pays for on every
// Publish: the payload was checked when the event was built or decoded.
func checkPublishable(e Event) error {
	if e.ID == "" || e.Type == "" || e.Source == "" {
		return e.Validate()
	}
	return nil
}
