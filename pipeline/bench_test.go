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
				if got := len(x.Match(ctx, ev)); got != want {
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
