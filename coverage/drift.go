package coverage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/store"
)

// DriftReport is a host's own comparison of a service's mocks with its
// real upstream (a contract test, a recorded replay): Compared answers of
// which Drifted differed, for one endpoint and status.
type DriftReport struct {
	Workspace string
	Service   string
	Method    string
	// Path is a concrete path or the path template itself ("/pets/{id}"
	// matches its own template).
	Path string
	// Status selects the response branch; 0 counts for the operation.
	Status   int
	Compared int64
	Drifted  int64
}

// ReportDrift counts a host drift report with the federation's own
// comparisons. It does no I/O: the counts are flushed with the rest.
func (c *Collector) ReportDrift(r DriftReport) error {
	if r.Compared < 0 || r.Drifted < 0 || r.Drifted > r.Compared {
		return fmt.Errorf("coverage: drift report of %q: drifted %d of %d compared", r.Service, r.Drifted, r.Compared)
	}
	if r.Compared == 0 {
		return nil
	}
	now := c.coarse.Load()
	svc := c.service(r.Workspace, r.Service)
	g := c.enter()
	defer g.exit()
	ec := g.endpoints(svc)
	if spec := ec.comp.spec; spec != nil {
		if op, err := spec.Match(r.Method, r.Path); err == nil {
			o := &spec.ops[op]
			cb := cmpBase(ec.comp.base[op], len(o.Responses))
			if r.Status != 0 {
				if ri := o.ResponseFor(r.Status); ri >= 0 {
					cb += 2 + 2*int32(ri)
				}
			}
			ec.counts[cb].Add(r.Compared)
			ec.counts[cb+1].Add(r.Drifted)
			return nil
		}
	}
	k := dimKey{kind: dimDrift, svc: int32(svc.idx), a: r.Method, b: r.Path}
	g.dims.addN(k, r.Compared, now)
	if r.Drifted > 0 {
		k.n = 1
		g.dims.addN(k, r.Drifted, now)
	}
	return nil
}

// driftState is a StateScopeDrift entry.
type driftState struct {
	Exceeded bool      `json:"exceeded"`
	Percent  float64   `json:"percent"`
	Since    time.Time `json:"since"`
}

// checkDrift computes every service's drift over the drift window from
// the store (so every replica's comparisons count) and publishes
// drift.threshold_exceeded for each service that crossed the budget. The
// crossing is fenced by a compare-and-swap of the service's StateScopeDrift
// entry: the replica whose swap wins publishes, the others see the crossing
// already recorded. The entry is reset once drift falls below the budget
// minus the hysteresis, so a service hovering at the budget does not
// publish on every flush.
func (c *Collector) checkDrift(ctx context.Context, now time.Time) error {
	rs, err := c.rollups(ctx, store.RollupQuery{Kind: KindDrift, From: now.Add(-c.cfg.DriftWindow).Truncate(c.cfg.Bucket), To: now.Add(c.cfg.Bucket)})
	if err != nil {
		return err
	}
	d := buildDrift(rs, c.cfg.DriftBudget)
	entries, err := c.st.ListState(ctx, StateScopeDrift)
	if err != nil {
		return fmt.Errorf("coverage: drift state: %w", err)
	}
	known := map[string]store.StateEntry{}
	for _, e := range entries {
		known[e.Key] = e
	}
	seen := map[string]bool{}
	for _, sd := range d.Services {
		key := sd.Workspace + "/" + sd.Service
		seen[key] = true
		if err := c.driftCrossing(ctx, key, known[key], sd, now); err != nil {
			return err
		}
	}
	// A service with no comparison left in the window has no drift: its
	// crossing, if any, ends.
	for key, e := range known {
		if !seen[key] {
			if err := c.driftCrossing(ctx, key, e, ServiceDrift{}, now); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *Collector) driftCrossing(ctx context.Context, key string, e store.StateEntry, sd ServiceDrift, now time.Time) error {
	var st driftState
	if e.Version != 0 {
		if err := json.Unmarshal(e.Value, &st); err != nil {
			return fmt.Errorf("coverage: drift state %q: %w", key, err)
		}
	} else {
		e = store.StateEntry{Scope: StateScopeDrift, Key: key}
	}
	pct := -1.0
	if sd.Branches.Percent != nil {
		pct = *sd.Branches.Percent
	}
	budget := c.cfg.DriftBudget
	switch {
	case !st.Exceeded && pct > budget:
		st = driftState{Exceeded: true, Percent: pct, Since: now.UTC()}
	case st.Exceeded && pct < budget-c.cfg.DriftHysteresis:
		st = driftState{}
	default:
		return nil
	}
	v, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("coverage: drift state %q: %w", key, err)
	}
	e.Value = v
	if _, err := c.st.PutState(ctx, e); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil // a replica recorded this crossing (or its end) first
		}
		return fmt.Errorf("coverage: drift state %q: %w", key, err)
	}
	if !st.Exceeded || c.pub == nil {
		return nil
	}
	ev, err := events.DriftThresholdExceeded(sd.Workspace, events.DriftThreshold{
		Service: sd.Service, Endpoint: worstEndpoint(sd), DriftPercent: pct, Budget: budget,
	})
	if err != nil {
		return fmt.Errorf("coverage: drift event of %q: %w", sd.Service, err)
	}
	if err := c.pub.Publish(ctx, ev); err != nil {
		// The crossing is recorded: it is not published again. Say so.
		c.log.Error("coverage: drift crossing recorded but its event was not published", "service", sd.Service, "err", err)
		return fmt.Errorf("coverage: publish drift of %q: %w", sd.Service, err)
	}
	return nil
}

