package federation

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"

	"github.com/mockops/mockops/internal/problem"
)

// echoMocks resolves every workspace to a handler that reports what it
// received as JSON: which workspace answered, the route, the URL and the
// forwarded headers. Tests assert on that rather than on router internals.
type echoMocks struct {
	mu   sync.Mutex
	seen []string // workspaces asked for
}

type echo struct {
	Workspace string            `json:"workspace"`
	Service   string            `json:"service"`
	Path      string            `json:"path"`
	RawPath   string            `json:"raw_path"`
	URI       string            `json:"uri"`
	Host      string            `json:"host"`
	Header    map[string]string `json:"header"`
}

func (m *echoMocks) MockHandler(ws string) (http.Handler, error) {
	m.mu.Lock()
	m.seen = append(m.seen, ws)
	m.mu.Unlock()
	if ws == "missing" {
		return nil, fmt.Errorf("no workspace %q", ws)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt, ok := RouteFrom(r.Context())
		if !ok {
			http.Error(w, "no route in context", http.StatusInternalServerError)
			return
		}
		e := echo{Workspace: ws, Service: rt.Service, Path: r.URL.Path, RawPath: r.URL.EscapedPath(),
			URI: r.RequestURI, Host: r.Host, Header: map[string]string{}}
		for k := range r.Header {
			e.Header[k] = r.Header.Get(k)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(e)
	}), nil
}

func decodeEcho(t *testing.T, body []byte) echo {
	t.Helper()
	var e echo
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("response %q is not an echo: %v", body, err)
	}
	return e
}

func mustParse(t testing.TB, src string) *Federation {
	t.Helper()
	f, err := Parse(t.Name()+".yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return f
}

func newTestRouter(t testing.TB, f *Federation, cfg RouterConfig) *Router {
	t.Helper()
	r, err := NewRouter(f, cfg)
	if err != nil {
		t.Fatalf("NewRouter: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// newClient returns a client whose idle connections are closed when the
// test ends (goleak would see them otherwise). It neither adds
// Accept-Encoding nor decompresses, so tests see bytes as sent.
func newClient(t testing.TB) *http.Client {
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// logRecorder is a slog.Handler that keeps records for assertions.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r)
	return nil
}
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecorder) WithGroup(string) slog.Handler      { return h }

// atLeast counts records at level or above.
func (h *logRecorder) atLeast(level slog.Level) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.records {
		if r.Level >= level {
			n++
		}
	}
	return n
}

// exchanges is an Observer that keeps every exchange.
type exchanges struct {
	mu   sync.Mutex
	list []Exchange
}

func (o *exchanges) Observe(x Exchange) {
	x.Request = nil // only valid during Observe
	o.mu.Lock()
	o.list = append(o.list, x)
	o.mu.Unlock()
}

func (o *exchanges) all() []Exchange {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Exchange(nil), o.list...)
}

// readProblem checks that resp is a problem+json with status and returns it.
func readProblem(t *testing.T, resp *http.Response, status int) map[string]any {
	t.Helper()
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status || resp.Header.Get("Content-Type") != problem.ContentType {
		t.Fatalf("got %d %q %s; want %d problem+json", resp.StatusCode, resp.Header.Get("Content-Type"), body, status)
	}
	var p map[string]any
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("problem body %q: %v", body, err)
	}
	if p["status"] != float64(status) {
		t.Errorf("problem status = %v; want %d", p["status"], status)
	}
	return p
}
