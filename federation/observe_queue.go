package federation

import (
	"context"
	"sync/atomic"
)

// ObserverQueue hands exchanges to another Observer on a goroutine of its
// own, through a bounded queue, so an observer that does I/O (a database, a
// remote collector) adds nothing to response times. When the queue is full
// the exchange is dropped and counted: observation is best effort, serving
// is not.
//
// Give the queue to RouterConfig.Observer and call Run, which delivers
// until its context ends and then drains what is queued.
type ObserverQueue struct {
	next    Observer
	queue   chan Exchange
	dropped atomic.Uint64
}

var _ Observer = (*ObserverQueue)(nil)

// NewObserverQueue returns a queue of size exchanges (1024 when size <= 0)
// in front of next.
func NewObserverQueue(next Observer, size int) *ObserverQueue {
	if size <= 0 {
		size = 1024
	}
	return &ObserverQueue{next: next, queue: make(chan Exchange, size)}
}

// Observe queues x without blocking. x.Request is cleared: the request is
// only valid during the Router's call.
func (q *ObserverQueue) Observe(x Exchange) {
	x.Request = nil
	select {
	case q.queue <- x:
	default:
		q.dropped.Add(1)
	}
}

// Dropped returns how many exchanges were dropped because the queue was full.
func (q *ObserverQueue) Dropped() uint64 { return q.dropped.Load() }

// Run delivers queued exchanges to the next observer until ctx ends, then
// delivers what is still queued and returns ctx's error.
func (q *ObserverQueue) Run(ctx context.Context) error {
	for {
		select {
		case x := <-q.queue:
			q.next.Observe(x)
		case <-ctx.Done():
			for {
				select {
				case x := <-q.queue:
					q.next.Observe(x)
				default:
					return ctx.Err()
				}
			}
		}
	}
}
