package storetest

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mockops/mockops/store"
)

// scribble overwrites every byte of b, so a store that kept b (or handed
// out its own) shows the change.
func scribble(b []byte) {
	for i := range b {
		b[i] = 'X'
	}
}

// testIsolation checks that records are values: changing the slices and
// maps of a record after passing it to the store, or after getting it
// back, changes nothing stored. An SQL adapter gets this from
// serialisation; an in-memory one must copy.
func testIsolation(t *testing.T, s store.Store) {
	ctx := ctxFor(t)

	p := store.Pipeline{Name: "p", Source: []byte("name: p\n")}
	put, err := s.PutPipeline(ctx, p)
	if err != nil {
		t.Fatalf("PutPipeline: %v", err)
	}
	scribble(p.Source)
	scribble(put.Source)
	got, err := s.GetPipeline(ctx, "p")
	if err != nil {
		t.Fatalf("GetPipeline: %v", err)
	}
	scribble(got.Source)
	list, err := s.ListPipelines(ctx, store.PipelineQuery{})
	if err != nil || len(list) != 1 {
		t.Fatalf("ListPipelines = %d, %v; want 1", len(list), err)
	}
	scribble(list[0].Source)
	if got, err := s.GetPipeline(ctx, "p"); err != nil || string(got.Source) != "name: p\n" {
		t.Errorf("pipeline Source after callers changed their copies = %q, %v; want %q", got.Source, err, "name: p\n")
	}

	f := store.FederationRecord{Name: "f", Spec: []byte("name: f\n")}
	putF, err := s.PutFederation(ctx, f)
	if err != nil {
		t.Fatalf("PutFederation: %v", err)
	}
	scribble(f.Spec)
	scribble(putF.Spec)
	feds, err := s.ListFederations(ctx)
	if err != nil || len(feds) != 1 {
		t.Fatalf("ListFederations = %d, %v; want 1", len(feds), err)
	}
	scribble(feds[0].Spec)
	if got, err := s.GetFederation(ctx, "f"); err != nil || string(got.Spec) != "name: f\n" {
		t.Errorf("federation Spec after callers changed their copies = %q, %v; want %q", got.Spec, err, "name: f\n")
	}

	e := store.StateEntry{Scope: "f", Key: "k", Value: json.RawMessage(`{"v":1}`)}
	putE, err := s.PutState(ctx, e)
	if err != nil {
		t.Fatalf("PutState: %v", err)
	}
	scribble(e.Value)
	scribble(putE.Value)
	entries, err := s.ListState(ctx, "f")
	if err != nil || len(entries) != 1 {
		t.Fatalf("ListState = %d, %v; want 1", len(entries), err)
	}
	scribble(entries[0].Value)
	if got, err := s.GetState(ctx, "f", "k"); err != nil || string(got.Value) != `{"v":1}` {
		t.Errorf("state Value after callers changed their copies = %s, %v; want {\"v\":1}", got.Value, err)
	}

	x := newExecution("p")
	x.Event.Extensions = map[string]string{"depth": "1"}
	x.Steps = []store.StepRun{{ID: "a", Uses: "http", Status: store.StatusQueued, With: json.RawMessage(`{"u":1}`)}}
	created, err := s.CreateExecution(ctx, x)
	if err != nil {
		t.Fatalf("CreateExecution: %v", err)
	}
	want, err := s.GetExecution(ctx, created.ID)
	if err != nil {
		t.Fatalf("GetExecution: %v", err)
	}
	want = deepCopyExecution(want)
	mess := func(x store.Execution) {
		scribble(x.Event.Data)
		if x.Event.Extensions != nil {
			x.Event.Extensions["depth"] = "99"
			x.Event.Extensions["added"] = "yes"
		}
		if len(x.Steps) > 0 {
			x.Steps[0].Status = store.StatusFailed
			scribble(x.Steps[0].With)
		}
	}
	mess(x)
	mess(created)
	got2, err := s.GetExecution(ctx, created.ID)
	if err != nil {
		t.Fatalf("GetExecution: %v", err)
	}
	mess(got2)
	page, err := s.ListExecutions(ctx, store.ExecutionQuery{})
	if err != nil || len(page.Executions) != 1 {
		t.Fatalf("ListExecutions = %d, %v; want 1", len(page.Executions), err)
	}
	mess(page.Executions[0])
	if got, err := s.GetExecution(ctx, created.ID); err != nil {
		t.Fatalf("GetExecution: %v", err)
	} else if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
		t.Errorf("execution after callers changed their copies (-want +got):\n%s", diff)
	}
	claimed, err := s.ClaimExecutions(ctx, "w", longLease, 1)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("ClaimExecutions = %d, %v; want 1", len(claimed), err)
	}
	c := claimed[0]
	mess(c)
	c.Steps = []store.StepRun{{ID: "a", Uses: "http", Status: store.StatusRunning, Output: json.RawMessage(`{"o":2}`)}}
	updated, err := s.UpdateExecution(ctx, c)
	if err != nil {
		t.Fatalf("UpdateExecution: %v", err)
	}
	want.Status, want.Owner, want.Attempt = c.Status, c.Owner, c.Attempt
	want.LeaseUntil, want.StartedAt = c.LeaseUntil, c.StartedAt
	want.Steps = []store.StepRun{{ID: "a", Uses: "http", Status: store.StatusRunning, Output: json.RawMessage(`{"o":2}`)}}
	scribble(c.Steps[0].Output)
	c.Steps[0].Status = store.StatusFailed
	mess(updated)
	// Once more with a record that matches the stored one, as a worker's
	// heartbeat sends it.
	fresh, err := s.GetExecution(ctx, created.ID)
	if err != nil {
		t.Fatalf("GetExecution: %v", err)
	}
	again, err := s.UpdateExecution(ctx, fresh)
	if err != nil {
		t.Fatalf("UpdateExecution: %v", err)
	}
	mess(again)
	mess(fresh)
	final, err := s.GetExecution(ctx, created.ID)
	if err != nil {
		t.Fatalf("GetExecution: %v", err)
	}
	if diff := cmp.Diff(want, final, cmpOpts); diff != "" {
		t.Errorf("execution after callers changed their copies (-want +got):\n%s", diff)
	}
}

// deepCopyExecution copies the slices and maps of x, so that the test's
// own want cannot alias what the store handed out.
func deepCopyExecution(x store.Execution) store.Execution {
	x.Event.Data = append(json.RawMessage(nil), x.Event.Data...)
	ext := make(map[string]string, len(x.Event.Extensions))
	for k, v := range x.Event.Extensions {
		ext[k] = v
	}
	x.Event.Extensions = ext
	steps := make([]store.StepRun, len(x.Steps))
	for i, st := range x.Steps {
		st.With = append(json.RawMessage(nil), st.With...)
		st.Output = append(json.RawMessage(nil), st.Output...)
		steps[i] = st
	}
	x.Steps = steps
	return x
}
