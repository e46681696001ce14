package coverage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mockops/mockops/store"
)

// ErrInvalidQuery reports a Query no report can answer (a window that
// ends before it starts); an HTTP API answers it with 400.
var ErrInvalidQuery = errors.New("coverage: invalid query")

// MaxBuckets bounds the buckets of a window (a year of hours is 8760):
// a query from an API must not make a report allocate without limit.
const MaxBuckets = 10000

// DefaultWindow is the span a Query with no From covers: a week, 168
// hourly columns of heatmap.
const DefaultWindow = 7 * 24 * time.Hour

// Query selects what a Report covers.
type Query struct {
	// From and To bound the window; they are widened to whole buckets.
	// A zero To is the end of the current bucket; a zero From is
	// DefaultWindow before To.
	From, To time.Time
	// Workspace scopes the report; "" is every workspace.
	Workspace string
	// Team scopes the report to the workspaces of a team (Config.Teams);
	// "" is every team.
	Team string
}

// inScope reports whether a workspace is in q's scope.
func (c *Collector) inScope(q Query, ws string) bool {
	return (q.Workspace == "" || ws == q.Workspace) && (q.Team == "" || c.cfg.Teams[ws] == q.Team)
}

// window resolves q at now into whole buckets.
func (c *Collector) window(q Query, now time.Time) (Window, error) {
	b := c.cfg.Bucket
	to := q.To
	if to.IsZero() {
		to = now
	}
	to = to.UTC()
	if t := to.Truncate(b); !t.Equal(to) || q.To.IsZero() {
		to = t.Add(b)
	}
	from := q.From
	if from.IsZero() {
		from = to.Add(-DefaultWindow)
	}
	from = from.UTC().Truncate(b)
	if !from.Before(to) {
		return Window{}, fmt.Errorf("%w: window from %v is not before to %v", ErrInvalidQuery, q.From, q.To)
	}
	if n := to.Sub(from) / b; n > MaxBuckets {
		return Window{}, fmt.Errorf("%w: window of %d buckets, more than %d", ErrInvalidQuery, n, MaxBuckets)
	}
	return Window{From: from, To: to, Bucket: int64(b / time.Second)}, nil
}

// Report flushes this collector's counts, then computes every metric over
// the window from the store, so it includes every replica's flushed
// counts. Staleness is aged at the time of the call.
func (c *Collector) Report(ctx context.Context, q Query) (*Report, error) {
	if err := c.Flush(ctx); err != nil {
		return nil, err
	}
	now := c.now().UTC()
	w, err := c.window(q, now)
	if err != nil {
		return nil, err
	}
	rs, err := c.rollups(ctx, store.RollupQuery{Workspace: q.Workspace, From: w.From, To: w.To})
	if err != nil {
		return nil, err
	}
	if q.Team != "" {
		rs = slices.DeleteFunc(rs, func(r store.Rollup) bool { return !c.inScope(q, r.Workspace) })
	}
	rep := &Report{Version: ReportVersion, GeneratedAt: now, Window: w, Workspace: q.Workspace, Team: q.Team}
	rep.Heatmap = buildHeatmap(rs, w, c.cfg.Teams, c.cfg.Scenarios, q.Workspace)
	rep.Personas = buildPersonas(rs, c.cfg.Personas, q.Workspace)
	rep.Endpoints = totalEndpoints(c.endpoints(rs, q))
	rep.Drift = buildDrift(rs, c.cfg.DriftBudget)
	st, err := c.staleness(ctx, now)
	if err != nil {
		return nil, err
	}
	if q.Workspace != "" || q.Team != "" {
		st.Services = slices.DeleteFunc(st.Services, func(s ServiceStaleness) bool { return !c.inScope(q, c.workspaceOf(s.Service)) })
		var fresh int64
		for _, s := range st.Services {
			if s.State == StaleFresh {
				fresh++
			}
		}
		st.Fresh = NewRatio(fresh, int64(len(st.Services)))
	}
	rep.Staleness = st
	return rep, nil
}

// endpoints computes the coverage of every service with a spec: those
// with traffic in the window, and those without (covering nothing).
func (c *Collector) endpoints(rs []store.Rollup, q Query) []ServiceEndpoints {
	groups := map[svcKey][]store.Rollup{}
	for _, r := range rs {
		switch r.Kind {
		case KindRequests, KindEndpoint, KindMissing:
			k := svcKey{r.Workspace, r.Service}
			groups[k] = append(groups[k], r)
		}
	}
	c.svcMu.Lock()
	specs := make(map[string]*compiled, len(c.specs))
	for n, comp := range c.specs {
		specs[n] = comp
	}
	c.svcMu.Unlock()
	named := map[string]bool{}
	var out []ServiceEndpoints
	for k, g := range groups {
		comp := specs[k.name]
		if comp == nil {
			continue
		}
		named[k.name] = true
		out = append(out, buildEndpoints(k.ws, k.name, comp, g))
	}
	for n, comp := range specs {
		if named[n] {
			continue
		}
		w := c.workspaceOf(n)
		if c.inScope(q, w) {
			out = append(out, buildEndpoints(w, n, comp, nil))
		}
	}
	slices.SortFunc(out, func(a, b ServiceEndpoints) int {
		return strings.Compare(a.Workspace+"\x00"+a.Service, b.Workspace+"\x00"+b.Service)
	})
	if out == nil {
		out = []ServiceEndpoints{}
	}
	return out
}
