package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
)

// logConfig configures the quickstart's own step type: hosts register
// their step types in a Registry they own, and pipelines are checked
// against them when loaded.
type logConfig struct {
	Message string `json:"message" step:"required"`
}

// loadPipelines parses every definition in config/ against the host's
// registry and indexes them for matching.
func loadPipelines(fsys fs.FS) (*pipeline.Index, []*pipeline.Definition, error) {
	reg := steps.NewRegistry()
	steps.MustRegister(reg, "log", func(cfg logConfig) (steps.Step, error) {
		return steps.StepFunc(func(ctx context.Context, in steps.Input) (steps.Output, error) {
			return steps.Output{Outputs: map[string]any{"message": cfg.Message}}, nil
		}), nil
	})
	p := pipeline.Parser{Registry: reg}
	defs, err := p.LoadDir(fsys, "config/pipelines/*.yaml")
	if err != nil {
		return nil, nil, err
	}
	var plans []*pipeline.Plan
	for _, d := range defs {
		if d.Plan() != nil {
			plans = append(plans, d.Plan())
		}
	}
	return pipeline.NewIndex(plans...), defs, nil
}

// dryRun prints, for one event, which pipelines it triggers and each
// step's rendered config: the dry run the engine's Test API is built on.
func dryRun(ctx context.Context, idx *pipeline.Index, e events.Event, out io.Writer) error {
	ev := pipeline.NewEventVars(e) // decoded once, for every plan and step
	hits, failed := idx.Match(ctx, ev)
	for _, f := range failed {
		fmt.Fprintf(out, "  pipeline %s: filter failed: %v\n", f.Plan.Name(), f.Err)
	}
	for _, hit := range hits {
		for _, st := range hit.Plan.Steps() {
			r, err := hit.Plan.Render(ctx, st.ID(), pipeline.RenderContext{Event: ev})
			if err != nil {
				return fmt.Errorf("render %s/%s: %w", hit.Plan.Name(), st.ID(), err)
			}
			fmt.Fprintf(out, "  pipeline %s would run step %s (%s) with %v\n", hit.Plan.Name(), st.ID(), st.Uses(), r.Redacted())
		}
	}
	return nil
}
