package pipeline

import (
	"context"
	"slices"

	"github.com/mockops/mockops/events"
)

// Index finds the plans an event triggers without evaluating every plan:
// it narrows by event type, then by workspace scope, then by the first
// `match:` key of each trigger (one payload read and a map lookup per
// distinct path), and only then runs the remaining match keys and CEL
// filters of the few candidates left. So the cost per event grows with the
// number of candidates, not with the number of plans loaded.
//
// An Index is immutable and safe for concurrent use; build a new one when
// the set of plans changes. Disabled plans are left out.
type Index struct {
	byType map[events.Type]*typeBucket
	plans  int
}

type typeBucket struct {
	all  scopeBucket // plans without a workspace scope
	byWS map[string]*scopeBucket
}

// scopeBucket holds the triggers of one (type, workspace) pair.
type scopeBucket struct {
	unkeyed []entry // no match keys: always a candidate
	paths   []*keyedEntries
}

// keyedEntries indexes triggers by the canonical value of one path.
type keyedEntries struct {
	key    *matchKey // a representative key for reading the event value
	values map[string][]entry
}

type entry struct {
	plan    *Plan
	trigger int
}

// NewIndex indexes plans.
func NewIndex(plans ...*Plan) *Index {
	x := &Index{byType: map[events.Type]*typeBucket{}}
	for _, p := range plans {
		if p == nil || !p.enabled {
			continue
		}
		x.plans++
		for i, t := range p.triggers {
			tb := x.byType[t.event]
			if tb == nil {
				tb = &typeBucket{byWS: map[string]*scopeBucket{}}
				x.byType[t.event] = tb
			}
			sb := &tb.all
			if p.workspace != "" {
				sb = tb.byWS[p.workspace]
				if sb == nil {
					sb = &scopeBucket{}
					tb.byWS[p.workspace] = sb
				}
			}
			sb.add(entry{plan: p, trigger: i})
		}
	}
	return x
}

func (sb *scopeBucket) add(e entry) {
	t := e.plan.triggers[e.trigger]
	if len(t.match) == 0 {
		sb.unkeyed = append(sb.unkeyed, e)
		return
	}
	k := &t.match[0]
	i := slices.IndexFunc(sb.paths, func(ke *keyedEntries) bool { return ke.key.path == k.path })
	if i < 0 {
		sb.paths = append(sb.paths, &keyedEntries{key: k, values: map[string][]entry{}})
		i = len(sb.paths) - 1
	}
	for v := range k.values {
		sb.paths[i].values[v] = append(sb.paths[i].values[v], e)
	}
}

// Len returns the number of plans indexed.
func (x *Index) Len() int { return x.plans }

// Hit is a plan an event triggered, or whose filter failed for it.
type Hit struct {
	Plan    *Plan
	Trigger int   // the first trigger that matched (or failed)
	Err     error // set when no trigger matched and a filter failed
}

// Match returns the plans ev triggers, in index order, each once. A plan
// whose filter failed (and no other trigger matched) is returned with Err
// set, so the failure is recorded rather than mistaken for "no match".
func (x *Index) Match(ctx context.Context, ev events.Event) []Hit {
	tb := x.byType[ev.Type]
	if tb == nil {
		return nil
	}
	var hits []Hit
	lv := &eventVars{ev: &ev}
	visit := func(e entry) {
		at := slices.IndexFunc(hits, func(h Hit) bool { return h.Plan == e.plan })
		if at >= 0 && hits[at].Err == nil {
			return // already matched by an earlier trigger
		}
		r := e.plan.evalTrigger(ctx, e.trigger, &ev, lv, false)
		switch {
		case r.Matched && at >= 0:
			hits[at] = Hit{Plan: e.plan, Trigger: e.trigger}
		case r.Matched:
			hits = append(hits, Hit{Plan: e.plan, Trigger: e.trigger})
		case r.Err != nil && at < 0:
			hits = append(hits, Hit{Plan: e.plan, Trigger: e.trigger, Err: r.Err})
		}
	}
	tb.all.candidates(&ev, visit)
	if ev.Workspace != "" {
		if sb := tb.byWS[ev.Workspace]; sb != nil {
			sb.candidates(&ev, visit)
		}
	}
	return hits
}

func (sb *scopeBucket) candidates(ev *events.Event, visit func(entry)) {
	for _, e := range sb.unkeyed {
		visit(e)
	}
	for _, ke := range sb.paths {
		v, ok := ke.key.lookup(ev)
		if !ok {
			continue
		}
		for _, e := range ke.values[v] {
			visit(e)
		}
	}
}
