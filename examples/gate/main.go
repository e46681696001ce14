// Command gate is the coverage gate as a CI step: it judges the coverage
// the platform recorded against limits, prints every check with its
// reason, optionally writes JUnit XML for the CI system, and exits 1 when
// the gate fails (0 when it passes, 2 on a usage or setup error).
//
//	go run ./examples/gate -dsn sqlite:mockops-data/mockops.db -spec orders=examples/quickstart/specs/orders.yaml -min-coverage 80
//	go run ./examples/gate -sample -min-coverage 40   # on a built-in sample, no store needed
//
// The collector reads the rollups every replica flushed into the store
// (-dsn, the same database the platform uses), so the verdict covers all
// of them. Specs name each service's contract (-spec service=file).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mockops/mockops/coverage"
	"github.com/mockops/mockops/store/sqlstore"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// specFlags collects -spec service=file.
type specFlags map[string]string

func (s specFlags) String() string { return fmt.Sprint(map[string]string(s)) }
func (s specFlags) Set(v string) error {
	name, file, ok := strings.Cut(v, "=")
	if !ok || name == "" || file == "" {
		return errors.New("want service=file")
	}
	s[name] = file
	return nil
}

// run returns the exit status: 0 pass, 1 fail, 2 error.
func run(ctx context.Context, args []string, out, errw io.Writer) int {
	fl := flag.NewFlagSet("gate", flag.ContinueOnError)
	fl.SetOutput(errw)
	dsn := fl.String("dsn", os.Getenv("MOCKOPS_DSN"), "the platform's store (sqlite:PATH or postgres://...; default $MOCKOPS_DSN)")
	sample := fl.Bool("sample", false, "judge a built-in sample instead of a store")
	specs := specFlags{}
	fl.Var(specs, "spec", "service=openapi.yaml, repeatable")
	workspace := fl.String("workspace", "", "judge one workspace (default all)")
	last := fl.Duration("last", 7*24*time.Hour, "window ending now")
	minCov := fl.Float64("min-coverage", 0, "least operation coverage, percent (0: not checked)")
	ciOnly := fl.Bool("ci-only", false, "count CI traffic only for coverage")
	maxDrift := fl.Float64("max-drift", -1, "most drifting branches, percent (-1: not checked)")
	junit := fl.String("junit", "", "also write the verdict as JUnit XML to this file")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	fail := func(err error) int { fmt.Fprintln(errw, "gate:", err); return 2 }

	cfg := coverage.Config{Specs: map[string]*coverage.Spec{}}
	for name, file := range specs {
		src, err := os.ReadFile(file)
		if err != nil {
			return fail(err)
		}
		if cfg.Specs[name], err = coverage.LoadOpenAPIFile(file, src); err != nil {
			return fail(err)
		}
	}
	switch {
	case *sample:
		if err := addSample(&cfg); err != nil {
			return fail(err)
		}
	case *dsn != "":
		st, err := sqlstore.Open(ctx, *dsn)
		if err != nil {
			return fail(err)
		}
		defer st.Close()
		cfg.Store = st
	default:
		return fail(errors.New("no store: pass -dsn (or set MOCKOPS_DSN), or -sample to try it"))
	}
	col, err := coverage.NewCollector(cfg)
	if err != nil {
		return fail(err)
	}
	if *sample {
		recordSample(col)
	}

	t := coverage.Thresholds{
		Query:       coverage.Query{From: time.Now().Add(-*last), Workspace: *workspace},
		MinCoverage: *minCov, CIOnly: *ciOnly,
	}
	if *maxDrift >= 0 {
		t.MaxDrift = coverage.Limit(*maxDrift)
	}
	v, err := col.Gate(ctx, t)
	if err != nil {
		return fail(err)
	}
	for _, c := range v.Checks {
		mark := "ok  "
		if !c.Pass {
			mark = "FAIL"
		}
		fmt.Fprintf(out, "%s %-10s %-8s %s\n", mark, c.Name, c.Service, c.Reason)
	}
	if *junit != "" {
		f, err := os.Create(*junit)
		if err != nil {
			return fail(err)
		}
		if err := errors.Join(v.JUnit(f), f.Close()); err != nil {
			return fail(err)
		}
	}
	if !v.Pass {
		fmt.Fprintf(out, "gate failed: %s\n", strings.Join(v.Reasons, "; "))
		return 1
	}
	fmt.Fprintln(out, "gate passed")
	return 0
}

const sampleSpec = `openapi: 3.0.3
info: {title: orders, version: "1"}
paths:
  /orders/{id}: {get: {responses: {"200": {description: an order}}}}
  /orders: {post: {responses: {"201": {description: created}}}}
`

// addSample gives the collector the sample's spec; recordSample its
// traffic: CI hit one of the two operations of orders.
func addSample(cfg *coverage.Config) error {
	s, err := coverage.LoadOpenAPI([]byte(sampleSpec))
	if err != nil {
		return err
	}
	cfg.Specs["orders"] = s
	return nil
}

func recordSample(col *coverage.Collector) {
	for _, id := range []string{"1", "2", "3"} {
		col.Record(coverage.Hit{Workspace: "orders-ws", Service: "orders", Method: "GET", Path: "/orders/" + id, Status: 200, CI: true, RunID: "ci-42"})
	}
}
