package coverage

import (
	"bytes"
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
