package federation

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mockops/mockops/store/memory"
)

// BenchmarkServeScenario: serving a mock request while a scenario is
// active costs what serving it without one does (the overlay is applied
// when the snapshot is built, never per request); StateFrom in the mock
// adds no allocation beyond the store's own.
func BenchmarkServeScenario(b *testing.B) {
	var st *State
	mock := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, _ = StateFrom(r.Context())
		w.WriteHeader(http.StatusNoContent)
	})
	f, err := Parse("bench.yaml", []byte(`name: bench
services:
  - {name: orders, base_path: /orders, reality: mock_v3}
  - {name: auth, base_path: /auth, reality: mock_v3}
scenarios:
  - name: s
    services: { auth: { reality: chaos_driven, chaos: { abort: { p: 1, status: 503 } } } }
`))
	if err != nil {
		b.Fatal(err)
	}
	newRouter := func(b *testing.B) *Router {
		r, err := NewRouter(f, RouterConfig{Mocks: MockResolverFunc(func(string) (http.Handler, error) { return mock, nil }), Store: memory.New()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { r.Close() })
		return r
	}
	req := httptest.NewRequest("GET", "http://router.test/orders/42", nil)
	w := &discardWriter{h: http.Header{}}
	b.Run("no-scenario", func(b *testing.B) {
		r := newRouter(b)
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			r.ServeHTTP(w, req)
		}
	})
	b.Run("scenario-active", func(b *testing.B) {
		r := newRouter(b)
		if err := r.ActivateScenario(context.Background(), "s"); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			r.ServeHTTP(w, req)
		}
	})
	if st == nil {
		b.Fatal("the mock found no state")
	}
}

// BenchmarkStateFrom: finding the state in a routed request's context,
// beside RouteFrom, the baseline.
func BenchmarkStateFrom(b *testing.B) {
	x := &exchange{parent: context.Background(), route: Route{c: &compiled{state: NewState(memory.New(), "f")}}}
	var ctx context.Context = x
	b.Run("RouteFrom", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := RouteFrom(ctx); !ok {
				b.Fatal("no route")
			}
		}
	})
	b.Run("StateFrom", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := StateFrom(ctx); !ok {
				b.Fatal("no state")
			}
		}
	})
}

// BenchmarkStateCAS: a compare-and-swap round on the memory store,
// against a plain Put, the baseline.
func BenchmarkStateCAS(b *testing.B) {
	st := NewState(memory.New(), "f")
	ctx := context.Background()
	v := json.RawMessage(`{"n":1}`)
	b.Run("Put", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := st.Put(ctx, "k", v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("CompareAndSwap", func(b *testing.B) {
		e, err := st.Put(ctx, "c", v)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if e, err = st.CompareAndSwap(ctx, "c", v, e.Version); err != nil {
				b.Fatal(err)
			}
		}
	})
}
