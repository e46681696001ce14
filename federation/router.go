package federation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/internal/egress"
	"github.com/mockops/mockops/internal/problem"
)

// MockResolver gives the mock http.Handler of a workspace. The Router asks
// for it on every request to a mock service, so a workspace created after
// the Router was built is served; it should be a fast, concurrent-safe
// lookup.
type MockResolver interface {
	MockHandler(workspace string) (http.Handler, error)
}

// MockResolverFunc adapts a function to MockResolver.
type MockResolverFunc func(workspace string) (http.Handler, error)

// MockHandler calls f.
func (f MockResolverFunc) MockHandler(workspace string) (http.Handler, error) { return f(workspace) }

// Defaults for RouterConfig's zero values.
const (
	DefaultMaxHops             = 8
	DefaultTimeout             = 30 * time.Second
	DefaultMaxIdleConnsPerHost = 32
	DefaultUploadIdleTimeout   = 30 * time.Second
)

// HeaderHops counts how many MockOps routers a request went through; past
// RouterConfig.MaxHops the router answers 508 instead of forwarding it again.
const HeaderHops = "X-Mockops-Hops"

// RouterConfig configures a Router. The zero value is useful: it serves
// real services with tuned default transports and needs Mocks only when a
// service is mock_v3.
type RouterConfig struct {
	// Mocks resolves mock_v3 workspaces; required when a service uses them.
	Mocks MockResolver
	// Transport, when set, is the base every upstream transport is cloned
	// from (one clone per upstream origin). DisableCompression is forced on
	// so that the proxy never adds Accept-Encoding nor decompresses: client
	// encodings pass through untouched.
	Transport *http.Transport
	// NewTransport, when set, builds the transport of one upstream origin
	// and wins over Transport. Its result is used as given; the Router calls
	// its CloseIdleConnections (when it has one) on Close.
	NewTransport func(upstream *url.URL) http.RoundTripper
	// MaxIdleConnsPerHost for the default transports; 0 means 32.
	MaxIdleConnsPerHost int
	// Timeout is the default per-service bound on each wait for a real
	// upstream: the dial, the upstream taking the request body, and the
	// response headers, counted from the moment the body has been sent;
	// 0 means 30s.
	Timeout time.Duration
	// UploadIdleTimeout bounds how long a client may leave a request body
	// to a real upstream without sending more of it; past it the request
	// is cancelled and answered 408 Request Timeout, never as an upstream
	// failure. A slow but moving upload is not cut. 0 means 30s. (A mock
	// handler reads its body itself, under the host server's timeouts.)
	UploadIdleTimeout time.Duration
	// Observer receives every exchange; nil disables observation.
	Observer Observer
	// Authorize decides each routed request (for example workspace
	// access); an error answers 403. The request's context carries the
	// Route (RouteFrom). nil allows everything.
	Authorize func(r *http.Request, svc Service) error
	// Egress is the policy every upstream connection must pass, enforced
	// when it is dialled (see EgressPolicy). The zero value denies
	// link-local and cloud metadata addresses and allows the rest.
	Egress EgressPolicy
	// AllowUpstream vets every upstream URL when a snapshot is built
	// (NewRouter and Update); an error rejects the configuration. It sees
	// only the URL, once: it is a convenience, not a security boundary
	// (a name can resolve elsewhere at dial time); Egress is. nil allows
	// every http or https upstream that Egress allows.
	AllowUpstream func(u *url.URL) error
	// MaxHops is the loop guard's limit; 0 means 8.
	MaxHops int
	// TrustForwardedFor appends the client's own X-Forwarded-For to the one
	// the router sends. Off by default: a client could otherwise forge the
	// addresses a service sees.
	TrustForwardedFor bool
	// FallbackHandler serves requests no route matches; nil answers a 404
	// problem.
	FallbackHandler http.Handler
	// MaxShadows bounds the blended shadow calls running at once; past it
	// they are dropped and counted (ShadowStats). 0 means 64.
	MaxShadows int
	// Logger receives upstream failures and recovered panics; nil discards.
	Logger *slog.Logger

	// Scenarios switches the mock workspaces when a scenario is activated
	// or deactivated (see ActivateScenario); nil switches only the routing.
	Scenarios ScenarioActivator
	// Store persists the active scenario, reality switches and the
	// federation's shared state, so that replicas on the same store agree
	// (see Sync and State); nil keeps them in this Router only.
	Store Store
	// Publisher receives a config.changed event whenever this Router
	// changes what it serves by a scenario or a reality switch; nil
	// publishes nothing.
	Publisher events.Publisher
}

