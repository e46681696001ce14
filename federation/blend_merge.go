package federation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// ServedByMerge labels a response merged from the mock's and the real
// answer.
const ServedByMerge ServedBy = "mock+real"

// HeaderMerge marks a merge response that is not a merge of both answers:
// "partial; missing=mock" (or real) when one side failed, "unmerged" when
// both answered but not as two 2xx JSON objects (the preferred side's
// answer is served as it came).
const HeaderMerge = "X-Mockops-Merge"

// safeMethods are merged by default (RFC 9110 9.2.1).
var safeMethods = []string{http.MethodGet, http.MethodHead, http.MethodOptions}

// errMergeTimeout is the cause of a merge whose service timeout passed.
var errMergeTimeout = errors.New("federation: merge timeout")

// serveMerge asks the mock and the upstream at once, under one deadline
// (the service timeout), and answers their JSON objects merged per RFC
// 7386, the preferred side's members winning (real by default). Encoded
// bodies are decoded first; the merged body is sent unencoded. A request
// with another method than the merge methods is served real_first.
func (r *Router) serveMerge(x *exchange, out *http.Request, s *snapshot, b *Blend) {
	methods := b.MergeMethods
	if len(methods) == 0 {
		methods = safeMethods
	}
	if !slices.Contains(methods, out.Method) {
		r.serveRealFirst(x, out, s, b)
		return
	}
	c := x.route.c
	limit := b.MaxBody
	if limit <= 0 {
		limit = DefaultBlendMaxBody
	}
	var body []byte
	if x.body.rc != nil {
		var err error
		if body, err = io.ReadAll(io.LimitReader(&x.body, limit+1)); err != nil {
			x.failure = fmt.Errorf("%w: %w", errClientGone, err)
			return
		}
		if int64(len(body)) > limit {
			x.servedBy = ServedByRouter
			x.fail(http.StatusRequestEntityTooLarge, fmt.Errorf("federation: service %q merges requests of at most %d body bytes: %w", x.route.Service, limit, ErrBodyNotReplayable), nil)
			return
		}
	}
	newBody := func() io.ReadCloser {
		if body == nil {
			return out0Body(out)
		}
		return io.NopCloser(bytes.NewReader(body))
	}
	ctx, cancel := context.WithTimeoutCause(x, c.timeout, errMergeTimeout)
	defer cancel()
	rreq := out.WithContext(ctx) // before the mock's rewrite of out's fields
	rreq.Body = newBody()
	mreq := out.WithContext(ctx)
	mreq.Body = newBody()
	h, mockErr := r.mockFor(x, mreq)
	mreq.Header = mreq.Header.Clone() // its values must not alias the exchange, which the proxy writes

	mock, real := newCapture(limit), newCapture(limit)
	var wg sync.WaitGroup
	if mockErr == nil {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					r.log.Error("federation: mock panicked in a merge", "service", x.route.Service, "panic", p)
					mock.err = fmt.Errorf("federation: mock panicked: %v", p)
				}
			}()
			h.ServeHTTP(mock, mreq)
		})
	}
	real.err = r.mergeReal(x, s, rreq, real)
	wg.Wait()
	if mockErr != nil {
		mock.err = fmt.Errorf("%w: %w", ErrMockUnavailable, mockErr)
	}
	if x.parent.Err() != nil {
		x.failure = errClientGone
		return
	}
	r.answerMerge(x, b, mock, real, context.Cause(ctx) == errMergeTimeout)
}

// mergeReal sends the upstream side of a merge into w.
func (r *Router) mergeReal(x *exchange, s *snapshot, req *http.Request, w *capture) (err error) {
	s.inflight.Add(1)
	defer r.leave(s)
	p := *x.route.c.proxy
	p.ModifyResponse = nil // no deadline of its own: the merge's context bounds it
	p.ErrorHandler = func(_ http.ResponseWriter, _ *http.Request, e error) { err = e }
	defer func() {
		if rec := recover(); rec != nil {
			if rec != http.ErrAbortHandler { // the proxy's way to say the body copy failed
				panic(rec)
			}
			err = errAborted
		}
		if r.closed.Load() {
			closeIdle(p.Transport)
		}
	}()
	p.ServeHTTP(w, req)
	return err
}

