package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync/atomic"
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
	w := newExecWorkload(b, "bench-worker")
	b.ReportAllocs()
	for b.Loop() {
		w.run(ctx, b, s)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "executions/s")
}

// BenchExecutionParallel runs the BenchExecution workload from workers
// goroutines at once, as an engine with that many workers (or several
// replicas) does: the throughput figure for databases whose commits wait
// for a disk flush, which concurrent transactions share.
func BenchExecutionParallel(b *testing.B, s store.Store, workers int) {
	ctx := context.Background()
	b.SetParallelism(max(1, workers/runtime.GOMAXPROCS(0)))
	var id atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		w := newExecWorkload(b, fmt.Sprintf("bench-worker-%d", id.Add(1)))
		for pb.Next() {
			w.run(ctx, b, s)
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "executions/s")
}

// execWorkload is one worker's reusable inputs for the execution workload.
type execWorkload struct {
	owner  string
	ev     events.Event
	with   json.RawMessage
	output json.RawMessage
	// steps is reused by every iteration, which is allowed because a store
	// copies what it is given: the benchmark measures the store, not the
	// building of its input.
	steps []store.StepRun
}

func newExecWorkload(b *testing.B, owner string) *execWorkload {
	ev, err := events.New(events.TypeSchemaChanged, "payments", map[string]any{
		"schema_type": "openapi", "spec_path": "specs/payments.yaml",
	})
	if err != nil {
		b.Fatalf("events.New: %v", err)
	}
	return &execWorkload{
		owner:  owner,
		ev:     ev,
		with:   json.RawMessage(`{"spec":"specs/payments.yaml","languages":["typescript","go"]}`),
		output: json.RawMessage(`{"files":12}`),
		steps:  make([]store.StepRun, 2),
	}
}

// run creates one execution, claims one (with several workers, possibly
// another worker's: claims are first come, first served), records its
// first step and finishes it.
func (w *execWorkload) run(ctx context.Context, b *testing.B, s store.Store) {
	now := time.Now()
	w.ev.ID = events.NewID(now)
	if _, err := s.CreateExecution(ctx, store.Execution{Pipeline: "bench", Version: 1, EventID: w.ev.ID, Event: w.ev}); err != nil {
		b.Fatalf("CreateExecution: %v", err)
	}
	var x store.Execution
	// Every worker in this loop has one execution of its own queued or
	// claimed by a peer that left its own behind, so a claim succeeds
	// within a few tries.
	for {
		xs, err := s.ClaimExecutions(ctx, w.owner, time.Minute, 1)
		if err != nil {
			b.Fatalf("ClaimExecutions: %v", err)
		}
		if len(xs) == 1 {
			x = xs[0]
			break
		}
	}
	w.steps[0] = store.StepRun{ID: "sdk", Uses: "regenerate_sdk", Status: store.StatusSucceeded, Outcome: store.StatusSucceeded,
		Conclusion: store.StatusSucceeded, Attempts: 1, StartedAt: now, FinishedAt: now, With: w.with, Output: w.output}
	w.steps[1] = store.StepRun{ID: "tell", Uses: "notify", Status: store.StatusRunning, Attempts: 1, StartedAt: now, With: w.with}
	x.Steps = w.steps
	x, err := s.UpdateExecution(ctx, x)
	if err != nil {
		b.Fatalf("UpdateExecution: %v", err)
	}
	x.Steps[1].Status = store.StatusSucceeded
	x.Steps[1].Outcome = store.StatusSucceeded
	x.Steps[1].Conclusion = store.StatusSucceeded
	x.Steps[1].FinishedAt = now
	x.Steps[1].Output = w.output
	x.Status = store.StatusSucceeded
	x.FinishedAt = now
	if _, err := s.UpdateExecution(ctx, x); err != nil {
		b.Fatalf("UpdateExecution: %v", err)
	}
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