// Router is the http.Handler in front of a federation. It routes each
// request by host and longest segment prefix and serves it by the
// service's reality level. It is safe for concurrent use; Update swaps
// its routing snapshot atomically.
type Router struct {
	cfg    RouterConfig
	log    *slog.Logger
	egress *egress.Policy

	snap atomic.Pointer[snapshot]

	mu sync.Mutex // serialises Update and Close; guards transports and snapshot.drained
	// transports holds the transport of every upstream origin that a live
	// snapshot uses (the current one, or a replaced one with requests
	// still in flight), counted per snapshot; the last one to let go of
	// an origin prunes its transport (see release).
	transports map[string]*sharedTransport
	buffers    *bufferPool // shared by the proxies of every snapshot
	// closed is set by Close, under mu; real requests still in flight read
	// it when they end (see serveReal).
	closed atomic.Bool
	chaos  chaosBook  // chaos_driven sequences and counters, by service
	drift  driftLog   // recent mock/real differences per service (blend_drift.go)
	shadow shadowPool // the shadow calls' goroutines (blend_shadow.go)

	// What is served is the definition with a scenario and reality
	// switches layered over it (scenario.go). These are guarded by mu;
	// the snapshot built from them carries copies for readers.
	base      *Federation
	scenario  string
	realities map[string]RealityLevel
	// switching serialises the operations that change the layers
	// (ActivateScenario, DeactivateScenario, SetReality, Sync). It is
	// held across the ScenarioActivator's calls, which mu must never be,
	// so that Update and serving are not stalled by a slow host.
	switching sync.Mutex
	// actVersion and realVersion are the store versions of the layers
	// last applied; guarded by switching.
	actVersion  int64
	realVersion string
	state       *State // nil without a Store
}

var _ http.Handler = (*Router)(nil)

// ErrClosed is returned by Update once the Router is closed.
var ErrClosed = errors.New("federation: router closed")

// errAborted is the Exchange.Err of a response cut after it started (the
// client saw a truncated answer), so an Observer does not count it as a
// success.
var errAborted = errors.New("federation: response aborted")

// NewRouter validates f and builds a Router serving it.
func NewRouter(f *Federation, cfg RouterConfig) (*Router, error) {
	if cfg.MaxHops <= 0 {
		cfg.MaxHops = DefaultMaxHops
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.UploadIdleTimeout <= 0 {
		cfg.UploadIdleTimeout = DefaultUploadIdleTimeout
	}
	if cfg.MaxIdleConnsPerHost <= 0 {
		cfg.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	}
	r := &Router{cfg: cfg, log: cfg.Logger, egress: cfg.Egress.policy(), transports: make(map[string]*sharedTransport), buffers: &bufferPool{}}
	if cfg.Store != nil && f != nil {
		r.state = &State{st: cfg.Store, scope: StateScope(f.Name)}
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if err := r.egress.Validate(); err != nil {
		return nil, fmt.Errorf("federation: RouterConfig.Egress: %w", err)
	}
	if err := r.Update(f); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// Update validates f, builds a new routing snapshot and swaps it in. A
// configuration that fails leaves the current one serving. Requests
// already routed finish on the snapshot they started with. After Close it
// returns ErrClosed.
//
// The active scenario and reality switches stay layered over f; a
// definition that no longer has the active scenario is refused (deactivate
// it first), as is one under which a switch no longer validates. With a
// Store, f must keep the federation's name.
func (r *Router) Update(f *Federation) error {
	if f == nil {
		return errors.New("federation: nil federation")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cfg.Store != nil && r.base != nil && f.Name != r.base.Name {
		// The shared state and the stored layers are keyed by the name.
		return fmt.Errorf("federation: Update cannot rename federation %q to %q: RouterConfig.Store keys its state by the name", r.base.Name, f.Name)
	}
	return r.swap(f, r.scenario, r.realities)
}

// swap builds the snapshot of base with the scenario and the reality
// switches layered over it and swaps it in; on success they become the
// Router's layers. Called with r.mu held.
func (r *Router) swap(base *Federation, scenario string, realities map[string]RealityLevel) error {
	if r.closed.Load() {
		// A snapshot built now could make transports no Close would reach.
		return ErrClosed
	}
	f, err := overlay(base, scenario, realities)
	if err != nil {
		return err
	}
	s, err := r.build(f)
	if err != nil {
		r.release(s) // the transports this failed build registered
		return err
	}
	s.scenario = scenario
	r.base, r.scenario, r.realities = base, scenario, realities
	if old := r.snap.Swap(s); old != nil {
		// The replaced snapshot lets go of its transports once its last
		// in-flight request has ended (see serveReal); an upstream no
		// snapshot uses any more is pruned then.
		old.retired.Store(true)
		if old.inflight.Load() == 0 {
			r.release(old)
		}
	}
	return nil
}

// sharedTransport is the transport of one upstream origin and the number
// of live snapshots using it.
type sharedTransport struct {
	tr   http.RoundTripper
	refs int
}

// leave ends a request that proxied on s (counted in s.inflight when it
// began): the last one to leave a replaced snapshot releases its
// transports.
func (r *Router) leave(s *snapshot) {
	if s.inflight.Add(-1) == 0 && s.retired.Load() {
		r.mu.Lock()
		r.release(s)
		r.mu.Unlock()
	}
}

// release lets go of the transports of snapshot s, which no request uses
// any more: a transport no other live snapshot uses is removed and its
// idle connections closed. It runs once per snapshot for the counts; a
// request that started on s just as it was released (it loaded s before
// the swap) calls it again when it ends, and then it closes the idle
// connections that request left on transports already pruned. Called with
// r.mu held.
func (r *Router) release(s *snapshot) {
	if s == nil {
		return
	}
	first := !s.drained
	s.drained = true
	for origin, tr := range s.transports {
		st := r.transports[origin]
		if st == nil || st.tr != tr { // pruned already (and maybe made anew)
			closeIdle(tr)
			continue
		}
		if first {
			if st.refs--; st.refs == 0 {
				delete(r.transports, origin)
				closeIdle(tr)
			}
		}
	}
}

// Close closes the idle connections of every upstream transport and makes
// later Updates fail with ErrClosed. Call it after the server in front of
// the Router has stopped; requests still in flight complete, and their
// upstream connections are closed as they end rather than kept idle. It
// is idempotent.
func (r *Router) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed.Store(true)
	for _, st := range r.transports {
		closeIdle(st.tr)
	}
	return nil
}

func closeIdle(tr http.RoundTripper) {
	if c, ok := tr.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// Federation returns the federation the Router currently serves: its
// definition with the active scenario and reality switches applied.
func (r *Router) Federation() *Federation { return r.snap.Load().fed }

// Definition returns the federation as it was given to NewRouter or
// Update, without the active scenario or reality switches.
func (r *Router) Definition() *Federation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.base
}

// Lookup says where a request would go, without serving it: a dry run.
// path is the escaped request target path (a query is ignored). method
// matters only for CONNECT, whose authority-form target is never routed.
// For a clean path it allocates nothing.
func (r *Router) Lookup(method, host, path string) (Route, bool) {
	rt, _, ok := r.lookup(method, host, path)
	return rt, ok
}

// build compiles f into a snapshot; on failure the partial snapshot is
// returned too, for its transports to be released. Called with r.mu held.
func (r *Router) build(f *Federation) (*snapshot, error) {
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("federation: invalid federation %q: %w", f.Name, err)
	}
	s := &snapshot{
		fed:        f,
		hosts:      make(map[string]*table),
		any:        newTable(),
		transports: make(map[string]http.RoundTripper),
	}
	var errs []error
	for i := range f.Services {
		svc := f.Services[i]
		svc.DependsOn = append([]string(nil), svc.DependsOn...)
		match, _ := prefixMatchForm(svc.BasePath)
		c := &compiled{
			svc:   svc,
			match: match,
			nseg:  segmentCount(match),
			template: Route{
				Federation: f.Name,
				Service:    svc.Name,
				Workspace:  svc.WorkspaceName(),
				Reality:    svc.Reality,
				Prefix:     svc.BasePath,
				Host:       svc.Host,
			},
			timeout: svc.Timeout,
			state:   r.state,
		}
		if c.timeout <= 0 {
			c.timeout = r.cfg.Timeout
		}
		if svc.Reality == Blended {
			c.comparer = newBlendComparer(blendOf(svc.Blend))
		}
		if (svc.Reality == MockV3 || svc.Reality == ChaosDriven && !needsUpstream(svc.Reality, svc.Chaos)) && r.cfg.Mocks == nil {
			errs = append(errs, fmt.Errorf("federation: service %q is served by its mock but RouterConfig.Mocks is nil", svc.Name))
		}
		if svc.Upstream != "" {
			u, _ := parseUpstream(svc.Upstream) // valid: Validate passed
			if r.cfg.AllowUpstream != nil {
				if err := r.cfg.AllowUpstream(u); err != nil {
					errs = append(errs, fmt.Errorf("federation: service %q: upstream %s not allowed: %w", svc.Name, u.Redacted(), err))
					continue
				}
			}
			if err := r.egress.CheckURL(u); err != nil {
				errs = append(errs, fmt.Errorf("federation: service %q: upstream %s not allowed: %w", svc.Name, u.Redacted(), err))
				continue
			}
			c.upstream = u
			c.proxy = r.newProxy(c, r.transport(s, u, svc.Protocol))
		}
		if svc.Host == "" {
			s.any.add(c)
		} else {
			h := hostKey(svc.Host)
			if s.hosts[h] == nil {
				s.hosts[h] = newTable()
			}
			s.hosts[h].add(c)
		}
		s.services = append(s.services, c)
	}
	if len(errs) > 0 {
		return s, errors.Join(errs...)
	}
	return s, nil
}

// RouteFrom returns the Route of a request the Router is serving; mock
// handlers and Authorize find it in the request's context.
func RouteFrom(ctx context.Context) (Route, bool) {
	if x := exchangeFrom(ctx); x != nil {
		return x.route, true
	}
	return Route{}, false
}

// ServeHTTP routes and serves one request.
func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	x := &exchange{parent: req.Context(), in: req}
	if r.cfg.Observer != nil { // the clock is read only for someone who asks
		x.start = time.Now()
	}
	x.w.ResponseWriter = w
	defer r.finish(x)
	if len(w.Header()) > 0 {
		// Headers set in front of the router (a host's middleware) are
		// what a problem after a panic starts from; see finish.
		x.preset = w.Header().Clone()
	}
	rt, s, ok := r.lookup(req.Method, req.Host, req.URL.EscapedPath())
	if !ok {
		x.route.Federation = s.fed.Name
	} else {
		x.route = rt
	}
	// The loop guard comes first, for every request: a fallback handler
	// that forwards (to another router, say) can close a loop too.
	hops, err := parseHops(req.Header[HeaderHops])
	if err != nil {
		x.servedBy = ServedByRouter
		x.fail(http.StatusBadRequest, err, nil)
		return
	}
	if hops >= r.cfg.MaxHops {
		x.servedBy = ServedByRouter
		x.fail(http.StatusLoopDetected, fmt.Errorf("federation: request went through %d MockOps routers (limit %d): routing loop?", hops, r.cfg.MaxHops), nil)
		return
	}
	x.hops = int32(min(hops+1, math.MaxInt32))
	if !ok {
		x.servedBy = ServedByRouter
		if r.cfg.FallbackHandler != nil {
			r.cfg.FallbackHandler.ServeHTTP(&x.w, req)
			return
		}
		x.fail(http.StatusNotFound, fmt.Errorf("federation: no service of %q routes %q", s.fed.Name, clip(req.URL.Path)), nil)
		return
	}
	// The exchange is the request's context (one allocation for both). A
	// request the upstream may answer also needs its own cancellation, for
	// the upstream timeout; it is made here so the request is copied only
	// once.
	var ctx context.Context = x
	if needsUpstream(rt.Reality, rt.c.svc.Chaos) {
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(x)
		defer cancel(nil)
		x.cancel = cancel
	}
	// WithContext is inlined and its result only copied, so the copy it
	// makes stays on the stack: the routed request lives in the exchange.
	x.out = *req.WithContext(ctx)
	out := &x.out
	if r.cfg.Authorize != nil {
		if err := r.cfg.Authorize(out, rt.c.svc); err != nil {
			x.servedBy = ServedByRouter
			r.log.Debug("federation: request denied", "service", rt.Service, "error", err)
			x.fail(http.StatusForbidden, fmt.Errorf("federation: access to service %q denied", rt.Service), err)
			return
		}
	}
	if req.Body != nil && req.Body != http.NoBody {
		x.body.rc = req.Body
		out.Body = &x.body
	}
	switch rt.Reality {
	case Real:
		r.serveReal(x, out, s)
	case MockV3:
		r.serveMock(x, out)
	case ChaosDriven:
		r.serveChaos(x, out, s)
	case Blended:
		r.serveBlend(x, out, s)
	default:
		x.servedBy = ServedByRouter
		x.fail(http.StatusNotImplemented, fmt.Errorf("federation: reality level %s is not implemented yet", rt.Reality), nil)
	}
}

// finish ends every exchange, deferred so that it also runs when a handler
// panics. A panic from host code (the MockResolver, a mock handler,
// Authorize, the fallback handler) is logged and answered with a 500
// problem when nothing was written yet; after the response started it can
// only be cut, as net/http would, with http.ErrAbortHandler. The exchange
// is observed either way.
func (r *Router) finish(x *exchange) {
	p := recover()
	if p == nil {
		r.observe(x)
		return
	}
	if p == http.ErrAbortHandler { // a deliberate abort (the proxy's, on a failed copy)
		if x.failure == nil {
			x.failure = errAborted
		}
		r.observe(x)
		panic(p)
	}
	r.log.Error("federation: panic serving request", "service", x.route.Service, "workspace", x.route.Workspace,
		"panic", p, "stack", string(debug.Stack()))
	err := fmt.Errorf("federation: panic serving service %q: %v", x.route.Service, p)
	if x.w.status != 0 {
		x.failure = err
		r.observe(x)
		panic(http.ErrAbortHandler)
	}
	if x.servedBy == "" { // Authorize panicked: nothing served the request yet
		x.servedBy = ServedByRouter
	}
	// Headers the handler set for the body it never wrote (Cache-Control,
	// Set-Cookie, ETag, Content-Encoding, ...) must not describe the
	// problem: it starts from the headers the router was given.
	h := x.w.Header()
	clear(h)
	maps.Copy(h, x.preset)
	x.fail(http.StatusInternalServerError, errors.New("federation: internal error"), err)
	r.observe(x)
}

// parseHops reads the loop guard header; absent means zero.
func parseHops(v []string) (int, error) {
	if len(v) == 0 {
		return 0, nil
	}
	if len(v) > 1 {
		return 0, fmt.Errorf("federation: %s sent %d times", HeaderHops, len(v))
	}
	n, err := parseCount(v[0])
	if err != nil {
		return 0, fmt.Errorf("federation: %s must be a non-negative integer, got %q", HeaderHops, clip(v[0]))
	}
	return n, nil
}

// parseCount reads a decimal count written as digits only: strconv.Atoi
// would also take a sign ("+7"), which no router sends.
func parseCount(v string) (int, error) {
	if v == "" {
		return 0, strconv.ErrSyntax
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, strconv.ErrSyntax
		}
	}
	return strconv.Atoi(v)
}

