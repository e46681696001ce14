package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/mockops/mockops/coverage"
	"github.com/mockops/mockops/federation"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/access"
	"github.com/mockops/mockops/store/sqlstore"
)

// assets are the definitions the quickstart stores at start: its
// federation, its pipelines and the OpenAPI specs coverage measures.
//
//go:embed federations pipelines specs
var assets embed.FS

// federationName is the one federation the quickstart serves.
const federationName = "shop"

// platformConfig is what the quickstart, or a test, decides.
type platformConfig struct {
	// Store holds everything (definitions, executions, coverage, events).
	Store *sqlstore.Store
	// Addr is where the platform listens ("127.0.0.1:0": any free port).
	Addr string
	// Secrets resolve `${{ secrets.NAME }}` in the pipelines:
	// WEBHOOK_URL, WEBHOOK_SECRET, GITHUB_API and GITHUB_TOKEN. Nil:
	// demoSecrets, the platform's own stand-ins.
	Secrets secretMap
	// DriftBudget is the percentage of drifting branches a service may
	// have before drift.threshold_exceeded is raised.
	DriftBudget float64
	Logger      *slog.Logger
}

// platform is every MockOps part wired together in one process, each
// with the lifecycle the library gives it: Run in a goroutine the platform
// owns, Shutdown bounded by the caller's context.
type platform struct {
	url       string
	bus       *sqlstore.Bus
	collector *coverage.Collector
	registry  *federation.Registry
	engine    *pipeline.Engine
	upstream  *server
	front     *server
	// The demo's stand-ins for the team's webhook receiver and GitHub.
	webhook *webhookReceiver
	github  *fakeGitHub

	cancel context.CancelFunc // ends the Run loops
	wg     sync.WaitGroup
	mu     sync.Mutex
	errs   []error // what the Run loops returned
}

func startPlatform(ctx context.Context, cfg platformConfig) (p *platform, err error) {
	// Listen first: the pipelines' secrets may name this address.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	p = &platform{url: "http://" + ln.Addr().String(), bus: cfg.Store.Bus(sqlstore.BusConfig{Logger: cfg.Logger})}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.cancel = cancel
	defer func() {
		if err != nil {
			if p.front == nil {
				ln.Close()
			}
			err = errors.Join(err, p.shutdown(context.WithoutCancel(ctx)))
		}
	}()
	if cfg.Secrets == nil {
		cfg.Secrets = demoSecrets(p.url)
	}

	// The real upstream, on loopback.
	if p.upstream, err = serve("127.0.0.1:0", newUpstream()); err != nil {
		return p, err
	}

	// Coverage: the federation's Observer; its rollups and drift state go
	// to the store, its events (drift.threshold_exceeded) to the bus.
	specs, err := loadSpecs()
	if err != nil {
		return p, err
	}
	p.collector, err = coverage.NewCollector(coverage.Config{
		Store: cfg.Store, Publisher: p.bus, Specs: specs, DriftBudget: cfg.DriftBudget, Logger: cfg.Logger,
		Workspaces: map[string]string{"users": "users-ws", "orders": "orders-ws"},
	})
	if err != nil {
		return p, err
	}
	p.start(runCtx, p.collector.Run)

	// Federation: the Registry keeps shop.yaml in the store and serves it
	// with a Router whose Observer is the collector.
	p.registry, err = federation.NewRegistry(ctx, federation.RegistryConfig{
		Store: cfg.Store, Bus: p.bus, Logger: cfg.Logger,
		Router: federation.RouterConfig{Mocks: mockWorkspaces(), Observer: p.collector, Logger: cfg.Logger},
	})
	if err != nil {
		return p, err
	}
	spec, err := shopSpec(p.upstream.url)
	if err != nil {
		return p, err
	}
	if _, err := p.registry.Put(ctx, federationName, spec, store.AnyVersion); err != nil {
		return p, err
	}
	p.start(runCtx, p.registry.Run)

	// Pipelines: the engine on the durable bus, with the definitions of
	// pipelines/*.yaml stored through it (validated first).
	reg, err := newSteps()
	if err != nil {
		return p, err
	}
	p.engine, err = pipeline.NewEngine(pipeline.Config{
		Bus: p.bus, Store: cfg.Store, Steps: reg, Secrets: cfg.Secrets, Logger: cfg.Logger, Consumer: "quickstart-engine",
	})
	if err != nil {
		return p, err
	}
	if err := storePipelines(ctx, p.engine); err != nil {
		return p, err
	}
	p.start(runCtx, p.engine.Run)
	for _, ready := range []<-chan struct{}{p.engine.Ready(), p.registry.Ready()} {
		select {
		case <-ready:
		case <-ctx.Done():
			return p, ctx.Err()
		}
	}

	if p.webhook, err = newWebhookReceiver(cfg.Secrets["WEBHOOK_SECRET"]); err != nil {
		return p, fmt.Errorf("quickstart: WEBHOOK_SECRET: %w", err)
	}
	p.github = newFakeGitHub("mockops/shop-mocks", cfg.Secrets["GITHUB_TOKEN"])
	h, err := p.routes(cfg)
	if err != nil {
		return p, fmt.Errorf("quickstart: %w", err)
	}
	p.front = serveOn(ln, h)
	return p, nil
}

