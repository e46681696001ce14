package pipeline_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/memory"
)

const (
	parentTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	parentTraceID     = "4bf92f3577b34da6a3ce929d0e0e4736"
	parentSpanID      = "00f067aa0ba902b7"
)

// seen records the traceparent each probe key saw in its Input.
type seen struct {
	mu sync.Mutex
	tp map[string]string
}

func (s *seen) probe(ctx context.Context, in steps.Input, cfg probeConfig) (steps.Output, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tp[cfg.Key+"@"+in.Pipeline] = in.Traceparent
	return steps.Output{}, nil
}

func (s *seen) get(k string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tp[k]
}

// traceRegistry has probe (keys "see" record Input.Traceparent, "fail"
// fails) and emit.
func traceRegistry(s *seen) *steps.Registry {
	reg := registry(map[string]probeFunc{
		"see":  s.probe,
		"fail": func(context.Context, steps.Input, probeConfig) (steps.Output, error) { return steps.Output{}, errBoom },
	}, nil)
	if err := steps.RegisterEmit(reg); err != nil {
		panic(err)
	}
	return reg
}

const (
	tracedParent = "name: parent\non: [{event: schema.changed}]\nsteps:\n" +
		"  - {id: see, uses: probe, with: {key: see}}\n" +
		"  - {id: out, uses: emit, with: {type: acme.next}}\n" +
		"  - {id: bad, uses: probe, continue_on_error: true, with: {key: fail}}\n"
	tracedChild = "name: child\non: [{event: acme.next}]\nsteps: [{id: see, uses: probe, with: {key: see}}]\n"
)

func attrs(kvs []attribute.KeyValue) map[string]string {
	out := map[string]string{}
	for _, kv := range kvs {
		out[string(kv.Key)] = kv.Value.String()
	}
	return out
}

