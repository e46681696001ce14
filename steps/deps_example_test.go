package steps_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
)

func ExampleRegisterBuiltins() {
	r := steps.NewRegistry()
	// The zero Deps is the default outbound client: timeouts, retries on
	// 429/502/503/504, and an egress policy denying link-local and cloud
	// metadata addresses.
	if err := steps.RegisterBuiltins(r, steps.Deps{UserAgent: "my-mock-platform/2"}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Names())

	// A definition is checked against the step configs when it is loaded.
	src := []byte(`name: tell
on: [{event: schema.changed}]
steps:
  - id: tell
    uses: notify
    with:
      targets:
        - slack: {webhook_url: "${{ secrets.SLACK_WEBHOOK }}", txt: "schema changed"}
`)
	_, err := (&pipeline.Parser{Registry: r}).Parse("tell.yaml", src)
	fmt.Println(err)

	// Output:
	// [create_pr emit http notify]
	// tell.yaml:8:64: with.targets[0].slack: unknown key "txt" (did you mean "text"?)
}

func ExampleRegisterHTTP() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"method":%q,"path":%q}`, r.Method, r.URL.Path)
	}))
	defer api.Close()

	// A host may register only some built-ins.
	r := steps.NewRegistry()
	if err := steps.RegisterHTTP(r, steps.Deps{}); err != nil {
		fmt.Println(err)
		return
	}
	typ, _ := r.Lookup("http")
	step, err := typ.New(map[string]any{"method": "POST", "url": api.URL + "/deploys", "json": map[string]any{"env": "staging"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := step.Run(context.Background(), steps.Input{})
	fmt.Println(out.Outputs["status"], out.Outputs["json"], err)
	// Output:
	// 200 map[method:POST path:/deploys] <nil>
}
