package federation_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/mockops/mockops/federation"
)

type blockingObserver struct {
	release chan struct{}
	mu      sync.Mutex
	seen    []string
}

func (o *blockingObserver) Observe(x federation.Exchange) {
	<-o.release
	o.mu.Lock()
	o.seen = append(o.seen, x.Path)
	o.mu.Unlock()
}

func TestObserverQueue(t *testing.T) {
	slow := &blockingObserver{release: make(chan struct{})}
	q := federation.NewObserverQueue(slow, 2)
	// While Run is not draining, Observe must neither block nor keep more
	// than the queue holds; the request must not survive the call.
	for _, p := range []string{"/a", "/b", "/c", "/d"} {
		q.Observe(federation.Exchange{Path: p})
	}
	if got := q.Dropped(); got != 2 {
		t.Errorf("Dropped() = %d; want 2", got)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	cancel()
	close(slow.release)
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run() = %v; want context.Canceled", err)
	}
	slow.mu.Lock()
	defer slow.mu.Unlock()
	if len(slow.seen) != 2 || slow.seen[0] != "/a" || slow.seen[1] != "/b" {
		t.Errorf("delivered %v; want [/a /b] (Run drains the queue before returning)", slow.seen)
	}
}
