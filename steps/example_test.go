package steps_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/mockops/mockops/steps"
)

// GreetConfig is the `with:` block of the example's "greet" step type.
type GreetConfig struct {
	Name  string `json:"name" step:"required"`
	Times int    `json:"times"`
}

func Example_registerStepType() {
	r := steps.NewRegistry()
	steps.MustRegister(r, "greet", func(cfg GreetConfig) (steps.Step, error) {
		return steps.StepFunc(func(ctx context.Context, in steps.Input) (steps.Output, error) {
			msg := strings.Repeat("hello "+cfg.Name+"! ", max(cfg.Times, 1))
			return steps.Output{Outputs: map[string]any{"message": strings.TrimSpace(msg)}}, nil
		}), nil
	})

	// The pipeline parser checks each `with:` against GreetConfig when a
	// definition is loaded, with YAML positions. At run time the engine
	// decodes the rendered config by the same rules: a template that
	// rendered the wrong value is reported, every problem at once.
	greet, _ := r.Lookup("greet")
	if _, err := greet.Decode(map[string]any{"nmae": "ops", "times": "twice"}); err != nil {
		fmt.Println(err)
	}

	// With a good config, the engine builds the step and runs it.
	step, err := greet.New(map[string]any{"name": "ops", "times": int64(2)})
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := step.Run(context.Background(), steps.Input{})
	fmt.Println(out.Outputs["message"])
	// Output:
	// steps: config of "greet": with: unknown key "nmae" (did you mean "name"?)
	// with.times: expected an integer that fits int, got a string
	// with: missing required field "name"
	// hello ops! hello ops!
}

func ExamplePermanent() {
	// How a step might classify an API answer: a 400 will be a 400 again,
	// so it is marked and the engine does not retry it; a 503 may pass.
	classify := func(status int) error {
		err := fmt.Errorf("create issue: status %d", status)
		if status >= 400 && status < 500 && status != 429 {
			return steps.Permanent(err)
		}
		return err
	}
	for _, status := range []int{400, 503} {
		err := classify(status)
		fmt.Println(err, "| permanent:", steps.IsPermanent(err))
	}
	// The mark survives wrapping.
	wrapped := fmt.Errorf("step tell: %w", classify(400))
	fmt.Println(wrapped, "| permanent:", steps.IsPermanent(wrapped))
	// Output:
	// create issue: status 400 | permanent: true
	// create issue: status 503 | permanent: false
	// step tell: create issue: status 400 | permanent: true
}
