package sqlstore

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/store"
)

// TestReplicasClaimPostgres is three replicas (three Stores, three pools)
// sharing one PostgreSQL schema and racing to claim the same queue: every
// execution must go to exactly one of them.
func TestReplicasClaimPostgres(t *testing.T) {
	dsn, schema := newSchema(t)
	replicas := make([]*Store, 3)
	for i := range replicas {
		replicas[i] = openPostgresIn(t, dsn, schema)
	}
	testReplicasClaim(t, replicas, 2000)
}

// TestReplicasClaimSQLite is the same race on one SQLite file: the stores
// share no in-process lock, so this exercises the busy timeout and
// BEGIN IMMEDIATE the way separate processes would.
func TestReplicasClaimSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "replicas.db")
	replicas := make([]*Store, 3)
	for i := range replicas {
		replicas[i] = openSQLiteAt(t, path)
	}
	testReplicasClaim(t, replicas, 600)
}

func testReplicasClaim(t *testing.T, replicas []*Store, total int) {
	ctx := testCtx(t)
	// Fill the queue from every replica at once, as triggers would arrive.
	var wg sync.WaitGroup
	errs := make(chan error, len(replicas))
	for r, s := range replicas {
		wg.Go(func() {
			for i := r; i < total; i += len(replicas) {
				ev, err := events.New(events.TypeSchemaChanged, "ws", map[string]int{"i": i})
				if err == nil {
					_, err = s.CreateExecution(ctx, store.Execution{Pipeline: "p", Version: 1, EventID: ev.ID, Event: ev})
				}
				if err != nil {
					errs <- fmt.Errorf("replica %d: create %d: %w", r, i, err)
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

	var (
		mu        sync.Mutex
		claimedBy = make(map[string][]int, total)
		perOwner  = make([]int, len(replicas))
	)
	deadline := time.Now().Add(time.Minute)
	errs = make(chan error, len(replicas)*2)
	// Two workers per replica, so claims also race within one pool.
	for r, s := range replicas {
		for w := range 2 {
			owner := fmt.Sprintf("replica-%d-worker-%d", r, w)
			wg.Go(func() {
				for time.Now().Before(deadline) {
					xs, err := s.ClaimExecutions(ctx, owner, time.Minute, 7)
					if err != nil {
						errs <- fmt.Errorf("%s: claim: %w", owner, err)
						return
					}
					if len(xs) == 0 {
						return // the queue is empty: leases are a minute long
					}
					mu.Lock()
					for _, x := range xs {
						claimedBy[x.ID] = append(claimedBy[x.ID], r)
						perOwner[r]++
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	page, err := replicas[0].ListExecutions(ctx, store.ExecutionQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var stored []store.Execution
	q := store.ExecutionQuery{Limit: 1000}
	for {
		stored = append(stored, page.Executions...)
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
		if page, err = replicas[0].ListExecutions(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if len(stored) != total {
		t.Fatalf("stored %d executions; want %d", len(stored), total)
	}
	for _, x := range stored {
		if got := claimedBy[x.ID]; len(got) != 1 {
			t.Errorf("execution %s claimed by replicas %v; want exactly one", x.ID, got)
		}
		if x.Status != store.StatusRunning || x.Attempt != 1 {
			t.Errorf("execution %s after the race: Status %s, Attempt %d; want running, 1", x.ID, x.Status, x.Attempt)
		}
	}
	if len(claimedBy) != total {
		t.Errorf("%d distinct executions claimed; want %d", len(claimedBy), total)
	}
	t.Logf("claims per replica: %v", perOwner)
}
