package steps

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultUserAgent is the User-Agent of outbound requests when neither the
// request nor the configuration names one.
const DefaultUserAgent = "mockops-steps/1 (+https://github.com/mockops/mockops)"

// HTTPConfig configures NewHTTPClient. The zero value is a usable client:
// 30s per call, up to 3 attempts, Retry-After honoured up to 30s, the
// default egress policy.
type HTTPConfig struct {
	// Timeout bounds one call, retries and their waits included (0: 30s).
	Timeout time.Duration
	// UserAgent is set on requests that have none (empty: DefaultUserAgent).
	UserAgent string
	// MaxAttempts is how many times one request is sent at most (0: 3;
	// 1 disables retries).
	MaxAttempts int
	// MaxRetryWait bounds the wait before a retry (0: 30s). A Retry-After
	// asking for longer is not waited for: that answer is returned.
	MaxRetryWait time.Duration
	// Egress decides every dial on the resolved address.
	Egress EgressPolicy
	// Transport is the base transport, cloned and made to dial through
	// the policy (nil: one like http.DefaultTransport, without the
	// environment's proxy).
	Transport *http.Transport
	// TLSConfig replaces the transport's TLS client configuration.
	TLSConfig *tls.Config
	// Resolver resolves names for the default dialer (nil: the system's);
	// it is unused when Transport has its own DialContext.
	Resolver *net.Resolver
	// Logger receives a debug record per retry (nil discards).
	Logger *slog.Logger

	// sleep replaces the retry wait in tests; it must honour ctx.
	sleep func(ctx context.Context, d time.Duration) error
}

