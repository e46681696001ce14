package federation

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"slices"
)

// Blend strategies.
const (
	MockFirst = "mock_first"
	RealFirst = "real_first"
	Merge     = "merge"
	Shadow    = "shadow"
)

// ErrBodyNotReplayable is wrapped by Exchange.Err when a blended request
// needed its body sent a second time (to the upstream after a mock miss,
// to the mock after a real failure) and the body was over Blend.MaxBody.
var ErrBodyNotReplayable = errors.New("federation: request body over the blend limit: not replayed")

// errFallback makes the proxy of a real_first request give up on an
// upstream answer whose status is one of Blend.FallbackStatus.
var errFallback = errors.New("federation: upstream status calls for the mock")

// serveBlend serves a blended request by its strategy.
func (r *Router) serveBlend(x *exchange, out *http.Request, s *snapshot) {
	b := blendOf(x.route.c.svc.Blend)
	switch b.Strategy {
	case MockFirst:
		r.serveMockFirst(x, out, s, b)
	case RealFirst, "":
		r.serveRealFirst(x, out, s, b)
	case Merge:
		r.serveMerge(x, out, s, b)
	case Shadow:
		r.serveShadow(x, out, s, b)
	default:
		x.servedBy = ServedByRouter
		x.fail(http.StatusNotImplemented, fmt.Errorf("federation: blend strategy %s is not implemented yet", b.Strategy), nil)
	}
}

// blendOf is the blend a blended service is served with: its own, or
// the defaults.
func blendOf(b *Blend) *Blend {
	if b == nil {
		return &Blend{}
	}
	return b
}

// serveMockFirst asks the mock; when it answers a miss (the miss header,
// or one of the miss statuses) its response is discarded before any of it
// reaches the client, and the request goes to the upstream with its body
// replayed.
func (r *Router) serveMockFirst(x *exchange, out *http.Request, s *snapshot, b *Blend) {
	orig := *out // before the mock's rewrite: the proxy rewrites from the client's request
	rb := newReplayBody(x, out, b)
	h, ok := r.resolveMock(x, out)
	if !ok {
		return
	}
	mw := &missWriter{x: x, h: make(http.Header), header: missHeader(b), statuses: b.MissStatus}
	h.ServeHTTP(mw, out)
	if !mw.decided {
		mw.decide(http.StatusOK) // wrote nothing: net/http would send 200
	}
	if !mw.miss {
		return
	}
	if !r.replayTo(x, &orig, rb, "the mock missed") {
		return
	}
	r.serveReal(x, &orig, s)
}

// serveRealFirst proxies to the upstream; on a transport error, a timeout
// or one of Blend.FallbackStatus, and before any byte of the upstream's
// answer reached the client, the mock serves instead. The request body is
// read first, up to Blend.MaxBody, so the mock can have it too; a larger
// body is streamed to the upstream and rules the fallback out (Exchange.Err
// then wraps ErrBodyNotReplayable). A client that went away or stalled its
// upload gets no mock either.
func (r *Router) serveRealFirst(x *exchange, out *http.Request, s *snapshot, b *Blend) {
	orig := *out // before the proxy's rewrite, for the mock's
	limit := b.MaxBody
	if limit <= 0 {
		limit = DefaultBlendMaxBody
	}
	var (
		body  []byte
		over  bool
		cause error
	)
	p := *x.route.c.proxy // a per-request copy: its hooks know this request
	p.ModifyResponse = func(resp *http.Response) error {
		if err := modifyResponse(resp); err != nil {
			return err
		}
		if !slices.Contains(b.FallbackStatus, resp.StatusCode) {
			return nil
		}
		if over { // served as is; the missed fallback is recorded
			x.failure = fmt.Errorf("federation: service %q: upstream answered %d and the request body cannot go to the mock: %w",
				x.route.Service, resp.StatusCode, ErrBodyNotReplayable)
			return nil
		}
		resp.Body.Close()
		return fmt.Errorf("%w: %d", errFallback, resp.StatusCode)
	}
	p.ErrorHandler = func(w http.ResponseWriter, req *http.Request, err error) {
		dc := x.deadline.cause()
		if over || dc == errUploadStalled || dc == nil && !errors.Is(err, errFallback) && x.parent.Err() != nil {
			r.proxyError(w, req, err) // no mock: the body is gone, or it is the client's doing
			if over && x.failure != nil && x.parent.Err() == nil {
				x.failure = fmt.Errorf("%w (no fallback: %w)", x.failure, ErrBodyNotReplayable)
			}
			return
		}
		cause = err
	}
	x.servedBy = ServedByReal
	// A sampled request also asks the mock in the background, once the
	// upstream has answered, to compare (see serveShadow).
	var tee *teeWriter
	var w []http.ResponseWriter
	if b.CompareSample != nil && rand.Float64() < *b.CompareSample {
		tee = &teeWriter{ResponseWriter: &x.w, c: newCapture(limit)}
		w = append(w, tee)
	}
	r.proxyVia(x, &p, out, s, func() bool {
		if x.body.rc == nil {
			return true
		}
		var err error
		body, err = io.ReadAll(io.LimitReader(&x.body, limit+1))
		if err != nil {
			r.proxyError(&x.w, out, err) // a stalled or departed client
			return false
		}
		if over = int64(len(body)) > limit; over {
			out.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), &x.body))
		} else {
			out.Body = io.NopCloser(bytes.NewReader(body))
		}
		return true
	}, w...)
	if cause == nil {
		if tee != nil {
			if over || x.failure != nil || !tee.c.ok() || x.parent.Err() != nil {
				r.shadow.skipped.Add(1)
				return
			}
			r.launchShadow(x, &orig, body, s, b, tee.c, false, limit)
		}
		return
	}
	r.log.Debug("federation: real_first falls back to the mock", "service", x.route.Service, "error", cause)
	// The mock gets the client's context: the real request's may be
	// cancelled by its timeout.
	mreq := orig.WithContext(x)
	mreq.Body = out0Body(&orig)
	if body != nil {
		mreq.Body = io.NopCloser(bytes.NewReader(body))
	}
	x.sent = nil // Exchange.Request is the mock's request now
	x.servedBy = ServedByMock
	h, ok := r.resolveMock(x, mreq)
	if !ok {
		return
	}
	x.w.Header()[HeaderServedBy] = []string{string(ServedByMock)}
	h.ServeHTTP(&x.w, mreq)
	*out = *mreq // observed as the request the mock saw
}

