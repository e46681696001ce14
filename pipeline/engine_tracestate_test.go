package pipeline_test

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
	"github.com/mockops/mockops/store/memory"
)

const parentTracestate = "vendor=abc,other@t=x"

// emitted runs pipeline "parent", whose one step "out" either is the
// built-in emit (pub nil) or publishes what pub returns, for a
// schema.changed event with extensions in, and returns the extensions of
// the event the step published, as the execution it triggered stored
// them, and the spans tp recorded (nil without a provider).
func emitted(t *testing.T, sampler sdktrace.Sampler, in map[string]string, pub func() events.Event) (map[string]string, map[string]sdktrace.ReadOnlySpan) {
	t.Helper()
	var ext map[string]string
	var spans map[string]sdktrace.ReadOnlySpan
	synctest.Test(t, func(t *testing.T) {
		cfg := pipeline.Config{Store: memory.New()}
		var rec *tracetest.SpanRecorder
		if sampler != nil {
			rec = tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSampler(sampler))
			defer tp.Shutdown(context.Background())
			cfg.TracerProvider = tp
		}
		cfg.Steps = registry(map[string]probeFunc{
			"pub": func(ctx context.Context, in steps.Input, _ probeConfig) (steps.Output, error) {
				return steps.Output{}, in.Publisher.Publish(ctx, pub())
			},
		}, nil)
		if err := steps.RegisterEmit(cfg.Steps); err != nil {
			t.Fatal(err)
		}
		h := start(t, cfg)
		out := "{id: out, uses: emit, with: {type: acme.next}}"
		if pub != nil {
			out = "{id: out, uses: probe, with: {key: pub}}"
		}
		h.put("name: parent\non: [{event: schema.changed}]\nsteps: [" + out + "]\n")
		h.put("name: child\non: [{event: acme.next}]\nsteps: [{id: x, uses: probe, with: {key: x}}]\n")
		ev := event(t, events.TypeSchemaChanged, "ws", nil)
		ev.Extensions = in
		if err := h.bus.Publish(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		children := listAll(t, h.st, "child")
		if len(children) != 1 {
			t.Fatalf("%d child executions; want 1", len(children))
		}
		h.wait(children[0].ID)
		synctest.Wait()
		ext = children[0].Event.Extensions
		if rec != nil {
			spans = map[string]sdktrace.ReadOnlySpan{}
			for _, sp := range rec.Ended() {
				if sp.Name() == "step out" {
					spans[sp.Name()] = sp
				}
			}
		}
	})
	return ext, spans
}

// stampSampler samples everything and, as a tracer may, updates the trace
// state each span inherits: it puts mockops=<span name> first.
type stampSampler struct{}

func (stampSampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	ts := trace.SpanContextFromContext(p.ParentContext).TraceState()
	ts, err := ts.Insert("mockops", strings.ReplaceAll(p.Name, " ", "-"))
	if err != nil {
		panic(err)
	}
	return sdktrace.SamplingResult{Decision: sdktrace.RecordAndSample, Tracestate: ts}
}

func (stampSampler) Description() string { return "stampSampler" }

// TestEngineTracestateWithoutProvider: with no TracerProvider the events
// a step emits carry the triggering event's tracestate along with its
// traceparent; a tracestate without a traceparent, or one that does not
// parse, is not passed on.
func TestEngineTracestateWithoutProvider(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]string
		want string // the emitted tracestate; "" = none
	}{
		{"traceparent and tracestate", map[string]string{"traceparent": parentTraceparent, "tracestate": parentTracestate}, parentTracestate},
		{"spaces around members", map[string]string{"traceparent": parentTraceparent, "tracestate": " vendor=abc , other@t=x"}, parentTracestate},
		{"traceparent alone", map[string]string{"traceparent": parentTraceparent}, ""},
		{"tracestate alone", map[string]string{"tracestate": parentTracestate}, ""},
		{"malformed tracestate", map[string]string{"traceparent": parentTraceparent, "tracestate": "vendor=abc,vendor=def"}, ""},
		{"malformed traceparent", map[string]string{"traceparent": "00-zz-00f067aa0ba902b7-01", "tracestate": parentTracestate}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ext, _ := emitted(t, nil, tt.in, nil)
			got, ok := ext["tracestate"]
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("emitted tracestate = %q (set %v); want %q", got, ok, tt.want)
			}
			if want := tt.in["traceparent"]; tt.want != "" && ext["traceparent"] != want {
				t.Errorf("emitted traceparent = %q; want %q", ext["traceparent"], want)
			}
		})
	}
}

// TestEngineTracestateWithProvider: with a TracerProvider an emitted event
// carries its step span's tracestate beside the span's traceparent: the
// event's as the span inherited it, or as the tracer updated it. An event
// the step gave a traceparent of its own keeps its tracestate; one that
// copied the trigger's trace context gets the span's.
func TestEngineTracestateWithProvider(t *testing.T) {
	const own = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	withTrace := func(tp, ts string) func() events.Event {
		return func() events.Event {
			ev, err := events.New("acme.next", "ws", nil)
			if err != nil {
				panic(err)
			}
			ev.Extensions = map[string]string{"traceparent": tp}
			if ts != "" {
				ev.Extensions["tracestate"] = ts
			}
			return ev
		}
	}
	tests := []struct {
		name                    string
		sampler                 sdktrace.Sampler
		in                      map[string]string
		pub                     func() events.Event // nil: the built-in emit
		traceparent, tracestate string              // "span": the step span's
	}{
		{"inherited", sdktrace.AlwaysSample(), map[string]string{"traceparent": parentTraceparent, "tracestate": parentTracestate}, nil,
			"span", parentTracestate},
		{"updated by the tracer", stampSampler{}, map[string]string{"traceparent": parentTraceparent, "tracestate": parentTracestate}, nil,
			"span", "mockops=step-out," + parentTracestate},
		{"started by the tracer", stampSampler{}, nil, nil, "span", "mockops=step-out"},
		{"none", sdktrace.AlwaysSample(), map[string]string{"traceparent": parentTraceparent}, nil, "span", ""},
		{"own trace context kept", stampSampler{}, map[string]string{"traceparent": parentTraceparent, "tracestate": parentTracestate},
			withTrace(own, "mine=1"), own, "mine=1"},
		{"own traceparent, no tracestate", stampSampler{}, map[string]string{"traceparent": parentTraceparent, "tracestate": parentTracestate},
			withTrace(own, ""), own, ""},
		{"trigger's trace context replaced", stampSampler{}, map[string]string{"traceparent": parentTraceparent, "tracestate": parentTracestate},
			withTrace(parentTraceparent, parentTracestate), "span", "mockops=step-out," + parentTracestate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ext, spans := emitted(t, tt.sampler, tt.in, tt.pub)
			span := spans["step out"]
			if span == nil {
				t.Fatal("no span of step out ended")
			}
			wantTP, wantTS := tt.traceparent, tt.tracestate
			if wantTP == "span" {
				wantTP = pipeline.FormatTraceparent(span.SpanContext())
				if got := span.SpanContext().TraceState().String(); got != wantTS {
					t.Fatalf("step span's tracestate = %q; want %q (the case is wrong)", got, wantTS)
				}
			}
			if got := ext["traceparent"]; got != wantTP {
				t.Errorf("emitted traceparent = %q; want %q", got, wantTP)
			}
			got, ok := ext["tracestate"]
			if got != wantTS || ok != (wantTS != "") {
				t.Errorf("emitted tracestate = %q (set %v); want %q", got, ok, wantTS)
			}
		})
	}
}
