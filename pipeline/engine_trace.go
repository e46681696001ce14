package pipeline

import (
	"context"
	"encoding/hex"
	"maps"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/store"
)

// W3C Trace Context extensions of an event (CloudEvents' distributed
// tracing extension names them the same).
const (
	ExtTraceparent = "traceparent"
	ExtTracestate  = "tracestate"
)

// tracerName is the instrumentation scope of the engine's spans.
const tracerName = "github.com/mockops/mockops/pipeline"

// Span attribute keys. They are the engine's own names (under mockops.),
// since no OpenTelemetry semantic convention covers pipeline executions.
const (
	attrPipeline  = attribute.Key("mockops.pipeline")
	attrVersion   = attribute.Key("mockops.pipeline.version")
	attrExecution = attribute.Key("mockops.execution.id")
	attrAttempt   = attribute.Key("mockops.execution.attempt")
	attrStatus    = attribute.Key("mockops.status")
	attrEventID   = attribute.Key("mockops.event.id")
	attrEventType = attribute.Key("mockops.event.type")
	attrStep      = attribute.Key("mockops.step.id")
	attrUses      = attribute.Key("mockops.step.uses")
	attrAttempts  = attribute.Key("mockops.step.attempts")
)

// newTracer is the engine's tracer: the no-op one when the host passed no
// provider, so the code paths are the same with and without tracing.
func newTracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	return tp.Tracer(tracerName)
}

// ParseTraceparent reads a W3C traceparent header value
// ("00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>") into a remote
// span context. It refuses version ff, upper-case hex, all-zero ids, and a
// version 00 value with anything after the flags; a later version may
// carry more fields after a dash, which are ignored, as the
// recommendation asks. It never panics, whatever s holds.
func ParseTraceparent(s string) (trace.SpanContext, bool) {
	const n = 55 // 2 + 1 + 32 + 1 + 16 + 1 + 2
	if len(s) < n || s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return trace.SpanContext{}, false
	}
	var ver [1]byte
	if !lowerHex(ver[:], s[0:2]) || ver[0] == 0xff || (ver[0] == 0 && len(s) != n) || (len(s) > n && s[n] != '-') {
		return trace.SpanContext{}, false
	}
	var tid trace.TraceID
	var sid trace.SpanID
	var flags [1]byte
	if !lowerHex(tid[:], s[3:35]) || !lowerHex(sid[:], s[36:52]) || !lowerHex(flags[:], s[53:55]) {
		return trace.SpanContext{}, false
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: sid, TraceFlags: trace.TraceFlags(flags[0]) & trace.FlagsSampled, Remote: true,
	})
	return sc, sc.IsValid()
}

// lowerHex decodes src (lower-case hex only, as W3C requires) into dst.
func lowerHex(dst []byte, src string) bool {
	for i := 0; i < len(src); i++ {
		if c := src[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	_, err := hex.Decode(dst, []byte(src))
	return err == nil
}

// FormatTraceparent writes sc as a version 00 traceparent value, or ""
// when sc is not valid.
func FormatTraceparent(sc trace.SpanContext) string {
	if !sc.IsValid() {
		return ""
	}
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + sc.TraceFlags().String()
}

// eventTraceContext returns ctx carrying ev's traceparent (and tracestate)
// as the remote parent, or ctx itself when ev has none that parses.
func eventTraceContext(ctx context.Context, ev events.Event) context.Context {
	sc, ok := ParseTraceparent(ev.Extensions[ExtTraceparent])
	if !ok {
		return ctx
	}
	if ts, err := trace.ParseTraceState(ev.Extensions[ExtTracestate]); err == nil {
		sc = sc.WithTraceState(ts)
	}
	return trace.ContextWithRemoteSpanContext(ctx, sc)
}

// traceExecution starts the span of a claimed execution, parented on its
// event's traceparent, and returns the context the run's contexts derive
// from. The span ends in endSpan.
func (e *Engine) traceExecution(x store.Execution) context.Context {
	ctx := eventTraceContext(context.Background(), x.Event)
	ctx, _ = e.ops.tracer.Start(ctx, "pipeline "+x.Pipeline,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attrPipeline.String(x.Pipeline), attrVersion.Int64(x.Version), attrExecution.String(x.ID),
			attrAttempt.Int(x.Attempt), attrEventID.String(x.EventID), attrEventType.String(string(x.Event.Type)),
		))
	return ctx
}

// endSpan ends the execution's span with the status the run left in the
// record (running when it was interrupted, for another engine to resume).
// A run whose claim was lost left nothing: the execution runs on
// elsewhere, and the span says so with an error, not with the status this
// run meant to write.
func (r *run) endSpan(ctx context.Context) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	r.mu.Lock()
	status, msg, lost := r.x.Status, r.x.Error, r.lost
	r.mu.Unlock()
	if lost {
		span.SetAttributes(attrStatus.String(string(store.StatusRunning)))
		span.SetStatus(codes.Error, "claim lost: another owner runs the execution")
		span.End()
		return
	}
	span.SetAttributes(attrStatus.String(string(status)))
	setSpanStatus(span, status, msg)
	span.End()
}

