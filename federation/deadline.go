package federation

import (
	"errors"
	"io"
	"net/http"
	"sync"
	"time"
)

// The causes a real request is cancelled with when one of its deadlines
// passes; proxyError turns each into its answer.
var (
	// errUpstreamTimeout: the upstream did not send response headers
	// within the service's timeout once the request had been sent.
	errUpstreamTimeout = errors.New("federation: upstream timeout")
	// errUpstreamBodyTimeout: the upstream (or the dial to it) held the
	// request body for the service's timeout without taking more of it.
	errUpstreamBodyTimeout = errors.New("federation: upstream did not take the request body")
	// errUploadStalled: the client sent no body bytes for
	// RouterConfig.UploadIdleTimeout.
	errUploadStalled = errors.New("federation: request body stalled")
)

// What the deadline of a real request is waiting for.
const (
	waitAnswer   uint8 = iota // the request is sent: the response headers (service timeout)
	waitUpstream              // the transport holds the body: dial, or the upstream taking it (service timeout)
	waitClient                // the transport asked for body bytes: the client sending them (upload idle timeout)
)

// causes is the cancellation cause of a deadline that passed while
// waiting for each of the above.
var causes = [...]error{waitAnswer: errUpstreamTimeout, waitUpstream: errUpstreamBodyTimeout, waitClient: errUploadStalled}

// deadline is the one timer of a real request. Like Envoy's route timeout,
// the answer deadline starts once the request body has been sent; while
// the body is being sent, each wait is bounded by whoever is being waited
// for: the client (UploadIdleTimeout, answered 408) or the upstream (the
// service timeout, answered 504). A slow upload to a healthy upstream is
// therefore never reported as an upstream failure.
//
// The timer is re-armed by the body's reads (on the transport's
// goroutine) and stopped when response headers arrive (modifyResponse);
// mu orders those against the timer's own callback, so that a late read
// cannot re-arm a stopped timer and cut a streaming response.
//
// It lives inside the exchange, so its fields are packed: the exchange
// must stay in its allocation size class (see TestExchangeSizeClass).
type deadline struct {
	mu       sync.Mutex
	wait     uint8 // guarded by mu, as are the two below
	fired    uint8 // 1 + the wait it fired during; 0 while it has not
	answered bool  // response headers arrived: the timer stays stopped
	timer    *time.Timer
	upload   time.Duration // the service timeout is read from the route
}

// start arms the deadline of x: for the answer when there is no body to
// send, otherwise for the transport (dial and send) until it reads.
func (d *deadline) start(x *exchange, upload time.Duration, withBody bool) {
	d.upload = upload
	if withBody {
		d.wait = waitUpstream
	}
	d.timer = time.AfterFunc(x.route.c.timeout, func() { d.fire(x) })
}

// fire cancels the real request with the cause of the current wait.
func (d *deadline) fire(x *exchange) {
	d.mu.Lock()
	if d.answered || d.fired != 0 {
		d.mu.Unlock()
		return
	}
	cause := causes[d.wait]
	d.fired = 1 + d.wait
	d.mu.Unlock()
	x.cancel(cause)
	if cause == errUploadStalled {
		// The transport's goroutine is blocked reading the client's body:
		// a read deadline in the past ends that read, so nothing waits on
		// a client that has stopped sending. (The failed read cancels the
		// client's context too; proxyError asks cause first, so the
		// client still gets its 408.)
		_ = http.NewResponseController(x.w.ResponseWriter).SetReadDeadline(time.Unix(1, 0))
	}
}

// cause returns why the deadline fired, or nil.
func (d *deadline) cause() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fired == 0 {
		return nil
	}
	return causes[d.fired-1]
}

// await moves the deadline to a new wait and re-arms it for its bound:
// upload for the client, service for the upstream.
func (d *deadline) await(wait uint8, service time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.answered || d.fired != 0 || d.wait == wait && wait == waitAnswer {
		return
	}
	d.wait = wait
	if wait == waitClient {
		d.timer.Reset(d.upload)
	} else {
		d.timer.Reset(service)
	}
}

// answer stops the deadline once response headers arrived; it returns the
// cause when the timer won the race (the request is already cancelled).
func (d *deadline) answer() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fired != 0 {
		return causes[d.fired-1]
	}
	d.answered = true
	if d.timer != nil { // nil: never started (a grpc call has no router timer)
		d.timer.Stop()
	}
	return nil
}

// stop ends the deadline when the exchange ends.
func (d *deadline) stop() {
	d.mu.Lock()
	d.answered = true
	d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
	}
}

// countingBody counts the request body bytes the service read and, for a
// real request, moves its deadline as the transport reads.
// The count is atomic because the transport may still be sending the body
// from its own goroutine when an early response has already completed.
type countingBody struct {
	rc io.ReadCloser
	n  atomicInt64
	x  *exchange // set for real requests only: the host's server bounds a mock's reads
}

func (b *countingBody) Read(p []byte) (int, error) {
	x := b.x
	if x != nil {
		x.deadline.await(waitClient, 0)
	}
	n, err := b.rc.Read(p)
	b.n.Add(int64(n))
	if x != nil {
		if err == io.EOF {
			x.deadline.await(waitAnswer, x.route.c.timeout) // sent: the answer deadline starts now
		} else {
			x.deadline.await(waitUpstream, x.route.c.timeout)
		}
	}
	return n, err
}

func (b *countingBody) Close() error { return b.rc.Close() }
