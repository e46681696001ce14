package pipeline_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
)

// BenchmarkMatch matches one event against many loaded plans through the
// Index, beside the baseline loop that calls Plan.Match on every plan (the
// dry-run API, which explains each non-match). 1,000 plans are spread over
// the seven platform event types and 50 workspaces; 10,000 plans over the
// same types and 500 workspaces, so the event has about as many candidates
// (a handful) in both: the index's cost stays flat while the loop's grows
// with the plans loaded.
func BenchmarkMatch(b *testing.B) {
	ctx := context.Background()
	ev, err := events.New(events.TypeSchemaChanged, "ws-7", map[string]any{"level": 3, "endpoint": "/e1"})
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1000, 10000} {
		plans := genPlans(b, n, n/20)
		x := pipeline.NewIndex(plans...)
		want := len(loopMatch(plans, ev))
		if want == 0 {
			b.Fatal("the benchmark event matches no plan")
		}
		b.Run(fmt.Sprintf("index-%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				hits, _ := x.Match(ctx, pipeline.NewEventVars(ev))
				if got := len(hits); got != want {
					b.Fatalf("index matched %d plans; want %d", got, want)
				}
			}
		})
		b.Run(fmt.Sprintf("loop-%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if got := len(loopMatch(plans, ev)); got != want {
					b.Fatalf("loop matched %d plans; want %d", got, want)
				}
			}
		})
	}
}

// BenchmarkExecution renders what one execution of a five-step plan
// needs: the concurrency group, then each step's `if:` and `with:`. The
// payload is decoded once per event and shared (decode-once), beside the
// baseline that decodes it in every call (decode-per-call, what each call
// did before EventVars).
func BenchmarkExecution(b *testing.B) {
	src := []byte(`name: five
on: [{event: schema.changed}]
concurrency: {group: "${{ event.workspace }}-${{ event.data.spec_path }}"}
steps:
  - {id: a, uses: emit, if: event.data.count > 1, with: {type: x.y, data: {spec: "${{ event.data.spec_path }}", n: "${{ event.data.count }}"}}}
  - {id: b, uses: emit, if: event.data.count > 1, with: {type: x.y, data: {spec: "${{ event.data.spec_path }}", n: "${{ event.data.count }}"}}}
  - {id: c, uses: emit, if: event.data.count > 1, with: {type: x.y, data: {spec: "${{ event.data.spec_path }}", n: "${{ event.data.count }}"}}}
  - {id: d, uses: emit, if: event.data.count > 1, with: {type: x.y, data: {spec: "${{ event.data.spec_path }}", n: "${{ event.data.count }}"}}}
  - {id: e, uses: emit, if: event.data.count > 1, with: {type: x.y, data: {spec: "${{ event.data.spec_path }}", n: "${{ event.data.count }}"}}}
`)
	plan := mustParse(b, newParser(), "five.yaml", src).Plan()
	data := map[string]any{"spec_path": "specs/payments.yaml", "count": 3, "schema_type": "openapi"}
	for i := range 20 { // a payload of realistic size
		data[fmt.Sprintf("field_%d", i)] = map[string]any{"name": "n", "values": []int{1, 2, 3}}
	}
	ev, err := events.New(events.TypeSchemaChanged, "payments", data)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	run := func(b *testing.B, vars func() *pipeline.EventVars) {
		if _, err := plan.ConcurrencyGroup(ctx, vars()); err != nil {
			b.Fatal(err)
		}
		for _, id := range plan.Order() {
			rc := pipeline.RenderContext{Event: vars()}
			if ok, err := plan.ShouldRun(ctx, id, rc); !ok || err != nil {
				b.Fatal(ok, err)
			}
			rc.Event = vars()
			if _, err := plan.Render(ctx, id, rc); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("decode-once", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			evv := pipeline.NewEventVars(ev)
			run(b, func() *pipeline.EventVars { return evv })
		}
	})
	b.Run("decode-per-call", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			run(b, func() *pipeline.EventVars { return pipeline.NewEventVars(ev) })
		}
	})
}
