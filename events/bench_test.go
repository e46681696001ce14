package events_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mockops/mockops/events"
)

// benchWork is what every consumer does per event, on the bus and on the
// channel baseline alike: look at the event and count it.
type benchWork struct {
	n    atomic.Int64
	done sync.WaitGroup
}

func (w *benchWork) handle(_ context.Context, e events.Event) error {
	if e.Type == "bench.end" {
		w.done.Done()
		return nil
	}
	w.n.Add(1)
	return nil
}

// BenchmarkPublish measures publish-to-delivery throughput of the memory bus
// with 1 and 8 subscribers, next to the baseline of the same hand-off over
// plain buffered channels (one goroutine per consumer, same queue length,
// same per-event work). ns/op is per published event.
func BenchmarkPublish(b *testing.B) {
	e, err := events.New(events.TypeSchemaChanged, "payments", events.SchemaChange{SchemaType: "openapi", Path: "p.yaml"})
	if err != nil {
		b.Fatal(err)
	}
	end := events.Event{ID: "end", Type: "bench.end", Source: "bench"}
	for _, subs := range []int{1, 8} {
		b.Run(fmt.Sprintf("bus/subscribers=%d", subs), func(b *testing.B) {
			bus := events.NewMemoryBus(events.MemoryConfig{QueueSize: events.DefaultQueueSize})
			defer bus.Close()
			var w benchWork
			w.done.Add(subs)
			for range subs {
				if _, err := bus.Subscribe(context.Background(), events.Filter{}, w.handle); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := bus.Publish(ctx, e); err != nil {
					b.Fatal(err)
				}
			}
			if err := bus.Publish(ctx, end); err != nil {
				b.Fatal(err)
			}
			w.done.Wait()
		})
		b.Run(fmt.Sprintf("channel/subscribers=%d", subs), func(b *testing.B) {
			var w benchWork
			w.done.Add(subs)
			chans := make([]chan events.Event, subs)
			var consumers sync.WaitGroup
			for i := range chans {
				ch := make(chan events.Event, events.DefaultQueueSize)
				chans[i] = ch
				consumers.Go(func() {
					for ev := range ch {
						w.handle(context.Background(), ev)
					}
				})
			}
			b.ReportAllocs()
			for b.Loop() {
				for _, ch := range chans {
					ch <- e
				}
			}
			for _, ch := range chans {
				ch <- end
				close(ch)
			}
			w.done.Wait()
			consumers.Wait()
		})
	}
}

// BenchmarkNewSchemaChanged measures building a schema.changed event from
// the typed payload, whose MarshalJSON writes a nil Changes as [], next to
// the baseline of a plain struct with the same fields and tags (and a
// non-nil Changes, so both write the same JSON).
func BenchmarkNewSchemaChanged(b *testing.B) {
	type plain struct {
		SchemaType string   `json:"schema_type"`
		Path       string   `json:"spec_path"`
		Changes    []string `json:"changes"`
		Breaking   bool     `json:"breaking"`
	}
	for _, c := range []struct {
		name    string
		payload any
	}{
		{"typed", events.SchemaChange{SchemaType: "openapi", Path: "p.yaml"}},
		{"plain-struct", plain{SchemaType: "openapi", Path: "p.yaml", Changes: []string{}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := events.New(events.TypeSchemaChanged, "payments", c.payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
