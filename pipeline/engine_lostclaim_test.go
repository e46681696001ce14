package pipeline_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/memory"
)

// unreachableStore fails every execution update and claim while down is
// set, as a database the engine cannot reach would: its lease renewals
// are lost.
type unreachableStore struct {
	store.Store
	down atomic.Bool
	// claimsWork lets claims through while down: an engine whose
	// renewals fail but whose claims succeed.
	claimsWork bool
}

var errUnreachable = errors.New("database unreachable")

func (s *unreachableStore) UpdateExecution(ctx context.Context, x store.Execution) (store.Execution, error) {
	if s.down.Load() {
		return store.Execution{}, errUnreachable
	}
	return s.Store.UpdateExecution(ctx, x)
}

func (s *unreachableStore) ClaimExecutions(ctx context.Context, owner string, lease time.Duration, n int) ([]store.Execution, error) {
	if s.down.Load() && !s.claimsWork {
		return nil, errUnreachable
	}
	return s.Store.ClaimExecutions(ctx, owner, lease, n)
}

func (s *unreachableStore) UpdateExecutions(ctx context.Context, xs []store.Execution) ([]store.Execution, []error) {
	if s.down.Load() {
		errs := make([]error, len(xs))
		for i := range errs {
			errs[i] = errUnreachable
		}
		return make([]store.Execution, len(xs)), errs
	}
	return s.Store.UpdateExecutions(ctx, xs)
}

// TestEngineLostClaimDuringLastStep: an engine that could not renew its
// lease while the last step of an execution ran, so that another owner
// claimed the execution meanwhile, learns of it from the write that
// follows the step (with the last step, its conclusion). It must then
// behave as for a claim lost at any other write: count no finished
// execution and leave the concurrency group to the execution's new
// owner, so that no other execution of the group runs beside it.
func TestEngineLostClaimDuringLastStep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		st := &unreachableStore{Store: memory.New()}
		release := make(chan struct{})
		c := &calls{}
		rec := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
		defer tp.Shutdown(context.Background())
		h := start(t, pipeline.Config{Store: st, Lease: 3 * time.Second, TracerProvider: tp, Steps: registry(map[string]probeFunc{
			"s": func(ctx context.Context, _ steps.Input, _ probeConfig) (steps.Output, error) {
				select {
				case <-release:
				case <-ctx.Done():
				}
				return steps.Output{}, nil
			},
		}, c)})
		h.put(groupPipeline("queue"))
		id, err := h.eng.Trigger(ctx, "grouped", event(t, events.TypeSchemaChanged, "ws", map[string]string{"g": "a"}))
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // its step runs, holding the group

		st.down.Store(true)
		time.Sleep(4 * time.Second) // the renewals fail; the lease ends
		xs, err := st.Store.ClaimExecutions(ctx, "other", time.Hour, 1)
		if err != nil || len(xs) != 1 || xs[0].ID != id {
			t.Fatalf("ClaimExecutions by another owner = %v, %v; want execution %s", xs, err, id)
		}
		st.down.Store(false)
		close(release) // the step ends; the write after it is refused
		synctest.Wait()

		if got := h.eng.Stats().Executions; len(got) != 0 {
			t.Errorf("Stats().Executions = %v after the claim was lost; want none finished here", got)
		}
		if x, err := st.GetExecution(ctx, id); err != nil || x.Status != store.StatusRunning || x.Owner != "other" {
			t.Fatalf("execution = %s owned by %s, %v; want running, owned by other", x.Status, x.Owner, err)
		}
		if _, err := st.GetState(ctx, pipeline.GroupScope, "grouped\x1fa"); err != nil {
			t.Errorf("group entry of the execution now owned by other: %v; want it kept", err)
		}
		// Its span says the claim was lost, not that it succeeded.
		spans := 0
		for _, sp := range rec.Ended() {
			if !strings.HasPrefix(sp.Name(), "pipeline ") {
				continue
			}
			spans++
			status := ""
			for _, a := range sp.Attributes() {
				if a.Key == "mockops.status" {
					status = a.Value.AsString()
				}
			}
			if sp.Status().Code != codes.Error || status != string(store.StatusRunning) {
				t.Errorf("execution span: status %v %q, mockops.status %q; want an error, running (it runs on elsewhere)",
					sp.Status().Code, sp.Status().Description, status)
			}
		}
		if spans != 1 {
			t.Errorf("%d execution spans ended; want 1", spans)
		}
		// Another execution of the group waits for the one other holds.
		id2, err := h.eng.Trigger(ctx, "grouped", event(t, events.TypeSchemaChanged, "ws", map[string]string{"g": "a"}))
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if order, _ := c.got(); len(order) != 1 {
			t.Errorf("%d step runs; want 1: execution %s ran while %s held its group elsewhere", len(order), id2, id)
		}
		h.stop()
	})
}