// routes is the one server: the admin APIs under /api/v2, the pages, the
// dashboard, the demo's stand-ins for a chat webhook and GitHub, and
// everything else through the federation.
func (p *platform) routes(cfg platformConfig) (http.Handler, error) {
	authz := localAuthorizer()
	mux := http.NewServeMux()
	pipelines := pipeline.NewHandler(p.engine, pipeline.HandlerConfig{Authorizer: authz, Logger: cfg.Logger})
	for _, pat := range []string{"/api/v2/pipelines", "/api/v2/pipelines/", "/api/v2/executions", "/api/v2/executions/"} {
		mux.Handle(pat, pipelines)
	}
	federations := federation.NewHandler(p.registry, federation.HandlerConfig{Authorizer: authz, Logger: cfg.Logger})
	mux.Handle("/api/v2/federations", federations)
	mux.Handle("/api/v2/federations/", federations)
	cov := coverage.NewHandler(p.collector, coverage.HandlerConfig{Authorizer: authz, Logger: cfg.Logger})
	mux.Handle("/api/v2/coverage/", cov)
	mux.Handle("/coverage", cov)
	// The admin pages: pipelines and executions from the engine,
	// federations from the registry, each linking to the others.
	ppages, err := pipeline.NewPages(p.engine, pipeline.PagesConfig{
		Authorizer: authz, Logger: cfg.Logger,
		Links: []pipeline.PageLink{{Label: "Federations", Path: "/ui/federations"}, {Label: "Coverage", Path: "/coverage"}},
	})
	if err != nil {
		return nil, err
	}
	fpages, err := federation.NewPages(p.registry, federation.PagesConfig{
		Authorizer: authz, Logger: cfg.Logger,
		Links: []federation.PageLink{{Label: "Pipelines", Path: "/ui/pipelines"}, {Label: "Coverage", Path: "/coverage"}},
	})
	if err != nil {
		return nil, err
	}
	mux.Handle("/ui/", ppages)
	mux.Handle("/ui/federations", fpages)
	mux.Handle("/ui/federations/", fpages)
	mux.Handle("/demo/webhook", p.webhook)
	mux.Handle("/demo/github/", http.StripPrefix("/demo/github", p.github))
	mux.Handle("/", http.HandlerFunc(p.serveFederation))
	return mux, nil
}

