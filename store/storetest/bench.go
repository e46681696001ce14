package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/store"
)

// BenchExecution measures the life of one execution as the pipeline engine
// drives it: create it for an event, claim it, record the first of two
// steps, then finish both steps and the execution. It reports
// executions/s. s should be empty; executions left queued in it would be
// claimed and finished in place of the benchmark's own.
func BenchExecution(b *testing.B, s store.Store) {
	ctx := context.Background()
	ev, err := events.New(events.TypeSchemaChanged, "payments", map[string]any{
		"schema_type": "openapi", "spec_path": "specs/payments.yaml",
	})
	if err != nil {
		b.Fatalf("events.New: %v", err)
	}
	with := json.RawMessage(`{"spec":"specs/payments.yaml","languages":["typescript","go"]}`)
	output := json.RawMessage(`{"files":12}`)
	// The steps are built in one buffer reused by every iteration, which
	// is allowed because a store copies what it is given: the benchmark
	// measures the store, not the building of its input.
	steps := make([]store.StepRun, 2)
	b.ReportAllocs()
	for b.Loop() {
		now := time.Now()
		ev.ID = events.NewID(now)
		if _, err := s.CreateExecution(ctx, store.Execution{Pipeline: "bench", Version: 1, EventID: ev.ID, Event: ev}); err != nil {
			b.Fatalf("CreateExecution: %v", err)
		}
		xs, err := s.ClaimExecutions(ctx, "bench-worker", time.Minute, 1)
		if err != nil || len(xs) != 1 {
			b.Fatalf("ClaimExecutions = %d executions, %v; want 1", len(xs), err)
		}
		x := xs[0]
		steps[0] = store.StepRun{ID: "sdk", Uses: "regenerate_sdk", Status: store.StatusSucceeded, Outcome: store.StatusSucceeded,
			Conclusion: store.StatusSucceeded, Attempts: 1, StartedAt: now, FinishedAt: now, With: with, Output: output}
		steps[1] = store.StepRun{ID: "tell", Uses: "notify", Status: store.StatusRunning, Attempts: 1, StartedAt: now, With: with}
		x.Steps = steps
		if x, err = s.UpdateExecution(ctx, x); err != nil {
			b.Fatalf("UpdateExecution: %v", err)
		}
		x.Steps[1].Status = store.StatusSucceeded
		x.Steps[1].Outcome = store.StatusSucceeded
		x.Steps[1].Conclusion = store.StatusSucceeded
		x.Steps[1].FinishedAt = now
		x.Steps[1].Output = output
		x.Status = store.StatusSucceeded
		x.FinishedAt = now
		if _, err := s.UpdateExecution(ctx, x); err != nil {
			b.Fatalf("UpdateExecution: %v", err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "executions/s")
}

// RollupBatch is the number of rows BenchRollups flushes per operation.
const RollupBatch = 1000

// BenchRollups measures flushing RollupBatch coverage rollups in one
// AddRollups call, the coverage collector's periodic write. Every flush
// adds to the same rows, as a collector does within one time bucket, so
// the store does not grow with the number of iterations. It reports rows/s.
func BenchRollups(b *testing.B, s store.Store) {
	ctx := context.Background()
	bucket := time.Now().UTC().Truncate(time.Hour)
	rows := make([]store.Rollup, 0, RollupBatch)
	for i := range RollupBatch {
		rows = append(rows, store.Rollup{
			Kind:      []string{"scenario", "persona", "endpoint", "drift"}[i%4],
			Workspace: fmt.Sprintf("ws-%d", i%10),
			Service:   fmt.Sprintf("svc-%d", i%5),
			Key:       fmt.Sprintf("GET /items/%d", i),
			Bucket:    bucket,
			Count:     1,
			LastSeen:  bucket.Add(time.Duration(i) * time.Millisecond),
		})
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.AddRollups(ctx, rows); err != nil {
			b.Fatalf("AddRollups: %v", err)
		}
	}
	b.ReportMetric(float64(b.N*RollupBatch)/b.Elapsed().Seconds(), "rows/s")
}
