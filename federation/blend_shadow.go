package federation

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxShadows is RouterConfig.MaxShadows's default.
const DefaultMaxShadows = 64

// ShadowStats counts a Router's shadow calls.
type ShadowStats struct {
	Started int64 // secondary calls started
	Dropped int64 // not started: MaxShadows were running, or the Router was closing or closed
	Skipped int64 // not started: a request body over Blend.MaxBody, an unsafe method to a real secondary, or the primary failed
}

// shadowPool owns the shadow goroutines of a Router.
type shadowPool struct {
	mu      sync.Mutex
	closing bool // guarded by mu: Shutdown began, no new shadow starts
	running int  // guarded by mu: the semaphore's count
	wg      sync.WaitGroup

	started, dropped, skipped atomic.Int64
}

// ShadowStats returns the shadow counters.
func (r *Router) ShadowStats() ShadowStats {
	p := &r.shadow
	return ShadowStats{Started: p.started.Load(), Dropped: p.dropped.Load(), Skipped: p.skipped.Load()}
}

// Shutdown stops starting shadow calls, waits for those running (or for
// ctx), then closes the Router. Call it once the server in front has
// stopped; a shadow call is bounded by its service's timeout.
func (r *Router) Shutdown(ctx context.Context) error {
	p := &r.shadow
	p.mu.Lock()
	p.closing = true
	p.mu.Unlock()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		r.Close()
		<-done // shadows are bounded by their timeouts: the goroutine above ends with them
		return fmt.Errorf("federation: shutdown: %w", ctx.Err())
	}
	return r.Close()
}

// start runs fn in an owned goroutine when a slot is free; false when it
// was dropped.
func (p *shadowPool) start(limit int, fn func()) bool {
	p.mu.Lock()
	if p.closing || p.running >= limit {
		p.mu.Unlock()
		p.dropped.Add(1)
		return false
	}
	p.running++
	p.wg.Add(1)
	p.mu.Unlock()
	p.started.Add(1)
	go func() {
		defer func() {
			p.mu.Lock()
			p.running--
			p.mu.Unlock()
			p.wg.Done()
		}()
		fn()
	}()
	return true
}

// serveShadow serves the primary (the upstream unless Blend.Primary is
// "mock") and then, in the background, asks the secondary the same
// request and compares the two answers. The client never waits for the
// secondary: it runs with a context detached from the client's, bounded
// by the service timeout, and only while fewer than MaxShadows run
// (otherwise it is dropped and counted). A real secondary is asked only
// for the safe methods. The comparison goes to the Observer as an
// Exchange of its own with Shadow set, and to RecentDiffs.
func (r *Router) serveShadow(x *exchange, out *http.Request, s *snapshot, b *Blend) {
	limit := b.MaxBody
	if limit <= 0 {
		limit = DefaultBlendMaxBody
	}
	sampled := b.Sample == nil || rand.Float64() < *b.Sample
	orig := *out
	var body []byte
	over := false
	tee := &teeWriter{ResponseWriter: &x.w, c: newCapture(limit)}
	if b.Primary == "mock" {
		if x.body.rc != nil {
			var err error
			if body, err = io.ReadAll(io.LimitReader(&x.body, limit+1)); err != nil {
				x.failure = fmt.Errorf("%w: %w", errClientGone, err)
				return
			}
			over = int64(len(body)) > limit
			out.Body = replayed(body, &x.body, over)
		}
		h, ok := r.resolveMock(x, out)
		if !ok {
			return
		}
		x.servedBy = ServedByMock
		x.w.Header()[HeaderServedBy] = []string{string(ServedByMock)}
		h.ServeHTTP(tee, out)
	} else {
		p := *x.route.c.proxy
		p.ErrorHandler = func(w http.ResponseWriter, req *http.Request, err error) {
			tee.failed = true
			r.proxyError(w, req, err)
		}
		x.servedBy = ServedByReal
		r.proxyVia(x, &p, out, s, func() bool {
			if x.body.rc == nil {
				return true
			}
			var err error
			if body, err = io.ReadAll(io.LimitReader(&x.body, limit+1)); err != nil {
				r.proxyError(&x.w, out, err)
				tee.failed = true
				return false
			}
			over = int64(len(body)) > limit
			out.Body = replayed(body, &x.body, over)
			return true
		}, tee)
	}
	if !sampled {
		return
	}
	toReal := b.Primary == "mock"
	if over || tee.failed || !tee.c.ok() || x.parent.Err() != nil || toReal && !slices.Contains(safeMethods, orig.Method) {
		r.shadow.skipped.Add(1)
		return
	}
	r.launchShadow(x, &orig, body, s, b, tee.c, toReal, limit)
}

