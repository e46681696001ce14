package coverage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/mockops/mockops/coverage"
	"github.com/mockops/mockops/store/access"
)

// ExampleNewHandler mounts the coverage API and dashboard under /admin,
// with an Authorizer that lets a signed-in caller read one workspace, and
// asks for the heatmap of the last day.
func ExampleNewHandler() {
	now := time.Date(2026, 3, 2, 12, 30, 0, 0, time.UTC)
	c, err := coverage.NewCollector(coverage.Config{Clock: func() time.Time { return now }})
	if err != nil {
		fmt.Println(err)
		return
	}
	c.Record(coverage.Hit{Workspace: "shop", Service: "pets", Method: "GET", Path: "/pets", Status: 200, Scenario: "checkout"})

	auth := access.AuthorizerFunc(func(r *http.Request, req access.Request) error {
		if r.Header.Get("Authorization") == "" {
			return access.ErrUnauthenticated
		}
		if req.Workspace != "shop" {
			return fmt.Errorf("%w: %s", access.ErrDenied, req)
		}
		return nil
	})
	mux := http.NewServeMux()
	mux.Handle("/admin/", coverage.NewHandler(c, coverage.HandlerConfig{Authorizer: auth, Prefix: "/admin"}))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	get := func(path string, signedIn bool) (*http.Response, []byte) {
		req, _ := http.NewRequestWithContext(context.Background(), "GET", srv.URL+path, nil)
		if signedIn {
			req.Header.Set("Authorization", "Bearer example")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	resp, body := get("/admin/api/v2/coverage/heatmap?workspace=shop&last=24h", true)
	var s coverage.Section
	if err := json.Unmarshal(body, &s); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.StatusCode, s.Version, len(s.Heatmap.Buckets), "columns")
	for _, row := range s.Heatmap.Rows {
		fmt.Println(row.Workspace, row.Scenario, s.Heatmap.Total)
	}
	resp, _ = get("/admin/api/v2/coverage/heatmap?workspace=shop", false)
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"))
	resp, _ = get("/admin/api/v2/coverage/heatmap?workspace=bank", true)
	fmt.Println(resp.StatusCode)
	resp, _ = get("/admin/coverage?workspace=shop", true)
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"))
	// Output:
	// 200 coverage.mockops.dev/v1 25 columns
	// shop checkout 1
	// 401 application/problem+json
	// 403
	// 200 text/html; charset=utf-8
}