// TestEngineTraceSpans: the execution's span is a child of the event's
// traceparent, each step's a child of the execution's; a step's Input and
// the events it emits carry its span's traceparent, so the pipeline an
// emitted event triggers continues the same trace under the emitting step.
func TestEngineTraceSpans(t *testing.T) {
	type spanCase struct {
		name       string
		span       sdktrace.ReadOnlySpan
		parentSpan string // the parent span id
		status     codes.Code
		attrs      map[string]string
	}
	var tests []spanCase
	synctest.Test(t, func(t *testing.T) {
		rec := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
		defer tp.Shutdown(context.Background())
		s := &seen{tp: map[string]string{}}
		st := memory.New()
		h := start(t, pipeline.Config{Store: st, Steps: traceRegistry(s), TracerProvider: tp})
		h.put(tracedParent)
		h.put(tracedChild)
		ev := event(t, events.TypeSchemaChanged, "ws", nil)
		ev.Extensions = map[string]string{"traceparent": parentTraceparent}
		if err := h.bus.Publish(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		parents, children := listAll(t, st, "parent"), listAll(t, st, "child")
		if len(parents) != 1 || len(children) != 1 {
			t.Fatalf("%d parent and %d child executions; want one of each", len(parents), len(children))
		}
		px, cx := h.wait(parents[0].ID), h.wait(children[0].ID)
		synctest.Wait()

		spans := map[string]sdktrace.ReadOnlySpan{}
		for _, sp := range rec.Ended() {
			spans[attrs(sp.Attributes())["mockops.execution.id"]+"/"+sp.Name()] = sp
		}
		if len(spans) != 6 {
			t.Fatalf("%d spans ended; want 6 (2 executions, 4 steps): %v", len(spans), spans)
		}
		pexec := spans[px.ID+"/pipeline parent"]
		cexec := spans[cx.ID+"/pipeline child"]
		if pexec == nil || cexec == nil {
			t.Fatalf("execution spans missing: %v", spans)
		}
		tests = []spanCase{
			{"parent execution", pexec, parentSpanID, codes.Ok, map[string]string{
				"mockops.pipeline": "parent", "mockops.execution.id": px.ID, "mockops.event.id": ev.ID,
				"mockops.event.type": "schema.changed", "mockops.status": "succeeded", "mockops.execution.attempt": "1",
			}},
			{"step see", spans[px.ID+"/step see"], pexec.SpanContext().SpanID().String(), codes.Ok, map[string]string{
				"mockops.step.id": "see", "mockops.step.uses": "probe", "mockops.status": "succeeded", "mockops.step.attempts": "1",
			}},
			{"step out", spans[px.ID+"/step out"], pexec.SpanContext().SpanID().String(), codes.Ok, map[string]string{
				"mockops.step.id": "out", "mockops.step.uses": "emit",
			}},
			{"failing step", spans[px.ID+"/step bad"], pexec.SpanContext().SpanID().String(), codes.Error, map[string]string{
				"mockops.status": "failed",
			}},
			{"child execution", cexec, spans[px.ID+"/step out"].SpanContext().SpanID().String(), codes.Ok, map[string]string{
				"mockops.pipeline": "child", "mockops.event.type": "acme.next",
			}},
			{"child step", spans[cx.ID+"/step see"], cexec.SpanContext().SpanID().String(), codes.Ok, nil},
		}
		if want := pipeline.FormatTraceparent(spans[px.ID+"/step see"].SpanContext()); s.get("see@parent") != want {
			t.Errorf("Input.Traceparent = %q; want the step span's %q", s.get("see@parent"), want)
		}
		emitted := cx.Event.Extensions["traceparent"]
		if want := pipeline.FormatTraceparent(spans[px.ID+"/step out"].SpanContext()); emitted != want {
			t.Errorf("emitted event's traceparent = %q; want the emit step span's %q", emitted, want)
		}
		if cx.Event.Extensions["causationid"] != ev.ID {
			t.Errorf("emitted event's causationid = %q; want %s (tracing must keep causation)", cx.Event.Extensions["causationid"], ev.ID)
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.span == nil {
				t.Fatal("span missing")
			}
			if got := tt.span.SpanContext().TraceID().String(); got != parentTraceID {
				t.Errorf("trace id = %s; want the event's %s", got, parentTraceID)
			}
			if got := tt.span.Parent().SpanID().String(); got != tt.parentSpan {
				t.Errorf("parent span = %s; want %s", got, tt.parentSpan)
			}
			if got := tt.span.Status().Code; got != tt.status {
				t.Errorf("status = %v; want %v", got, tt.status)
			}
			got := attrs(tt.span.Attributes())
			for k, v := range tt.attrs {
				if got[k] != v {
					t.Errorf("attribute %s = %q; want %q", k, got[k], v)
				}
			}
		})
	}
}

// TestEngineTraceparentWithoutProvider: with no TracerProvider the engine
// records nothing but still passes the event's traceparent to steps and
// to the events they emit; an event without one (or with a malformed
// one) gives steps none.
func TestEngineTraceparentWithoutProvider(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"valid", parentTraceparent, parentTraceparent},
		{"none", "", ""},
		{"malformed", "00-zz-00f067aa0ba902b7-01", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := &seen{tp: map[string]string{}}
				st := memory.New()
				h := start(t, pipeline.Config{Store: st, Steps: traceRegistry(s)})
				h.put(tracedParent)
				h.put(tracedChild)
				ev := event(t, events.TypeSchemaChanged, "ws", nil)
				if tt.in != "" {
					ev.Extensions = map[string]string{"traceparent": tt.in}
				}
				if err := h.bus.Publish(context.Background(), ev); err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				if got := s.get("see@parent"); got != tt.want {
					t.Errorf("parent step's Input.Traceparent = %q; want %q", got, tt.want)
				}
				if got := s.get("see@child"); got != tt.want {
					t.Errorf("child step's Input.Traceparent = %q; want %q", got, tt.want)
				}
				children := listAll(t, st, "child")
				if len(children) != 1 {
					t.Fatalf("%d child executions; want 1", len(children))
				}
				if tt.want != "" && children[0].Event.Extensions["traceparent"] != tt.want {
					t.Errorf("emitted traceparent = %q; want %q", children[0].Event.Extensions["traceparent"], tt.want)
				}
				if x := h.wait(children[0].ID); x.Status != store.StatusSucceeded {
					t.Errorf("child execution %s", x.Status)
				}
			})
		})
	}
}

