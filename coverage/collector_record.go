package coverage

import (
	"bufio"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/mockops/mockops/federation"
)

// Hit is one request as the collector counts it.
type Hit struct {
	Workspace string
	Service   string
	Method    string
	// Path is the escaped path the service saw (its server base path
	// included), what Spec.Match takes.
	Path   string
	Status int
	// Body reports a request body (declared or read).
	Body     bool
	Scenario string
	Persona  string
	// CI marks CI traffic; RunID is the CI run, "" when unknown.
	CI    bool
	RunID string
}

// Record counts one request. It is safe for concurrent use and, once the
// hit's service and dimension values have been seen in the current time
// bucket, allocates nothing.
func (c *Collector) Record(h Hit) { c.record(&h, nil, nil, true) }

// record counts h (unless counted is false: a shadow call nobody
// received counts for drift only) and, when cmp is set, one mock/real
// comparison of it. svc is h's service when the caller already knows it
// (Middleware outside a route), else nil.
func (c *Collector) record(h *Hit, svc *service, cmp *federation.Comparison, counted bool) {
	now := c.coarse.Load()
	if svc == nil {
		svc = c.service(h.Workspace, h.Service)
	}
	g := c.enter()
	defer g.exit()
	ec := g.endpoints(svc)
	m := int32(1)
	if h.CI {
		m = 0
	}
	if counted {
		ec.counts[m].Add(1)
	}
	comp := ec.comp
	if comp.spec != nil {
		op, err := comp.spec.Match(h.Method, h.Path)
		if err != nil {
			if counted {
				g.dims.add(dimKey{kind: dimMissing, ci: h.CI, svc: int32(svc.idx), a: h.Method, b: h.Path}, now)
			}
			if cmp != nil {
				c.addDrift(g, svc, h, cmp.Drifted(), now)
			}
		} else {
			o := &comp.spec.ops[op]
			b := comp.base[op]
			ri := -1
			if h.Status != federation.StatusClientClosed && h.Status != 0 {
				ri = o.ResponseFor(h.Status)
			}
			if counted {
				ec.counts[b+m].Add(1)
				if h.Body && o.RequestBody {
					ec.counts[b+2+m].Add(1)
				}
				if ri >= 0 {
					ec.counts[b+4+2*int32(ri)+m].Add(1)
				} else if h.Status != federation.StatusClientClosed && h.Status != 0 {
					g.dims.add(dimKey{kind: dimUndeclared, ci: h.CI, svc: int32(svc.idx), a: o.Method, b: o.Path, n: int32(h.Status)}, now)
				}
			}
			if cmp != nil {
				cb := cmpBase(b, len(o.Responses))
				if ri >= 0 {
					cb += 2 + 2*int32(ri)
				}
				ec.counts[cb].Add(1)
				if cmp.Drifted() {
					ec.counts[cb+1].Add(1)
				}
			}
		}
	} else if cmp != nil {
		c.addDrift(g, svc, h, cmp.Drifted(), now)
	}
	if !counted {
		return
	}
	if h.Scenario != "" {
		g.dims.add(dimKey{kind: dimScenario, svc: int32(svc.idx), a: h.Scenario}, now)
	}
	if h.Persona != "" {
		g.dims.add(dimKey{kind: dimPersona, ci: h.CI, svc: int32(svc.idx), a: h.Persona}, now)
		if h.CI && h.RunID != "" {
			g.dims.add(dimKey{kind: dimPersonaRun, svc: int32(svc.idx), a: h.Persona, b: h.RunID}, now)
		}
	}
}

// addDrift counts a comparison of a request no operation names.
func (c *Collector) addDrift(g *generation, svc *service, h *Hit, drifted bool, now int64) {
	g.dims.add(dimKey{kind: dimDrift, svc: int32(svc.idx), a: h.Method, b: h.Path}, now)
	if drifted {
		g.dims.add(dimKey{kind: dimDrift, svc: int32(svc.idx), a: h.Method, b: h.Path, n: 1}, now)
	}
}

