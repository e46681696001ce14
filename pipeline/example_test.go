package pipeline_test

import (
	"context"
	"fmt"
	"testing/fstest"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
)

func ExampleParse() {
	src := []byte(`name: sdk-on-schema-change
on:
  - event: schema.changed
    if: event.data.schema_type == "openapi"
steps:
  - id: sdk
    uses: regenerate_sdk
    with:
      spec: ${{ event.data.spec_path }}
      languages: [typescript, go]
  - id: tell
    uses: notify
    if: always()
    with:
      message: "SDKs: ${{ steps.sdk.outcome }}"
`)
	def, err := pipeline.Parse("sdk.yaml", src)
	if err != nil {
		fmt.Println(err)
		return
	}
	plan := def.Plan()
	ev, _ := events.SchemaChanged("payments", events.SchemaChange{SchemaType: "openapi", Path: "specs/payments.yaml"})
	ctx := context.Background()
	evv := pipeline.NewEventVars(ev) // once per event, for every plan and step
	for _, r := range plan.Match(ctx, evv) {
		fmt.Println("matched:", r.Matched)
	}
	out, _ := plan.Render(ctx, "sdk", pipeline.RenderContext{Event: evv})
	fmt.Println(out.With["spec"], out.With["languages"])
	tell, _ := plan.Step("tell")
	fmt.Println(tell.Needs(), tell.If())
	// Output:
	// matched: true
	// specs/payments.yaml [typescript go]
	// [sdk] always()
}

func ExampleParse_diagnostics() {
	src := []byte(`name: Broken Name
on:
  - event: schema.changed
    if: event.data.kind = "x"
steps:
  - id: sdk
    uses: regenerate_sdk
    neds: [build]
`)
	_, err := pipeline.Parse("broken.yaml", src)
	fmt.Println(err)
	// Output:
	// broken.yaml:1:7: invalid name "Broken Name": use lower-case letters, digits, '-', '_' and '.'
	// broken.yaml:4:25: if: syntax error at column 17 of the condition: CEL compares with ==, not = (CEL: token recognition error at: '= ')
	// broken.yaml:4:27: if: syntax error at column 19 of the condition: unexpected "x" (CEL: extraneous input '"x"')
	// broken.yaml:8:5: unknown key "neds" (did you mean "needs"?)
}

// NotifyConfig is the `with:` of the example's custom step type.
type NotifyConfig struct {
	Channel string `json:"channel" step:"required"`
	Message string `json:"message"`
}

func ExampleParser() {
	r := steps.NewRegistry()
	steps.MustRegister(r, "notify", func(cfg NotifyConfig) (steps.Step, error) {
		return steps.StepFunc(func(ctx context.Context, in steps.Input) (steps.Output, error) {
			return steps.Output{Outputs: map[string]any{"sent_to": cfg.Channel}}, nil
		}), nil
	})
	p := &pipeline.Parser{Registry: r}
	_, err := p.Parse("tell.yaml", []byte(`name: tell
on: [{event: promotion.completed}]
steps:
  - id: tell
    uses: notify
    with: {chanel: ops, message: 42}
`))
	fmt.Println(err)
	// Output:
	// tell.yaml:6:11: with: missing required field "channel"
	// tell.yaml:6:12: with: unknown key "chanel" (did you mean "channel"?)
	// tell.yaml:6:34: with.message: expected a string, got an integer
}

// Plan.Match explains every trigger: a match, a reason it did not match,
// or an error when the filter could not be evaluated (here the payload
// lacks the field the filter reads), which is not the same as "no".
func ExamplePlan_Match() {
	def, err := pipeline.Parse("drift.yaml", []byte(`name: drift
workspace: payments
on:
  - event: drift.threshold_exceeded
    match: {data.endpoint: [/payments, /refunds]}
  - event: drift.threshold_exceeded
    if: event.data.drift_percent > 20.0
steps:
  - {id: tell, uses: notify, with: {message: "drift on ${{ event.data.endpoint }}"}}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	ev, _ := events.New(events.TypeDriftThresholdExceeded, "payments", map[string]any{"endpoint": "/orders"})
	for _, r := range def.Plan().Match(context.Background(), pipeline.NewEventVars(ev)) {
		switch {
		case r.Matched:
			fmt.Printf("trigger %d: matched\n", r.Trigger)
		case r.Err != nil:
			fmt.Printf("trigger %d: filter failed\n", r.Trigger)
		default:
			fmt.Printf("trigger %d: %s\n", r.Trigger, r.Reason)
		}
	}
	// Output:
	// trigger 0: match data.endpoint: "/orders" is not "/payments" or "/refunds"
	// trigger 1: filter failed
}

func ExampleLoadDir() {
	fsys := fstest.MapFS{
		"pipelines/a.yaml": {Data: []byte("name: a\non: [{event: schema.changed}]\nsteps: [{id: x, uses: notify}]\n")},
		"pipelines/b.yaml": {Data: []byte("name: b\non: [{event: config.changed}]\nsteps: [{id: x, uses: notify}]\n")},
		"broken/c.yaml":    {Data: []byte("name: c\non: [{event: config.changed}]\nsteps: [{id: x, uses: notify, timeout: 5}]\n")},
	}
	defs, err := pipeline.LoadDir(fsys, "pipelines/*.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, d := range defs {
		fmt.Println(d.File, d.Name, d.Plan().EventTypes())
	}
	_, err = pipeline.LoadDir(fsys, "broken/*.yaml")
	fmt.Println(err)
	// Output:
	// pipelines/a.yaml a [schema.changed]
	// pipelines/b.yaml b [config.changed]
	// broken/c.yaml:3:40: timeout must be a duration with a unit, such as "5s" or "5m", got the integer 5
}

// The per-event flow an engine follows: decode the event once, find the
// plans it triggers (failed filters apart), then render each step into the
// config the step gets (secrets in clear) and the redacted copy to store.
func ExampleIndex_Match() {
	def, err := pipeline.Parse("tell.yaml", []byte(`name: tell
on: [{event: schema.changed, match: {data.schema_type: openapi}}]
steps:
  - id: tell
    uses: notify
    with: {message: "${{ event.data.spec_path }} changed", webhook_url: "https://hooks.example/${{ secrets.HOOK }}"}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	broken, err := pipeline.Parse("broken.yaml", []byte(`name: broken
on: [{event: schema.changed, if: event.data.reviewers.size() > 0}]
steps: [{id: tell, uses: notify, with: {message: x}}]
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	x := pipeline.NewIndex(def.Plan(), broken.Plan())

	ctx := context.Background()
	ev, _ := events.SchemaChanged("payments", events.SchemaChange{SchemaType: "openapi", Path: "specs/payments.yaml"})
	evv := pipeline.NewEventVars(ev)
	hits, failed := x.Match(ctx, evv)
	for _, f := range failed {
		fmt.Println("filter failed:", f.Plan.Name())
	}
	secrets := steps.EnvSecrets{Lookup: func(string) (string, bool) { return "T000/B000/s3cr3t", true }}
	for _, h := range hits {
		r, err := h.Plan.Render(ctx, "tell", pipeline.RenderContext{Event: evv, Secrets: secrets})
		if err != nil {
			fmt.Println(err) // already redacted: safe to store and log
			continue
		}
		fmt.Println("step gets:", r.With["webhook_url"])
		fmt.Println("stored:   ", r.Redacted())
	}
	// Output:
	// filter failed: broken
	// step gets: https://hooks.example/T000/B000/s3cr3t
	// stored:    map[message:specs/payments.yaml changed webhook_url:https://hooks.example/***]
}
