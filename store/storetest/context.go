package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/mockops/mockops/store"
)

// testCancelledContext calls every method with a cancelled context: each
// must fail with an error that wraps context.Canceled, and write nothing.
func testCancelledContext(t *testing.T, s store.Store) {
	live := ctxFor(t)
	// Records that exist, so that a method that skips the context check
	// would succeed rather than fail for another reason.
	if _, err := s.PutPipeline(live, store.Pipeline{Name: "p", Source: []byte("x")}); err != nil {
		t.Fatalf("PutPipeline: %v", err)
	}
	if _, err := s.PutFederation(live, store.FederationRecord{Name: "f", Spec: []byte("x")}); err != nil {
		t.Fatalf("PutFederation: %v", err)
	}
	if _, err := s.PutActivation(live, store.ScenarioActivation{Federation: "f", Scenario: "s"}); err != nil {
		t.Fatalf("PutActivation: %v", err)
	}
	if _, err := s.PutState(live, store.StateEntry{Scope: "f", Key: "k", Value: json.RawMessage(`1`)}); err != nil {
		t.Fatalf("PutState: %v", err)
	}
	x := mustCreate(t, live, s, newExecution("p"))

	ctx, cancel := context.WithCancel(live)
	cancel()
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"PutPipeline", func(ctx context.Context) error {
			_, err := s.PutPipeline(ctx, store.Pipeline{Name: "new", Source: []byte("x")})
			return err
		}},
		{"GetPipeline", func(ctx context.Context) error { _, err := s.GetPipeline(ctx, "p"); return err }},
		{"ListPipelines", func(ctx context.Context) error { _, err := s.ListPipelines(ctx, store.PipelineQuery{}); return err }},
		{"DeletePipeline", func(ctx context.Context) error { return s.DeletePipeline(ctx, "p", store.AnyVersion) }},
		{"CreateExecution", func(ctx context.Context) error {
			_, err := s.CreateExecution(ctx, newExecution("p"))
			return err
		}},
		{"CreateExecutions", func(ctx context.Context) error {
			_, errs := s.CreateExecutions(ctx, []store.Execution{newExecution("p"), newExecution("p")},
				store.Claim{Owner: "w1", Lease: longLease, Count: 1})
			return errors.Join(errs...)
		}},
		{"GetExecution", func(ctx context.Context) error { _, err := s.GetExecution(ctx, x.ID); return err }},
		{"ListExecutions", func(ctx context.Context) error {
			_, err := s.ListExecutions(ctx, store.ExecutionQuery{})
			return err
		}},
		{"ClaimExecutions", func(ctx context.Context) error {
			_, err := s.ClaimExecutions(ctx, "w", time.Minute, 10)
			return err
		}},
		{"UpdateExecution", func(ctx context.Context) error { _, err := s.UpdateExecution(ctx, x); return err }},
		{"CancelExecution", func(ctx context.Context) error { _, err := s.CancelExecution(ctx, x.ID); return err }},
		{"PutFederation", func(ctx context.Context) error {
			_, err := s.PutFederation(ctx, store.FederationRecord{Name: "new", Spec: []byte("x")})
			return err
		}},
		{"GetFederation", func(ctx context.Context) error { _, err := s.GetFederation(ctx, "f"); return err }},
		{"ListFederations", func(ctx context.Context) error { _, err := s.ListFederations(ctx); return err }},
		{"DeleteFederation", func(ctx context.Context) error { return s.DeleteFederation(ctx, "f", store.AnyVersion) }},
		{"PutActivation", func(ctx context.Context) error {
			_, err := s.PutActivation(ctx, store.ScenarioActivation{Federation: "f", Version: store.AnyVersion})
			return err
		}},
		{"GetActivation", func(ctx context.Context) error { _, err := s.GetActivation(ctx, "f"); return err }},
		{"AddRollups", func(ctx context.Context) error {
			return s.AddRollups(ctx, []store.Rollup{{Kind: "k", Key: "k", Count: 1}})
		}},
		{"ListRollups", func(ctx context.Context) error { _, err := s.ListRollups(ctx, store.RollupQuery{}); return err }},
		{"GetState", func(ctx context.Context) error { _, err := s.GetState(ctx, "f", "k"); return err }},
		{"PutState", func(ctx context.Context) error {
			_, err := s.PutState(ctx, store.StateEntry{Scope: "f", Key: "new", Value: json.RawMessage(`1`)})
			return err
		}},
		{"DeleteState", func(ctx context.Context) error { return s.DeleteState(ctx, "f", "k", store.AnyVersion) }},
		{"ListState", func(ctx context.Context) error { _, err := s.ListState(ctx, "f"); return err }},
	}
	for _, c := range calls {
		if err := c.call(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("%s(cancelled ctx) = %v; want an error wrapping context.Canceled", c.name, err)
		}
	}

	// Nothing the cancelled calls tried to write may have landed.
	if _, err := s.GetPipeline(live, "new"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetPipeline(new) after a cancelled put = %v; want ErrNotFound", err)
	}
	if _, err := s.GetPipeline(live, "p"); err != nil {
		t.Errorf("GetPipeline(p) after a cancelled delete = %v; want it still there", err)
	}
	if _, err := s.GetFederation(live, "f"); err != nil {
		t.Errorf("GetFederation(f) after a cancelled delete = %v; want it still there", err)
	}
	if a, err := s.GetActivation(live, "f"); err != nil || a.Scenario != "s" {
		t.Errorf("GetActivation(f) after a cancelled put = %q, %v; want %q", a.Scenario, err, "s")
	}
	if _, err := s.GetState(live, "f", "k"); err != nil {
		t.Errorf("GetState(f, k) after a cancelled delete = %v; want it still there", err)
	}
	if got, err := s.GetExecution(live, x.ID); err != nil || got.Status != store.StatusQueued || got.Attempt != 0 {
		t.Errorf("execution after cancelled claim and cancel = %s, attempt %d, %v; want queued, 0", got.Status, got.Attempt, err)
	}
	if page, err := s.ListExecutions(live, store.ExecutionQuery{}); err != nil || len(page.Executions) != 1 {
		t.Errorf("ListExecutions after a cancelled create = %d executions, %v; want 1", len(page.Executions), err)
	}
	if rs, err := s.ListRollups(live, store.RollupQuery{}); err != nil || len(rs.Rollups) != 0 {
		t.Errorf("ListRollups after a cancelled add = %d rollups, %v; want 0", len(rs.Rollups), err)
	}
}
