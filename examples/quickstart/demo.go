package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mockops/mockops/coverage"
	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/federation"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/store"
)

// runDemo drives traffic and events through p and prints what happened:
// who served each route, what the outage scenario did, the coverage and
// drift figures, and the executions the events ran. fresh says the data
// directory was new, so the drift crossing must be raised now (it is
// raised once per crossing, and a reused directory may have had it).
func runDemo(ctx context.Context, p *platform, st store.Store, fresh bool, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	// Executions are listed newest first by id, which is time-sortable:
	// the newest one now marks where this demo's begin.
	before, err := p.engine.Executions(ctx, store.ExecutionQuery{Limit: 1})
	if err != nil {
		return err
	}
	after := ""
	if len(before.Executions) > 0 {
		after = before.Executions[0].ID
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	fmt.Fprintf(out, "MockOps quickstart demo at %s\n\nroutes:\n", p.url)

	router, _ := p.registry.Router(federationName)
	visit := func(path string) error {
		status, servedBy, err := get(ctx, c, p.url+path)
		if err != nil {
			return err
		}
		route, _ := router.Lookup(http.MethodGet, "", path)
		reality := federation.RealityLevel("?")
		for _, s := range router.Federation().Services { // as served now: scenario applied
			if s.Name == route.Service {
				reality = s.Reality
			}
		}
		fmt.Fprintf(out, "  GET %-14s -> %d served by %-9s (service %s, %s)\n", path, status, servedBy, route.Service, reality)
		return nil
	}
	for _, path := range []string{"/users/7", "/catalog/sku-1", "/orders/42", "/orders/43", "/payments/p-1"} {
		if err := visit(path); err != nil {
			return err
		}
	}

	fmt.Fprintln(out, "\nscenario payments-outage:")
	for _, step := range []struct{ action, api string }{
		{"on", "/api/v2/federations/shop/scenarios/payments-outage/activate"},
		{"off", "/api/v2/federations/shop/scenarios/deactivate"},
	} {
		if err := post(ctx, c, p.url+step.api); err != nil {
			return fmt.Errorf("quickstart: switch the scenario %s: %w", step.action, err)
		}
		fmt.Fprintf(out, "  switched %s (POST %s)\n", step.action, step.api)
		if err := visit("/payments/p-1"); err != nil {
			return err
		}
	}

	// A mock server raises platform events as things happen; here, a
	// scenario is published (promote-on-publish, in MockForge's format,
	// reacts). Then the collector flushes: the orders mock's drift is over
	// its budget, so it raises drift.threshold_exceeded, and drift-to-pr
	// runs.
	pub, err := events.ScenarioPublished("payments-ws", events.ScenarioPublication{ScenarioID: "sc-1", ScenarioName: "checkout-happy-path", Version: "3"})
	if err != nil {
		return err
	}
	if err := p.bus.Publish(ctx, pub); err != nil {
		return err
	}
	if err := p.collector.Flush(ctx); err != nil {
		return err
	}

	rep, err := p.collector.Report(ctx, coverage.Query{})
	if err != nil {
		return err
	}
	printCoverage(out, rep)

	want := []string{"promote-on-publish"}
	if fresh {
		want = append(want, "drift-to-pr")
	}
	xs, err := waitExecutions(ctx, p.engine, after, want)
	if err != nil {
		return err
	}
	printExecutions(out, xs)
	if !fresh && !slices.ContainsFunc(xs, func(x store.Execution) bool { return x.Pipeline == "drift-to-pr" }) {
		fmt.Fprintln(out, "  (no drift-to-pr this time: this data directory had already raised the drift crossing, which is raised once per crossing)")
	}

	fmt.Fprintln(out, "\nloop:")
	for _, d := range p.webhook.deliveries() {
		fmt.Fprintf(out, "  webhook got a signed delivery (signature verified): %v\n", d.Payload["text"])
	}
	for _, pr := range p.github.pullRequests() {
		fmt.Fprintf(out, "  pull request #%d opened on mockops/shop-mocks: %q, branch %s, files %s, labels %s\n",
			pr.Number, pr.Title, pr.Head, strings.Join(pr.Files, ","), strings.Join(pr.Labels, ","))
	}

	n, err := listedExecutions(ctx, c, p.url)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  GET /api/v2/executions lists %d executions\n", n)
	return printStored(ctx, out, st)
}

func printCoverage(out io.Writer, rep *coverage.Report) {
	fmt.Fprintln(out, "\ncoverage:")
	for _, s := range rep.Endpoints.Services {
		fmt.Fprintf(out, "  %-8s operations %s, branches %s\n", s.Service, ratio(s.Operations), ratio(s.Branches))
	}
	for _, s := range rep.Drift.Services {
		over := "within budget"
		if s.OverBudget {
			over = "over budget"
		}
		fmt.Fprintf(out, "  %-8s drift %s of compared branches (budget %g%%): %s\n", s.Service, ratio(s.Branches), rep.Drift.Budget, over)
	}
}

func ratio(r coverage.Ratio) string {
	if r.Percent == nil {
		return fmt.Sprintf("%d/%d (nothing to measure)", r.Numerator, r.Denominator)
	}
	return fmt.Sprintf("%d/%d (%.0f%%)", r.Numerator, r.Denominator, *r.Percent)
}

// waitExecutions waits until the executions with ids above after include
// one of each pipeline in want and all of them have finished, and returns
// them, oldest first.
func waitExecutions(ctx context.Context, eng *pipeline.Engine, after string, want []string) ([]store.Execution, error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		page, err := eng.Executions(ctx, store.ExecutionQuery{Limit: 200})
		if err != nil {
			return nil, err
		}
		var xs []store.Execution
		done := true
		for _, x := range page.Executions {
			if x.ID <= after {
				continue
			}
			xs = append(xs, x)
			done = done && x.Status.Terminal()
		}
		for _, name := range want {
			done = done && slices.ContainsFunc(xs, func(x store.Execution) bool { return x.Pipeline == name })
		}
		if done {
			slices.SortFunc(xs, func(a, b store.Execution) int { return cmp.Compare(a.ID, b.ID) })
			return xs, nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil, fmt.Errorf("quickstart: waiting for the executions of %v: %w", want, ctx.Err())
		}
	}
}

