package pipeline_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/access"
)

// The definitions the page tests run: build has a diamond (b and c side
// by side) and emits build.done, which follow reacts to; slow blocks until
// it is cancelled.
const (
	buildPipeline = `name: build
description: A diamond of steps that tells follow when it is done
workspace: payments
on:
  - event: schema.changed
steps:
  - {id: a, uses: probe, with: {key: a, value: "${{ event.data.schema_type }}"}}
  - {id: b, uses: probe, needs: [a], with: {key: b}}
  - {id: c, uses: probe, needs: [a], with: {key: c}}
  - {id: d, uses: probe, needs: [b, c], with: {key: d}}
  - {id: tell, uses: emit, needs: [d], with: {type: build.done}}
`
	followPipeline = `name: follow
on:
  - event: build.done
steps:
  - {id: only, uses: probe, with: {key: follow}}
`
	slowPipeline = `name: slow
on:
  - event: slow.start
steps:
  - {id: wait, uses: probe, with: {key: block}}
`
)

// pagesFixture is an engine on SQLite with the three pipelines, served by
// its pages behind an httptest server.
type pagesFixture struct {
	*harness
	srv     *httptest.Server
	started chan string // execution ids whose block step started
	client  *http.Client
	prefix  string
}

// roles is the RoleAuthorizer of the page tests: the X-User header names
// the caller, who holds one role in every workspace.
func roles() *access.RoleAuthorizer {
	return &access.RoleAuthorizer{
		Principal: func(r *http.Request) (string, error) { return r.Header.Get("X-User"), nil },
		Roles: map[string]map[string]access.Role{
			"viewer":   {access.AnyWorkspace: access.Viewer},
			"operator": {access.AnyWorkspace: access.Operator},
			"admin":    {access.AnyWorkspace: access.Admin},
		},
	}
}

func newPagesFixture(t testing.TB, authz access.Authorizer) *pagesFixture {
	t.Helper()
	started := make(chan string, 16)
	reg := registry(map[string]probeFunc{
		"block": func(ctx context.Context, in steps.Input, _ probeConfig) (steps.Output, error) {
			started <- in.Execution
			<-ctx.Done()
			return steps.Output{}, ctx.Err()
		},
		"a": func(_ context.Context, _ steps.Input, cfg probeConfig) (steps.Output, error) {
			return steps.Output{Outputs: map[string]any{"echo": cfg.Value}}, nil
		},
	}, nil)
	if err := steps.RegisterEmit(reg); err != nil {
		t.Fatal(err)
	}
	h := start(t, pipeline.Config{Store: openSQLite(t), Steps: reg})
	for _, src := range []string{buildPipeline, followPipeline, slowPipeline} {
		h.put(src)
	}
	pages, err := pipeline.NewPages(h.eng, pipeline.PagesConfig{Authorizer: authz})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(pages)
	t.Cleanup(srv.Close)
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &pagesFixture{harness: h, srv: srv, started: started, client: client, prefix: "/ui"}
}

// schemaEvent is the event build reacts to.
func schemaEvent(t testing.TB) events.Event {
	t.Helper()
	ev, err := events.New(events.TypeSchemaChanged, "payments", map[string]any{"schema_type": "openapi"})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// do sends a request as user ("" for nobody) and returns the status, the
// Location header and the body.
func (f *pagesFixture) do(t testing.TB, method, path, user string, form url.Values, hdr ...string) (int, string, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if user != "" {
		req.Header.Set("X-User", user)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// lastExecution is the newest execution of pipeline name.
func (f *pagesFixture) lastExecution(t testing.TB, name string) store.Execution {
	t.Helper()
	page, err := f.eng.Executions(context.Background(), store.ExecutionQuery{Pipeline: name, Limit: 1})
	if err != nil || len(page.Executions) == 0 {
		t.Fatalf("Executions(%s) = %v, %v", name, page, err)
	}
	return page.Executions[0]
}

// blocked waits until the block step of execution id runs: the step
// tells the fixture when it starts.
func (f *pagesFixture) blocked(t testing.TB, id string) {
	t.Helper()
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case got := <-f.started:
			if got == id {
				return
			}
		case <-timeout.C:
			t.Fatalf("execution %s never started its blocking step", id)
		}
	}
}
