package pipeline

import (
	"context"
	"sync"
	"testing"

	"github.com/mockops/mockops/events"
)

// TestEventVarsDecodeOnce: matching, the concurrency group and every
// step's if: and with: read one decode of the payload, even when steps
// render concurrently.
func TestEventVarsDecodeOnce(t *testing.T) {
	d, err := Parse("once.yaml", []byte(`name: once
on: [{event: custom.x, if: event.data.n > 0}]
concurrency: {group: "${{ event.data.g }}"}
steps:
  - {id: a, uses: emit, if: event.data.n > 0, with: {type: "${{ event.data.g }}"}}
  - {id: b, uses: emit, needs: [], with: {type: "${{ event.data.g }}"}}
`))
	if err != nil {
		t.Fatal(err)
	}
	plan := d.Plan()
	ev, err := events.New("custom.x", "", map[string]any{"n": 1, "g": "grp"})
	if err != nil {
		t.Fatal(err)
	}
	evv := NewEventVars(ev)
	ctx := context.Background()
	if hits, failed := NewIndex(plan).Match(ctx, evv); len(hits) != 1 || len(failed) != 0 {
		t.Fatalf("Index.Match = %v, %v; want one hit", hits, failed)
	}
	first := evv.vars
	if first == nil {
		t.Fatal("the filter did not decode the payload into the EventVars")
	}
	if g, err := plan.ConcurrencyGroup(ctx, evv); g != "grp" || err != nil {
		t.Fatalf("ConcurrencyGroup = %q, %v", g, err)
	}
	var wg sync.WaitGroup
	for _, id := range plan.Order() {
		wg.Go(func() {
			rc := RenderContext{Event: evv}
			if ok, err := plan.ShouldRun(ctx, id, rc); !ok || err != nil {
				t.Errorf("ShouldRun(%s) = %v, %v", id, ok, err)
			}
			if _, err := plan.Render(ctx, id, rc); err != nil {
				t.Errorf("Render(%s) = %v", id, err)
			}
		})
	}
	wg.Wait()
	if evv.vars != first {
		t.Errorf("the payload was decoded again after the first filter")
	}
}