// proxyVia is serveReal with a given proxy: the same deadline and
// snapshot accounting. prepare runs under the deadline before the proxy;
// false means it answered.
func (r *Router) proxyVia(x *exchange, p *httputil.ReverseProxy, out *http.Request, s *snapshot, prepare func() bool, w ...http.ResponseWriter) {
	s.inflight.Add(1)
	defer r.leave(s)
	if x.body.rc != nil {
		x.body.x = x
	}
	x.deadline.start(x, r.cfg.UploadIdleTimeout, x.body.rc != nil)
	defer x.deadline.stop()
	var dst http.ResponseWriter = &x.w
	if len(w) > 0 {
		dst = w[0]
	}
	if prepare() {
		p.ServeHTTP(dst, out)
	}
	if r.closed.Load() {
		closeIdle(p.Transport)
	}
}

// replayTo gives req the request body again for the second side; false
// when it cannot (the body was over the limit), having answered 502.
func (r *Router) replayTo(x *exchange, req *http.Request, rb *replayBody, why string) bool {
	if rb == nil {
		req.Body = out0Body(req)
		return true
	}
	if rb.over {
		x.servedBy = ServedByRouter
		x.fail(http.StatusBadGateway, fmt.Errorf("federation: service %q: %s and the request body cannot be sent again: %w", x.route.Service, why, ErrBodyNotReplayable), nil)
		return false
	}
	req.Body = rb.replay()
	return true
}

// out0Body is the body of a request that had none.
func out0Body(req *http.Request) io.ReadCloser {
	if req.Body == nil {
		return nil
	}
	return http.NoBody
}

// resolveMock rewrites out as serveMock does (the mock sees what the
// upstream would) and returns the workspace's handler; false when the
// workspace is unavailable, having answered 502.
func (r *Router) resolveMock(x *exchange, out *http.Request) (http.Handler, bool) {
	h, err := r.mockFor(x, out)
	if err != nil {
		x.servedBy = ServedByMock
		x.fail(http.StatusBadGateway, fmt.Errorf("%w: workspace %q of service %q", ErrMockUnavailable, x.route.Workspace, x.route.Service), err)
		return nil, false
	}
	return h, true
}

