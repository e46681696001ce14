package federation

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Observer receives one Exchange per request the Router handled.
//
// Observe is called on the request's goroutine once the handler or proxy
// has returned, and before the Router's ServeHTTP returns. net/http
// completes a response only when ServeHTTP returns: it then flushes what
// is still buffered (all of a small response) and ends a chunked body. So
// the time Observe takes is added to every response the client waits for:
// it must be fast and must not block, as the coverage Collector (not built
// yet) is designed to be: tens of nanoseconds, no allocation. An observer
// that does I/O belongs behind an ObserverQueue, which hands exchanges over
// on its own goroutine and drops, counting, when full. A panic in Observe
// is recovered and logged.
//
// The Router calls Observe synchronously rather than through a queue of
// its own: a queue would need a goroutine, a size and a drop policy chosen
// for every host, while the one observer that matters is designed to be
// non-blocking.
type Observer interface {
	Observe(x Exchange)
}

// ServedBy says who produced a response; it is also sent to the client in
// the X-Mockops-Served-By header.
type ServedBy string

const (
	ServedByMock   ServedBy = "mock"   // the workspace's mock handler
	ServedByReal   ServedBy = "real"   // the real upstream (or a proxy error about it)
	ServedByRouter ServedBy = "router" // the router itself: no route, denied, loop, not implemented
)

// HeaderServedBy is the response header that carries ServedBy.
const HeaderServedBy = "X-Mockops-Served-By"

// Exchange describes one request and its response.
type Exchange struct {
	Federation string
	Service    string // "" when no route matched
	Workspace  string
	Reality    RealityLevel
	ServedBy   ServedBy
	Method     string
	Host       string
	Route      string // the matched base path
	Path       string // the path the service saw (after prefix stripping)
	// Status is the status sent to the client; 499 when none was: the
	// client went away first, or the response was aborted before it
	// started (Err says which).
	Status        int
	Start         time.Time
	Latency       time.Duration // from routing to the end of the response
	RequestBytes  int64         // request body bytes read by the service
	ResponseBytes int64         // response body bytes written
	// Err says why the router produced an error response (upstream failure,
	// denial, loop, stalled upload), or is nil. It wraps the cause for
	// errors.Is and errors.As: a failing MockResolver's own error (with
	// ErrMockUnavailable), ErrEgressDenied for a refused dial, the
	// transport's error for an upstream failure.
	Err error
	// Request is the request as the service saw it, for every reality
	// level: the forwarded path (prefix stripped when the service strips
	// it; for a real service, the upstream's URL, its path prefix
	// included), hop-by-hop and Connection-listed headers removed, the
	// router's X-Forwarded-* and hop headers set, and the Host sent. For a
	// request no service saw (no route, a loop, a denial) it is the
	// request as the client sent it, or as routed. It is only valid during
	// Observe and must not be modified or retained.
	Request *http.Request
	// Faults are the chaos faults applied to the request (chaos_driven).
	Faults ChaosFaults
	// Comparison is the mock/real comparison made for this request when
	// both answers existed (a blended merge), nil otherwise: this is drift.
	// Treat it as read-only; it may be retained.
	Comparison *Comparison
	// Shadow marks the background call of a blended shadow service: it is
	// observed on the shadow's goroutine once it ends, in no fixed order
	// with the primary's own Exchange, and nobody received its response.
	Shadow bool
}

// StatusClientClosed is the status an Exchange reports when no response
// was written: the client went away first (nginx's convention), or the
// response was aborted before it started.
const StatusClientClosed = 499

// recorder wraps the client's ResponseWriter to learn the status and the
// body size. It keeps the optional interfaces the proxy and mock handlers
// rely on: Flush (streaming), Hijack (protocol upgrades) and Unwrap (for
// http.ResponseController: deadlines, full duplex).
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *recorder) WriteHeader(code int) {
	// 1xx other than 101 are interim responses; the final status follows.
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// ReadFrom keeps io.Copy's sendfile path available to mock handlers that
// serve files, while still counting bytes.
func (w *recorder) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err := rf.ReadFrom(r)
		w.bytes += n
		return n, err
	}
	n, err := io.Copy(struct{ io.Writer }{w.ResponseWriter}, r)
	w.bytes += n
	return n, err
}

func (w *recorder) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
		return
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.status == 0 {
		// After a hijack the handler speaks the protocol itself; the only
		// reason to hijack here is an upgrade.
		w.status = http.StatusSwitchingProtocols
	}
	return conn, brw, err
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// atomicInt64 is the body counter: the transport may still be sending the
// body from its own goroutine when an early response has already completed.
type atomicInt64 = atomic.Int64

// errClientGone marks an exchange whose client left before an answer.
var errClientGone = errors.New("federation: client went away")
