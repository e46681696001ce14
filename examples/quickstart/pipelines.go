package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
	"github.com/mockops/mockops/store"
)

// logConfig configures the quickstart's own step type: hosts register
// their step types in a Registry they own, and pipelines are checked
// against them when loaded.
type logConfig struct {
	Message string `json:"message" step:"required"`
}

// newRegistry returns the host's step types: the built-ins (http, notify,
// emit, create_pr) and the quickstart's "log", which writes its message as
// a log record (with the run's ids, which the engine's logger carries).
func newRegistry() (*steps.Registry, error) {
	reg := steps.NewRegistry()
	if err := steps.RegisterBuiltins(reg, steps.Deps{}); err != nil {
		return nil, err
	}
	err := steps.Register(reg, "log", func(cfg logConfig) (steps.Step, error) {
		return steps.StepFunc(func(ctx context.Context, in steps.Input) (steps.Output, error) {
			in.Logger.InfoContext(ctx, "quickstart log", "message", cfg.Message)
			return steps.Output{Outputs: map[string]any{"message": cfg.Message}}, nil
		}), nil
	})
	return reg, err
}

// secretMap is the quickstart's own SecretSource: hosts resolve
// `${{ secrets.NAME }}` from wherever they keep secrets (the default reads
// the environment).
type secretMap map[string]string

func (m secretMap) Secret(_ context.Context, name string) (string, error) {
	v, ok := m[name]
	if !ok {
		return "", fmt.Errorf("quickstart: no secret %q", name)
	}
	return v, nil
}

// storePipelines stores every definition in config/pipelines through the
// engine, which validates it against its step types first.
func storePipelines(ctx context.Context, eng *pipeline.Engine, fsys fs.FS, out io.Writer) error {
	files, err := fs.Glob(fsys, "config/pipelines/*.yaml")
	if err != nil {
		return err
	}
	for _, f := range files {
		src, err := fs.ReadFile(fsys, f)
		if err != nil {
			return err
		}
		d, err := pipeline.Parse(path.Base(f), src)
		if err != nil {
			return err
		}
		p, err := eng.Put(ctx, d)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "stored pipeline %s (%s format) as version %d\n", d.Name, d.Format, p.Version)
	}
	return nil
}

// printDecisions prints the engine's dry run for one event: which
// pipelines would run it, with each step's redacted rendered config, and
// why the others would not.
func printDecisions(ctx context.Context, eng *pipeline.Engine, e events.Event, out io.Writer) error {
	ds, err := eng.Test(ctx, e)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "test %s:\n", e.Type)
	for _, d := range ds {
		switch {
		case d.Err != nil:
			fmt.Fprintf(out, "  pipeline %s: filter failed: %v\n", d.Pipeline, d.Err)
		case !d.Matched:
			fmt.Fprintf(out, "  pipeline %s would not run: %s\n", d.Pipeline, strings.ReplaceAll(d.Reason, "\n", "; "))
		default:
			for _, s := range d.Steps {
				with := fmt.Sprint(s.With)
				if s.RenderErr != nil {
					with = "(renders at run time: " + s.RenderErr.Error() + ")"
				}
				fmt.Fprintf(out, "  pipeline %s would run step %s (%s) with %s\n", d.Pipeline, s.ID, s.Uses, with)
			}
		}
	}
	return nil
}

// expectedRuns counts the executions e starts: direct is one per matching
// pipeline, total adds those the events its emit steps raise start in turn.
func expectedRuns(ctx context.Context, eng *pipeline.Engine, e events.Event) (total, direct int, err error) {
	ds, err := eng.Test(ctx, e)
	if err != nil {
		return 0, 0, err
	}
	n := 0
	for _, d := range ds {
		if !d.Matched {
			continue
		}
		n++
		for _, s := range d.Steps {
			if s.Uses != "emit" || !s.Run || s.RenderErr != nil {
				continue
			}
			typ, _ := s.With["type"].(string)
			ws, _ := s.With["workspace"].(string)
			if ws == "" {
				ws = e.Workspace
			}
			child, err := events.New(events.Type(typ), ws, s.With["data"])
			if err != nil {
				return 0, 0, err
			}
			m, _, err := expectedRuns(ctx, eng, child.CausedBy(e))
			if err != nil {
				return 0, 0, err
			}
			n += m
		}
	}
	for _, d := range ds {
		if d.Matched {
			direct++
		}
	}
	return n, direct, nil
}

// waitRuns waits until the executions the published events started
// (want of them, direct of those for the published events themselves) are
// stored and finished, and returns them. It stops early, with what there
// is, once every execution has finished and one did not succeed: a failed
// step may have cut a chain short.
func waitRuns(ctx context.Context, eng *pipeline.Engine, published []events.Event, want, direct int) ([]store.Execution, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		xs, err := related(ctx, eng, published)
		if err != nil {
			return nil, err
		}
		finished, succeeded, roots := 0, 0, 0
		for _, x := range xs {
			if x.Status.Terminal() {
				finished++
			}
			if x.Status == store.StatusSucceeded {
				succeeded++
			}
			if x.Event.Depth() == 0 {
				roots++
			}
		}
		if len(xs) >= want || (roots >= direct && finished == len(xs) && succeeded < finished) {
			for i, x := range xs {
				if xs[i], err = eng.Wait(ctx, x.ID); err != nil {
					return nil, err
				}
			}
			return xs, nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil, fmt.Errorf("quickstart: %d of %d executions stored, %d finished: %w", len(xs), want, finished, ctx.Err())
		}
	}
}