func TestParseTraceparent(t *testing.T) {
	tests := []struct {
		in      string
		ok      bool
		sampled bool
	}{
		{parentTraceparent, true, true},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", true, false},
		{"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later", true, true}, // future version: extra fields ignored
		{"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true, true},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", false, false}, // version 00 has no more fields
		{"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", false, false},
		{"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false, false},
		{"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", false, false}, // upper case
		{"00-00000000000000000000000000000000-00f067aa0ba902b7-01", false, false},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", false, false},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", false, false},
		{"00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01", false, false},
		{"", false, false},
	}
	for _, tt := range tests {
		sc, ok := pipeline.ParseTraceparent(tt.in)
		if ok != tt.ok || (ok && sc.IsSampled() != tt.sampled) {
			t.Errorf("ParseTraceparent(%q) = %v, sampled %v; want %v, sampled %v", tt.in, ok, sc.IsSampled(), tt.ok, tt.sampled)
		}
		if ok && !sc.IsRemote() {
			t.Errorf("ParseTraceparent(%q) is not remote", tt.in)
		}
	}
	if got := pipeline.FormatTraceparent(trace.SpanContext{}); got != "" {
		t.Errorf("FormatTraceparent(invalid) = %q; want \"\"", got)
	}
}

// FuzzParseTraceparent: no input panics, and whatever parses formats back
// to its version 00 form, which parses to the same span context.
func FuzzParseTraceparent(f *testing.F) {
	f.Add(parentTraceparent)
	f.Add("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later")
	f.Add("00-0-0-0")
	f.Fuzz(func(t *testing.T, s string) {
		sc, ok := pipeline.ParseTraceparent(s)
		if !ok {
			return
		}
		out := pipeline.FormatTraceparent(sc)
		if len(s) == 55 && s[:2] == "00" && out[:53] != s[:53] { // flags other than sampled are dropped

			t.Errorf("FormatTraceparent(ParseTraceparent(%q)) = %q", s, out)
		}
		back, ok := pipeline.ParseTraceparent(out)
		if !ok || back.TraceID() != sc.TraceID() || back.SpanID() != sc.SpanID() || back.TraceFlags() != sc.TraceFlags() {
			t.Errorf("round trip of %q: %q parses to %v, %v", s, out, back, ok)
		}
	})
}

// logRecord is one record a captureHandler saw, with the attributes of
// the logger it came through.
type logRecord struct {
	msg   string
	attrs map[string]string
}

// captureHandler keeps every record, for tests of what the engine logs.
type captureHandler struct {
	mu    *sync.Mutex
	recs  *[]logRecord
	attrs []slog.Attr
}

func newCapture() *captureHandler {
	return &captureHandler{mu: &sync.Mutex{}, recs: &[]logRecord{}}
}

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{msg: r.Message, attrs: map[string]string{}}
	for _, a := range h.attrs {
		rec.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.recs = append(*h.recs, rec)
	return nil
}

func (h *captureHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &captureHandler{mu: h.mu, recs: h.recs, attrs: append(slices.Clip(h.attrs), as...)}
}

func (h *captureHandler) WithGroup(string) slog.Handler { return h }

func (h *captureHandler) records() []logRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(*h.recs)
}

