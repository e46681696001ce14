package pipeline_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/access"
	"github.com/mockops/mockops/store/memory"
)

// BenchmarkHandler measures what the API adds to the store reads behind
// its two most polled routes (an execution, a page of executions): the
// baseline sub-benchmark is the bare store call the route makes.
func BenchmarkHandler(b *testing.B) {
	st := memory.New()
	eng, err := pipeline.NewEngine(pipeline.Config{Store: st, Steps: registry(nil, nil)})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := eng.PutSource(ctx, "pay.yaml", []byte(payDef), store.AnyVersion); err != nil {
		b.Fatal(err)
	}
	var id string
	for range 100 {
		if id, err = eng.Trigger(ctx, "pay", events.Event{Subject: "bench", Data: []byte(`{"k":"v"}`)}); err != nil {
			b.Fatal(err)
		}
	}
	h := pipeline.NewHandler(eng, pipeline.HandlerConfig{Authorizer: access.AllowAll})
	serve := func(b *testing.B, path string) {
		r := httptest.NewRequest("GET", path, nil)
		for b.Loop() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	}
	b.Run("execution/store", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := st.GetExecution(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("execution/handler", func(b *testing.B) {
		b.ReportAllocs()
		serve(b, "/api/v2/executions/"+id)
	})
	b.Run("page50/store", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := st.ListExecutions(ctx, store.ExecutionQuery{Pipeline: "pay", Limit: 50}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("page50/handler", func(b *testing.B) {
		b.ReportAllocs()
		serve(b, "/api/v2/executions?pipeline=pay&limit=50")
	})
}