func printExecutions(out io.Writer, xs []store.Execution) {
	fmt.Fprintln(out, "\nexecutions:")
	for _, x := range xs {
		var ss []string
		for _, s := range x.Steps {
			ss = append(ss, fmt.Sprintf("%s %s", s.ID, s.Status))
		}
		fmt.Fprintf(out, "  %-18s for %-24s %s (steps: %s)\n", x.Pipeline, x.Event.Type, x.Status, strings.Join(ss, ", "))
		if x.Error != "" {
			fmt.Fprintf(out, "    error: %s\n", x.Error)
		}
	}
}

// printStored reads back what the platform stored and checks that it
// parses: the federation and every pipeline.
func printStored(ctx context.Context, out io.Writer, st store.Store) error {
	rec, err := st.GetFederation(ctx, federationName)
	if err != nil {
		return err
	}
	fed, err := federation.Parse(rec.Name+".yaml", rec.Spec)
	if err != nil {
		return fmt.Errorf("quickstart: the stored federation does not parse: %w", err)
	}
	ps, err := st.ListPipelines(ctx, store.PipelineQuery{})
	if err != nil {
		return err
	}
	for _, sp := range ps {
		if _, err := pipeline.Parse(sp.Name+".yaml", sp.Source); err != nil {
			return fmt.Errorf("quickstart: the stored pipeline %s does not parse: %w", sp.Name, err)
		}
	}
	fmt.Fprintf(out, "\nstored: federation %s v%d (%d services) and %d pipelines, all parse back\n", fed.Name, rec.Version, len(fed.Services), len(ps))
	return nil
}

func get(ctx context.Context, c *http.Client, url string) (status int, servedBy string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, cmp.Or(resp.Header.Get(federation.HeaderServedBy), "-"), nil
}

func post(ctx context.Context, c *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s: %s", url, resp.Status, body)
	}
	return nil
}

// listedExecutions counts the executions the admin API lists (its first
// page), as a client of the platform sees them.
func listedExecutions(ctx context.Context, c *http.Client, base string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v2/executions?limit=1000", nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var page struct {
		Executions []json.RawMessage `json:"executions"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		return 0, fmt.Errorf("quickstart: GET /api/v2/executions: %w", err)
	}
	return len(page.Executions), nil
}
