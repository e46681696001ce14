// Command customstep shows a host registering a step type of its own: a
// "ticket" step that files a ticket in the host's issue tracker when an
// event arrives.
//
// The step type is registered with its config struct, so a pipeline that
// misspells a key or leaves out a required one is refused when it is
// stored, with the YAML position, not when an event arrives. The program
// stores a bad definition (and prints why it was refused), then a good
// one, publishes a drift event and prints the ticket the step filed.
//
//	go run ./examples/customstep
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/memory"
)

// ticketConfig is the `with:` block of the ticket step. Unknown keys,
// wrong types and missing required fields are load errors.
type ticketConfig struct {
	Project  string   `json:"project" step:"required"`
	Title    string   `json:"title" step:"required"`
	Priority string   `json:"priority"`
	Labels   []string `json:"labels"`
}

// tracker stands in for the host's issue tracker.
type tracker struct {
	mu      sync.Mutex
	tickets []string
}

func (t *tracker) file(project, title, priority string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	id := fmt.Sprintf("%s-%d", project, len(t.tickets)+1)
	t.tickets = append(t.tickets, fmt.Sprintf("%s [%s] %s", id, priority, title))
	return id
}

func (t *tracker) list() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.tickets...)
}

// registerTicket adds the ticket step type to reg. The step honours ctx
// and returns outputs later steps can read (steps.<id>.outputs.ticket).
func registerTicket(reg *steps.Registry, t *tracker) error {
	return steps.Register(reg, "ticket", func(cfg ticketConfig) (steps.Step, error) {
		return steps.StepFunc(func(ctx context.Context, in steps.Input) (steps.Output, error) {
			if err := ctx.Err(); err != nil {
				return steps.Output{}, err
			}
			if cfg.Priority == "" {
				cfg.Priority = "p3"
			}
			id := t.file(cfg.Project, cfg.Title, cfg.Priority)
			return steps.Output{Outputs: map[string]any{"ticket": id}}, nil
		}), nil
	})
}

const badPipeline = `name: drift-ticket
on:
  - event: drift.threshold_exceeded
steps:
  - id: file
    uses: ticket
    with:
      title: "mock of ${{ event.data.service }} drifts"
      priorty: p1
`

const goodPipeline = `name: drift-ticket
on:
  - event: drift.threshold_exceeded
steps:
  - id: file
    uses: ticket
    with:
      project: MOCKS
      title: "mock of ${{ event.data.service }} drifts ${{ string(event.data.drift_percent) }}%"
      priority: p1
`

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "customstep:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) (err error) {
	t := &tracker{}
	reg := steps.NewRegistry()
	if err := registerTicket(reg, t); err != nil {
		return err
	}
	bus := events.NewMemoryBus(events.MemoryConfig{})
	defer bus.Close()
	eng, err := pipeline.NewEngine(pipeline.Config{Bus: bus, Store: memory.New(), Steps: reg})
	if err != nil {
		return err
	}

	// A misspelt key and a missing required one: refused at load time.
	if _, err := eng.PutSource(ctx, "drift-ticket.yaml", []byte(badPipeline), 0); err != nil {
		fmt.Fprintf(out, "refused:\n%v\n", err)
	} else {
		return errors.New("the bad definition was accepted")
	}
	if _, err := eng.PutSource(ctx, "drift-ticket.yaml", []byte(goodPipeline), 0); err != nil {
		return err
	}

	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		err = errors.Join(err, eng.Shutdown(sctx), <-done)
	}()
	<-eng.Ready()

	ev, err := events.DriftThresholdExceeded("orders-ws", events.DriftThreshold{Service: "orders", Endpoint: "GET /orders/{id}", DriftPercent: 50, Budget: 10})
	if err != nil {
		return err
	}
	id, err := eng.Trigger(ctx, "drift-ticket", ev)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	x, err := eng.Wait(wctx, id)
	if err != nil {
		return err
	}
	if x.Status != store.StatusSucceeded {
		return fmt.Errorf("execution %s: %s", x.Status, x.Error)
	}
	fmt.Fprintf(out, "execution of %s: %s, step %s output %s\n", x.Pipeline, x.Status, x.Steps[0].ID, x.Steps[0].Output)
	for _, tk := range t.list() {
		fmt.Fprintf(out, "tracker: %s\n", tk)
	}
	return nil
}