// traceStep starts the span of one step (all its attempts), a child of the
// execution's span in ctx; the returned func ends it with the step's
// recorded status.
func (r *run) traceStep(ctx context.Context, id string) (context.Context, func()) {
	s := r.plan.byID[id]
	ctx, span := r.e.ops.tracer.Start(ctx, "step "+id, trace.WithAttributes(
		attrPipeline.String(r.x.Pipeline), attrExecution.String(r.x.ID), attrStep.String(id), attrUses.String(s.uses),
	))
	if !span.IsRecording() {
		return ctx, func() {}
	}
	return ctx, func() {
		r.mu.Lock()
		st := r.x.Steps[r.stepIndex(id)]
		r.mu.Unlock()
		span.SetAttributes(attrStatus.String(string(st.Status)), attrAttempts.Int(st.Attempts))
		setSpanStatus(span, st.Status, st.Error)
		span.End()
	}
}

// setSpanStatus marks failures as span errors; the message is the
// record's, already redacted.
func setSpanStatus(span trace.Span, status store.Status, msg string) {
	switch status {
	case store.StatusSucceeded:
		span.SetStatus(codes.Ok, "")
	case store.StatusFailed, store.StatusTimedOut:
		span.SetStatus(codes.Error, msg)
	}
}

// traceparentOf is the traceparent a step sees in its Input and stamps on
// the events it emits: its own span's when one is being recorded or was
// inherited (the no-op tracer passes the event's through), else the
// event's own value if it parses.
func traceparentOf(ctx context.Context, ev events.Event) string {
	if tp := FormatTraceparent(trace.SpanContextFromContext(ctx)); tp != "" {
		return tp
	}
	if _, ok := ParseTraceparent(ev.Extensions[ExtTraceparent]); ok {
		return ev.Extensions[ExtTraceparent]
	}
	return ""
}

// tracestateOf is the W3C tracestate that goes with traceparentOf(ctx,
// ev): its span's trace state, which a tracer inherits from the parent
// (the event's) and may update, and which the no-op tracer passes through
// as it came; else the event's own when its traceparent parses. Either
// way it is the parsed value written anew, so an event's malformed
// tracestate is dropped rather than passed on.
func tracestateOf(ctx context.Context, ev events.Event) string {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		return sc.TraceState().String()
	}
	if _, ok := ParseTraceparent(ev.Extensions[ExtTraceparent]); ok {
		if ts, err := trace.ParseTraceState(ev.Extensions[ExtTracestate]); err == nil {
			return ts.String()
		}
	}
	return ""
}

// tracedPublisher stamps the step's traceparent, with its tracestate, on
// every event it publishes, so a pipeline the event triggers joins the
// same trace as a child of the step that emitted it. An event that has a
// traceparent of its own, other than the one the triggering event carried
// (which the built-in steps copy over), keeps it and its tracestate: the
// step chose its parent. One that already carries the step's traceparent
// but no tracestate gets the step's.
type tracedPublisher struct {
	next        events.Publisher
	traceparent string
	tracestate  string // goes with traceparent; "" = none
	inherited   string // the triggering event's traceparent
}

func (p tracedPublisher) Publish(ctx context.Context, ev events.Event) error {
	cur := ev.Extensions[ExtTraceparent]
	switch {
	case p.traceparent == "":
	case cur != p.traceparent && (cur == "" || cur == p.inherited):
		// Whatever tracestate the event has went with the traceparent
		// replaced.
		ev.Extensions = withTrace(ev.Extensions, p.traceparent, p.tracestate)
	case cur == p.traceparent && ev.Extensions[ExtTracestate] == "" && p.tracestate != "":
		ev.Extensions = withTrace(ev.Extensions, p.traceparent, p.tracestate)
	}
	return p.next.Publish(ctx, ev)
}

// withTrace returns a copy of ext with traceparent tp and tracestate ts
// ("" removes it); ext itself may be shared with the step, so it is never
// written.
func withTrace(ext map[string]string, tp, ts string) map[string]string {
	out := make(map[string]string, len(ext)+2)
	maps.Copy(out, ext)
	out[ExtTraceparent] = tp
	if ts != "" {
		out[ExtTracestate] = ts
	} else {
		delete(out, ExtTracestate)
	}
	return out
}

// publisher is the Publisher of a step running on ctx.
func (r *run) publisher(ctx context.Context) events.Publisher {
	return tracedPublisher{
		next:        &causedPublisher{e: r.e, parent: r.evv.ev},
		traceparent: traceparentOf(ctx, r.evv.ev),
		tracestate:  tracestateOf(ctx, r.evv.ev),
		inherited:   r.evv.ev.Extensions[ExtTraceparent],
	}
}
