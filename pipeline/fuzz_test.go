package pipeline_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/internal/yamlpos"
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
	p := newParser()
	ev, err := events.New(events.TypeSchemaChanged, "payments", map[string]any{"schema_type": "openapi", "spec_path": "x"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		d, err := p.Parse("fuzz.yaml", src)
		if err != nil {
			var list yamlpos.ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("Parse error %T is not a yamlpos.ErrorList: %v", err, err)
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