// TestEngineLogIDs: every record about an execution carries the pipeline
// and execution ids, every record about a step (the engine's and the
// step's own, through Input.Logger) the step id too.
func TestEngineLogIDs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logs := newCapture()
		tries := 0
		reg := registry(map[string]probeFunc{
			"talk": func(_ context.Context, in steps.Input, _ probeConfig) (steps.Output, error) {
				in.Logger.Info("step says hello")
				return steps.Output{}, nil
			},
			"flaky": func(context.Context, steps.Input, probeConfig) (steps.Output, error) {
				if tries++; tries == 1 {
					return steps.Output{}, errBoom
				}
				return steps.Output{}, nil
			},
			"panic": func(context.Context, steps.Input, probeConfig) (steps.Output, error) { panic("oops") },
		}, nil)
		h := start(t, pipeline.Config{Steps: reg, Logger: slog.New(logs)})
		h.put("name: logged\non: [{event: acme.log}]\nsteps:\n" +
			"  - {id: talk, uses: probe, with: {key: talk}}\n" +
			"  - {id: flaky, uses: probe, retry: {attempts: 2, backoff: 1s}, with: {key: flaky}}\n" +
			"  - {id: boom, uses: probe, continue_on_error: true, with: {key: panic}}\n")
		x := h.trigger("logged", events.Event{})
		if x.Status != store.StatusSucceeded {
			t.Fatalf("execution %s (%s)", x.Status, x.Error)
		}
		want := map[string]string{ // message -> the step it is about ("" = the execution)
			"step says hello":                 "talk",
			"pipeline: step failed; retrying": "flaky",
			"pipeline: step panicked":         "boom",
			"pipeline: execution finished":    "",
		}
		found := map[string]bool{}
		for _, r := range logs.records() {
			step, ok := want[r.msg]
			if !ok {
				continue
			}
			found[r.msg] = true
			if r.attrs["pipeline"] != "logged" || r.attrs["execution"] != x.ID {
				t.Errorf("record %q: pipeline %q, execution %q; want logged, %s", r.msg, r.attrs["pipeline"], r.attrs["execution"], x.ID)
			}
			if step != "" && r.attrs["step"] != step {
				t.Errorf("record %q: step %q; want %s", r.msg, r.attrs["step"], step)
			}
		}
		for msg := range want {
			if !found[msg] {
				t.Errorf("no record %q", msg)
			}
		}
	})
}

// TestEngineEmitKeepsOwnTraceparent: an event a step publishes with a
// traceparent of its own (not the trigger's) keeps it; one without gets
// the step's.
func TestEngineEmitKeepsOwnTraceparent(t *testing.T) {
	const own = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	tests := []struct{ name, set, want string }{
		{"own", own, own},
		{"trigger's", parentTraceparent, ""}, // replaced by the step span's
		{"none", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rec := tracetest.NewSpanRecorder()
				tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
				defer tp.Shutdown(context.Background())
				st := memory.New()
				reg := registry(map[string]probeFunc{
					"pub": func(ctx context.Context, in steps.Input, _ probeConfig) (steps.Output, error) {
						ev, err := events.New("acme.next", "ws", nil)
						if err != nil {
							return steps.Output{}, err
						}
						if tt.set != "" {
							ev.Extensions = map[string]string{"traceparent": tt.set}
						}
						return steps.Output{}, in.Publisher.Publish(ctx, ev)
					},
				}, nil)
				h := start(t, pipeline.Config{Store: st, Steps: reg, TracerProvider: tp})
				h.put("name: parent\non: [{event: schema.changed}]\nsteps: [{id: pub, uses: probe, with: {key: pub}}]\n")
				h.put(strings.Replace(tracedChild, "key: see", "key: x", 1))
				ev := event(t, events.TypeSchemaChanged, "ws", nil)
				ev.Extensions = map[string]string{"traceparent": parentTraceparent}
				if err := h.bus.Publish(context.Background(), ev); err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				children := listAll(t, st, "child")
				if len(children) != 1 {
					t.Fatalf("%d child executions; want 1", len(children))
				}
				want := tt.want
				if want == "" {
					for _, sp := range rec.Ended() {
						if sp.Name() == "step pub" {
							want = pipeline.FormatTraceparent(sp.SpanContext())
						}
					}
				}
				if got := children[0].Event.Extensions["traceparent"]; got != want || want == "" {
					t.Errorf("emitted traceparent = %q; want %q", got, want)
				}
			})
		})
	}
}
