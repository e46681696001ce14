package pipeline

import (
	"context"
	"sync"
	"time"

	"github.com/mockops/mockops/store"
)

// DefaultCompletionBatch is Config.CompletionBatch's default: the most
// execution writes one store call carries.
const DefaultCompletionBatch = 64

// DefaultIntakeBatch is Config.IntakeBatch's default: the most events one
// intake call turns into executions.
const DefaultIntakeBatch = 64

// batcher group-commits the engine's execution writes (step starts and
// finishes, conclusions, lease renewals, releases): the runs in flight
// share one store.UpdateExecutions call, one transaction in the SQL store,
// instead of paying a commit each. A run's write is never acknowledged
// before it is stored, so every guarantee of a direct UpdateExecution
// holds: a finished step is stored before the next one starts, a refused
// claim is seen by its run, and nothing is left to flush on Shutdown (a
// run ends only once its writes are stored).
//
// There is no writer goroutine: the first run to write while no batch is
// being written leads: it writes every pending write, its own included,
// and once its own is stored hands the lead to the oldest write still
// pending. A write that finds a batch being written waits to be carried by
// the next one. So a lone write goes straight to the store, and batches
// grow with the load, by themselves. A delay makes the leader wait up to
// that long for a full batch first, for stores whose commit costs most.
type batcher struct {
	st    store.Executions
	max   int
	delay time.Duration

	mu      sync.Mutex
	pending []*pendingWrite
	leading bool // a run is leading: new writes wait for it
	// grew is signalled when a write is queued, for a leader filling a
	// batch (buffered 1, never blocks).
	grew chan struct{}

	// batches and rows count the store calls made and the writes they
	// carried.
	batches, rows int64

	// The leader's buffers, reused from batch to batch: there is one
	// leader at a time, and it is done with them before it hands over.
	batch []*pendingWrite
	xs    []store.Execution
	seen  map[string]bool
}

type pendingWrite struct {
	x   store.Execution // what to store, then what the store answered
	err error
	// done is closed when the write is stored, or when its run must lead
	// (lead set first); nil for the write of the run that leads at once.
	done chan struct{}
	lead bool
}

func newBatcher(st store.Executions, max int, delay time.Duration) *batcher {
	return &batcher{st: st, max: max, delay: delay, grew: make(chan struct{}, 1), seen: make(map[string]bool, max)}
}

// update stores x with the next batch and returns what the store answered
// for it.
func (b *batcher) update(x store.Execution) (store.Execution, error) {
	w := &pendingWrite{x: x}
	b.mu.Lock()
	b.pending = append(b.pending, w)
	if b.leading {
		w.done = make(chan struct{})
		b.mu.Unlock()
		select {
		case b.grew <- struct{}{}:
		default:
		}
		<-w.done
		if !w.lead {
			return w.x, w.err
		}
	} else {
		b.leading = true
		b.mu.Unlock()
	}
	b.lead(w)
	return w.x, w.err
}

// lead writes batches until own is stored, then hands the lead on.
func (b *batcher) lead(own *pendingWrite) {
	for {
		if b.delay > 0 {
			b.fill()
		}
		stored := b.flush(own)
		if !stored {
			continue
		}
		b.mu.Lock()
		if len(b.pending) == 0 {
			b.leading = false
		} else {
			next := b.pending[0]
			next.lead = true
			close(next.done)
		}
		b.mu.Unlock()
		return
	}
}

// fill waits up to the delay for a full batch.
func (b *batcher) fill() {
	t := time.NewTimer(b.delay)
	defer t.Stop()
	for {
		b.mu.Lock()
		n := len(b.pending)
		b.mu.Unlock()
		if n >= b.max {
			return
		}
		select {
		case <-b.grew:
		case <-t.C:
			return
		}
	}
}

// flush writes one batch of at most max pending writes, oldest first, and
// reports whether own was in it. A second write of an execution already in
// the batch waits for the next one: a batch holds each ID once.
func (b *batcher) flush(own *pendingWrite) bool {
	b.mu.Lock()
	if len(b.pending) == 1 {
		// Alone, the common case when the store keeps up: the plain call,
		// without the batch's bookkeeping.
		w := b.pending[0]
		b.pending = b.pending[:0]
		b.batches++
		b.rows++
		b.mu.Unlock()
		w.x, w.err = b.st.UpdateExecution(context.Background(), w.x)
		if w != own {
			close(w.done)
		}
		return w == own
	}
	batch, rest := b.batch[:0], b.pending[:0]
	for _, w := range b.pending {
		if len(batch) < b.max && !b.seen[w.x.ID] {
			b.seen[w.x.ID] = true
			batch = append(batch, w)
		} else {
			rest = append(rest, w) // in place: rest never passes the reading
		}
	}
	clear(b.pending[len(rest):])
	b.pending = rest
	clear(b.seen)
	b.batches++
	b.rows += int64(len(batch))
	b.mu.Unlock()

	xs := b.xs[:0]
	for _, w := range batch {
		xs = append(xs, w.x)
	}
	// Not the ctx of any one run: the batch serves them all, and a
	// completion must be stored even while the engine shuts down.
	got, errs := b.st.UpdateExecutions(context.Background(), xs)
	mine := false
	for i, w := range batch {
		w.x, w.err = got[i], errs[i]
		if w == own {
			mine = true
		} else {
			close(w.done)
		}
	}
	clear(xs)
	clear(batch)
	b.xs, b.batch = xs, batch
	return mine
}

// counts returns the batches written and the writes they carried.
func (b *batcher) counts() (batches, rows int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.batches, b.rows
}

// updateExecution stores x, batched with the other runs' writes unless
// Config.CompletionBatch is 1.
func (e *Engine) updateExecution(x store.Execution) (store.Execution, error) {
	if e.batch != nil {
		return e.batch.update(x)
	}
	return e.st.UpdateExecution(context.Background(), x)
}
