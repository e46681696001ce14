package coverage

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mockops/mockops/federation"
)

// goldenHits is traffic that exercises every formula: an explicit
// response, "default", "2XX", a required body, an undeclared status, a
// request missing from the spec, a deprecated operation, CI and local,
// scenarios and personas past a cap of 2 in the second hour ("fourth"
// and "frank" overflow).
func goldenHits() []Hit {
	ci := func(h Hit, run string) Hit { h.CI, h.RunID = true, run; return h }
	return []Hit{
		ci(Hit{Workspace: "shop", Service: "pets", Method: "GET", Path: "/pets", Status: 200, Scenario: "happy", Persona: "alice"}, "run-1"),
		{Workspace: "shop", Service: "pets", Method: "GET", Path: "/pets", Status: 500, Scenario: "happy"},
		ci(Hit{Workspace: "shop", Service: "pets", Method: "POST", Path: "/pets", Status: 201, Body: true, Scenario: "sad", Persona: "alice"}, "run-2"),
		{Workspace: "shop", Service: "pets", Method: "GET", Path: "/pets/7", Status: 418, Persona: "carol"},
		{Workspace: "shop", Service: "pets", Method: "GET", Path: "/nope", Status: 200, Scenario: "third"},
		{Workspace: "shop", Service: "pets", Method: "DELETE", Path: "/pets/1", Status: 204, Scenario: "happy", Persona: "dave"},
		ci(Hit{Workspace: "shop", Service: "pets", Method: "GET", Path: "/pets/7", Status: 404, Scenario: "fourth", Persona: "erin"}, "run-1"),
		{Workspace: "shop", Service: "empty", Method: "GET", Path: "/anything", Status: 200, Persona: "frank"},
	}
}

// goldenCollector is a collector that saw goldenHits in two hours, a
// comparison from the federation and a host drift report.
func goldenCollector(t *testing.T, clock *fakeClock) *Collector {
	t.Helper()
	c := newCollector(t, Config{
		Clock:       clock.Now,
		Specs:       map[string]*Spec{"pets": mustSpec(t, goldenSpecSrc), "empty": mustSpec(t, emptySpecSrc)},
		Teams:       map[string]string{"shop": "retail"},
		Personas:    []string{"alice", "bob"},
		Scenarios:   []string{"happy", "unused"},
		DriftBudget: 20,
		MaxKeys:     2,
	})
	ctx := testCtx(t)
	if err := c.SetSpec(ctx, "pets", mustSpec(t, goldenSpecSrc)); err != nil {
		t.Fatal(err)
	}
	hits := goldenHits()
	for _, h := range hits[:4] {
		c.Record(h)
	}
	clock.Add(time.Hour) // the rest lands in the next bucket
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, h := range hits[4:] {
		c.Record(h)
	}
	c.Observe(federation.Exchange{Service: "pets", Workspace: "shop", Method: "GET", Path: "/pets", Status: 200,
		Comparison: &federation.Comparison{Differences: []federation.Difference{{Path: "$.name", Kind: federation.DiffValue}}}})
	if err := c.ReportDrift(DriftReport{Workspace: "shop", Service: "pets", Method: "GET", Path: "/pets/{id}", Status: 200, Compared: 4, Drifted: 0}); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestReportGolden(t *testing.T) {
	clock := newClock(t0)
	c := goldenCollector(t, clock)
	clock.Add(8 * 24 * time.Hour) // staleness ages at read time: aging
	rep, err := c.Report(testCtx(t), Query{From: t0.Add(-2 * time.Hour), To: t0.Add(3 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := rep.MarshalIndent()
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "report.golden.json", append(got, '\n'))
}

func TestGateGolden(t *testing.T) {
	clock := newClock(t0)
	c := goldenCollector(t, clock)
	clock.Add(8 * 24 * time.Hour)
	v, err := c.Gate(testCtx(t), Thresholds{
		Query:            Query{From: t0.Add(-2 * time.Hour), To: t0.Add(3 * time.Hour)},
		MinCoverage:      50,
		MaxMissingInSpec: Limit(10),
		MaxDrift:         Limit(40),
		MaxStaleness:     7 * 24 * time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	if v.Pass {
		t.Errorf("Gate passed; want it to fail on coverage, missing in spec and staleness")
	}
	var b bytes.Buffer
	if err := v.JUnit(&b); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "gate.golden.xml", b.Bytes())
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

func TestReportWindow(t *testing.T) {
	clock := newClock(t0)
	c := newCollector(t, Config{Clock: clock.Now})
	ctx := testCtx(t)
	tests := []struct {
		q        Query
		from, to time.Time
		wantErr  error
	}{
		{Query{}, t0.Truncate(time.Hour).Add(time.Hour - DefaultWindow), t0.Truncate(time.Hour).Add(time.Hour), nil},
		{Query{From: t0, To: t0.Add(90 * time.Minute)}, t0.Truncate(time.Hour), t0.Truncate(time.Hour).Add(2 * time.Hour), nil},
		{Query{From: t0.Add(time.Hour), To: t0}, time.Time{}, time.Time{}, ErrInvalidQuery},
		{Query{From: time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC), To: t0}, time.Time{}, time.Time{}, ErrInvalidQuery},
	}
	for _, tt := range tests {
		rep, err := c.Report(ctx, tt.q)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("Report(%+v) = %v; want %v", tt.q, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if !rep.Window.From.Equal(tt.from) || !rep.Window.To.Equal(tt.to) || len(rep.Heatmap.Buckets) != int(tt.to.Sub(tt.from)/time.Hour) {
			t.Errorf("Report(%+v).Window = %+v with %d buckets; want %v to %v", tt.q, rep.Window, len(rep.Heatmap.Buckets), tt.from, tt.to)
		}
	}
}

// A report scoped to a workspace or team counts only its traffic.
func TestReportScope(t *testing.T) {
	clock := newClock(t0)
	c := goldenCollector(t, clock)
	c.Record(Hit{Workspace: "lab", Service: "pets", Method: "GET", Path: "/stores", Status: 200, Scenario: "happy"})
	ctx := testCtx(t)
	win := Query{From: t0.Add(-2 * time.Hour), To: t0.Add(3 * time.Hour)}
	tests := []struct {
		ws, team     string
		heatmap      int64
		endpointSvcs int
	}{
		{"", "", 7, 3},
		{"shop", "", 6, 2},
		{"", "retail", 6, 2},
		{"lab", "", 1, 1},
		{"", "nobody", 0, 0},
	}
	for _, tt := range tests {
		q := win
		q.Workspace, q.Team = tt.ws, tt.team
		rep, err := c.Report(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Heatmap.Total != tt.heatmap || len(rep.Endpoints.Services) != tt.endpointSvcs {
			t.Errorf("Report(workspace %q, team %q): heatmap total %d, %d services; want %d, %d",
				tt.ws, tt.team, rep.Heatmap.Total, len(rep.Endpoints.Services), tt.heatmap, tt.endpointSvcs)
		}
	}
}
