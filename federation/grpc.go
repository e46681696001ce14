package federation

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// errGRPCDeadline is the cancellation cause of a gRPC call whose own
// deadline (grpc-timeout) passed while the router was proxying it.
var errGRPCDeadline = errors.New("federation: grpc call deadline exceeded")

// headerGRPCTimeout is the canonical key of gRPC's deadline header.
const headerGRPCTimeout = "Grpc-Timeout"

// grpcDeadlineGrace is how long past a call's deadline the router waits
// for the two ends to end the call themselves: the upstream, told the
// deadline, answers DEADLINE_EXCEEDED in its trailers, and the client's
// own timer fires. The router stepping in at the same instant would race
// them and could turn the deadline into another status.
const grpcDeadlineGrace = time.Second

// grpcDeadlineKey finds, in a proxied gRPC request's context, the
// call's deadline as the client set it (the context's own deadline is
// later by grpcDeadlineGrace).
type grpcDeadlineKey struct{}

// serveGRPC forwards a gRPC call to the upstream. The router runs no
// timer of its own: a stream's headers and messages may wait as long as
// the call lasts (a server-streaming Watch, a bidi chat), so neither the
// service timeout nor the upload idle timeout applies. The call's own
// deadline does: when the client sent grpc-timeout, the upstream is told
// the time that remains (see rewrite), and the router gives up
// grpcDeadlineGrace after it (see proxyError). Dials are bounded by the
// transport's dial timeout.
func (r *Router) serveGRPC(x *exchange, out *http.Request) {
	c := x.route.c
	if d, ok := parseGRPCTimeout(out.Header[headerGRPCTimeout]); ok {
		dl := time.Now().Add(d)
		ctx, cancel := context.WithDeadlineCause(out.Context(), dl.Add(grpcDeadlineGrace), errGRPCDeadline)
		defer cancel()
		out = out.WithContext(context.WithValue(ctx, grpcDeadlineKey{}, dl))
	}
	c.proxy.ServeHTTP(&x.w, out)
}

// grpcDeadline returns the client's deadline of a proxied gRPC call.
func grpcDeadline(ctx context.Context) (time.Time, bool) {
	dl, ok := ctx.Value(grpcDeadlineKey{}).(time.Time)
	return dl, ok
}

// writeGRPCDeadline answers a call whose deadline passed before the
// upstream answered as a gRPC server would: a Trailers-Only response
// with grpc-status 4 (DEADLINE_EXCEEDED). A gRPC client then reports the
// deadline it set, not an HTTP error it would take for Unavailable and
// retry.
func writeGRPCDeadline(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/grpc")
	h.Set("Grpc-Status", "4")
	h.Set("Grpc-Message", "deadline exceeded: the upstream did not answer in time")
	w.WriteHeader(http.StatusOK)
}

// parseGRPCTimeout reads a grpc-timeout header: at most eight digits
// and one unit (H, M, S, m, u, n), as the gRPC over HTTP/2 protocol
// defines it. Anything else is ignored (false): the upstream, which
// reads the same header, is the one to reject it.
func parseGRPCTimeout(v []string) (time.Duration, bool) {
	if len(v) != 1 {
		return 0, false
	}
	s := v[0]
	if len(s) < 2 || len(s) > 9 {
		return 0, false
	}
	n, err := parseCount(s[:len(s)-1])
	if err != nil {
		return 0, false
	}
	var unit time.Duration
	switch s[len(s)-1] {
	case 'H':
		unit = time.Hour
	case 'M':
		unit = time.Minute
	case 'S':
		unit = time.Second
	case 'm':
		unit = time.Millisecond
	case 'u':
		unit = time.Microsecond
	case 'n':
		unit = time.Nanosecond
	default:
		return 0, false
	}
	// 99999999 hours overflows a Duration: such a deadline is no deadline.
	if time.Duration(n) > time.Duration(1<<63-1)/unit {
		return 0, false
	}
	return time.Duration(n) * unit, true
}

// formatGRPCTimeout writes d as a grpc-timeout value in the finest unit
// that fits eight digits, rounding down (the upstream must not be given
// more time than is left). A deadline already past is sent as 1n: the
// upstream then fails the call at once, as the client's own deadline has.
func formatGRPCTimeout(d time.Duration) string {
	if d <= 0 {
		return "1n"
	}
	const max = 99999999
	for _, u := range [...]struct {
		unit time.Duration
		c    byte
	}{{time.Nanosecond, 'n'}, {time.Microsecond, 'u'}, {time.Millisecond, 'm'}, {time.Second, 'S'}, {time.Minute, 'M'}} {
		if d/u.unit <= max {
			return strconv.FormatInt(int64(d/u.unit), 10) + string(u.c)
		}
	}
	return strconv.FormatInt(min(int64(d/time.Hour), max), 10) + "H"
}
