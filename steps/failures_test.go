package steps

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestHTTPStepsFailurePaths runs every HTTP-based step type against a
// target that fails in each way the issue lists, and checks each step
// reports it the same way: a 4xx fails at once and permanently; a 503 or
// 429 with Retry-After is sent again after the wait it asked for, then
// fails for the engine to retry; a target that never answers fails when
// the step's context ends; an untrusted certificate fails with the
// verification error; a 2xx that is not the answer the protocol defines
// fails. No error holds the step's credential.
func TestHTTPStepsFailurePaths(t *testing.T) {
	const token = "tok-failure-S3cret"
	kinds := []struct {
		name string
		typ  string
		with func(base string) map[string]any
		// malformed is a 2xx answer the step must refuse ("" when any 2xx
		// is a delivery, as for webhooks).
		malformed string
	}{
		{"http", "http", func(base string) map[string]any {
			return map[string]any{"method": "POST", "url": base + "/api", "headers": map[string]any{"Authorization": "Bearer " + token}, "json": map[string]any{"a": int64(1)}}
		}, `{"id":`},
		{"notify slack", "notify", func(base string) map[string]any {
			return map[string]any{"targets": []any{map[string]any{"slack": map[string]any{"webhook_url": base + "/services/T1/B1/" + token, "text": "hi"}}}}
		}, `{"ok":true}`},
		{"notify webhook", "notify", func(base string) map[string]any {
			return map[string]any{"targets": []any{map[string]any{"webhook": map[string]any{"url": base + "/hook", "headers": map[string]any{"X-Token": token}, "payload": map[string]any{"m": "hi"}}}}}
		}, ""},
		{"create_pr github", "create_pr", func(base string) map[string]any {
			return map[string]any{"provider": "github", "base_url": base, "repo": "octo/sdk", "token": token, "branch": "b", "title": "t",
				"files": []any{map[string]any{"path": "a.txt", "content": "1"}}}
		}, `{"object":`},
		{"create_pr gitlab", "create_pr", func(base string) map[string]any {
			return map[string]any{"provider": "gitlab", "base_url": base + "/api/v4", "repo": "group/sdk", "token": token, "branch": "b", "title": "t",
				"files": []any{map[string]any{"path": "a.txt", "content": "1"}}}
		}, `[{"name":`},
	}
	modes := []struct {
		name string
		// answer writes the target's answer to every request; nil means
		// the TLS server, whose certificate the client does not trust.
		answer       func(w http.ResponseWriter, r *http.Request)
		ctxTimeout   time.Duration
		wantRequests int // 0: not checked
		wantWaits    []time.Duration
		wantPerm     bool
		check        func(t *testing.T, err error)
	}{
		{
			name: "4xx is not retried",
			answer: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnprocessableEntity)
				io.WriteString(w, `{"message":"Validation Failed"}`)
			},
			wantRequests: 1, wantPerm: true,
			check: func(t *testing.T, err error) { wantStatusErr(t, err, http.StatusUnprocessableEntity) },
		},
		{
			name: "503 with Retry-After is retried, then fails",
			answer: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusServiceUnavailable)
			},
			wantRequests: 3, wantWaits: []time.Duration{time.Second, time.Second},
			check: func(t *testing.T, err error) { wantStatusErr(t, err, http.StatusServiceUnavailable) },
		},
		{
			name: "429 with Retry-After is retried, then fails",
			answer: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", "2")
				w.WriteHeader(http.StatusTooManyRequests)
			},
			wantRequests: 3, wantWaits: []time.Duration{2 * time.Second, 2 * time.Second},
			check: func(t *testing.T, err error) { wantStatusErr(t, err, http.StatusTooManyRequests) },
		},
		{
			name: "a target that never answers fails with the step's context",
			answer: func(_ http.ResponseWriter, r *http.Request) {
				<-r.Context().Done() // ends when the client gives up
			},
			ctxTimeout:   100 * time.Millisecond,
			wantRequests: 1,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Run = %v; want it to match context.DeadlineExceeded", err)
				}
			},
		},
		{
			name: "an untrusted certificate",
			check: func(t *testing.T, err error) {
				var verr *tls.CertificateVerificationError
				if !errors.As(err, &verr) {
					t.Errorf("Run = %v; want a *tls.CertificateVerificationError", err)
				}
			},
		},
	}
	for _, kind := range kinds {
		for _, mode := range modes {
			t.Run(kind.name+"/"+mode.name, func(t *testing.T) {
				target := &countingTarget{answer: mode.answer}
				var base string
				if mode.answer == nil {
					srv := httptest.NewUnstartedServer(target)
					srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake failure is expected
					srv.StartTLS()
					t.Cleanup(srv.Close)
					base = srv.URL
				} else {
					srv := httptest.NewServer(target)
					t.Cleanup(srv.Close)
					base = srv.URL
				}
				rec := &syncSleep{}
				err := runFailingStep(t, kind.typ, kind.with(base), newTestClient(t, HTTPConfig{sleep: rec.sleep}), mode.ctxTimeout)
				if err == nil {
					t.Fatal("Run = nil; want an error")
				}
				if IsPermanent(err) != mode.wantPerm {
					t.Errorf("IsPermanent(%v) = %v; want %v", err, IsPermanent(err), mode.wantPerm)
				}
				if strings.Contains(err.Error(), token) {
					t.Errorf("Run = %v; the error holds the credential", err)
				}
				if mode.wantRequests > 0 && target.count() != mode.wantRequests {
					t.Errorf("requests = %d; want %d", target.count(), mode.wantRequests)
				}
				if diff := cmp.Diff(mode.wantWaits, rec.all()); diff != "" {
					t.Errorf("waits before retries (-want +got):\n%s", diff)
				}
				mode.check(t, err)
			})
		}
		if kind.malformed == "" {
			continue
		}
		t.Run(kind.name+"/a malformed 2xx answer", func(t *testing.T) {
			target := &countingTarget{answer: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, kind.malformed)
			}}
			srv := httptest.NewServer(target)
			t.Cleanup(srv.Close)
			err := runFailingStep(t, kind.typ, kind.with(srv.URL), newTestClient(t, HTTPConfig{sleep: (&syncSleep{}).sleep}), 0)
			if err == nil {
				t.Fatalf("Run = nil after %d requests; want an error", target.count())
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("Run = %v; the error holds the credential", err)
			}
		})
	}
}

