package pipeline_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/memory"
)

// BenchmarkParseTraceparent: the engine reads every claimed execution's
// traceparent; the baseline is OpenTelemetry's own W3C propagator reading
// the same value from a carrier.
func BenchmarkParseTraceparent(b *testing.B) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	b.Run("ParseTraceparent", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := pipeline.ParseTraceparent(tp); !ok {
				b.Fatal("not parsed")
			}
		}
	})
	b.Run("baseline=otel-propagation.TraceContext", func(b *testing.B) {
		b.ReportAllocs()
		prop := propagation.TraceContext{}
		carrier := propagation.MapCarrier{"traceparent": tp}
		ctx := context.Background()
		for b.Loop() {
			if !trace.SpanContextFromContext(prop.Extract(ctx, carrier)).IsValid() {
				b.Fatal("not parsed")
			}
		}
	})
}

// BenchmarkEngineTracing: events published on the memory bus to their
// executions of a one-step no-op pipeline stored as succeeded, with an
// SDK TracerProvider recording a span per execution and per step (no
// exporter: the cost measured is the engine's), beside the same run with
// no provider, the baseline.
func BenchmarkEngineTracing(b *testing.B) {
	b.Run("baseline=no-provider", func(b *testing.B) { benchTraced(b, nil) })
	b.Run("sdk-recording", func(b *testing.B) {
		tp := sdktrace.NewTracerProvider()
		defer tp.Shutdown(context.Background())
		benchTraced(b, tp)
	})
}

func benchTraced(b *testing.B, tp trace.TracerProvider) {
	ctx := context.Background()
	st := memory.New()
	bus := events.NewMemoryBus(events.MemoryConfig{QueueSize: 1 << 16})
	defer bus.Close()
	window := make(chan struct{}, 512) // bounds the events outstanding
	eng, err := pipeline.NewEngine(pipeline.Config{Store: st, Bus: bus, TracerProvider: tp, Steps: registry(map[string]probeFunc{
		"a": func(context.Context, steps.Input, probeConfig) (steps.Output, error) {
			<-window
			return steps.Output{}, nil
		},
	}, nil)})
	if err != nil {
		b.Fatal(err)
	}
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
	ev.Extensions = map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	b.ReportAllocs()
	began := time.Now()
	n := 0
	for b.Loop() {
		window <- struct{}{}
		ev.ID = events.NewID(time.Now())
		if err := bus.Publish(ctx, ev); err != nil {
			b.Fatal(err)
		}
		n++
	}
	if err := bus.Shutdown(ctx); err != nil {
		b.Fatal(err)
	}
	for _, x := range listAll(b, st, "one") {
		if x, err := eng.Wait(ctx, x.ID); err != nil || x.Status != store.StatusSucceeded {
			b.Fatalf("execution %s: %s, %v", x.ID, x.Status, err)
		}
	}
	b.StopTimer()
	elapsed := time.Since(began)
	if err := eng.Shutdown(ctx); err != nil {
		b.Fatal(err)
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(n)/elapsed.Seconds(), "executions/s")
}