// mockFor rewrites out for the mock and resolves its handler. The request
// is rewritten first, so that Exchange.Request is the one the service would
// have seen even when its workspace is unavailable.
func (r *Router) mockFor(x *exchange, out *http.Request) (http.Handler, error) {
	in, c := x.in, x.route.c
	if x.route.RawPath != in.URL.EscapedPath() || x.route.Path != in.URL.Path {
		x.url = *in.URL
		// The client's escaping is kept even where Go's default escaping
		// would differ (for example "!" versus "%21").
		x.url.Path, x.url.RawPath = x.route.Path, escapedRaw(x.route)
		out.URL = &x.url
		out.RequestURI = requestURI(in.RequestURI, &x.url)
	}
	out.Header = r.forwardHeader(x, in)
	if c.upstream != nil && !c.svc.PreserveHost {
		out.Host = c.upstream.Host
	}
	if r.cfg.Mocks == nil {
		return nil, errors.New("federation: RouterConfig.Mocks is nil")
	}
	h, err := r.cfg.Mocks.MockHandler(x.route.Workspace)
	if err == nil && h == nil {
		err = ErrNoMockHandler
	}
	if err != nil {
		r.log.Warn("federation: mock workspace unavailable", "service", x.route.Service, "workspace", x.route.Workspace, "error", err)
		return nil, err
	}
	return h, nil
}

func missHeader(b *Blend) string {
	if b.MissHeader != "" {
		return http.CanonicalHeaderKey(b.MissHeader)
	}
	return DefaultMissHeader
}

// missWriter holds a mock_first mock's response back until its status is
// known: a miss is discarded whole, anything else goes to the client as
// written, unbuffered. Protocol upgrades (Hijack) are not offered: a
// mock_first mock cannot take over the connection.
type missWriter struct {
	x        *exchange
	h        http.Header // the mock's headers until decided
	header   string
	statuses []int
	decided  bool
	miss     bool
}

func (m *missWriter) Header() http.Header {
	if m.decided && !m.miss {
		return m.x.w.Header()
	}
	return m.h
}

// decide settles miss or hit on the first status; a hit sends the mock's
// headers on, labelled, without the miss header.
func (m *missWriter) decide(code int) {
	m.decided = true
	m.miss = m.h[m.header] != nil || slices.Contains(m.statuses, code)
	if m.miss {
		return
	}
	dst := m.x.w.Header()
	for k, v := range m.h {
		if k != m.header {
			dst[k] = v
		}
	}
	m.x.servedBy = ServedByMock
	dst[HeaderServedBy] = []string{string(ServedByMock)}
	m.x.w.WriteHeader(code)
}

func (m *missWriter) WriteHeader(code int) {
	switch {
	case m.decided:
		if !m.miss {
			m.x.w.WriteHeader(code)
		}
	case code >= 200 || code == http.StatusSwitchingProtocols:
		m.decide(code)
	}
	// An interim 1xx before the decision is dropped: a miss must leave
	// nothing on the wire.
}

func (m *missWriter) Write(p []byte) (int, error) {
	if !m.decided {
		m.decide(http.StatusOK)
	}
	if m.miss {
		return len(p), nil // discarded
	}
	return m.x.w.Write(p)
}

func (m *missWriter) Flush() {
	if !m.decided {
		m.decide(http.StatusOK)
	}
	if !m.miss {
		m.x.w.Flush()
	}
}

// replayBody keeps what the first side read of the request body, up to
// Blend.MaxBody, so the second side can read it again followed by what
// the first left unread.
type replayBody struct {
	src   io.Reader // the counting body
	buf   bytes.Buffer
	limit int64
	over  bool // the first side read more than limit
	eof   bool // the first side read it all
}

// newReplayBody puts a replayable body on out; nil when out has none.
func newReplayBody(x *exchange, out *http.Request, b *Blend) *replayBody {
	if x.body.rc == nil {
		return nil
	}
	rb := &replayBody{src: &x.body, limit: b.MaxBody}
	if rb.limit <= 0 {
		rb.limit = DefaultBlendMaxBody
	}
	out.Body = rb
	return rb
}

func (rb *replayBody) Read(p []byte) (int, error) {
	n, err := rb.src.Read(p)
	if !rb.over {
		if int64(rb.buf.Len()+n) > rb.limit {
			rb.over = true
			rb.buf = bytes.Buffer{}
		} else {
			rb.buf.Write(p[:n])
		}
	}
	if err == io.EOF {
		rb.eof = true
	}
	return n, err
}

// Close leaves the client's body open for the second side; the server
// closes it when the request ends.
func (rb *replayBody) Close() error { return nil }

// replay is the body for the second side.
func (rb *replayBody) replay() io.ReadCloser {
	if rb.eof {
		return io.NopCloser(bytes.NewReader(rb.buf.Bytes()))
	}
	return io.NopCloser(io.MultiReader(bytes.NewReader(rb.buf.Bytes()), rb.src))
}
