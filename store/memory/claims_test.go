package memory_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/memory"
)

// TestClaimsMatchModel drives the store with random creates, claims,
// finishes, cancels and revivals, and checks every claim against the
// obvious model: the queued executions in ID order (leases here never
// expire). The store keeps finished executions in its claim list for a
// while and drops them lazily; the model shows that this never changes
// what a claim returns.
func TestClaimsMatchModel(t *testing.T) {
	ctx := t.Context()
	s := memory.New()
	defer s.Close()
	rng := rand.New(rand.NewPCG(8, 12))
	status := map[string]store.Status{}
	claimed := map[string]store.Execution{}
	finished := map[string]store.Execution{} // by their owner, who may still write them
	for step := range 6000 {
		switch op := rng.IntN(10); {
		case op < 4:
			x, err := s.CreateExecution(ctx, store.Execution{Pipeline: "p", EventID: fmt.Sprint("e", step)})
			if err != nil {
				t.Fatal(err)
			}
			status[x.ID] = x.Status
		case op < 6:
			n := 1 + rng.IntN(5)
			var want []string
			for id, st := range status {
				if st == store.StatusQueued {
					want = append(want, id)
				}
			}
			slices.Sort(want)
			want = want[:min(n, len(want))]
			got, err := s.ClaimExecutions(ctx, "w", time.Hour, n)
			if err != nil {
				t.Fatal(err)
			}
			var gotIDs []string
			for _, x := range got {
				gotIDs = append(gotIDs, x.ID)
				status[x.ID] = x.Status
				claimed[x.ID] = x
			}
			if diff := cmp.Diff(want, gotIDs); diff != "" {
				t.Fatalf("step %d: ClaimExecutions(%d) (-model +got):\n%s", step, n, diff)
			}
		case op < 9:
			// Finish (or, once in a while, revive to queued) a claimed one.
			for id, x := range claimed {
				x.Status = store.StatusSucceeded
				if rng.IntN(8) == 0 {
					x.Status = store.StatusQueued
				}
				got, err := s.UpdateExecution(ctx, x)
				if err != nil {
					t.Fatal(err)
				}
				status[id] = got.Status
				delete(claimed, id)
				if got.Status.Terminal() {
					finished[id] = got
				}
				break
			}
			// Now and then the owner of a finished one puts it back in the
			// queue, which makes a finished ID active again.
			if rng.IntN(4) == 0 {
				for id, x := range finished {
					x.Status = store.StatusQueued
					if _, err := s.UpdateExecution(ctx, x); err != nil {
						t.Fatal(err)
					}
					status[id] = store.StatusQueued
					delete(finished, id)
					break
				}
			}
		default:
			for id, st := range status {
				if st == store.StatusQueued {
					got, err := s.CancelExecution(ctx, id)
					if err != nil {
						t.Fatal(err)
					}
					status[id] = got.Status
					break
				}
			}
		}
	}
}
