package federation

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/mockops/mockops/internal/egress"
)

// transport returns the transport of an upstream origin for snapshot s,
// creating it once while any live snapshot uses the origin: snapshots
// share it, so an Update keeps warm connections. An HTTP/2-only service
// (http2, grpc) has a transport of its own, apart from the HTTP/1 one of
// the same origin. Called with r.mu held.
func (r *Router) transport(s *snapshot, u *url.URL, proto Protocol) http.RoundTripper {
	origin := u.Scheme + "://" + u.Host
	if proto.http2Upstream() {
		origin = "h2 " + origin // a key only: never a URL
	}
	if tr, ok := s.transports[origin]; ok { // another service of s
		return tr
	}
	st, ok := r.transports[origin]
	if !ok {
		st = &sharedTransport{tr: r.newTransport(u, proto)}
		r.transports[origin] = st
	}
	st.refs++
	s.transports[origin] = st.tr
	return st.tr
}

// newTransport builds the transport of one upstream origin. For http2 and
// grpc the transport speaks HTTP/2 only (see upstreamProtocols); a
// RouterConfig.NewTransport result is used as given, so a host that sets
// one is responsible for that.
func (r *Router) newTransport(u *url.URL, proto Protocol) http.RoundTripper {
	var tr http.RoundTripper
	switch {
	case r.cfg.NewTransport != nil:
		tr = r.cfg.NewTransport(u)
	case r.cfg.Transport != nil:
		t := r.egress.Transport(r.cfg.Transport) // a clone, dialling through the policy
		t.DisableCompression = true
		if proto.http2Upstream() {
			t.Protocols = upstreamProtocols()
		}
		tr = t
	}
	if tr == nil {
		t := defaultTransport(r.cfg.MaxIdleConnsPerHost, r.egress)
		if proto.http2Upstream() {
			t.Protocols = upstreamProtocols()
		}
		tr = t
	}
	return tr
}

// defaultTransport is tuned for a router talking to a few upstreams at
// high rates: many idle connections per host, bounded dial and TLS times,
// no environment proxy (a stray HTTP_PROXY must not sit between the
// router and loopback services), and no transparent compression. Every
// dial passes the egress policy on the resolved address.
func defaultTransport(idlePerHost int, p *egress.Policy) *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:           p.DialFunc(d),
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   idlePerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}
}

// newProxy builds the reverse proxy of one real service; it is built once
// per snapshot and shared by every request of that snapshot.
func (r *Router) newProxy(c *compiled, tr http.RoundTripper) *httputil.ReverseProxy {
	p := &httputil.ReverseProxy{
		Rewrite:        func(pr *httputil.ProxyRequest) { r.rewrite(pr, c) },
		Transport:      tr,
		FlushInterval:  -1, // flush every write: server-sent events and streams pass as they come
		ErrorLog:       slog.NewLogLogger(r.log.Handler(), slog.LevelWarn),
		ErrorHandler:   r.proxyError,
		ModifyResponse: modifyResponse,
		BufferPool:     r.buffers,
	}
	if c.svc.Protocol == ProtocolGRPC {
		// A gRPC error without messages is a "Trailers-Only" answer: one
		// HEADERS frame that ends the stream and holds grpc-status. An
		// eager flush would send those headers as the response's start
		// and end the stream with no trailers, which a gRPC client reads
		// as a broken call. ReverseProxy flushes a response of unknown
		// length (every stream with messages) at once whatever this
		// says; 0 only stops it flushing an empty one early.
		p.FlushInterval = 0
	}
	return p
}

// bufferPool recycles the proxy's copy buffers: without one, ReverseProxy
// allocates 32 KiB per request, which is most of its garbage.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

// serveReal forwards a request to the service's upstream. The service
// timeout bounds the dial, the upstream taking the body, and, from the
// moment the body has been sent, the wait for response headers; once
// headers arrive the deadline stops, so a long stream is not cut. A
// client that stops sending its body is bounded by UploadIdleTimeout.
func (r *Router) serveReal(x *exchange, out *http.Request, s *snapshot) {
	x.servedBy = ServedByReal
	s.inflight.Add(1)
	defer r.leave(s)
	c := x.route.c
	if c.svc.Protocol == ProtocolGRPC {
		r.serveGRPC(x, out) // the call's own deadline, no router timer (grpc.go)
		if r.closed.Load() {
			closeIdle(c.proxy.Transport)
		}
		return
	}
	withBody := x.body.rc != nil
	if withBody {
		x.body.x = x
	}
	x.deadline.start(x, r.cfg.UploadIdleTimeout, withBody)
	defer x.deadline.stop()
	c.proxy.ServeHTTP(&x.w, out)
	if r.closed.Load() {
		// The connection this request used went back to the idle pool
		// after Close had emptied it: its goroutines must not outlive the
		// Router.
		closeIdle(c.proxy.Transport)
	}
}

