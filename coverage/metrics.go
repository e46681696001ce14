package coverage

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mockops/mockops/store"
)

// The metrics are pure functions of rollups (and, for endpoint coverage,
// the specs that give the denominators), so a report computed by any
// replica from the shared store is the same.

// buildHeatmap lays scenario rollups out as rows x buckets.
func buildHeatmap(rs []store.Rollup, w Window, teams map[string]string, defined []string, ws string) Heatmap {
	width := time.Duration(w.Bucket) * time.Second
	n := 0
	if width > 0 && w.To.After(w.From) {
		n = int((w.To.Sub(w.From) + width - 1) / width)
	}
	h := Heatmap{Buckets: make([]time.Time, n), Rows: []HeatmapRow{}, Gaps: []string{}}
	for i := range n {
		h.Buckets[i] = w.From.Add(time.Duration(i) * width)
	}
	type rk struct{ ws, sc string }
	rows := map[rk]*HeatmapRow{}
	used := map[string]bool{}
	for _, r := range rs {
		if r.Kind != KindScenario {
			continue
		}
		i := int(r.Bucket.Sub(w.From) / width)
		if i < 0 || i >= n {
			continue
		}
		k := rk{r.Workspace, r.Key}
		row := rows[k]
		if row == nil {
			row = &HeatmapRow{Workspace: r.Workspace, Team: teams[r.Workspace], Scenario: r.Key, Overflow: r.Key == OverflowKey, Counts: make([]int64, n)}
			rows[k] = row
		}
		row.Counts[i] += r.Count
		h.Total += r.Count
		used[r.Key] = true
	}
	for _, d := range defined {
		if !used[d] {
			h.Gaps = append(h.Gaps, d)
			if _, ok := rows[rk{ws, d}]; !ok {
				rows[rk{ws, d}] = &HeatmapRow{Workspace: ws, Team: teams[ws], Scenario: d, Counts: make([]int64, n)}
			}
		}
	}
	for _, row := range rows {
		var t int64
		for _, c := range row.Counts {
			t += c
		}
		row.Share = NewRatio(t, h.Total)
		h.Rows = append(h.Rows, *row)
	}
	slices.SortFunc(h.Rows, func(a, b HeatmapRow) int {
		if a.Overflow != b.Overflow { // the overflow row last
			if a.Overflow {
				return 1
			}
			return -1
		}
		return strings.Compare(a.Workspace+"\x00"+a.Scenario, b.Workspace+"\x00"+b.Scenario)
	})
	slices.Sort(h.Gaps)
	return h
}

// buildPersonas computes persona CI hits.
func buildPersonas(rs []store.Rollup, defined []string, ws string) Personas {
	type pk struct{ ws, p string }
	stats := map[pk]*PersonaStat{}
	runs := map[pk]map[string]bool{}
	allRuns := map[string]bool{}
	get := func(k pk) *PersonaStat {
		s := stats[k]
		if s == nil {
			s = &PersonaStat{Workspace: k.ws, Persona: k.p, Overflow: k.p == OverflowKey, Defined: slices.Contains(defined, k.p)}
			stats[k] = s
		}
		return s
	}
	for _, r := range rs {
		switch r.Kind {
		case KindPersona:
			name, mode, ok := cutLast(r.Key)
			if !ok {
				continue
			}
			s := get(pk{r.Workspace, name})
			if mode == modeCI {
				s.CI += r.Count
				if s.LastCIHit == nil || r.LastSeen.After(*s.LastCIHit) {
					t := r.LastSeen.UTC()
					s.LastCIHit = &t
				}
			} else {
				s.Local += r.Count
			}
		case KindPersonaRun:
			name, run, ok := cutLast(r.Key)
			if !ok {
				continue
			}
			k := pk{r.Workspace, name}
			if runs[k] == nil {
				runs[k] = map[string]bool{}
			}
			runs[k][run] = true
			allRuns[run] = true
		}
	}
	for k, rs := range runs {
		s := get(k)
		s.CIRuns = int64(len(rs))
		s.CIRunsOverflow = rs[OverflowKey]
	}
	out := Personas{Personas: []PersonaStat{}, Gaps: []string{}, CIRuns: int64(len(allRuns)), CIRunsOverflow: allRuns[OverflowKey]}
	hit := map[string]bool{}
	for _, s := range stats {
		if s.CI > 0 {
			hit[s.Persona] = true
		}
	}
	var covered int64
	for _, d := range defined {
		if hit[d] {
			covered++
			continue
		}
		out.Gaps = append(out.Gaps, d)
		found := false
		for k := range stats {
			if k.p == d {
				found = true
			}
		}
		if !found {
			get(pk{ws, d})
		}
	}
	out.CICovered = NewRatio(covered, int64(len(defined)))
	for _, s := range stats {
		s.CIShare = NewRatio(s.CI, s.CI+s.Local)
		out.Personas = append(out.Personas, *s)
	}
	slices.SortFunc(out.Personas, func(a, b PersonaStat) int {
		if a.Overflow != b.Overflow {
			if a.Overflow {
				return 1
			}
			return -1
		}
		return strings.Compare(a.Workspace+"\x00"+a.Persona, b.Workspace+"\x00"+b.Persona)
	})
	slices.Sort(out.Gaps)
	return out
}

