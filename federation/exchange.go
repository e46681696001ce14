package federation

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// exchangeKey finds the exchange in a request context.
type exchangeKey struct{}

// exchange is the per-request state of the Router. Everything a routed
// request needs lives in this one allocation: it is also the request's
// context (carrying the Route for RouteFrom), the request the service
// sees, the response recorder and the body counter.
type exchange struct {
	parent context.Context
	start  time.Time

	route Route
	in    *http.Request // the request as the client sent it
	// out is the request as the service sees it, once routed. It lives
	// here rather than behind a pointer from Request.WithContext so that a
	// routed request costs one allocation fewer (see ServeHTTP).
	out http.Request
	// sent is the request a real upstream was sent, once the proxy has
	// rewritten it: what Exchange.Request reports for a real service.
	sent     *http.Request
	w        recorder
	body     countingBody
	url      url.URL // the mock request's URL, when its path is rewritten
	servedBy ServedBy
	// hops is the hop count forwarded (incoming + 1, below MaxHops); an
	// int32 so that faults fits beside it in the exchange's size class.
	hops    int32
	faults  ChaosFaults // the chaos faults applied, for Exchange.Faults
	failure error       // why the router answered an error, if it did
	// preset holds the response headers set before the router was called
	// (nil when there were none): a problem after a panic starts from them.
	preset http.Header

	// deadline bounds a real request's waits (see deadline); it fires
	// through cancel, the real request's context.
	deadline deadline
	cancel   context.CancelCauseFunc
	// vals backs the header values set on a mock request, so that setting
	// them does not allocate one slice each.
	vals        [5]string
	servedByVal [1]string
}

var _ context.Context = (*exchange)(nil)

func (x *exchange) Deadline() (time.Time, bool) { return x.parent.Deadline() }
func (x *exchange) Done() <-chan struct{}       { return x.parent.Done() }
func (x *exchange) Err() error                  { return x.parent.Err() }

func (x *exchange) Value(key any) any {
	if _, ok := key.(exchangeKey); ok {
		return x
	}
	return x.parent.Value(key)
}

// exchangeFrom finds the exchange of a request being served.
func exchangeFrom(ctx context.Context) *exchange {
	x, _ := ctx.Value(exchangeKey{}).(*exchange)
	return x
}
