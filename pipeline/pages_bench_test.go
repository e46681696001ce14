package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/internal/ui"
	"github.com/mockops/mockops/steps"
	"github.com/mockops/mockops/store"
)

// benchPages is Pages over an engine with a 50-step definition loaded: ten
// levels of five steps side by side.
func benchPages(tb testing.TB) *Pages {
	tb.Helper()
	reg := steps.NewRegistry()
	steps.MustRegister(reg, "noop", func(struct {
		N int `json:"n"`
	}) (steps.Step, error) {
		return steps.StepFunc(func(context.Context, steps.Input) (steps.Output, error) { return steps.Output{}, nil }), nil
	})
	e, err := NewEngine(Config{Steps: reg})
	if err != nil {
		tb.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("name: wide\non: [{event: schema.changed}]\nsteps:\n")
	for i := range 50 {
		needs := "[]"
		if lvl := i / 5; lvl > 0 {
			needs = fmt.Sprintf("[s%d]", (lvl-1)*5)
		}
		fmt.Fprintf(&b, "  - {id: s%d, uses: noop, needs: %s, with: {n: %d}}\n", i, needs, i)
	}
	if _, err := e.PutSource(context.Background(), "wide.yaml", []byte(b.String()), 0); err != nil {
		tb.Fatal(err)
	}
	p, err := NewPages(e, PagesConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func benchExecution(id string, nsteps int, t0 time.Time) store.Execution {
	ev := events.Event{ID: "ev-" + id, Type: events.TypeSchemaChanged, Source: "mockops", Workspace: "payments",
		Time: t0, Data: json.RawMessage(`{"schema_type":"openapi","spec_path":"specs/payments.yaml"}`)}
	x := store.Execution{ID: id, Pipeline: "wide", Version: 1, EventID: ev.ID, Event: ev, Status: store.StatusSucceeded,
		Attempt: 1, Owner: "engine-1", CreatedAt: t0, StartedAt: t0, FinishedAt: t0.Add(3 * time.Second)}
	for i := range nsteps {
		x.Steps = append(x.Steps, store.StepRun{ID: fmt.Sprintf("s%d", i), Uses: "noop", Status: store.StatusSucceeded,
			Outcome: store.StatusSucceeded, Conclusion: store.StatusSucceeded, Attempts: 1,
			StartedAt: t0.Add(time.Duration(i) * time.Millisecond), FinishedAt: t0.Add(time.Duration(i+3) * time.Millisecond),
			With: json.RawMessage(fmt.Sprintf(`{"n":%d,"token":"[redacted]"}`, i)), Output: json.RawMessage(`{"ok":true,"files":["a.go","b.go"]}`)})
	}
	return x
}

// BenchmarkPagesRender renders the executions list of 100 rows and a
// 50-step timeline (view building included), beside html/template
// executing an empty template: the floor of any page.
func BenchmarkPagesRender(b *testing.B) {
	p := benchPages(b)
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	xs := make([]store.Execution, 100)
	for i := range xs {
		xs[i] = benchExecution(fmt.Sprintf("x%03d", i), 3, t0.Add(time.Duration(i)*time.Second))
	}
	wide := benchExecution("wide-1", 50, t0)
	page := ui.Page{Title: "bench"}

	b.Run("baseline-empty-template", func(b *testing.B) {
		t := template.Must(template.New("empty").Parse(""))
		b.ReportAllocs()
		for b.Loop() {
			if err := t.Execute(io.Discard, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("executions-100", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			data := execListData{Rows: p.execRows(xs), Action: "/ui/executions", NextURL: "/ui/executions?cursor=abc"}
			if err := p.r.Execute(io.Discard, "executions", page, data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("timeline-50", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			d := p.execData(wide)
			if len(d.Levels) != 10 {
				b.Fatalf("%d levels; want 10", len(d.Levels))
			}
			if err := p.r.Execute(io.Discard, "execution", page, d); err != nil {
				b.Fatal(err)
			}
		}
	})
}
