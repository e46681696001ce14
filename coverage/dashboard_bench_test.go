package coverage

import (
	"html/template"
	"io"
	"strconv"
	"testing"
	"time"
)

// benchHeatmap is a heatmap of rows scenarios by cols hourly buckets with
// counts in every cell.
func benchHeatmap(rows, cols int) *Heatmap {
	from := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	hm := &Heatmap{Buckets: make([]time.Time, cols)}
	for i := range cols {
		hm.Buckets[i] = from.Add(time.Duration(i) * time.Hour)
	}
	for r := range rows {
		row := HeatmapRow{Workspace: "ws-" + strconv.Itoa(r%3), Team: "team", Scenario: "scenario-" + strconv.Itoa(r), Counts: make([]int64, cols)}
		for c := range cols {
			row.Counts[c] = int64((r*7 + c*13) % 50)
			hm.Total += row.Counts[c]
		}
		hm.Rows = append(hm.Rows, row)
	}
	for i := range hm.Rows {
		var t int64
		for _, n := range hm.Rows[i].Counts {
			t += n
		}
		hm.Rows[i].Share = NewRatio(t, hm.Total)
	}
	return hm
}

// BenchmarkDashboardHeatmap renders a 30 x 168 heatmap (a week of hours):
// the SVG and its table, then the whole dashboard page around them,
// beside html/template executing an empty template (the floor of any
// page). The target is under 10 ms for the heatmap.
func BenchmarkDashboardHeatmap(b *testing.B) {
	hm := benchHeatmap(30, 168)
	b.Run("baseline-empty-template", func(b *testing.B) {
		t := template.Must(template.New("empty").Parse(""))
		b.ReportAllocs()
		for b.Loop() {
			if err := t.Execute(io.Discard, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("heatmap-30x168", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			svg, table := heatmapSVG(hm, time.Hour), heatmapTable(hm, time.Hour)
			if len(svg) == 0 || len(table) == 0 {
				b.Fatal("empty heatmap")
			}
		}
	})
	b.Run("page-30x168", func(b *testing.B) {
		r, err := newDashboardRenderer("", nil)
		if err != nil {
			b.Fatal(err)
		}
		rep := &Report{Version: ReportVersion, Window: Window{From: hm.Buckets[0], To: hm.Buckets[167].Add(time.Hour), Bucket: 3600}, Heatmap: *hm}
		hist := make([]DriftPoint, 28)
		for i := range hist {
			hist[i] = DriftPoint{From: hm.Buckets[i*6], To: hm.Buckets[i*6].Add(6 * time.Hour), Branches: NewRatio(int64(i%3), 4), Requests: NewRatio(int64(i%5), 40)}
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := r.Execute(io.Discard, "dashboard", uiPage, buildDashboard(rep, hist, APIPath)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
