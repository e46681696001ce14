package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestExplainsWithoutDatabase(t *testing.T) {
	t.Setenv("MOCKOPS_TEST_POSTGRES_DSN", "")
	var out bytes.Buffer
	if err := run(context.Background(), nil, &out); err != nil {
		t.Fatalf("run = %v; want nil", err)
	}
	if !strings.Contains(out.String(), "No database given: pass -dsn") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestReplicasSharePostgres(t *testing.T) {
	dsn := os.Getenv("MOCKOPS_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("MOCKOPS_TEST_POSTGRES_DSN is not set: the PostgreSQL case is not run")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, []string{"-dsn", dsn, "-n", "3", "-events", "9"}, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if want := "3 replicas, 9 events, 9 executions succeeded, 0 events run more than once"; !strings.Contains(out.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, out.String())
	}
}