// service finds or adds the (workspace, service) pair.
func (c *Collector) service(ws, name string) *service {
	if s := c.svcs.Load().find(ws, name, svcHash(ws, name)); s != nil {
		return s
	}
	return c.addService(ws, name)
}

func (c *Collector) addService(ws, name string) *service {
	c.svcMu.Lock()
	defer c.svcMu.Unlock()
	old := c.svcs.Load()
	h := svcHash(ws, name)
	if s := old.find(ws, name, h); s != nil {
		return s
	}
	if len(c.svcList) > c.cfg.MaxServices {
		return c.overflow
	}
	k := svcKey{strings.Clone(ws), strings.Clone(name)}
	s := &service{key: k, idx: len(c.svcList)}
	comp := c.specs[name]
	if comp == nil {
		comp = noSpec
	}
	s.comp.Store(comp)
	c.svcList = append(c.svcList, s)
	c.svcs.Store(old.with(s, h))
	return s
}

// svcTable is an immutable open-addressing hash table of the services,
// replaced whole (under svcMu) when one is added: there are at most
// MaxServices+1 of them and they are added once, while every request
// looks one up. A Go map with a two-string key costs several times more
// per lookup (generic hashing of both strings, then its group probing).
// The hash reads a few bytes of each name (svcHash). Names are the host's
// (routes, Config), not a client's, and capped, so a collision costs a
// string comparison or two, never a flood.
type svcTable struct {
	mask  uint32
	shift uint32 // 32 - log2(len(slots))
	n     int
	slots []svcSlot
}

type svcSlot struct {
	hash uint32
	s    *service
}

// svcHash mixes the lengths and the end bytes of both names; kept small
// enough to inline. The table indexes by its high bits (see slot), which
// the multiply mixes from all of them.
func svcHash(ws, name string) uint32 {
	h := uint32(len(ws))<<16 ^ uint32(len(name))
	if n := len(ws); n > 0 {
		h ^= uint32(ws[n-1]) << 24
	}
	if n := len(name); n > 0 {
		h ^= uint32(name[0])<<8 ^ uint32(name[n-1])<<20
	}
	return h * 0x9e3779b1
}

// slot is where h's probe sequence starts: its high bits.
func (t *svcTable) slot(h uint32) uint32 { return h >> t.shift }

// find returns the service of (ws, name), whose svcHash is h, or nil; t
// may be nil (no service yet).
func (t *svcTable) find(ws, name string, h uint32) *service {
	if t == nil {
		return nil
	}
	for i := t.slot(h); ; i = (i + 1) & t.mask {
		e := &t.slots[i]
		if e.s == nil {
			return nil
		}
		if e.hash == h && e.s.key.name == name && e.s.key.ws == ws {
			return e.s
		}
	}
}

// with returns a copy of t (nil: empty) holding s too, at most half full.
func (t *svcTable) with(s *service, h uint32) *svcTable {
	n := 1
	if t != nil {
		n += t.n
	}
	size, shift := 4, uint32(30)
	for size < 2*n {
		size, shift = size*2, shift-1
	}
	nt := &svcTable{mask: uint32(size - 1), shift: shift, n: n, slots: make([]svcSlot, size)}
	put := func(e svcSlot) {
		i := nt.slot(e.hash)
		for nt.slots[i].s != nil {
			i = (i + 1) & nt.mask
		}
		nt.slots[i] = e
	}
	if t != nil {
		for _, e := range t.slots {
			if e.s != nil {
				put(e)
			}
		}
	}
	put(svcSlot{hash: h, s: s})
	return nt
}

// Observe implements federation.Observer: routed traffic and the
// federation's mock/real comparisons flow in. A shadow call counts for
// drift only (nobody received its answer); exchanges no service handled
// (no route, a loop) are not counted.
func (c *Collector) Observe(x federation.Exchange) {
	if x.Service == "" {
		return
	}
	h := Hit{Workspace: x.Workspace, Service: x.Service, Method: x.Method, Path: x.Path, Status: x.Status, Body: x.RequestBytes > 0}
	if r := x.Request; r != nil {
		c.attribute(&h, r)
		if !h.Body {
			h.Body = r.ContentLength > 0
		}
	}
	if x.Shadow {
		if x.Comparison != nil {
			c.record(&h, nil, x.Comparison, false)
		}
		return
	}
	c.record(&h, nil, x.Comparison, true)
}

