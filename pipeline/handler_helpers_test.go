package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/mockops/mockops/internal/problem"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/access"
	"github.com/mockops/mockops/store/memory"
)

// tokenAuthz is the test Authorizer: the bearer token names the caller.
//
//	admin   may do anything anywhere
//	pay     reads everything, writes and operates only in workspace payments
//	reader  reads everything, changes nothing
//	(none)  unauthenticated
//
// It records every request it is asked about.
type tokenAuthz struct {
	mu    sync.Mutex
	calls []access.Request
}

func (a *tokenAuthz) Authorize(r *http.Request, req access.Request) error {
	a.mu.Lock()
	a.calls = append(a.calls, req)
	a.mu.Unlock()
	switch tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "); tok {
	case "admin":
		return nil
	case "pay":
		if req.Action == access.Read || req.Workspace == "payments" {
			return nil
		}
	case "reader":
		if req.Action == access.Read {
			return nil
		}
	default:
		return access.ErrUnauthenticated
	}
	return fmt.Errorf("%w: %s", access.ErrDenied, req)
}

// take returns the requests decided since the last take.
func (a *tokenAuthz) take() []access.Request {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := a.calls
	a.calls = nil
	return out
}

// api is an admin API over an engine, served by an httptest server.
type api struct {
	t     testing.TB
	eng   *pipeline.Engine
	st    store.Store
	authz *tokenAuthz
	srv   *httptest.Server
}

// apiOptions says how to build an api: run starts the engine (else
// executions stay queued), funcs are the probe step's behaviours, cfg the
// handler's config (its Authorizer, when nil, becomes a tokenAuthz unless
// readOnly).
type apiOptions struct {
	run      bool
	funcs    map[string]probeFunc
	cfg      pipeline.HandlerConfig
	readOnly bool
	store    store.Store
}

func newAPI(t testing.TB, o apiOptions) *api {
	t.Helper()
	st := o.store
	if st == nil {
		st = memory.New()
	}
	cfg := pipeline.Config{Store: st, Steps: registry(o.funcs, nil)}
	var eng *pipeline.Engine
	if o.run {
		eng = start(t, cfg).eng
	} else {
		var err error
		if eng, err = pipeline.NewEngine(cfg); err != nil {
			t.Fatal(err)
		}
	}
	a := &api{t: t, eng: eng, st: st, authz: &tokenAuthz{}}
	if o.cfg.Authorizer == nil && !o.readOnly {
		o.cfg.Authorizer = a.authz
	}
	a.srv = httptest.NewServer(pipeline.NewHandler(eng, o.cfg))
	t.Cleanup(a.srv.Close)
	return a
}

// response is an answer of the API.
type response struct {
	t      testing.TB
	status int
	header http.Header
	body   []byte
}

// req describes one request: headers are "Name: value" pairs.
type req struct {
	method, path, token, ctype, body string
	headers                          []string
}

func (a *api) do(r req) response {
	a.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr, err := http.NewRequestWithContext(context.Background(), r.method, a.srv.URL+r.path, body)
	if err != nil {
		a.t.Fatal(err)
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.ctype != "" {
		hr.Header.Set("Content-Type", r.ctype)
	}
	for _, h := range r.headers {
		k, v, _ := strings.Cut(h, ":")
		hr.Header.Set(k, strings.TrimSpace(v))
	}
	res, err := a.srv.Client().Do(hr)
	if err != nil {
		a.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return response{t: a.t, status: res.StatusCode, header: res.Header, body: b}
}

// want checks the status, and that an error is a problem document with
// that status.
func (r response) want(status int) response {
	r.t.Helper()
	if r.status != status {
		r.t.Fatalf("status = %d; want %d; body %s", r.status, status, r.body)
	}
	if status >= 400 {
		if ct := r.header.Get("Content-Type"); ct != problem.ContentType {
			r.t.Fatalf("Content-Type of a %d = %q; want %q", status, ct, problem.ContentType)
		}
		var p struct {
			Status int    `json:"status"`
			Title  string `json:"title"`
		}
		if err := json.Unmarshal(r.body, &p); err != nil || p.Status != status || p.Title == "" {
			r.t.Fatalf("problem %s: status member %d, err %v; want %d", r.body, p.Status, err, status)
		}
	} else if len(r.body) > 0 {
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			r.t.Fatalf("Content-Type = %q; want application/json", ct)
		}
	}
	return r
}

func (r response) decode(v any) {
	r.t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		r.t.Fatalf("decode %s: %v", r.body, err)
	}
}

// positioned is the "errors" member of a problem.
type positioned struct {
	Errors []struct {
		File    string `json:"file"`
		Line    int    `json:"line"`
		Column  int    `json:"column"`
		Message string `json:"message"`
	} `json:"errors"`
}

// The definitions the API tests store.
const (
	// payDef is scoped to workspace payments.
	payDef = `name: pay
workspace: payments
on: [{event: schema.changed}]
steps:
  - {id: one, uses: probe, with: {key: one}}
`
	// globalDef is unscoped.
	globalDef = `name: global
on: [{event: schema.changed}]
steps:
  - {id: one, uses: probe, with: {key: one}}
`
	// ordersDef is scoped to workspace orders.
	ordersDef = `name: orders
workspace: orders
on: [{event: schema.changed}]
steps:
  - {id: one, uses: probe, with: {key: one}}
`
)

func (a *api) put(src string) store.Pipeline {
	a.t.Helper()
	rec, err := a.eng.PutSource(context.Background(), "seed.yaml", []byte(src), store.AnyVersion)
	if err != nil {
		a.t.Fatalf("PutSource = %v", err)
	}
	return rec
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
