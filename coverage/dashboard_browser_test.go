package coverage_test

import (
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/mockops/mockops/coverage"
	"github.com/mockops/mockops/internal/browsertest"
)

// dashboardDOM is what the browser reports of the loaded dashboard.
type dashboardDOM struct {
	Sections   []string `json:"sections"`
	Cells      int      `json:"cells"`
	Titled     int      `json:"titled"`
	FirstTitle string   `json:"firstTitle"`
	SVGLabel   string   `json:"svgLabel"`
	// Mismatches are cells whose count differs from the table's cell for
	// the same scenario and column: the table must hold the same numbers.
	Mismatches []string `json:"mismatches"`
	TableRows  int      `json:"tableRows"`
	DriftBars  int      `json:"driftBars"`
	DriftRows  int      `json:"driftRows"`
	Unlabelled []string `json:"unlabelled"`
	H1         int      `json:"h1"`
	A11y       []string `json:"a11y"`
	Lang       string   `json:"lang"`
	Width      int      `json:"width"`
	MainWidth  int      `json:"mainWidth"`
}

// inspectDashboard reads the dashboard's DOM in the page.
const inspectDashboard = `(() => {
  const q = s => [...document.querySelectorAll(s)];
  const out = {sections: q('main section[id]').map(s => s.id), mismatches: [], unlabelled: []};
  const cells = q('svg.heatmap rect.hm-cell');
  out.cells = cells.length;
  out.titled = cells.filter(c => c.querySelector('title') && c.querySelector('title').textContent.trim()).length;
  out.firstTitle = cells.length ? cells[0].querySelector('title').textContent : '';
  const svg = document.querySelector('svg.heatmap');
  out.svgLabel = svg ? (svg.getAttribute('role') + ':' + svg.getAttribute('aria-labelledby').split(' ').map(id => document.getElementById(id).textContent).join(' | ')) : '';
  const rows = q('#heatmap-table tbody tr[data-scenario]');
  out.tableRows = rows.length;
  q('svg.heatmap g.hm-row').forEach((g, ri) => {
    const tr = rows[ri];
    if (!tr || tr.dataset.scenario !== g.dataset.scenario) { out.mismatches.push('row ' + ri + ' ' + g.dataset.scenario); return; }
    const tds = [...tr.querySelectorAll('td')].slice(4); // workspace, team, share, total
    [...g.querySelectorAll('rect.hm-cell')].forEach((r, ci) => {
      if (!tds[ci] || tds[ci].textContent.trim() !== r.dataset.count) out.mismatches.push(g.dataset.scenario + ' col ' + ci + ': ' + r.dataset.count + ' vs ' + (tds[ci] ? tds[ci].textContent : 'none'));
    });
  });
  out.driftBars = q('svg.drift-chart rect.dr-bar').length;
  out.driftRows = q('#drift-table tbody tr').length;
  for (const el of q('input, select')) if (!(el.labels && el.labels.length)) out.unlabelled.push(el.id || el.name);
  out.h1 = q('h1').length;
  // Headings never skip a level going down; every chart is an image
  // named by elements that exist and say something.
  out.a11y = [];
  const hs = q('h1, h2, h3, h4');
  for (let i = 1; i < hs.length; i++) if (+hs[i].tagName[1] > +hs[i-1].tagName[1] + 1) out.a11y.push('heading skipped before ' + hs[i].textContent);
  for (const svg of q('svg')) {
    const ids = (svg.getAttribute('aria-labelledby') || '').split(' ').filter(Boolean);
    const name = ids.map(id => (document.getElementById(id) || {}).textContent || '').join(' ').trim();
    if (svg.getAttribute('role') !== 'img' || ids.length === 0 || !name) out.a11y.push('svg ' + svg.getAttribute('class') + ' has no role img and name');
  }
  for (const t of q('table')) if (!t.querySelector('caption') || !t.querySelector('caption').textContent.trim()) out.a11y.push('table without a caption');
  out.lang = document.documentElement.lang;
  out.mainWidth = Math.round(document.querySelector('main').getBoundingClientRect().width);
  out.width = svg ? Math.round(svg.getBoundingClientRect().width) : 0;
  return out;
})()`

