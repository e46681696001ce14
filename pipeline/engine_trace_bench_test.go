package pipeline_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/mockops/mockops/pipeline"
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
