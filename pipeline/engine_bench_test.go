package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/memory"
	"github.com/mockops/mockops/store/storetest"
)

// BenchmarkEngine: one event published on the memory bus to its execution
// of a one-step no-op pipeline stored as succeeded, in executions/s,
// beside the store-only storetest.BenchExecution (create, claim, finish
// one execution with two step runs) of the same store in the same run.
// The engine runs with its default 8 workers: with its defaults (writes
// batched), with four intake subscriptions (IntakeWorkers 4), and
// unbatched (CompletionBatch 1, every write its own UpdateExecution, the
// path before batching). writes/batch is the mean execution writes one
// store call carried.
func BenchmarkEngine(b *testing.B) {
	for _, sk := range []struct {
		name string
		open func(testing.TB) store.Store
	}{
		{"memory", func(testing.TB) store.Store { return memory.New() }},
		{"sqlite", openSQLite},
		{"postgres", openPostgres}, // skipped without MOCKOPS_TEST_POSTGRES_DSN
	} {
		b.Run(sk.name+"/engine", func(b *testing.B) { benchEngine(b, sk.open(b), pipeline.Config{}) })
		b.Run(sk.name+"/engine-intake4", func(b *testing.B) { benchEngine(b, sk.open(b), pipeline.Config{IntakeWorkers: 4}) })
		b.Run(sk.name+"/engine-unbatched", func(b *testing.B) {
			benchEngine(b, sk.open(b), pipeline.Config{CompletionBatch: 1})
		})
		b.Run(sk.name+"/store-only", func(b *testing.B) { storetest.BenchExecution(b, sk.open(b)) })
	}
}

func benchEngine(b *testing.B, st store.Store, cfg pipeline.Config) {
	ctx := context.Background()
	bus := events.NewMemoryBus(events.MemoryConfig{QueueSize: 1 << 16})
	defer bus.Close()
	// At most window events outstanding, so the loop measures throughput
	// rather than how fast events queue up.
	window := make(chan struct{}, 512)
	cfg.Store, cfg.Bus = st, bus
	cfg.Steps = registry(map[string]probeFunc{
		"a": func(context.Context, steps.Input, probeConfig) (steps.Output, error) {
			<-window
			return steps.Output{}, nil
		},
	}, nil)
	eng, err := pipeline.NewEngine(cfg)
	if err != nil {
		b.Fatal(err)
	}
	// One concurrency group per event: the default (one queue per
	// pipeline) would run the executions one at a time, and this measures
	// throughput. The group lock is still taken and released per run.
	src := onePipeline + "concurrency: {group: \"${{ event.id }}\"}\n"
	if _, err := eng.PutSource(ctx, "bench.yaml", []byte(src), store.AnyVersion); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	<-eng.Ready()
	ev, err := events.New(events.TypeSchemaChanged, "ws", map[string]any{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	start := time.Now()
	n := 0
	for b.Loop() {
		window <- struct{}{}
		ev.ID = events.NewID(time.Now())
		if err := bus.Publish(ctx, ev); err != nil {
			b.Fatal(err)
		}
		n++
	}
	// Every event handled (executions created), then every execution
	// finished: the loop's work is done only then.
	if err := bus.Shutdown(ctx); err != nil {
		b.Fatal(err)
	}
	xs := listAll(b, st, "one")
	for _, x := range xs {
		x, err := eng.Wait(ctx, x.ID)
		if err != nil || x.Status != store.StatusSucceeded {
			b.Fatalf("execution %s: %s (%s), %v", x.ID, x.Status, x.Error, err)
		}
	}
	b.StopTimer()
	elapsed := time.Since(start)
	if err := eng.Shutdown(ctx); err != nil {
		b.Fatal(err)
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	if len(xs) != n {
		b.Fatalf("%d executions for %d events", len(xs), n)
	}
	b.ReportMetric(float64(n)/elapsed.Seconds(), "executions/s")
	if batches, rows := pipeline.BatchCounts(eng); batches > 0 {
		b.ReportMetric(float64(rows)/float64(batches), "writes/batch")
	}
}
