package main

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mockops/mockops/federation"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/sqlstore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// The demo runs the whole loop and reports it; what it stored parses back.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := run(testCtx(t), []string{"-demo", "-data", dir}, &out); err != nil {
		t.Fatalf("run -demo: %v\n%s", err, out.String())
	}
	report := out.String()
	for _, want := range []string{
		`GET /users/7       -> 200 served by real      (service users, real)`,
		`GET /catalog/sku-1 -> 200 served by mock      (service catalog, mock_v3)`,
		`GET /orders/42     -> 200 served by mock+real (service orders, blended)`,
		`GET /payments/p-1  -> 200 served by mock      (service payments, mock_v3)`,
		`GET /payments/p-1  -> 503 served by chaos     (service payments, chaos_driven)`,
		`users    operations 1/1 (100%)`,
		`orders   operations 1/2 (50%)`,
		`orders   drift 1/1 (100%) of compared branches (budget 10%): over budget`,
		`promote-on-publish for scenario.published       succeeded (steps: announce succeeded)`,
		`drift-to-pr        for drift.threshold_exceeded succeeded (steps: tell succeeded, pr succeeded)`,
		`webhook got a signed delivery (signature verified): mock of orders drifts 100% (budget 10%) on GET /orders/{id}`,
		`pull request #1 opened on mockops/shop-mocks: "Refresh the orders mock: it drifts from the real service", branch mockops/refresh-orders, files mocks/orders/DRIFT.md, labels drift`,
		`stored: federation shop v1 (4 services) and 3 pipelines, all parse back`,
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if strings.Contains(report, "whsec_") || strings.Contains(report, "ghp_demo") || strings.Contains(report, "{\"") {
		t.Errorf("report shows a secret or raw JSON:\n%s", report)
	}
	for _, line := range strings.Split(report, "\n") {
		if strings.Contains(line, "executions:") || !strings.HasPrefix(line, "  ") {
			continue
		}
		if m := regexp.MustCompile(`\) (failed|cancelled|timed_out) \(`).FindString(line); m != "" {
			t.Errorf("an execution did not succeed: %s", line)
		}
	}

	// What it stored is valid: the federation and the pipelines parse, and
	// no stored execution holds a secret.
	ctx := testCtx(t)
	st, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(dir, "mockops.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rec, err := st.GetFederation(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	fed, err := federation.Parse("shop.yaml", rec.Spec)
	if err != nil {
		t.Fatalf("stored federation: %v", err)
	}
	if len(fed.Services) != 4 || len(fed.Scenarios) != 1 {
		t.Errorf("stored federation has %d services and %d scenarios; want 4 and 1", len(fed.Services), len(fed.Scenarios))
	}
	ps, err := st.ListPipelines(ctx, store.PipelineQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 3 {
		t.Errorf("%d stored pipelines; want 3", len(ps))
	}
	for _, p := range ps {
		if _, err := pipeline.Parse(p.Name, p.Source); err != nil {
			t.Errorf("stored pipeline %s: %v", p.Name, err)
		}
	}
	page, err := st.ListExecutions(ctx, store.ExecutionQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range page.Executions {
		for _, s := range x.Steps {
			if b := string(s.With) + string(s.Output); strings.Contains(b, "whsec_") || strings.Contains(b, "ghp_demo") {
				t.Errorf("stored step %s/%s holds a secret: %s", x.Pipeline, s.ID, b)
			}
		}
	}
}

// On a data directory that has already raised the drift crossing, the
// demo still succeeds, and says why drift-to-pr did not run again.
func TestDemoReusedData(t *testing.T) {
	dir := t.TempDir()
	for i := range 2 {
		var out bytes.Buffer
		if err := run(testCtx(t), []string{"-demo", "-data", dir}, &out); err != nil {
			t.Fatalf("run %d: %v\n%s", i, err, out.String())
		}
		const note = "had already raised the drift crossing"
		if got := strings.Contains(out.String(), note); got != (i == 1) {
			t.Errorf("run %d: report mentions %q: %v; want %v\n%s", i, note, got, i == 1, out.String())
		}
	}
}

// Without -demo the platform serves until its context ends, printing its
// URLs and curl lines first, and then shuts down cleanly.
func TestServeUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	out := &signalWriter{want: "Ctrl-C stops it", seen: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-data", t.TempDir()}, out) }()
	select {
	case <-out.seen:
	case err := <-done:
		t.Fatalf("run returned before serving: %v\n%s", err, out.String())
	}
	m := regexp.MustCompile(`curl -i (http://127\.0\.0\.1:\d+)/orders/42`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no curl line for /orders/42:\n%s", out.String())
	}
	for path, want := range map[string]int{"/orders/42": 200, "/api/v2/executions": 200, "/ui/pipelines": 200, "/ui/federations/shop": 200, "/coverage": 200, "/nowhere": 404} {
		resp, err := http.Get(m[1] + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s = %d; want %d", path, resp.StatusCode, want)
		}
	}
	http.DefaultClient.CloseIdleConnections()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run after cancel: %v", err)
	}
}

// signalWriter collects output and closes seen once want has been written.
type signalWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
	once sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return n, err
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