// attribute reads the scenario, persona and CI attribution of r.
func (c *Collector) attribute(h *Hit, r *http.Request) {
	h.Scenario = headerValue(r.Header, c.cfg.ScenarioHeader)
	h.Persona = headerValue(r.Header, c.cfg.PersonaHeader)
	h.CI, h.RunID = c.ci.resolve(headerValue(r.Header, c.cfg.RunHeader), r)
}

// headerValue is Header.Get for a canonical key, without canonicalising.
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Middleware counts every request next serves. Outside a federation
// route the workspace and service are Config.Workspace and Config.Service;
// inside one (federation.RouteFrom), the route's. Do not also give the
// collector to the Router as its Observer, or requests count twice.
func (c *Collector) Middleware(next http.Handler) http.Handler {
	// own is the service of Config.Workspace and Config.Service, looked up
	// at the first request outside a route and kept: a pair's service
	// never changes (past MaxServices it is the overflow one for good).
	var own atomic.Pointer[service]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := c.pool.Get().(*statusWriter)
		sw.ResponseWriter, sw.status = w, 0
		defer func() {
			sw.ResponseWriter = nil
			c.pool.Put(sw)
		}()
		next.ServeHTTP(sw, r)
		h := Hit{Workspace: c.cfg.Workspace, Service: c.cfg.Service, Method: r.Method, Status: sw.status, Body: r.ContentLength != 0}
		if h.Status == 0 {
			h.Status = http.StatusOK
		}
		var svc *service
		if rt, ok := federation.RouteFrom(r.Context()); ok {
			h.Workspace, h.Service, h.Path = rt.Workspace, rt.Service, rt.RawPath
			if h.Path == "" {
				h.Path = rt.Path
			}
		} else {
			h.Path = escapedPath(r.URL)
			if svc = own.Load(); svc == nil {
				svc = c.service(h.Workspace, h.Service)
				own.Store(svc)
			}
		}
		c.attribute(&h, r)
		c.record(&h, svc, nil, true)
	})
}

// escapedPath is u.EscapedPath(), without its per-byte escaping scan
// when the path has no RawPath and only bytes that escaping keeps as
// they are (pathKeeps): the common case, then a cheap table loop.
func escapedPath(u *url.URL) string {
	if u.RawPath != "" {
		return u.EscapedPath()
	}
	for i := 0; i < len(u.Path); i++ {
		if !pathKeeps(u.Path[i]) {
			return u.EscapedPath()
		}
	}
	return u.Path
}

// pathKeeps reports the bytes url.URL.EscapedPath never escapes in a
// path: RFC 3986 unreserved ones, "/", and the sub-delimiters, ":" and
// "@" a path may hold. TestEscapedPath checks it against net/url for
// every byte.
func pathKeeps(c byte) bool {
	if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
		return true
	}
	switch c {
	case '-', '.', '_', '~', '/', ':', '@', '&', '=', '+', '$', ',', ';':
		return true
	}
	return false
}

// statusWriter learns the status a handler writes. It keeps Flush and
// Unwrap (for http.ResponseController: hijacking, deadlines) available.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return conn, brw, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ciResolver attributes a request to CI or local: an explicit run header
// ("ci; id=123" or "local") first, then user agent tokens, then client
// networks. Run header values are resolved once per value, the rest once
// per connection (its remote address), each in a capped cache; past the
// cap resolution still works, uncached (it allocates nothing either way).
type ciResolver struct {
	uaTokens []string
	nets     []netip.Prefix
	max      int

	runs  cowMap[string, runAttr]
	conns cowMap[string, bool]
	mu    sync.Mutex // guards inserts into runs and conns
	nRuns atomic.Int64
	nConn atomic.Int64
}

type runAttr struct {
	set, ci bool
	id      string
}

