package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/mockops/mockops/store/sqlstore"
)

// The loop, end to end, with real in-process servers: the orders mock has
// drifted from its real upstream; the blended service's comparisons reach
// the coverage collector (the Router's Observer); its flush finds drift
// past the budget and publishes drift.threshold_exceeded on the durable
// bus; drift-to-pr notifies a webhook (httptest, its Standard Webhooks
// signature checked here) and opens a pull request on a GitHub-compatible
// API (httptest); the execution is stored and listed by GET
// /api/v2/executions.
func TestLoop(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(t *testing.T) *sqlstore.Store
	}{
		{"sqlite", openSQLite},
		{"postgres", openPostgres},
	} {
		t.Run(tc.name, func(t *testing.T) { testLoop(t, tc.open(t)) })
	}
}

func testLoop(t *testing.T, st *sqlstore.Store) {
	ctx := testCtx(t)
	key := make([]byte, 32)
	rand.Read(key)
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	const token = "ghp_looptest0123456789"

	hooks := &hookLog{}
	webhook := httptest.NewServer(hooks)
	defer webhook.Close()
	gh := newFakeGitHub("mockops/shop-mocks", token)
	github := httptest.NewServer(gh)
	defer github.Close()

	p, err := startPlatform(ctx, platformConfig{
		Store: st, Addr: "127.0.0.1:0", DriftBudget: 10,
		Secrets: secretMap{"WEBHOOK_URL": webhook.URL + "/hooks/drift", "WEBHOOK_SECRET": secret, "GITHUB_API": github.URL, "GITHUB_TOKEN": token},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
		defer cancel()
		if err := p.shutdown(sctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()

	// Traffic through the blended service: mock and real disagree on
	// "status", so every comparison drifts.
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	for _, path := range []string{"/orders/1", "/orders/2"} {
		resp, err := client.Get(p.url + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d; want 200", path, resp.StatusCode)
		}
	}
	if err := p.collector.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	// The execution, as the admin API shows it, once it has finished.
	var x apiExecution
	for {
		xs := listExecutions(t, ctx, client, p.url+"/api/v2/executions?pipeline=drift-to-pr")
		if len(xs) > 1 {
			t.Fatalf("%d executions of drift-to-pr; want 1 (once per crossing)", len(xs))
		}
		if len(xs) == 1 && xs[0].Status != "queued" && xs[0].Status != "running" {
			x = xs[0]
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no finished drift-to-pr execution: %v", ctx.Err())
		case <-time.After(20 * time.Millisecond): // polling the API, as a client does
		}
	}
	if x.Status != "succeeded" || len(x.Steps) != 2 || x.Steps[0].Status != "succeeded" || x.Steps[1].Status != "succeeded" {
		t.Fatalf("execution %+v; want succeeded with steps tell and pr succeeded", x)
	}
	var ev struct {
		Type string `json:"type"`
		Data struct {
			Service      string  `json:"service"`
			Endpoint     string  `json:"endpoint"`
			DriftPercent float64 `json:"drift_percent"`
		} `json:"data"`
	}
	if err := json.Unmarshal(x.Event, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Type != "drift.threshold_exceeded" || ev.Data.Service != "orders" || ev.Data.Endpoint != "GET /orders/{id}" || ev.Data.DriftPercent != 100 {
		t.Errorf("event %+v; want drift.threshold_exceeded for orders, GET /orders/{id}, 100%%", ev)
	}
	if raw, _ := json.Marshal(x); strings.Contains(string(raw), token) || strings.Contains(string(raw), base64.StdEncoding.EncodeToString(key)) {
		t.Errorf("the execution as listed holds a secret: %s", raw)
	}

	// The webhook got one delivery, correctly signed.
	ds := hooks.all()
	if len(ds) != 1 {
		t.Fatalf("%d webhook deliveries; want 1", len(ds))
	}
	d := ds[0]
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(d.header.Get("webhook-id") + "." + d.header.Get("webhook-timestamp") + "."))
	mac.Write(d.body)
	if want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)); d.header.Get("webhook-signature") != want {
		t.Errorf("webhook-signature %q; want %q", d.header.Get("webhook-signature"), want)
	}
	var payload map[string]any
	if err := json.Unmarshal(d.body, &payload); err != nil {
		t.Fatal(err)
	}
	if payload["pipeline"] != "drift-to-pr" || !strings.Contains(payload["text"].(string), "mock of orders drifts 100%") {
		t.Errorf("webhook payload %v", payload)
	}

	// The pull request is open, with the file and the label.
	prs := gh.pullRequests()
	if len(prs) != 1 {
		t.Fatalf("%d pull requests; want 1", len(prs))
	}
	if pr := prs[0]; pr.Head != "mockops/refresh-orders" || pr.Base != "main" || strings.Join(pr.Files, ",") != "mocks/orders/DRIFT.md" || strings.Join(pr.Labels, ",") != "drift" {
		t.Errorf("pull request %+v", pr)
	}
}

type apiExecution struct {
	ID       string          `json:"id"`
	Pipeline string          `json:"pipeline"`
	Status   string          `json:"status"`
	Event    json.RawMessage `json:"event"`
	Steps    []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"steps"`
}

func listExecutions(t *testing.T, ctx context.Context, c *http.Client, url string) []apiExecution {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d", url, resp.StatusCode)
	}
	var page struct {
		Executions []apiExecution `json:"executions"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	return page.Executions
}

// hookLog records every request it receives, headers and raw body, so the
// test verifies the signature itself.
type hookLog struct {
	mu  sync.Mutex
	got []hookRequest
}

type hookRequest struct {
	header http.Header
	body   []byte
}

func (h *hookLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.got = append(h.got, hookRequest{r.Header.Clone(), body})
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (h *hookLog) all() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookRequest(nil), h.got...)
}

func openSQLite(t *testing.T) *sqlstore.Store {
	st, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "loop.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// openPostgres opens a store in a schema of its own on the server at
// MOCKOPS_TEST_POSTGRES_DSN, dropped when the test ends (as the store and
// pipeline tests do).
func openPostgres(t *testing.T) *sqlstore.Store {
	dsn := os.Getenv("MOCKOPS_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("MOCKOPS_TEST_POSTGRES_DSN is not set: the PostgreSQL case is not run")
	}
	raw := make([]byte, 6)
	rand.Read(raw)
	schema := "mockops_quickstart_test_" + hex.EncodeToString(raw)
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Errorf("sql.Open(pgx): %v", err)
			return
		}
		defer admin.Close()
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	st, err := sqlstore.OpenConfig(context.Background(), dsn, sqlstore.Config{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
