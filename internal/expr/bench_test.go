package expr

import (
	"context"
	"testing"

	"github.com/mockops/mockops/events"
)

// BenchmarkFilter compares a filter compiled once at load with compiling
// the same expression for every event (the baseline a per-event design
// would pay). Both decode the payload once per event.
func BenchmarkFilter(b *testing.B) {
	env := newEnv(b)
	const src = `event.data.schema_type in ["openapi", "protobuf"] && event.workspace == "payments"`
	ev, err := events.New(events.TypeSchemaChanged, "payments", map[string]any{"schema_type": "openapi", "spec_path": "a.yaml"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.Run("compiled", func(b *testing.B) {
		prg, errs := env.CompileCondition(src, ScopeTrigger)
		if errs != nil {
			b.Fatal(errs)
		}
		b.ReportAllocs()
		for b.Loop() {
			evs, err := NewEventVars(ev)
			if err != nil {
				b.Fatal(err)
			}
			if ok, err := prg.EvalBool(ctx, &Vars{Event: evs}); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
	// The evaluation alone, with the payload decoded once beforehand (what
	// each further filter of the same event costs).
	b.Run("compiled-eval-only", func(b *testing.B) {
		prg, errs := env.CompileCondition(src, ScopeTrigger)
		if errs != nil {
			b.Fatal(errs)
		}
		evs, err := NewEventVars(ev)
		if err != nil {
			b.Fatal(err)
		}
		vars := &Vars{Event: evs}
		b.ReportAllocs()
		for b.Loop() {
			if ok, err := prg.EvalBool(ctx, vars); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("compile-per-event", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			evs, err := NewEventVars(ev)
			if err != nil {
				b.Fatal(err)
			}
			prg, errs := env.CompileCondition(src, ScopeTrigger)
			if errs != nil {
				b.Fatal(errs)
			}
			if ok, err := prg.EvalBool(ctx, &Vars{Event: evs}); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
}