// buildEndpoints computes endpoint coverage of one service against its
// spec from that service's rollups.
func buildEndpoints(ws, svc string, comp *compiled, rs []store.Rollup) ServiceEndpoints {
	type counts struct{ all, ci int64 }
	branches := map[string]*counts{} // "GET /p\tbranch"
	undeclared := map[string]int64{} // "GET /p\tstatus"
	missing := map[string]int64{}
	var requests, missed int64
	for _, r := range rs {
		switch r.Kind {
		case KindRequests:
			requests += r.Count
		case KindEndpoint:
			head, mode, ok := cutLast(r.Key)
			if !ok {
				continue
			}
			op, br, ok := cutLast(head)
			if !ok {
				continue
			}
			if strings.HasPrefix(br, "undeclared") {
				undeclared[op+"\t"+strings.TrimPrefix(strings.TrimPrefix(br, "undeclared"), ":")] += r.Count
				continue
			}
			c := branches[head]
			if c == nil {
				c = &counts{}
				branches[head] = c
			}
			c.all += r.Count
			if mode == modeCI {
				c.ci += r.Count
			}
		case KindMissing:
			head, _, ok := cutLast(r.Key)
			if !ok {
				continue
			}
			missing[head] += r.Count
			missed += r.Count
		}
	}
	se := ServiceEndpoints{Service: svc, Workspace: ws, ContractHash: comp.hash, Ops: []OperationCoverage{}, Undeclared: []UndeclaredStatus{}, Missing: []MissingRequest{}}
	var ops, opsHit, opsCI, brs, brsHit, brsCI, dep, depHit int64
	get := func(k string) counts {
		if c := branches[k]; c != nil {
			return *c
		}
		return counts{}
	}
	for i := range comp.spec.ops {
		o := &comp.spec.ops[i]
		key := comp.opKey[i]
		hit := get(key + "\toperation")
		oc := OperationCoverage{Method: o.Method, Path: o.Path, OperationID: o.OperationID, Deprecated: o.Deprecated, Hits: hit.all, CIHits: hit.ci, Branches: []BranchCoverage{}}
		bs := []counts{hit}
		if o.RequestBody {
			c := get(key + "\trequest_body")
			oc.Branches = append(oc.Branches, BranchCoverage{Branch: "request_body", Hits: c.all, CIHits: c.ci})
			bs = append(bs, c)
		}
		for _, rk := range comp.respKey[i] {
			c := get(key + "\t" + rk)
			oc.Branches = append(oc.Branches, BranchCoverage{Branch: rk, Hits: c.all, CIHits: c.ci})
			bs = append(bs, c)
		}
		se.Ops = append(se.Ops, oc)
		if o.Deprecated {
			dep++
			if hit.all > 0 {
				depHit++
			}
			continue
		}
		ops++
		if hit.all > 0 {
			opsHit++
		}
		if hit.ci > 0 {
			opsCI++
		}
		for _, b := range bs {
			brs++
			if b.all > 0 {
				brsHit++
			}
			if b.ci > 0 {
				brsCI++
			}
		}
	}
	se.Operations, se.OperationsCI = NewRatio(opsHit, ops), NewRatio(opsCI, ops)
	se.Branches, se.BranchesCI = NewRatio(brsHit, brs), NewRatio(brsCI, brs)
	se.Deprecated = NewRatio(depHit, dep)
	se.MissingInSpec = NewRatio(missed, requests)
	for k, n := range undeclared {
		op, status, _ := cutLast(k)
		u := UndeclaredStatus{Count: n}
		if op == OverflowKey {
			u.Path, u.Overflow = OverflowKey, true
		} else {
			u.Method, u.Path, _ = strings.Cut(op, " ")
			u.Status, _ = strconv.Atoi(status)
		}
		se.Undeclared = append(se.Undeclared, u)
	}
	slices.SortFunc(se.Undeclared, func(a, b UndeclaredStatus) int {
		if c := strings.Compare(a.Path+" "+a.Method, b.Path+" "+b.Method); c != 0 {
			return c
		}
		return a.Status - b.Status
	})
	for k, n := range missing {
		m := MissingRequest{Count: n}
		if k == OverflowKey {
			m.Path, m.Overflow = OverflowKey, true
		} else {
			m.Method, m.Path, _ = strings.Cut(k, " ")
		}
		se.Missing = append(se.Missing, m)
	}
	slices.SortFunc(se.Missing, func(a, b MissingRequest) int {
		if a.Overflow != b.Overflow {
			if a.Overflow {
				return 1
			}
			return -1
		}
		return strings.Compare(a.Path+" "+a.Method, b.Path+" "+b.Method)
	})
	return se
}

// totalEndpoints sums the services' ratios.
func totalEndpoints(svcs []ServiceEndpoints) Endpoints {
	e := Endpoints{Services: svcs}
	sum := func(f func(*ServiceEndpoints) Ratio) Ratio {
		var n, d int64
		for i := range svcs {
			r := f(&svcs[i])
			n, d = n+r.Numerator, d+r.Denominator
		}
		return NewRatio(n, d)
	}
	e.Operations = sum(func(s *ServiceEndpoints) Ratio { return s.Operations })
	e.OperationsCI = sum(func(s *ServiceEndpoints) Ratio { return s.OperationsCI })
	e.Branches = sum(func(s *ServiceEndpoints) Ratio { return s.Branches })
	e.BranchesCI = sum(func(s *ServiceEndpoints) Ratio { return s.BranchesCI })
	e.MissingInSpec = sum(func(s *ServiceEndpoints) Ratio { return s.MissingInSpec })
	return e
}
