package steps_test

import (
	"context"
	"fmt"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/steps"
)

func ExampleRegisterAutoPromote() {
	// The host's promotion service, behind the Promoter interface.
	promoter := steps.PromoterFunc(func(ctx context.Context, req steps.PromotionRequest) (steps.PromotionResult, error) {
		fmt.Printf("promote %s %s: %s -> %s\n", req.EntityType, req.EntityID, req.FromEnvironment, req.ToEnvironment)
		return steps.PromotionResult{ID: "promo-1", Version: "v3"}, nil
	})
	r := steps.NewRegistry()
	if err := steps.RegisterAutoPromote(r, promoter); err != nil {
		fmt.Println(err)
		return
	}

	// A pipeline reacting to a published scenario; the engine renders
	// `with:` and passes its bus as the Publisher.
	bus := events.NewMemoryBus(events.MemoryConfig{})
	defer bus.Close()
	done := make(chan events.Event, 1)
	if _, err := bus.Subscribe(context.Background(), events.Filter{Types: []events.Type{events.TypePromotionCompleted}},
		func(_ context.Context, e events.Event) error { done <- e; return nil }); err != nil {
		fmt.Println(err)
		return
	}
	trigger, _ := events.ScenarioPublished("payments", events.ScenarioPublication{ScenarioID: "checkout", ScenarioName: "checkout-happy-path"})
	typ, _ := r.Lookup("auto_promote")
	step, err := typ.New(map[string]any{
		"entity_type": "scenario", "entity_id": "checkout",
		"from_environment": "dev", "to_environment": "staging",
		"environments": []any{"dev", "staging", "prod"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := step.Run(context.Background(), steps.Input{Event: trigger, Publisher: bus, Execution: "e1", StepID: "promote"})
	if err != nil {
		fmt.Println(err)
		return
	}
	ev := <-done
	fmt.Println(ev.Type, ev.Subject, "caused by the trigger:", ev.Extensions[events.ExtCausationID] == trigger.ID)
	fmt.Println(out.Outputs["promotion_id"], out.Outputs["entity_version"])

	// Skipping an environment is refused before the Promoter is called.
	_, err = typ.New(map[string]any{
		"entity_type": "scenario", "entity_id": "checkout",
		"from_environment": "dev", "to_environment": "prod",
		"environments": []any{"dev", "staging", "prod"},
	})
	fmt.Println(err)
	// Output:
	// promote scenario checkout: dev -> staging
	// promotion.completed checkout caused by the trigger: true
	// promo-1 v3
	// steps: build "auto_promote": steps: promotion not allowed by the environment order: dev -> prod skips ["staging"] (set allow_skip)
}
