package pipeline_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
)

// FuzzParse checks that no input makes the parser panic, that every
// diagnostic carries a position, and that a plan that parses can be
// matched and rendered without panicking.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/valid/*.yaml", "testdata/invalid/*.yaml"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			src, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(src)
		}
	}
	// Multi-document input: a broken document after a good one, empty
	// documents before and after, a second document with content.
	for _, s := range []string{
		"name: a\non: [{event: x.y}]\nsteps: [{id: s, uses: emit, with: {type: x.y}}]\n---\nname: [b\n",
		"---\nname: a\non: [{event: x.y}]\nsteps: [{id: s, uses: emit, with: {type: x.y}}]\n---\n...\n",
		"name: a\n---\nname: b\n---\n",
	} {
		f.Add([]byte(s))
	}
	p := newParser()
	ev, err := events.New(events.TypeSchemaChanged, "payments", map[string]any{"schema_type": "openapi", "spec_path": "x"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		d, err := p.Parse("fuzz.yaml", src)
		if err != nil {
			var list pipeline.ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("Parse error %T is not a pipeline.ErrorList: %v", err, err)
			}
			if len(list) == 0 {
				t.Fatalf("Parse returned an empty ErrorList")
			}
			for _, e := range list {
				if e.Pos.Line < 1 || e.Pos.Col < 1 || e.Pos.File != "fuzz.yaml" {
					t.Fatalf("diagnostic without a position: %q", e.Error())
				}
			}
			return
		}
		plan := d.Plan()
		_ = match(plan, ev)
		for _, s := range plan.Steps() {
			_, _ = plan.Render(context.Background(), s.ID(), pipelineRenderContext(ev))
		}
	})
}
