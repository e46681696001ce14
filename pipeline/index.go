package pipeline

import (
	"context"
	"maps"
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

// Hit is a plan an event triggered.
type Hit struct {
	Plan    *Plan
	Trigger int // the first trigger that matched
}

// FilterError is a plan none of whose triggers matched an event because a
// filter failed to evaluate (a missing field, a cost limit, an invalid
// payload): an outcome apart from "did not match", to be recorded as such.
type FilterError struct {
	Plan    *Plan
	Trigger int // the first trigger that failed
	Err     error
}

func (e *FilterError) Error() string { return e.Err.Error() }

func (e *FilterError) Unwrap() error { return e.Err }

// Match returns the plans ev triggers, in index order, each once, and
// apart from them the plans whose filter failed for ev (and that no other
// trigger matched): a caller cannot take a failure for a hit, nor drop it
// without writing so.
func (x *Index) Match(ctx context.Context, ev *EventVars) (hits []Hit, failed []*FilterError) {
	if ev == nil {
		ev = NewEventVars(events.Event{})
	}
	tb := x.byType[ev.ev.Type]
	if tb == nil {
		return nil, nil
	}
	visit := func(e entry) {
		if slices.ContainsFunc(hits, func(h Hit) bool { return h.Plan == e.plan }) {
			return // already matched by an earlier trigger
		}
		at := slices.IndexFunc(failed, func(f *FilterError) bool { return f.Plan == e.plan })
		r := e.plan.evalTrigger(ctx, e.trigger, ev, false)
		switch {
		case r.Matched:
			hits = append(hits, Hit{Plan: e.plan, Trigger: e.trigger})
			if at >= 0 {
				failed = slices.Delete(failed, at, at+1)
			}
		case r.Err != nil && at < 0:
			failed = append(failed, &FilterError{Plan: e.plan, Trigger: e.trigger, Err: r.Err})
		}
	}
	// An invalid payload has no values to look up: every trigger of the
	// type and scope is a candidate, and fails.
	all := ev.Err() != nil
	tb.all.candidates(&ev.ev, all, visit)
	if ev.ev.Workspace != "" {
		if sb := tb.byWS[ev.ev.Workspace]; sb != nil {
			sb.candidates(&ev.ev, all, visit)
		}
	}
	return hits, failed
}

func (sb *scopeBucket) candidates(ev *events.Event, all bool, visit func(entry)) {
	for _, e := range sb.unkeyed {
		visit(e)
	}
	for _, ke := range sb.paths {
		if all {
			for _, v := range slices.Sorted(maps.Keys(ke.values)) {
				for _, e := range ke.values[v] {
					visit(e)
				}
			}
			continue
		}
		v, ok := ke.key.lookup(ev)
		if !ok {
			continue
		}
		for _, e := range ke.values[v] {
			visit(e)
		}
	}
}
