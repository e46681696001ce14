package federation

import (
	"sync"
	"time"
)

// RecentDiffs is how many drifted comparisons a Router keeps per service.
const RecentDiffs = 32

// Drift is one comparison of a mock answer with the real one that found
// differences, as Router.RecentDiffs keeps it.
type Drift struct {
	Time       time.Time
	Federation string
	Service    string
	Route      string // the service's base path
	Method     string
	Path       string // the path the service saw
	Comparison *Comparison
}

// driftLog keeps the last RecentDiffs drifts of each service.
type driftLog struct {
	mu   sync.Mutex
	byFn map[string]*driftRing // by service name; guarded by mu
	// pending holds comparisons until their exchange is observed.
	pending sync.Map // *exchange -> *Comparison
}

type driftRing struct {
	buf  [RecentDiffs]Drift
	next int // where the next drift goes
	n    int // how many are held
}

// RecentDiffs returns the drifts recently found for service, oldest
// first (at most RecentDiffs). The Comparisons are shared: treat them as
// read-only.
func (r *Router) RecentDiffs(service string) []Drift {
	l := &r.drift
	l.mu.Lock()
	defer l.mu.Unlock()
	ring := l.byFn[service]
	if ring == nil {
		return nil
	}
	out := make([]Drift, 0, ring.n)
	for i := range ring.n {
		out = append(out, ring.buf[(ring.next-ring.n+i+RecentDiffs)%RecentDiffs])
	}
	return out
}

// recordDrift keeps the comparison c made for x when it found differences.
func (r *Router) recordDrift(x *exchange, c *Comparison) {
	if c == nil || !c.Drifted() {
		return
	}
	d := Drift{Time: time.Now(), Federation: x.route.Federation, Service: x.route.Service, Route: x.route.Prefix,
		Method: x.in.Method, Path: x.route.Path, Comparison: c}
	l := &r.drift
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byFn == nil {
		l.byFn = make(map[string]*driftRing)
	}
	ring := l.byFn[d.Service]
	if ring == nil {
		ring = &driftRing{}
		l.byFn[d.Service] = ring
	}
	ring.buf[ring.next] = d
	ring.next = (ring.next + 1) % RecentDiffs
	ring.n = min(ring.n+1, RecentDiffs)
}

// setComparison keeps c for x's Exchange until it is observed. The
// exchange itself has no room to spare (see TestExchangeSizeClass), and
// only blended requests have a comparison, so it waits in a map keyed by
// the exchange, and only when somebody observes.
func (r *Router) setComparison(x *exchange, c *Comparison) {
	if r.cfg.Observer != nil {
		r.drift.pending.Store(x, c)
	}
}

// comparisonOf returns (and forgets) the comparison made for x, or nil.
func (r *Router) comparisonOf(x *exchange) *Comparison {
	if x.route.Reality != Blended {
		return nil
	}
	if c, ok := r.drift.pending.LoadAndDelete(x); ok {
		return c.(*Comparison)
	}
	return nil
}
