package pipeline_test

import (
	"context"
	"fmt"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
	"github.com/mockops/mockops/store/memory"
)

// An event published on the bus runs a pipeline whose step the host
// registered; the host then reads the stored execution.
func ExampleNewEngine() {
	type greetConfig struct {
		Name string `json:"name" step:"required"`
	}
	reg := steps.NewRegistry()
	ran := make(chan string, 1)
	steps.MustRegister(reg, "greet", func(cfg greetConfig) (steps.Step, error) {
		return steps.StepFunc(func(_ context.Context, in steps.Input) (steps.Output, error) {
			ran <- in.Execution
			return steps.Output{Outputs: map[string]any{"greeting": "hello " + cfg.Name}}, nil
		}), nil
	})
	bus := events.NewMemoryBus(events.MemoryConfig{})
	defer bus.Close()
	eng, err := pipeline.NewEngine(pipeline.Config{Bus: bus, Store: memory.New(), Steps: reg})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	_, err = eng.PutSource(ctx, "greet.yaml", []byte(`name: greet
on: [{event: workspace.created}]
steps:
  - {id: hello, uses: greet, with: {name: "${{ event.workspace }}"}}
`), 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	<-eng.Ready()

	ev, _ := events.WorkspaceCreated("payments", events.WorkspaceCreation{Name: "payments"})
	if err := bus.Publish(ctx, ev); err != nil {
		fmt.Println(err)
		return
	}
	x, err := eng.Wait(ctx, <-ran)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(x.Pipeline, x.Status)
	for _, s := range x.Steps {
		fmt.Println(s.ID, s.Status, s.Attempts, string(s.With), string(s.Output))
	}
	_ = eng.Shutdown(ctx)
	<-done
	// Output:
	// greet succeeded
	// hello succeeded 1 {"name":"payments"} {"greeting":"hello payments"}
}