// TestDashboardBrowser loads the dashboard of a collector with data in
// headless Chromium and checks the DOM as a browser builds it: every
// section, heatmap cells with titles, the table alternative holding the
// same numbers, the drift chart and its table, labelled filters. It
// writes a screenshot to $MOCKOPS_SCREENSHOTS (or a temporary directory).
func TestDashboardBrowser(t *testing.T) {
	chromium := browsertest.NeedChromium(t)
	shots := browsertest.Shots(t)
	f := newHandlerFixture(t)
	srv := f.server(t, coverage.HandlerConfig{})

	ctx := browsertest.Start(t, chromium)

	tests := []struct {
		name, query string
		wantCells   int
		wantBars    int
		wantPoints  int
	}{
		{"three hours", fixtureWindow, 9, 2, 3},
		{"a week", "last=7d", 3 * 169, 1, 29}, // 168 hours and the current one: 29 points of 6 hours
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/coverage?"+tt.query), chromedp.WaitVisible(chromedp.CSS("svg.heatmap"))); err != nil {
				t.Fatalf("load the dashboard: %v", err)
			}
			dom, err := chromedp.Run(ctx, chromedp.Evaluate[dashboardDOM](inspectDashboard))
			if err != nil {
				t.Fatalf("inspect the DOM: %v", err)
			}
			wantSections := []string{"summary", "heatmap", "personas", "endpoints", "staleness", "drift"}
			if len(dom.Sections) != len(wantSections) {
				t.Errorf("sections = %v; want %v", dom.Sections, wantSections)
			} else {
				for i, s := range wantSections {
					if dom.Sections[i] != s {
						t.Errorf("section %d = %s; want %s", i, dom.Sections[i], s)
					}
				}
			}
			if dom.Cells != tt.wantCells || dom.Titled != tt.wantCells {
				t.Errorf("heatmap cells = %d, %d with a title; want %d, all titled", dom.Cells, dom.Titled, tt.wantCells)
			}
			if tt.name == "three hours" && dom.FirstTitle != "refund, 2026-03-02 10:00Z: 0 requests" {
				t.Errorf("first cell's title = %q", dom.FirstTitle)
			}
			if dom.SVGLabel == "" || dom.SVGLabel[:4] != "img:" {
				t.Errorf("heatmap svg role and name = %q; want img named by its title", dom.SVGLabel)
			}
			if dom.TableRows != 3 || len(dom.Mismatches) > 0 {
				t.Errorf("table alternative: %d rows (want 3), mismatches with the chart: %v", dom.TableRows, dom.Mismatches)
			}
			if dom.DriftBars != tt.wantBars || dom.DriftRows != tt.wantPoints {
				t.Errorf("drift over time: %d bars, %d table rows; want %d, %d", dom.DriftBars, dom.DriftRows, tt.wantBars, tt.wantPoints)
			}
			for _, v := range dom.A11y {
				t.Errorf("accessibility: %s", v)
			}
			if len(dom.Unlabelled) > 0 || dom.H1 != 1 || dom.Lang != "en" {
				t.Errorf("unlabelled fields %v, %d h1, lang %q; want none, 1, en", dom.Unlabelled, dom.H1, dom.Lang)
			}
			if dom.Width < 400 || dom.Width > dom.MainWidth {
				t.Errorf("the heatmap is %dpx wide in a main of %dpx; want it readable and within the page", dom.Width, dom.MainWidth)
			}
			path := browsertest.Screenshot(t, ctx, shots, "coverage-dashboard-"+map[string]string{"three hours": "3h", "a week": "7d"}[tt.name])
			t.Logf("screenshot %s", path)
		})
	}

	t.Run("the filter form", func(t *testing.T) {
		err := chromedp.Do(ctx,
			chromedp.Navigate(srv.URL+"/coverage?"+fixtureWindow),
			chromedp.WaitVisible(chromedp.CSS("#f-workspace")),
			chromedp.SetValue(chromedp.CSS("#f-workspace"), "elsewhere"),
			// Marks this page, so that the wait below is for the table of
			// the page the form loads, not this one's (still visible while
			// the submission is under way).
			chromedp.Evaluate[chromedp.Void](`document.body.dataset.before = "submit"`),
			chromedp.Click(chromedp.CSS(`form.filters button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`body:not([data-before]) #heatmap-table`)))
		if err != nil {
			t.Fatalf("submit the filters: %v", err)
		}
		loc, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.search`))
		if err != nil {
			t.Fatal(err)
		}
		dom, err := chromedp.Run(ctx, chromedp.Evaluate[dashboardDOM](inspectDashboard))
		if err != nil {
			t.Fatal(err)
		}
		// Another workspace: only the defined scenarios' rows of zeros.
		if want := "?workspace=elsewhere&last=&from=2026-03-02T10%3A00&to=2026-03-02T13%3A00"; loc != want {
			t.Errorf("query after submit = %s; want %s (the form keeps the window)", loc, want)
		}
		if dom.TableRows != 3 || dom.Cells != 9 {
			t.Errorf("workspace elsewhere: %d rows, %d cells; want the 3 defined scenarios' empty rows", dom.TableRows, dom.Cells)
		}
	})
}
