package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/mockops/mockops/coverage"
	"github.com/mockops/mockops/store/sqlstore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestGateSample(t *testing.T) {
	junit := filepath.Join(t.TempDir(), "gate.xml")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"pass", []string{"-sample", "-min-coverage", "40"}, 0, []string{"ok   coverage   orders   operations covered 1/2 (50.0%), minimum 40.0%", "gate passed"}},
		{"fail", []string{"-sample", "-min-coverage", "80"}, 1, []string{"FAIL coverage", "gate failed: orders: operations covered 1/2 (50.0%), minimum 80.0%"}},
		{"junit", []string{"-sample", "-min-coverage", "80", "-junit", junit}, 1, []string{"gate failed"}},
		{"no store", nil, 2, []string{"gate: no store"}},
		{"bad spec flag", []string{"-spec", "orders"}, 2, []string{"want service=file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("MOCKOPS_DSN", "")
			var out bytes.Buffer
			code := run(context.Background(), tc.args, &out, &out)
			if code != tc.code {
				t.Errorf("run(%q) = %d; want %d\n%s", tc.args, code, tc.code, out.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("run(%q) output lacks %q:\n%s", tc.args, w, out.String())
				}
			}
		})
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `<testsuite name="mockops.coverage"`) || !strings.Contains(string(b), "<failure") {
		t.Errorf("JUnit file:\n%s", b)
	}
}

// The gate reads what a platform flushed into its store.
func TestGateStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dsn := "sqlite:" + filepath.Join(dir, "mockops.db")
	specFile := filepath.Join(dir, "orders.yaml")
	if err := os.WriteFile(specFile, []byte(sampleSpec), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := coverage.LoadOpenAPI([]byte(sampleSpec))
	if err != nil {
		t.Fatal(err)
	}
	col, err := coverage.NewCollector(coverage.Config{Store: st, Specs: map[string]*coverage.Spec{"orders": spec}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"GET /orders/1", "POST /orders"} {
		m, path, _ := strings.Cut(p, " ")
		col.Record(coverage.Hit{Workspace: "orders-ws", Service: "orders", Method: m, Path: path, Status: map[string]int{"GET": 200, "POST": 201}[m]})
	}
	if err := col.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	st.Close()

	var out bytes.Buffer
	if code := run(ctx, []string{"-dsn", dsn, "-spec", "orders=" + specFile, "-min-coverage", "100"}, &out, &out); code != 0 {
		t.Errorf("gate on the store = %d; want 0\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "operations covered 2/2 (100.0%)") {
		t.Errorf("output:\n%s", out.String())
	}
}