// runFailingStep builds the step type typ from with, with the built-ins
// registered over client, and runs it (under a deadline when timeout > 0).
func runFailingStep(t *testing.T, typ string, with map[string]any, client *http.Client, timeout time.Duration) error {
	t.Helper()
	r := NewRegistry()
	if err := RegisterBuiltins(r, Deps{HTTPClient: client}); err != nil {
		t.Fatal(err)
	}
	st, ok := r.Lookup(typ)
	if !ok {
		t.Fatalf("Lookup(%q) = false", typ)
	}
	step, err := st.New(with)
	if err != nil {
		t.Fatalf("New(%v) = %v", with, err)
	}
	ctx := t.Context()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	in := testInput()
	in.With = with
	_, err = step.Run(ctx, in)
	return err
}

// wantStatusErr checks err reports the target's status: a *StatusError,
// or create_pr's *APIError, or for a 429 its *RateLimitError.
func wantStatusErr(t *testing.T, err error, status int) {
	t.Helper()
	var se *StatusError
	var ae *APIError
	switch {
	case errors.As(err, &se) && se.Status == status:
	case errors.As(err, &ae) && ae.Status == status:
	case status == http.StatusTooManyRequests && errors.Is(err, ErrRateLimited):
	default:
		t.Errorf("Run = %v; want a *StatusError or *APIError with status %d", err, status)
	}
}

// countingTarget answers every request with answer and counts them.
type countingTarget struct {
	answer func(w http.ResponseWriter, r *http.Request)
	mu     sync.Mutex
	n      int
}

func (c *countingTarget) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	_, _ = io.Copy(io.Discard, r.Body)
	if c.answer != nil {
		c.answer(w, r)
	}
}

func (c *countingTarget) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// syncSleep records the client's waits instead of waiting.
type syncSleep struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *syncSleep) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *syncSleep) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waits
}
