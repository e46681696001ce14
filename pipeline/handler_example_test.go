package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
	"github.com/mockops/mockops/store/access"
	"github.com/mockops/mockops/store/memory"
)

// A host mounts the admin API with its Authorizer (here one token that may
// do anything in workspace payments), stores a definition and triggers it
// by hand; the answer names the execution, already stored.
func ExampleNewHandler() {
	reg := steps.NewRegistry()
	steps.MustRegister(reg, "noop", func(struct{}) (steps.Step, error) {
		return steps.StepFunc(func(context.Context, steps.Input) (steps.Output, error) { return steps.Output{}, nil }), nil
	})
	eng, err := pipeline.NewEngine(pipeline.Config{Store: memory.New(), Steps: reg})
	if err != nil {
		fmt.Println(err)
		return
	}
	authz := access.AuthorizerFunc(func(r *http.Request, req access.Request) error {
		switch {
		case r.Header.Get("Authorization") != "Bearer t-payments":
			return access.ErrUnauthenticated
		case req.Action == access.Read, req.Workspace == "payments":
			return nil
		}
		return access.ErrDenied
	})
	srv := httptest.NewServer(pipeline.NewHandler(eng, pipeline.HandlerConfig{Authorizer: authz}))
	defer srv.Close()

	send := func(method, path, ctype, body string) (int, map[string]any) {
		r, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer t-payments")
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		res, err := srv.Client().Do(r)
		if err != nil {
			return 0, nil
		}
		defer res.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(res.Body).Decode(&m)
		return res.StatusCode, m
	}
	status, p := send("POST", "/api/v2/pipelines", "application/yaml", `name: deploy
workspace: payments
on: [{event: schema.changed}]
steps: [{id: go, uses: noop}]
`)
	fmt.Println(status, p["name"], p["version"], p["workspace"])

	status, p = send("POST", "/api/v2/pipelines/validate", "application/yaml", "name: bad\non: [{event: schema.changed}]\nsteps: [{id: go, uses: nosuch}]\n")
	fmt.Println(status, p["detail"])
	for _, e := range p["errors"].([]any) {
		e := e.(map[string]any)
		fmt.Printf("  %s:%v:%v\n", e["file"], e["line"], e["column"])
	}

	// The engine is not running here, so the execution stays queued.
	status, p = send("POST", "/api/v2/pipelines/deploy/trigger", "application/json", `{"subject": "by hand"}`)
	fmt.Println(status)
	status, p = send("GET", "/api/v2/executions/"+p["execution_id"].(string), "", "")
	ev := p["event"].(map[string]any)
	fmt.Println(status, p["pipeline"], p["status"], ev["workspace"], ev["subject"])

	status, _ = send("DELETE", "/api/v2/pipelines/deploy", "", "")
	fmt.Println(status)
	// Output:
	// 201 deploy 1 payments
	// 422 the definition has 1 problem(s)
	//   definition.yaml:3:24
	// 202
	// 200 deploy queued payments by hand
	// 204
}
