package coverage

import (
	"context"
	"time"

	"github.com/mockops/mockops/store"
)

// maxDriftPoints bounds the points of drift over time: a week of hours
// becomes 29 points of 6 hours, which a small chart can show.
const maxDriftPoints = 30

// pointSpan is how many buckets a point of drift over time spans for a
// window of n buckets: the least of 1, 2, 3, 4, 6, 8, 12 or a multiple of
// 24 that keeps the points within maxDriftPoints, so that hourly points
// fall on round hours and days.
func pointSpan(n int64) int64 {
	need := (n + maxDriftPoints - 1) / maxDriftPoints
	for _, p := range []int64{1, 2, 3, 4, 6, 8, 12} {
		if p >= need {
			return p
		}
	}
	return (need + 23) / 24 * 24
}

// DriftPoint is drift over one slice [From, To) of a report's window:
// the drift metric computed from that slice's comparisons only.
type DriftPoint struct {
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Branches Ratio     `json:"branches"`
	Requests Ratio     `json:"requests"`
}

// driftHistory splits w into at most maxDriftPoints slices of whole
// buckets and computes the drift of each from the store's drift rollups
// (every replica's comparisons, as in Report).
func (c *Collector) driftHistory(ctx context.Context, w Window, workspace string) ([]DriftPoint, error) {
	bucket := time.Duration(w.Bucket) * time.Second
	if bucket <= 0 || !w.From.Before(w.To) {
		return []DriftPoint{}, nil
	}
	n := int64(w.To.Sub(w.From) / bucket)
	per := pointSpan(n)
	step := time.Duration(per) * bucket
	rs, err := c.rollups(ctx, store.RollupQuery{Kind: KindDrift, Workspace: workspace, From: w.From, To: w.To})
	if err != nil {
		return nil, err
	}
	slices := make([][]store.Rollup, (n+per-1)/per)
	for _, r := range rs {
		i := int(r.Bucket.Sub(w.From) / step)
		if i >= 0 && i < len(slices) {
			slices[i] = append(slices[i], r)
		}
	}
	out := make([]DriftPoint, len(slices))
	for i, s := range slices {
		from := w.From.Add(time.Duration(i) * step)
		to := from.Add(step)
		if to.After(w.To) {
			to = w.To
		}
		d := buildDrift(s, 0)
		out[i] = DriftPoint{From: from, To: to, Branches: d.Branches, Requests: d.Requests}
	}
	return out, nil
}