// NewHTTPClient returns the outbound client of the built-in steps.
//
// Requests answered 429, 502, 503 or 504 are sent again, after the
// answer's Retry-After (seconds or an HTTP date) or else an exponential
// backoff with jitter from 500ms, when their body can be replayed (no body,
// or Request.GetBody set, as http.NewRequest does for in-memory bodies)
// and the wait fits both MaxRetryWait and the context's deadline. The last
// answer is returned once the attempts are spent, for the caller to judge.
// A request carrying an Idempotency-Key header keeps it on every attempt,
// so a target that honours it applies the request once. Redirects are not
// followed: a step reports the 3xx it got rather than re-sending a POST
// elsewhere.
func NewHTTPClient(cfg HTTPConfig) *http.Client {
	p := cfg.Egress.policy()
	var t *http.Transport
	if cfg.Transport == nil {
		t = p.Transport(nil)
		d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Resolver: cfg.Resolver}
		t.DialContext = p.DialFunc(d)
	} else {
		t = p.Transport(cfg.Transport)
	}
	if cfg.TLSConfig != nil {
		t.TLSClientConfig = cfg.TLSConfig.Clone()
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return &http.Client{
		Transport: &retryTransport{next: t, cfg: cfg},
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// retryTransport sets the User-Agent and retries the statuses a server
// uses for "not now".
type retryTransport struct {
	next *http.Transport
	cfg  HTTPConfig
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// underlying transport.
func (t *retryTransport) CloseIdleConnections() { t.next.CloseIdleConnections() }

func retryable(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	attempts := t.cfg.MaxAttempts
	if attempts <= 0 {
		attempts = 3
	}
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	if !replayable {
		attempts = 1
	}
	maxWait := t.cfg.MaxRetryWait
	if maxWait <= 0 {
		maxWait = 30 * time.Second
	}
	ua := t.cfg.UserAgent
	if ua == "" {
		ua = DefaultUserAgent
	}
	hasBody := req.Body != nil && req.Body != http.NoBody
	for attempt := 1; ; attempt++ {
		r := req.Clone(ctx) // headers are ours to set on the clone
		if r.Header.Get("User-Agent") == "" {
			r.Header.Set("User-Agent", ua)
		}
		if attempt > 1 && hasBody {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r.Body = body
		}
		resp, err := t.next.RoundTrip(r)
		if err != nil || attempt >= attempts || !retryable(resp.StatusCode) {
			return resp, err
		}
		wait, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now())
		if !ok {
			wait = backoff(attempt)
		}
		if wait > maxWait {
			return resp, nil
		}
		if dl, has := ctx.Deadline(); has && time.Until(dl) < wait {
			return resp, nil
		}
		// Drain a little so the connection can be reused, then wait.
		io.CopyN(io.Discard, resp.Body, 4<<10)
		resp.Body.Close()
		if t.cfg.Logger != nil {
			t.cfg.Logger.LogAttrs(ctx, slog.LevelDebug, "steps: retrying request",
				slog.String("method", req.Method), slog.String("host", redactURL(req.URL)),
				slog.Int("status", resp.StatusCode), slog.Duration("wait", wait), slog.Int("attempt", attempt+1))
		}
		sleep := t.cfg.sleep
		if sleep == nil {
			sleep = sleepCtx
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// retryAfter parses a Retry-After value: delay-seconds or an HTTP date,
// as a wait in [0, 24h].
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > int64(24*time.Hour/time.Second) {
			n = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(n) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return min(max(at.Sub(now), 0), 24*time.Hour), true
	}
	return 0, false
}

// backoff is the wait before attempt+1 when the server gave no
// Retry-After: 500ms doubled per attempt, with up to 50% jitter removed.
func backoff(attempt int) time.Duration {
	d := 500 * time.Millisecond << min(attempt-1, 10)
	return d - rand.N(d/2+1)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// redactURL returns what an error or log may say about u: its scheme and
// host. Userinfo, path and query can hold secrets (a Slack webhook URL's
// path is the credential), so none of them is shown.
func redactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	if u.Scheme == "" {
		return u.Host
	}
	return u.Scheme + "://" + u.Host
}

// RequestError is an outbound request that got no answer: refused by the
// egress policy, timed out, a TLS or connection failure, a malformed
// answer. It names the method and the scheme and host only.
type RequestError struct {
	Method string
	Host   string // "https://hooks.slack.com": never userinfo, path or query
	Err    error
}

func (e *RequestError) Error() string {
	return fmt.Sprintf("steps: %s %s: %v", e.Method, e.Host, e.Err)
}

func (e *RequestError) Unwrap() error { return e.Err }

// Timeout reports whether the request timed out.
func (e *RequestError) Timeout() bool {
	var te interface{ Timeout() bool }
	return errors.As(e.Err, &te) && te.Timeout() || errors.Is(e.Err, context.DeadlineExceeded)
}

// StatusError is an answer a step did not accept. Detail is a short
// excerpt of the body when it is a plain token (Slack's "invalid_blocks"),
// never the request's secrets.
type StatusError struct {
	Method string
	Host   string
	Status int
	Detail string
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("steps: %s %s: status %d %s", e.Method, e.Host, e.Status, http.StatusText(e.Status))
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// statusErr builds the error of an unaccepted status: 4xx other than 408
// and 429 are Permanent (sending the same request again gets the same
// answer); others may pass later.
func statusErr(req *http.Request, status int, body []byte, scrub func(string) string) error {
	err := &StatusError{Method: req.Method, Host: redactURL(req.URL), Status: status, Detail: scrub(detail(body))}
	if status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests {
		return Permanent(err)
	}
	return err
}

// detail keeps a body only when it is a short token such as Slack's error
// codes; anything longer or richer could echo what we sent.
func detail(body []byte) string {
	s := strings.TrimSpace(string(body))
	if s == "" || len(s) > 64 {
		return ""
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == ' ') {
			return ""
		}
	}
	return s
}

// maxBody bounds what a step reads of an answer.
const maxBody = 1 << 20

// send sends req with c and reads at most maxBody of the answer. A
// request error comes back as a *RequestError (Permanent when the egress
// policy refused it); the caller judges the status.
func send(c *http.Client, req *http.Request) (*http.Response, []byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message holds the whole URL
		}
		rerr := &RequestError{Method: req.Method, Host: redactURL(req.URL), Err: err}
		if errors.Is(err, ErrEgressDenied) {
			return nil, nil, Permanent(rerr)
		}
		return nil, nil, rerr
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, nil, &RequestError{Method: req.Method, Host: redactURL(req.URL), Err: fmt.Errorf("reading the answer: %w", err)}
	}
	if len(body) > maxBody {
		return nil, nil, &RequestError{Method: req.Method, Host: redactURL(req.URL), Err: fmt.Errorf("answer larger than %d bytes", maxBody)}
	}
	return resp, body, nil
}