// worstEndpoint names the endpoint with the most drifted comparisons.
func worstEndpoint(sd ServiceDrift) string {
	best, n := "", int64(-1)
	for _, e := range sd.Endpoints {
		if e.Drifted > n {
			best, n = e.Method+" "+e.Path, e.Drifted
		}
	}
	return best
}

// buildDrift computes the drift metric from drift rollups.
func buildDrift(rs []store.Rollup, budget float64) Drift {
	type branch struct{ compared, drifted int64 }
	type svcAcc struct {
		ws, svc  string
		branches map[string]*branch
	}
	svcs := map[svcKey]*svcAcc{}
	for _, r := range rs {
		if r.Kind != KindDrift {
			continue
		}
		head, what, ok := cutLast(r.Key)
		if !ok {
			continue
		}
		k := svcKey{r.Workspace, r.Service}
		a := svcs[k]
		if a == nil {
			a = &svcAcc{ws: r.Workspace, svc: r.Service, branches: map[string]*branch{}}
			svcs[k] = a
		}
		b := a.branches[head]
		if b == nil {
			b = &branch{}
			a.branches[head] = b
		}
		switch what {
		case "compared":
			b.compared += r.Count
		case "drifted":
			b.drifted += r.Count
		}
	}
	out := Drift{Budget: budget, Services: []ServiceDrift{}}
	var tb, tbd, tc, td int64
	for _, a := range svcs {
		sd := ServiceDrift{Service: a.svc, Workspace: a.ws, Endpoints: []EndpointDrift{}}
		var nb, nbd, nc, nd int64
		for head, b := range a.branches {
			op, br, _ := cutLast(head)
			method, path, _ := strings.Cut(op, " ")
			sd.Endpoints = append(sd.Endpoints, EndpointDrift{Method: method, Path: path, Branch: br, Compared: b.compared, Drifted: b.drifted})
			if b.compared > 0 {
				nb++
				if b.drifted > 0 {
					nbd++
				}
			}
			nc += b.compared
			nd += b.drifted
		}
		slices.SortFunc(sd.Endpoints, func(x, y EndpointDrift) int {
			return strings.Compare(x.Path+" "+x.Method+" "+x.Branch, y.Path+" "+y.Method+" "+y.Branch)
		})
		sd.Branches, sd.Requests = NewRatio(nbd, nb), NewRatio(nd, nc)
		sd.OverBudget = budget > 0 && sd.Branches.Percent != nil && *sd.Branches.Percent > budget
		out.Services = append(out.Services, sd)
		tb, tbd, tc, td = tb+nb, tbd+nbd, tc+nc, td+nd
	}
	slices.SortFunc(out.Services, func(x, y ServiceDrift) int {
		return strings.Compare(x.Workspace+"\x00"+x.Service, y.Workspace+"\x00"+y.Service)
	})
	out.Branches, out.Requests = NewRatio(tbd, tb), NewRatio(td, tc)
	return out
}

// cutLast splits a rollup key at its last tab.
func cutLast(s string) (head, last string, ok bool) {
	i := strings.LastIndexByte(s, '\t')
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}

// rollups reads every page of q.
func (c *Collector) rollups(ctx context.Context, q store.RollupQuery) ([]store.Rollup, error) {
	var out []store.Rollup
	for {
		p, err := c.st.ListRollups(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("coverage: read rollups: %w", err)
		}
		out = append(out, p.Rollups...)
		if p.Next == "" {
			return out, nil
		}
		q.Cursor = p.Next
	}
}