// launchShadow starts the secondary call of x in the background, or
// drops it (counted) when MaxShadows run or the Router is closing.
// Everything the secondary needs is copied now: the exchange is done with
// once ServeHTTP returns.
func (r *Router) launchShadow(x *exchange, orig *http.Request, body []byte, s *snapshot, b *Blend, primary *capture, toReal bool, limit int64) {
	in := *x.in // a copy: the shadow outlives the request
	in.Header = x.in.Header.Clone()
	u := *x.in.URL
	in.URL = &u
	in.Body = nil
	sx := &exchange{route: x.route, hops: x.hops, in: &in, start: time.Now()}
	parent, cancel := context.WithTimeout(context.WithoutCancel(x.parent), x.route.c.timeout)
	sx.parent = parent
	req := orig.WithContext(sx)
	req.Header = in.Header.Clone()
	req.URL = &u
	req.Body = out0Body(orig)
	if body != nil {
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	limitN := r.cfg.MaxShadows
	if limitN <= 0 {
		limitN = DefaultMaxShadows
	}
	started := !r.closed.Load() && r.shadow.start(limitN, func() {
		defer cancel()
		r.runShadow(sx, req, s, b, primary, toReal, limit)
	})
	if !started {
		if r.closed.Load() {
			r.shadow.dropped.Add(1)
		}
		cancel()
	}
}

// runShadow asks the secondary, compares and reports. It runs on a shadow
// goroutine.
func (r *Router) runShadow(sx *exchange, req *http.Request, s *snapshot, b *Blend, primary *capture, toReal bool, limit int64) {
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("federation: shadow call panicked", "service", sx.route.Service, "panic", p)
		}
	}()
	second := newCapture(limit)
	by := ServedByMock
	if toReal {
		by = ServedByReal
		second.err = r.mergeReal(sx, s, req, second)
	} else {
		sx.out = *req
		h, err := r.mockFor(sx, &sx.out)
		if err != nil {
			second.err = err
		} else {
			h.ServeHTTP(second, &sx.out)
		}
		req = &sx.out
	}
	ex := Exchange{Federation: sx.route.Federation, Service: sx.route.Service, Workspace: sx.route.Workspace,
		Reality: sx.route.Reality, ServedBy: by, Method: req.Method, Host: sx.in.Host, Route: sx.route.Prefix,
		Path: sx.route.Path, Status: second.code(), Start: sx.start, Latency: time.Since(sx.start),
		ResponseBytes: int64(second.body.Len()), Err: second.err, Request: req, Shadow: true}
	if toReal && sx.sent != nil {
		ex.Request = sx.sent
	}
	if second.ok() {
		mock, real := second, primary
		if toReal {
			mock, real = primary, second
		}
		ex.Comparison = blendComparer(sx, b).compare(mock.answer(), real.answer())
		r.recordDrift(sx, ex.Comparison)
	} else {
		ex.Status = StatusClientClosed
		if second.err == nil {
			ex.Err = errBodyTooLarge
		}
	}
	if r.cfg.Observer != nil {
		r.cfg.Observer.Observe(ex)
	}
}

// replayed is the primary's copy of a body read ahead: the bytes read,
// followed by the rest when they were over the limit.
func replayed(body []byte, rest io.Reader, over bool) io.ReadCloser {
	if over {
		return io.NopCloser(io.MultiReader(bytes.NewReader(body), rest))
	}
	return io.NopCloser(bytes.NewReader(body))
}

// teeWriter passes the primary's response to the client and keeps a copy
// for the comparison, up to the capture's limit.
type teeWriter struct {
	http.ResponseWriter
	c      *capture
	failed bool // the router answered an error itself
}

func (t *teeWriter) WriteHeader(code int) {
	if t.c.status == 0 && code >= 200 {
		copyHeader(t.c.h, t.ResponseWriter.Header())
	}
	t.c.WriteHeader(code)
	t.ResponseWriter.WriteHeader(code)
}

func (t *teeWriter) Write(p []byte) (int, error) {
	if t.c.status == 0 {
		copyHeader(t.c.h, t.ResponseWriter.Header())
	}
	t.c.Write(p)
	return t.ResponseWriter.Write(p)
}

func (t *teeWriter) Flush() {
	if f, ok := t.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (t *teeWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }
