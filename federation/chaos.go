package federation

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ServedByChaos marks a response the chaos_driven level produced itself
// (an abort, a hang that gave up) instead of its base.
const ServedByChaos ServedBy = "chaos"

// ErrChaosFault is wrapped by Exchange.Err when an injected fault made the
// answer fail (abort, reset, empty, truncate, hang), so an Observer can
// tell deliberate failures from real ones with errors.Is.
var ErrChaosFault = errors.New("federation: chaos fault injected")

// ChaosStats counts what the chaos_driven level did for one service since
// the Router was created (it survives Update).
type ChaosStats struct {
	Requests uint64 // chaos_driven requests served (faults drawn for)
	// One count per fault: the requests it was applied to.
	Latency, Bandwidth, Abort, Reset, Empty, Truncate, Hang uint64
}

// chaosState is the per-service state of chaos: the sequence that keys
// requests without a key header, and the counters.
type chaosState struct {
	seq      atomic.Uint64
	requests atomic.Uint64
	injected [numFaults]atomic.Uint64
}

// chaosBook holds the chaosState of every service by name, so sequence and
// counters carry over snapshots. Its zero value is ready.
type chaosBook struct {
	mu       sync.Mutex // guards services; states are used lock-free once found
	services map[string]*chaosState
}

func (b *chaosBook) state(service string) *chaosState {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.services[service]
	if st == nil {
		if b.services == nil {
			b.services = make(map[string]*chaosState)
		}
		st = &chaosState{}
		b.services[service] = st
	}
	return st
}

// ChaosStats returns a snapshot of the chaos counters of every service
// that has served a chaos_driven request.
func (r *Router) ChaosStats() map[string]ChaosStats {
	r.chaos.mu.Lock()
	defer r.chaos.mu.Unlock()
	out := make(map[string]ChaosStats, len(r.chaos.services))
	for name, st := range r.chaos.services {
		n := func(f ChaosFault) uint64 { return st.injected[f].Load() }
		out[name] = ChaosStats{
			Requests: st.requests.Load(),
			Latency:  n(FaultLatency), Bandwidth: n(FaultBandwidth), Abort: n(FaultAbort),
			Reset: n(FaultReset), Empty: n(FaultEmpty), Truncate: n(FaultTruncate), Hang: n(FaultHang),
		}
	}
	return out
}

// serveChaos serves a chaos_driven request: it decides the faults, waits
// the delay (leaving as soon as the client does), then either applies
// the terminal fault instead of the base, or serves the base (mock or
// real) through the body faults (bandwidth, truncate).
func (r *Router) serveChaos(x *exchange, out *http.Request, s *snapshot) {
	c := x.route.c
	cfg := c.svc.Chaos
	st := r.chaos.state(c.svc.Name)
	st.requests.Add(1)
	var k chaosKey
	if cfg != nil && cfg.KeyHeader != "" {
		if v := x.in.Header.Get(cfg.KeyHeader); v != "" {
			k = chaosKey{header: v, byName: true}
		}
	}
	if !k.byName {
		k.seq = st.seq.Add(1) - 1
	}
	var forced ChaosFaults
	if cfg != nil && cfg.HeaderFaults {
		forced = forcedFaults(cfg, x.in.Header)
	}
	d := decide(cfg, c.svc.Name, k, forced)
	x.faults = d.fired
	for f := range numFaults {
		if d.fired.Has(f) {
			st.injected[f].Add(1)
		}
	}
	if d.delay > 0 && !r.chaosWait(x, d.delay) {
		return
	}
	switch d.terminal {
	case FaultAbort:
		x.servedBy = ServedByChaos
		if ra := cfg.Abort.RetryAfter; ra > 0 {
			x.w.Header().Set("Retry-After", strconv.FormatInt(int64((ra+time.Second-1)/time.Second), 10))
		}
		x.fail(cfg.Abort.Status, fmt.Errorf("%w: abort with %d on service %q", ErrChaosFault, cfg.Abort.Status, c.svc.Name), nil)
		return
	case FaultReset, FaultEmpty:
		x.servedBy = ServedByChaos
		closeConn(x, d.terminal)
		return
	case FaultHang:
		x.servedBy = ServedByChaos
		hold := cfg.Hang.Duration
		if hold <= 0 {
			hold = c.timeout
		}
		if r.chaosWait(x, hold) {
			x.fail(http.StatusGatewayTimeout, fmt.Errorf("%w: hang on service %q gave up after %s", ErrChaosFault, c.svc.Name, hold), nil)
		}
		return
	}
	var cw *chaosWriter
	if d.fired.Has(FaultBandwidth) || d.terminal == FaultTruncate {
		cw = &chaosWriter{ResponseWriter: x.w.ResponseWriter, ctx: x, limit: -1}
		if d.fired.Has(FaultBandwidth) {
			cw.bps = cfg.Bandwidth.BytesPerSecond
		}
		if d.terminal == FaultTruncate {
			cw.limit = cfg.Truncate.After
		}
		x.w.ResponseWriter = cw
		// Deferred, so that it also runs when the proxy aborts the
		// response on the failed write (http.ErrAbortHandler) before
		// finish observes the exchange.
		defer cw.record(x, cfg, c.svc.Name)
	}
	if cfg != nil && cfg.Base == "real" {
		r.serveReal(x, out, s) // ServeHTTP gave out its own cancellation
	} else {
		r.serveMock(x, out)
	}
	if cw != nil && cw.truncated {
		// The client must see a cut answer, not a short complete one: the
		// bytes let through were flushed, the connection is now dropped.
		panic(http.ErrAbortHandler)
	}
}

