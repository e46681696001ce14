package coverage_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/mockops/mockops/coverage"
)

func TestDashboardPage(t *testing.T) {
	f := newHandlerFixture(t)
	srv := f.server(t, coverage.HandlerConfig{})
	resp, body := get(t, srv, "/coverage?"+fixtureWindow, "text/html")
	page := string(body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /coverage = %d %s; want 200 text/html\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), page)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy = %q; want no script allowed", csp)
	}
	count := func(s string) int { return strings.Count(page, s) }
	tests := []struct {
		what string
		got  int
		want int
	}{
		{"heatmap cells (3 scenarios x 3 hours)", count(`<rect class="hm-cell"`), 9},
		{"the svg is an image named by its title", count(`<svg class="heatmap" role="img" aria-labelledby="hm-title hm-desc"`), 1},
		{"a cell's title names scenario, hour and count", count(`<title>checkout · shop, 2026-03-02 10:00Z: 2 requests</title>`), 1},
		{"one request is singular", count(`<title>browse · shop, 2026-03-02 11:00Z: 1 request</title>`), 1},
		{"wide cells print their count", count(`<text aria-hidden="true" stroke="none" font-size="11" text-anchor="middle"`), 2},
		{"the legend says what each shade counts", count(`Requests per cell:`), 1},
		{"the table alternative", count(`<table class="heatmap-table" id="heatmap-table">`), 1},
		{"its row of checkout", count(`<tr data-scenario="checkout"><th scope="row">checkout</th><td>shop</td><td>team-a</td><td>2/3 (66.7%)</td><td>2</td><td>2</td><td>0</td><td>0</td></tr>`), 1},
		{"its hour columns", count(`<th scope="col"><time datetime="2026-03-02T1`), 3},
		{"persona rows", count(`<tr data-persona=`), 3},
		{"persona gap", count(`<code>carol</code>`), 1},
		{"endpoint row", count(`<tr data-service="pets"><th scope="row">pets</th><td>shop</td><td>3/3 (100.0%)</td><td>1/3 (33.3%)</td><td>7/8 (87.5%)</td><td>2/8 (25.0%)</td><td>0/0 (—)</td><td>1/4 (25.0%)</td></tr>`), 1},
		{"uncovered branch's operation listed", count(`<code>GET /pets/{id}</code>`), 1},
		{"missing request", count(`<code>GET /nope</code>: 1`), 1},
		{"staleness state in words", count(`<span class="badge b-ok">fresh</span>`), 1},
		{"drift chart", count(`<svg class="drift-chart" role="img" aria-labelledby="dr-title dr-desc"`), 1},
		{"drift bars (two periods compared)", count(`<rect class="dr-bar"`), 2},
		{"a period with no comparison is marked, not drawn as 0", count(`data-empty="true"`), 1},
		{"drift table rows (3 periods and the header)", strings.Count(regexp.MustCompile(`(?s)<table id="drift-table">.*?</table>`).FindString(page), "<tr>"), 4},
		{"filter form with labels", count(`<label for="f-workspace">`) + count(`<label for="f-last">`) + count(`<label for="f-from">`) + count(`<label for="f-to">`), 4},
		{"the form keeps the filter", count(`value="2026-03-02T10:00"`), 1},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %d; want %d", tt.what, tt.got, tt.want)
		}
	}
	for _, id := range []string{"summary", "heatmap", "personas", "endpoints", "staleness", "drift"} {
		if !strings.Contains(page, `<section id="`+id+`" aria-labelledby="s-`+id+`">`) {
			t.Errorf("no section %s", id)
		}
	}
}

// TestDashboardEscapes feeds names that are markup: they must come out as
// text in the SVG titles, the labels and the tables.
func TestDashboardEscapes(t *testing.T) {
	f := newHandlerFixture(t)
	evil := `<script>alert(1)</script>"'&`
	f.c.Record(coverage.Hit{Workspace: `ws"><b>`, Service: "pets", Method: "GET", Path: "/pets", Status: 200, Scenario: evil, Persona: evil})
	srv := f.server(t, coverage.HandlerConfig{})
	_, body := get(t, srv, "/coverage?"+fixtureWindow, "")
	page := string(body)
	if strings.Contains(page, "<script>") || strings.Contains(page, `ws"><b>`) {
		t.Fatalf("markup from traffic reached the page unescaped")
	}
	if n := strings.Count(page, "&lt;script&gt;alert(1)&lt;/script&gt;"); n < 4 {
		t.Errorf("escaped scenario appears %d times; want it in the row label, the cell titles, the table and the personas", n)
	}
}

func TestDashboardEmpty(t *testing.T) {
	c, err := coverage.NewCollector(coverage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv := newEmptyServer(t, c)
	resp, body := get(t, srv, "/coverage", "")
	page := string(body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /coverage of an empty collector = %d\n%s", resp.StatusCode, page)
	}
	for _, want := range []string{"No scenario traffic in this window.", "No persona traffic in this window.", "No service has a spec.", "No mock was compared"} {
		if !strings.Contains(page, want) {
			t.Errorf("empty dashboard lacks %q", want)
		}
	}
}