// clip shortens a client's value quoted in a problem: an answer must not
// echo a megabyte request line back, made larger still by JSON escaping.
func clip(s string) string {
	const limit = 128
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "..."
}

// observe reports the exchange.
func (r *Router) observe(x *exchange) {
	if r.cfg.Observer == nil {
		return
	}
	status := x.w.status
	if status == 0 {
		if x.failure == nil {
			status = http.StatusOK // the handler wrote nothing: net/http sends 200
		} else {
			status = StatusClientClosed
		}
	}
	in, req := x.in, x.in
	switch {
	case x.sent != nil: // real: the proxy's rewritten request
		req = x.sent
	case x.route.c != nil: // mock: rewritten in place by serveMock
		req = &x.out
	}
	ex := Exchange{
		Federation:    x.route.Federation,
		Service:       x.route.Service,
		Workspace:     x.route.Workspace,
		Reality:       x.route.Reality,
		ServedBy:      x.servedBy,
		Method:        in.Method,
		Host:          in.Host,
		Route:         x.route.Prefix,
		Path:          x.route.Path,
		Status:        status,
		Start:         x.start,
		Latency:       time.Since(x.start),
		RequestBytes:  x.body.n.Load(),
		ResponseBytes: x.w.bytes,
		Err:           x.failure,
		Request:       req,
		Faults:        x.faults,
		Comparison:    r.comparisonOf(x),
	}
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("federation: observer panicked", "panic", p)
		}
	}()
	r.cfg.Observer.Observe(ex)
}

// fail answers a problem produced by the router and records why.
func (x *exchange) fail(status int, err, cause error) {
	if cause != nil {
		x.failure = fmt.Errorf("%w: %w", err, cause)
	} else {
		x.failure = err
	}
	p := problem.New(status, err.Error())
	if x.route.Service != "" {
		p = p.With("service", x.route.Service)
	}
	if x.route.Federation != "" {
		p = p.With("federation", x.route.Federation)
	}
	x.w.Header().Set(HeaderServedBy, string(x.servedBy))
	problem.Write(&x.w, p)
}