// record says in x why the body faults cut the response, if they did.
func (w *chaosWriter) record(x *exchange, cfg *Chaos, service string) {
	switch {
	case w.truncated:
		x.failure = fmt.Errorf("%w: body truncated after %d bytes on service %q", ErrChaosFault, cfg.Truncate.After, service)
	case w.left != nil && x.failure == nil:
		x.failure = fmt.Errorf("%w during a chaos bandwidth limit on service %q: %w", errClientGone, service, w.left)
	}
}

// chaosWait waits d, or until the client leaves; it reports whether the
// wait ran its course. A client that left is recorded as such.
func (r *Router) chaosWait(x *exchange, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-x.Done():
		x.failure = fmt.Errorf("%w while chaos delayed service %q: %w", errClientGone, x.route.Service, context.Cause(x))
		return false
	}
}

// closeConn ends the connection without an answer: reset sends a TCP RST
// (linger 0), empty a plain close. On HTTP/2, where a handler cannot take
// the connection, both reset the stream instead (RST_STREAM through
// http.ErrAbortHandler); the connection and its other streams live on.
func closeConn(x *exchange, f ChaosFault) {
	x.failure = fmt.Errorf("%w: %s on service %q", ErrChaosFault, f, x.route.Service)
	conn, _, err := http.NewResponseController(x.w.ResponseWriter).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok && f == FaultReset {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// chaosWriter applies the body faults to what the base writes: bandwidth
// paces it in slices of a tenth of a second's worth, truncate lets limit
// bytes through and fails the rest.
type chaosWriter struct {
	http.ResponseWriter
	ctx       context.Context
	limit     int64 // bytes still allowed; -1 unlimited
	bps       int64 // 0: no pacing
	truncated bool
	left      error // why pacing stopped: the client went away
}

var errChaosTruncated = fmt.Errorf("%w: body truncated", ErrChaosFault)

func (w *chaosWriter) Write(b []byte) (int, error) {
	cut := false
	if w.limit >= 0 && int64(len(b)) > w.limit {
		b, cut = b[:w.limit], true
	}
	n := 0
	for {
		chunk := b
		if w.bps > 0 {
			chunk = b[:min(int64(len(b)), max(w.bps/10, 1))]
		}
		m, err := w.ResponseWriter.Write(chunk)
		n += m
		if w.limit >= 0 {
			w.limit -= int64(m)
		}
		if err != nil {
			return n, err
		}
		b = b[m:]
		if w.bps > 0 && m > 0 {
			w.Flush()
			if err := pause(w.ctx, time.Duration(int64(m)*int64(time.Second)/w.bps)); err != nil {
				w.left = err
				return n, err
			}
		}
		if len(b) == 0 {
			break
		}
	}
	if cut {
		w.truncated = true
		w.Flush()
		return n, errChaosTruncated
	}
	return n, nil
}

func (w *chaosWriter) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

func (w *chaosWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