func (r *ciResolver) resolve(run string, req *http.Request) (ci bool, id string) {
	if run != "" {
		a, ok := r.runs.load(run)
		if !ok {
			a = parseRun(run)
			// A value past MaxKeyBytes is parsed, not kept: the cache's
			// cap bounds its entries, this their size.
			if len(run) <= MaxKeyBytes && r.nRuns.Load() < int64(r.max) {
				r.mu.Lock()
				if _, ok := r.runs.loadLocked(run); !ok {
					r.nRuns.Add(1)
					a.id = strings.Clone(a.id)
					r.runs.storeLocked(strings.Clone(run), a)
				}
				r.mu.Unlock()
			}
		}
		if a.set {
			return a.ci, a.id
		}
	}
	if len(r.uaTokens) == 0 && len(r.nets) == 0 {
		return false, ""
	}
	if req.RemoteAddr == "" {
		// No connection to key on (the request a real upstream was sent,
		// as an Exchange reports it): resolved each time.
		return r.byClient(req), ""
	}
	if ci, ok := r.conns.load(req.RemoteAddr); ok {
		return ci, ""
	}
	ci = r.byClient(req)
	if r.nConn.Load() < int64(r.max) {
		r.mu.Lock()
		if _, ok := r.conns.loadLocked(req.RemoteAddr); !ok {
			r.nConn.Add(1)
			r.conns.storeLocked(strings.Clone(req.RemoteAddr), ci)
		}
		r.mu.Unlock()
	}
	return ci, ""
}

func (r *ciResolver) byClient(req *http.Request) bool {
	ua := req.UserAgent()
	for _, t := range r.uaTokens {
		if t != "" && strings.Contains(ua, t) {
			return true
		}
	}
	if len(r.nets) == 0 {
		return false
	}
	ap, err := netip.ParseAddrPort(req.RemoteAddr)
	if err != nil {
		return false
	}
	addr := ap.Addr().Unmap()
	for _, p := range r.nets {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// parseRun reads a run header: "ci" or "local", then ";"-separated
// parameters of which "id" names the run ("ci; id=build-42"). Anything
// else leaves the attribution to the user agent and network rules.
func parseRun(v string) runAttr {
	kind, params, _ := strings.Cut(v, ";")
	kind = strings.TrimSpace(kind)
	var a runAttr
	switch {
	case strings.EqualFold(kind, "ci"):
		a.set, a.ci = true, true
	case strings.EqualFold(kind, "local"):
		a.set = true
	default:
		return a
	}
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, val, ok := strings.Cut(p, "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "id") {
			a.id = strings.Trim(strings.TrimSpace(val), `"`)
		}
	}
	return a
}

// cowMap is a read-mostly map: loads read an immutable copy through an
// atomic pointer without locking; stores (under the owner's lock) go to a
// dirty superset, republished once misses have paid for the copy.
type cowMap[K comparable, V any] struct {
	read   atomic.Pointer[map[K]V]
	dirty  map[K]V
	misses int
}

func (m *cowMap[K, V]) load(k K) (V, bool) {
	if r := m.read.Load(); r != nil {
		v, ok := (*r)[k]
		return v, ok
	}
	var zero V
	return zero, false
}

// loadLocked also sees stores not yet republished; the owner's lock is
// held. A key found only here is a miss that counts toward republishing,
// so a new key stops taking the lock soon.
func (m *cowMap[K, V]) loadLocked(k K) (V, bool) {
	v, ok := m.dirty[k]
	if ok {
		m.missed()
	}
	return v, ok
}

// storeLocked adds k; the owner's lock is held.
func (m *cowMap[K, V]) storeLocked(k K, v V) {
	if m.dirty == nil {
		m.dirty = map[K]V{}
	}
	m.dirty[k] = v
	m.missed()
}

func (m *cowMap[K, V]) missed() {
	m.misses++
	r := m.read.Load()
	if r != nil && len(*r) == len(m.dirty) {
		m.misses = 0
		return
	}
	if r != nil && m.misses < len(*r)/4+8 {
		return
	}
	cp := make(map[K]V, len(m.dirty))
	for k, v := range m.dirty {
		cp[k] = v
	}
	m.read.Store(&cp)
	m.misses = 0
}