// related returns the newest stored executions whose event is one of
// published or was caused, through any chain, by one of them.
func related(ctx context.Context, eng *pipeline.Engine, published []events.Event) ([]store.Execution, error) {
	page, err := eng.Executions(ctx, store.ExecutionQuery{Limit: 200})
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, e := range published {
		known[e.ID] = true
	}
	taken := map[string]bool{}
	var xs []store.Execution
	for grew := true; grew; {
		grew = false
		for _, x := range page.Executions {
			if taken[x.ID] || !(known[x.EventID] || known[x.Event.Extensions[events.ExtCausationID]]) {
				continue
			}
			taken[x.ID], known[x.EventID], grew = true, true, true
			xs = append(xs, x)
		}
	}
	return xs, nil
}

// printExecutions prints the stored executions in the order of the
// published events they descend from, causes before what they caused.
func printExecutions(xs []store.Execution, published []events.Event, out io.Writer) {
	index := map[string]int{}
	byID := map[string]events.Event{}
	for i, e := range published {
		index[e.ID] = i
		byID[e.ID] = e
	}
	root := func(x store.Execution) int {
		if i, ok := index[x.EventID]; ok {
			return i
		}
		return index[x.Event.Extensions[events.ExtCausationID]]
	}
	slices.SortFunc(xs, func(a, b store.Execution) int {
		return cmp.Or(cmp.Compare(root(a), root(b)), cmp.Compare(a.Event.Depth(), b.Event.Depth()), cmp.Compare(a.Pipeline, b.Pipeline))
	})
	for _, x := range xs {
		cause := ""
		if id := x.Event.Extensions[events.ExtCausationID]; id != "" {
			parent := "an earlier event"
			if p, ok := byID[id]; ok {
				parent = string(p.Type)
			}
			cause = fmt.Sprintf(" (caused by %s, depth %d)", parent, x.Event.Depth())
		}
		fmt.Fprintf(out, "execution of %s v%d for %s%s: %s\n", x.Pipeline, x.Version, x.Event.Type, cause, x.Status)
		if x.Error != "" {
			fmt.Fprintf(out, "  error: %s\n", x.Error)
		}
		for _, s := range x.Steps {
			fmt.Fprintf(out, "  step %s (%s): %s, outcome %s, %d attempt(s), with %s\n", s.ID, s.Uses, s.Status, s.Outcome, s.Attempts, s.With)
			if s.Error != "" {
				fmt.Fprintf(out, "    error: %s\n", s.Error)
			}
		}
	}
}

// runPipelines starts the engine on the store and its durable bus, stores
// the pipelines through it, shows the dry run for one event, publishes
// the platform events, prints the executions they ran, and shuts the
// engine down.
func runPipelines(ctx context.Context, st store.Store, bus events.Bus, logw io.Writer, out io.Writer) (err error) {
	hook, err := startDeployHook()
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		err = errors.Join(err, hook.srv.shutdown(sctx))
	}()

	reg, err := newRegistry()
	if err != nil {
		return err
	}
	eng, err := pipeline.NewEngine(pipeline.Config{
		Bus:      bus,
		Store:    st,
		Steps:    reg,
		Secrets:  secretMap{"DEPLOY_HOOK_URL": hook.srv.url + "/hooks/deploy", "DEPLOY_TOKEN": deployToken},
		Logger:   slog.New(slog.NewTextHandler(logw, nil)),
		Consumer: "quickstart-engine",
	})
	if err != nil {
		return err
	}
	if err := storePipelines(ctx, eng, configFS, out); err != nil {
		return err
	}

	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	defer func() {
		// Shut down gracefully: intake stops, running executions finish.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		err = errors.Join(err, eng.Shutdown(sctx), <-done)
	}()
	select {
	case <-eng.Ready():
	case err := <-done:
		done <- err // for the deferred Shutdown
		return fmt.Errorf("quickstart: engine stopped: %w", err)
	}

	evs, err := platformEvents()
	if err != nil {
		return err
	}
	want, direct := 0, 0
	for _, e := range evs {
		if e.Type == events.TypeDriftThresholdExceeded {
			if err := printDecisions(ctx, eng, e, out); err != nil {
				return err
			}
		}
		n, d, err := expectedRuns(ctx, eng, e)
		if err != nil {
			return err
		}
		want, direct = want+n, direct+d
	}
	for _, e := range evs {
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "event %s\n", b)
		if err := bus.Publish(ctx, e); err != nil {
			return err
		}
	}
	xs, err := waitRuns(ctx, eng, evs, want, direct)
	if err != nil {
		return err
	}
	printExecutions(xs, evs, out)
	for _, r := range hook.received() {
		fmt.Fprintf(out, "deploy hook got %s\n", r)
	}
	failed := 0
	for _, x := range xs {
		if x.Status != store.StatusSucceeded {
			failed++
		}
	}
	if failed > 0 || len(xs) != want {
		return fmt.Errorf("quickstart: %d of %d executions ran, %d did not succeed", len(xs), want, failed)
	}
	return nil
}