// rewrite turns the inbound request into the upstream one. ReverseProxy
// has already removed hop-by-hop and Connection-listed headers and the
// client's X-Forwarded-For/-Host/-Proto, so the headers set here cannot be
// removed by the client.
func (r *Router) rewrite(pr *httputil.ProxyRequest, c *compiled) {
	x := exchangeFrom(pr.In.Context())
	// RawPath always, so the client's escaping is forwarded as sent.
	pr.Out.URL.Path, pr.Out.URL.RawPath = x.route.Path, escapedRaw(x.route)
	pr.SetURL(c.upstream)
	if prior := pr.In.Header["X-Forwarded-For"]; r.cfg.TrustForwardedFor && len(prior) > 0 {
		pr.Out.Header["X-Forwarded-For"] = append([]string(nil), prior...)
	}
	pr.SetXForwarded()
	// Values live in the exchange: no slice allocation per header.
	delete(pr.Out.Header, "X-Forwarded-Prefix")
	if c.svc.StripPrefix {
		x.vals[3] = x.route.Prefix
		pr.Out.Header["X-Forwarded-Prefix"] = x.vals[3:4:4]
	}
	x.vals[4] = strconv.Itoa(int(x.hops))
	pr.Out.Header[HeaderHops] = x.vals[4:5:5]
	if c.svc.Protocol == ProtocolGRPC { // the context lookup only for grpc
		if dl, ok := grpcDeadline(pr.Out.Context()); ok {
			// Propagated, not copied: the upstream gets the time the
			// call has left.
			pr.Out.Header[headerGRPCTimeout] = []string{formatGRPCTimeout(time.Until(dl))}
		}
	}
	if c.svc.PreserveHost {
		pr.Out.Host = pr.In.Host
	} else {
		pr.Out.Host = pr.Out.URL.Host // what the transport sends; set so an Observer reads it as for a mock
	}
	x.sent = pr.Out
}

// modifyResponse runs when the upstream's headers arrived: it stops the
// timeout and labels the response.
func modifyResponse(resp *http.Response) error {
	x := exchangeFrom(resp.Request.Context()) // never nil: the proxy runs only from serveReal
	if err := x.deadline.answer(); err != nil {
		return err // the deadline won the race: the request is already cancelled
	}
	x.servedByVal[0] = string(ServedByReal)
	resp.Header[HeaderServedBy] = x.servedByVal[:1:1] // no slice allocation per request
	if len(resp.Trailer) > 0 && resp.ProtoMajor >= 2 && x.in.ProtoMajor == 1 {
		// HTTP/2 frames trailers apart from the body, so an HTTP/2
		// upstream may send a Content-Length with them; HTTP/1 carries
		// trailers only in a chunked body, which a length would rule out.
		resp.Header.Del("Content-Length")
		resp.ContentLength = -1
	}
	return nil
}

// proxyError answers a failed upstream exchange. A client that went away
// gets nothing (there is nobody to answer) and is not logged: it is not a
// fault of the router nor of the upstream.
func (r *Router) proxyError(w http.ResponseWriter, req *http.Request, err error) {
	x := exchangeFrom(req.Context()) // never nil: the proxy runs only from serveReal
	cause := x.deadline.cause()
	if cause == nil {
		cause = context.Cause(req.Context())
	}
	if cause == errUploadStalled {
		// The client's fault, not the upstream's: 408, and no warning.
		r.log.Debug("federation: request body stalled", "service", x.route.Service, "error", err)
		x.servedBy = ServedByRouter
		x.fail(http.StatusRequestTimeout, fmt.Errorf("federation: the request body to service %q stalled: no bytes for %s", x.route.Service, r.cfg.UploadIdleTimeout), err)
		return
	}
	timedOut := errors.Is(err, errUpstreamTimeout) || cause == errUpstreamTimeout
	bodyTimedOut := errors.Is(err, errUpstreamBodyTimeout) || cause == errUpstreamBodyTimeout
	if !timedOut && !bodyTimedOut && x.parent.Err() != nil {
		x.failure = fmt.Errorf("%w: %w", errClientGone, err)
		return
	}
	if cause == errGRPCDeadline {
		// Not an HTTP failure to a gRPC client: its call's deadline.
		r.log.Debug("federation: grpc call deadline exceeded", "service", x.route.Service, "error", err)
		x.servedBy = ServedByReal
		x.failure = fmt.Errorf("federation: upstream of service %q did not answer within the call's deadline (grpc-timeout): %w", x.route.Service, err)
		w.Header().Set(HeaderServedBy, string(x.servedBy))
		writeGRPCDeadline(w)
		return
	}
	status, what := http.StatusBadGateway, describeUpstreamError(err)
	switch {
	case bodyTimedOut:
		status, what = http.StatusGatewayTimeout, fmt.Sprintf("did not take the request body within %s", x.route.c.timeout)
	case timedOut || isTimeout(err):
		status, what = http.StatusGatewayTimeout, fmt.Sprintf("did not answer within %s", x.route.c.timeout)
	}
	r.log.Warn("federation: upstream failed", "service", x.route.Service, "upstream", x.route.c.upstream.Redacted(), "status", status, "error", err)
	x.servedBy = ServedByReal
	x.fail(status, fmt.Errorf("federation: upstream of service %q %s", x.route.Service, what), err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// describeUpstreamError says what went wrong in words a client can act
// on, without the addresses the full error (logged) holds.
func describeUpstreamError(err error) string {
	var (
		dnsErr   *net.DNSError
		recErr   tls.RecordHeaderError
		alertErr tls.AlertError
		certErr  *tls.CertificateVerificationError
		authErr  x509.UnknownAuthorityError
		hostErr  x509.HostnameError
	)
	switch {
	case errors.Is(err, egress.ErrDenied):
		return "is not allowed by the egress policy"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused the connection"
	case errors.As(err, &dnsErr):
		return "could not be resolved"
	case errors.As(err, &recErr), errors.As(err, &alertErr), errors.As(err, &certErr),
		errors.As(err, &authErr), errors.As(err, &hostErr):
		return "failed the TLS handshake"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "closed or reset the connection"
	}
	return "failed"
}
