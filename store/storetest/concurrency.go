package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mockops/mockops/store"
)

// testStateCompareAndSwap has goroutines increment one counter with
// read-modify-write loops: compare-and-swap must lose no increment.
func testStateCompareAndSwap(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	const workers, increments = 8, 20
	if _, err := s.PutState(ctx, store.StateEntry{Scope: "shop", Key: "counter", Value: json.RawMessage(`{"n":0}`)}); err != nil {
		t.Fatalf("PutState: %v", err)
	}
	var conflicts atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range increments {
				for {
					e, err := s.GetState(ctx, "shop", "counter")
					if err != nil {
						t.Errorf("worker %d: GetState: %v", w, err)
						return
					}
					var v struct{ N int }
					if err := json.Unmarshal(e.Value, &v); err != nil {
						t.Errorf("worker %d: value %s: %v", w, e.Value, err)
						return
					}
					e.Value = json.RawMessage(fmt.Sprintf(`{"n":%d}`, v.N+1))
					// Yield between read and write, so that the workers
					// interleave even on a store this fast.
					runtime.Gosched()
					_, err = s.PutState(ctx, e)
					if errors.Is(err, store.ErrConflict) {
						conflicts.Add(1)
						continue
					}
					if err != nil {
						t.Errorf("worker %d: PutState: %v", w, err)
						return
					}
					break
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d compare-and-swap conflicts retried", conflicts.Load())
	e, err := s.GetState(ctx, "shop", "counter")
	if err != nil {
		t.Fatalf("GetState: %v", err)
	}
	if !jsonEqual(e.Value, json.RawMessage(fmt.Sprintf(`{"n":%d}`, workers*increments))) {
		t.Errorf("counter = %s; want {\"n\":%d}", e.Value, workers*increments)
	}
	if e.Version != 1+workers*increments {
		t.Errorf("counter Version = %d; want %d (one per successful put)", e.Version, 1+workers*increments)
	}
}

// testConcurrentCreateSameEvent is several replicas seeing one event at
// once: exactly one of them gets to create the execution.
func testConcurrentCreateSameEvent(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	const replicas = 8
	x := newExecution("p")
	var created, conflicts atomic.Int64
	var wg sync.WaitGroup
	for range replicas {
		wg.Go(func() {
			_, err := s.CreateExecution(ctx, x)
			switch {
			case err == nil:
				created.Add(1)
			case errors.Is(err, store.ErrConflict):
				conflicts.Add(1)
			default:
				t.Errorf("CreateExecution: %v", err)
			}
		})
	}
	wg.Wait()
	if created.Load() != 1 || conflicts.Load() != replicas-1 {
		t.Errorf("%d concurrent creates of one (pipeline, event): %d created, %d conflicts; want 1, %d", replicas, created.Load(), conflicts.Load(), replicas-1)
	}
}

// testParallelWriters mixes every kind of write at once; under -race it
// is what finds unsynchronised state in an adapter.
func testParallelWriters(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	const workers, rounds = 8, 15
	var wg sync.WaitGroup
	var shared atomic.Int64
	for w := range workers {
		wg.Go(func() {
			name := fmt.Sprintf("pipeline-%d", w)
			version := int64(0)
			for i := range rounds {
				p, err := s.PutPipeline(ctx, store.Pipeline{Name: name, Version: version, Source: []byte(fmt.Sprintf("round: %d", i))})
				if err != nil {
					t.Errorf("worker %d: PutPipeline version %d: %v", w, version, err)
					return
				}
				version = p.Version
				if _, err := s.PutPipeline(ctx, store.Pipeline{Name: "shared", Version: store.AnyVersion, Source: []byte(name)}); err != nil {
					t.Errorf("worker %d: PutPipeline(shared, AnyVersion): %v", w, err)
					return
				}
				shared.Add(1)
				if _, err := s.CreateExecution(ctx, newExecution(name)); err != nil {
					t.Errorf("worker %d: CreateExecution: %v", w, err)
					return
				}
				if _, err := s.ListExecutions(ctx, store.ExecutionQuery{Pipeline: name, Limit: 5}); err != nil {
					t.Errorf("worker %d: ListExecutions: %v", w, err)
					return
				}
				if _, err := s.ListPipelines(ctx, store.PipelineQuery{}); err != nil {
					t.Errorf("worker %d: ListPipelines: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	ps, err := s.ListPipelines(ctx, store.PipelineQuery{})
	if err != nil {
		t.Fatalf("ListPipelines: %v", err)
	}
	if len(ps) != workers+1 {
		t.Errorf("ListPipelines = %d pipelines; want %d", len(ps), workers+1)
	}
	for _, p := range ps {
		want := int64(rounds)
		if p.Name == "shared" {
			want = shared.Load()
		}
		if p.Version != want {
			t.Errorf("pipeline %s Version = %d; want %d", p.Name, p.Version, want)
		}
	}
	seen, _ := walk(t, ctx, s, store.ExecutionQuery{Limit: 1000})
	if len(seen) != workers*rounds {
		t.Errorf("stored %d executions; want %d", len(seen), workers*rounds)
	}
}

// testConcurrentClaims has claimers race creators: every execution must be
// claimed exactly once.
func testConcurrentClaims(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	const creators, perCreator, claimers = 4, 30, 4
	const total = creators * perCreator
	var claimedCount atomic.Int64
	var mu sync.Mutex
	claimedBy := map[string][]string{} // execution -> owners
	created := map[string]bool{}
	var wg sync.WaitGroup
	for c := range creators {
		wg.Go(func() {
			for range perCreator {
				x, err := s.CreateExecution(ctx, newExecution(fmt.Sprintf("p%d", c)))
				if err != nil {
					t.Errorf("creator %d: CreateExecution: %v", c, err)
					return
				}
				mu.Lock()
				created[x.ID] = true
				mu.Unlock()
			}
		})
	}
	deadline := time.Now().Add(30 * time.Second)
	for c := range claimers {
		owner := fmt.Sprintf("claimer-%d", c)
		wg.Go(func() {
			for claimedCount.Load() < total && time.Now().Before(deadline) && !t.Failed() {
				xs, err := s.ClaimExecutions(ctx, owner, longLease, 3)
				if err != nil {
					t.Errorf("%s: ClaimExecutions: %v", owner, err)
					return
				}
				mu.Lock()
				for _, x := range xs {
					claimedBy[x.ID] = append(claimedBy[x.ID], owner)
					if x.Owner != owner || x.Attempt != 1 {
						t.Errorf("%s claimed %s with Owner %q, Attempt %d", owner, x.ID, x.Owner, x.Attempt)
					}
				}
				mu.Unlock()
				if claimedCount.Add(int64(len(xs))); len(xs) == 0 {
					time.Sleep(time.Millisecond) // nothing queued yet; let the creators run
				}
			}
		})
	}
	wg.Wait()
	if len(created) != total {
		t.Fatalf("created %d executions; want %d", len(created), total)
	}
	for id := range created {
		if owners := claimedBy[id]; len(owners) != 1 {
			t.Errorf("execution %s claimed by %v; want exactly one owner", id, owners)
		}
	}
	for id := range claimedBy {
		if !created[id] {
			t.Errorf("claimed %s, which no creator made", id)
		}
	}
}