// answerMerge writes the merge's answer from the two captured sides.
func (r *Router) answerMerge(x *exchange, b *Blend, mock, real *capture, timedOut bool) {
	mOK, rOK := mock.ok(), real.ok()
	if mOK && rOK {
		c := blendComparer(x, b).compare(mock.answer(), real.answer())
		r.setComparison(x, c)
		r.recordDrift(x, c)
	}
	type side struct {
		c    *capture
		by   ServedBy
		name string
	}
	win, lose := side{real, ServedByReal, "real"}, side{mock, ServedByMock, "mock"}
	if b.Prefer == "mock" {
		win, lose = lose, win
	}
	h := x.w.Header()
	switch {
	case !mOK && !rOK:
		x.servedBy = ServedByRouter
		status := http.StatusBadGateway
		if timedOut {
			status = http.StatusGatewayTimeout
		}
		x.fail(status, fmt.Errorf("federation: neither the mock nor the upstream of service %q answered the merge", x.route.Service), errors.Join(mock.err, real.err))
		return
	case !win.c.ok():
		win, lose = lose, win
		fallthrough
	case !lose.c.ok():
		h[HeaderMerge] = []string{"partial; missing=" + lose.name}
		r.log.Debug("federation: merge is partial", "service", x.route.Service, "missing", lose.name, "error", lose.c.err)
	default:
		if merged, ok := mergeAnswers(win.c, lose.c); ok {
			copyHeader(h, win.c.h)
			delete(h, "Content-Length")
			delete(h, "Content-Encoding")
			h["Content-Type"] = []string{"application/json"}
			x.servedBy = ServedByMerge
			h[HeaderServedBy] = []string{string(ServedByMerge)}
			x.w.WriteHeader(win.c.code())
			x.w.Write(merged)
			return
		}
		h[HeaderMerge] = []string{"unmerged"}
	}
	copyHeader(h, win.c.h)
	x.servedBy = win.by
	h[HeaderServedBy] = []string{string(win.by)}
	x.w.WriteHeader(win.c.code())
	x.w.Write(win.c.body.Bytes())
}

// mergeAnswers merges lose with win over it (RFC 7386: win is the patch)
// when both are 2xx JSON objects.
func mergeAnswers(win, lose *capture) ([]byte, bool) {
	if win.code()/100 != 2 || lose.code()/100 != 2 {
		return nil, false
	}
	wb, err1 := decodedBody(win.answer(), win.limit)
	lb, err2 := decodedBody(lose.answer(), lose.limit)
	if err1 != nil || err2 != nil {
		return nil, false
	}
	wv, ok1 := parseJSON(wb)
	lv, ok2 := parseJSON(lb)
	_, obj1 := wv.(map[string]any)
	_, obj2 := lv.(map[string]any)
	if !ok1 || !ok2 || !obj1 || !obj2 {
		return nil, false
	}
	out, err := json.Marshal(mergePatch(lv, wv))
	return out, err == nil
}

// mergePatch applies patch to target as RFC 7386 says: members of an
// object patch replace the target's, recursively, a null member removes
// one, and any other patch replaces the target whole.
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = make(map[string]any, len(p))
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = mergePatch(t[k], v)
	}
	return t
}

func copyHeader(dst, src http.Header) {
	for k, v := range src {
		dst[k] = v
	}
}

// blendComparer is the comparison of blend b, which serves x's route:
// the one the route's snapshot compiled, so that a request does not
// compile it again (b is that snapshot's blend of the route).
func blendComparer(x *exchange, b *Blend) *comparer {
	if c := x.route.c; c != nil && c.comparer != nil {
		return c.comparer
	}
	return newBlendComparer(b)
}

// newBlendComparer compiles the comparison a blend asks for. Blend.Ignore
// entries starting with "$" are JSON paths, the others header names;
// validation has checked the paths.
func newBlendComparer(b *Blend) *comparer {
	var cfg CompareConfig
	for _, ig := range b.Ignore {
		if strings.HasPrefix(ig, "$") {
			cfg.IgnorePaths = append(cfg.IgnorePaths, ig)
		} else {
			cfg.IgnoreHeaders = append(cfg.IgnoreHeaders, ig)
		}
	}
	cfg.MaxBodyBytes = b.MaxBody
	c, err := newComparer(cfg)
	if err != nil { // an unvalidated, hand-built Blend: compare without the paths
		cfg.IgnorePaths = nil
		c, _ = newComparer(cfg)
	}
	return c
}

// capture is a ResponseWriter that keeps a response in memory, up to
// limit body bytes (the rest is dropped and counted as a failure).
type capture struct {
	h      http.Header
	status int
	body   bytes.Buffer
	limit  int64
	over   bool
	err    error
}

func newCapture(limit int64) *capture { return &capture{h: make(http.Header), limit: limit} }

func (c *capture) Header() http.Header { return c.h }

func (c *capture) WriteHeader(code int) {
	if c.status == 0 && code >= 200 {
		c.status = code
	}
}

func (c *capture) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if !c.over {
		if int64(c.body.Len()+len(p)) > c.limit {
			c.over = true
			c.body.Reset()
		} else {
			c.body.Write(p)
		}
	}
	return len(p), nil // never an error: the proxy would abort the client's response
}

func (c *capture) Flush() {}

func (c *capture) code() int {
	if c.status == 0 {
		return http.StatusOK
	}
	return c.status
}

// ok reports whether the side answered whole.
func (c *capture) ok() bool { return c.err == nil && !c.over }

func (c *capture) answer() Answer { return Answer{Status: c.code(), Header: c.h, Body: c.body.Bytes()} }
