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
	"github.com/mockops/mockops/store/sqlstore"
	"github.com/mockops/mockops/store/storetest"
)

// BenchmarkEngine: one event published on the memory bus to its execution
// of a one-step no-op pipeline stored as succeeded, in executions/s,
// beside the store-only storetest.BenchExecution (create, claim, finish
// one execution with two step runs) of the same store in the same run.
// The engine runs with its default 8 workers: with its defaults (writes
// batched), with four intake subscriptions (IntakeWorkers 4), and
// unbatched (CompletionBatch 1 and IntakeBatch 1: every write its own
// store call, the path before batching), and with a concurrency group per
// event (engine-grouped: what the group lock costs). writes/batch is the mean execution writes one
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
		b.Run(sk.name+"/engine", func(b *testing.B) { benchEngine(b, sk.open(b), pipeline.Config{}, false) })
		b.Run(sk.name+"/engine-intake4", func(b *testing.B) { benchEngine(b, sk.open(b), pipeline.Config{IntakeWorkers: 4}, false) })
		b.Run(sk.name+"/engine-unbatched", func(b *testing.B) {
			benchEngine(b, sk.open(b), pipeline.Config{CompletionBatch: 1, IntakeBatch: 1}, false)
		})
		b.Run(sk.name+"/engine-grouped", func(b *testing.B) { benchEngine(b, sk.open(b), pipeline.Config{}, true) })
		if sk.name != "memory" {
			// Events published on the store's own durable bus (one
			// INSERT each, by the loop) and read back by the engine's
			// named consumer, as replicas sharing a database run.
			b.Run(sk.name+"/engine-durable-bus", func(b *testing.B) {
				st := sk.open(b)
				benchEngineOn(b, st, st.(*sqlstore.Store).Bus(sqlstore.BusConfig{}), pipeline.Config{}, false)
			})
		}
		b.Run(sk.name+"/store-only", func(b *testing.B) { storetest.BenchExecution(b, sk.open(b)) })
	}
}

// drainingBus is a bus whose Shutdown returns once its subscribers have
// handled every published event.
type drainingBus interface {
	events.Bus
	Shutdown(ctx context.Context) error
}

func benchEngine(b *testing.B, st store.Store, cfg pipeline.Config, grouped bool) {
	benchEngineOn(b, st, events.NewMemoryBus(events.MemoryConfig{QueueSize: 1 << 16}), cfg, grouped)
}

func benchEngineOn(b *testing.B, st store.Store, bus drainingBus, cfg pipeline.Config, grouped bool) {
	ctx := context.Background()
	defer bus.Close()
	// At most window events outstanding, so the loop measures throughput
	// rather than how fast events queue up.
	window := make(chan struct{}, 512)
	counted := &writeCounter{Store: st}
	cfg.Store, cfg.Bus = counted, bus
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
	// grouped: one concurrency group per event, which costs the group
	// lock's writes per run without serialising anything.
	src := onePipeline
	if grouped {
		src += "concurrency: {group: \"${{ event.id }}\"}\n"
	}
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
	// finished, its conclusion stored (the engine counts a finished
	// execution once its last write is stored): the loop's work is done
	// only then. What the store holds is checked after the clock stops,
	// so that reading n executions back is not counted as engine work.
	if err := bus.Shutdown(ctx); err != nil {
		b.Fatal(err)
	}
	for finished(eng) < int64(n) {
		time.Sleep(20 * time.Microsecond)
	}
	b.StopTimer()
	elapsed := time.Since(start)
	xs := listAll(b, st, "one")
	for _, x := range xs {
		if x.Status != store.StatusSucceeded {
			b.Fatalf("execution %s: %s (%s)", x.ID, x.Status, x.Error)
		}
	}
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
	b.ReportMetric(float64(counted.writes.Load())/float64(n), "store-writes/exec")
	if batches, rows := pipeline.BatchCounts(eng); batches > 0 {
		b.ReportMetric(float64(rows)/float64(batches), "writes/batch")
	}
}

// finished is how many executions eng has finished, in any final status.
func finished(eng *pipeline.Engine) int64 {
	var n int64
	for status, c := range eng.Stats().Executions {
		if status.Terminal() {
			n += c
		}
	}
	return n
}