// localAuthorizer is the quickstart's Authorizer. The quickstart is a
// local, single-user program: changes through the admin APIs and pages
// are allowed from loopback only, reads from anywhere (access.ReadOnly).
// A real host passes its own Authorizer (access.RoleAuthorizer, or one
// over its sessions).
//
// Being on loopback is an ambient credential every browser on the machine
// also has, so a change is refused when a browser sends it from another
// site (http.CrossOriginProtection: Sec-Fetch-Site, Origin) or for a
// host name that is not a loopback one (a DNS-rebinding page, whose
// requests look same-origin). Without this, any web page could switch
// the federation's scenarios or trigger pipelines with a no-cors fetch.
func localAuthorizer() access.Authorizer {
	cop := http.NewCrossOriginProtection()
	return access.AuthorizerFunc(func(r *http.Request, req access.Request) error {
		if req.Action == access.Read {
			return nil
		}
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return access.ReadOnly.Authorize(r, req)
		}
		if err := cop.Check(r); err != nil {
			return fmt.Errorf("%w: %s from another site: %v", access.ErrDenied, req, err)
		}
		if !loopbackHost(r.Host) {
			return fmt.Errorf("%w: %s for host %q, not a loopback name", access.ErrDenied, req, r.Host)
		}
		return nil
	})
}

// loopbackHost reports whether a Host header names this machine:
// localhost, or a loopback address, with or without a port.
func loopbackHost(h string) bool {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// serveFederation hands a request to the Router the Registry serves now
// (it replaces it when the definition changes).
func (p *platform) serveFederation(w http.ResponseWriter, r *http.Request) {
	router, ok := p.registry.Router(federationName)
	if !ok {
		http.Error(w, "quickstart: federation "+federationName+" is not served", http.StatusServiceUnavailable)
		return
	}
	router.ServeHTTP(w, r)
}

// start runs one part's Run loop until the platform shuts down.
func (p *platform) start(ctx context.Context, run func(context.Context) error) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if err := run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			p.mu.Lock()
			p.errs = append(p.errs, err)
			p.mu.Unlock()
		}
	}()
}

// shutdown stops the parts in the order that loses nothing: no new
// requests, then the last coverage flush (which may still raise drift),
// then the federation, the engine (running executions finish), the bus
// and the upstream. Each is bounded by ctx.
func (p *platform) shutdown(ctx context.Context) error {
	var errs []error
	if p.front != nil {
		errs = append(errs, p.front.shutdown(ctx))
	}
	if p.collector != nil {
		errs = append(errs, p.collector.Shutdown(ctx))
	}
	if p.registry != nil {
		errs = append(errs, p.registry.Shutdown(ctx))
	}
	if p.engine != nil {
		errs = append(errs, p.engine.Shutdown(ctx))
	}
	errs = append(errs, p.bus.Shutdown(ctx))
	p.cancel()
	p.wg.Wait()
	if p.registry != nil {
		errs = append(errs, p.registry.Close())
	}
	errs = append(errs, p.bus.Close())
	if p.upstream != nil {
		errs = append(errs, p.upstream.shutdown(ctx))
	}
	p.mu.Lock()
	errs = append(errs, p.errs...)
	p.mu.Unlock()
	return errors.Join(errs...)
}

func loadSpecs() (map[string]*coverage.Spec, error) {
	files, err := fs.Glob(assets, "specs/*.yaml")
	if err != nil {
		return nil, err
	}
	specs := map[string]*coverage.Spec{}
	for _, f := range files {
		src, err := assets.ReadFile(f)
		if err != nil {
			return nil, err
		}
		s, err := coverage.LoadOpenAPIFile(f, src)
		if err != nil {
			return nil, err
		}
		specs[path.Base(f[:len(f)-len(".yaml")])] = s
	}
	return specs, nil
}

// storePipelines stores every definition in pipelines/ through the engine,
// which validates it against the registered step types first.
func storePipelines(ctx context.Context, eng *pipeline.Engine) error {
	files, err := fs.Glob(assets, "pipelines/*.yaml")
	if err != nil {
		return err
	}
	for _, f := range files {
		src, err := assets.ReadFile(f)
		if err != nil {
			return err
		}
		if _, err := eng.PutSource(ctx, f, src, store.AnyVersion); err != nil {
			return fmt.Errorf("quickstart: %s: %w", f, err)
		}
	}
	return nil
}
