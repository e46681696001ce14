package pipeline_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/fstest"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
)

// genPlans builds n plans spread over the platform event types and
// nws workspaces: a third with a CEL filter, a third with a match key,
// a third scoped only by type and workspace. Ten plans (one in a hundred
// of the first thousand) have no workspace scope, so they are candidates
// for every event of their type.
func genPlans(t testing.TB, n, nws int) []*pipeline.Plan {
	t.Helper()
	types := events.PlatformTypes()
	p := newParser()
	plans := make([]*pipeline.Plan, n)
	for i := range n {
		ws := fmt.Sprintf("workspace: ws-%d\n", i%nws)
		if i < 1000 && i%100 == 99 {
			ws = ""
		}
		trig := ""
		switch i % 3 {
		case 0:
			trig = fmt.Sprintf("    if: event.data.level > %d\n", i%5)
		case 1:
			trig = fmt.Sprintf("    match: {data.endpoint: /e%d}\n", i%4)
		}
		src := fmt.Sprintf("name: p-%d\n%son:\n  - event: %s\n%ssteps:\n  - {id: a, uses: emit, with: {type: x.y}}\n", i, ws, types[i%len(types)], trig)
		plans[i] = mustParse(t, p, fmt.Sprintf("p-%d.yaml", i), []byte(src)).Plan()
	}
	return plans
}

func loopMatch(plans []*pipeline.Plan, ev events.Event) []string {
	var out []string
	evv := pipeline.NewEventVars(ev)
	for _, p := range plans {
		if ok, _ := pipeline.Matches(p.Match(context.Background(), evv)); ok {
			out = append(out, p.Name())
		}
	}
	return out
}

func TestIndexAgreesWithLoop(t *testing.T) {
	plans := genPlans(t, 600, 20)
	x := pipeline.NewIndex(plans...)
	if x.Len() != len(plans) {
		t.Errorf("Len = %d; want %d", x.Len(), len(plans))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	types := events.PlatformTypes()
	for i := range 300 {
		data := map[string]any{"level": rng.IntN(6), "endpoint": fmt.Sprintf("/e%d", rng.IntN(5))}
		if i%7 == 0 {
			delete(data, "level") // filters fail with an error
		}
		ev := event(t, types[rng.IntN(len(types))], fmt.Sprintf("ws-%d", rng.IntN(25)), data)
		want := loopMatch(plans, ev)
		var got []string
		hits, failed := x.Match(context.Background(), pipeline.NewEventVars(ev))
		for _, h := range hits {
			got = append(got, h.Plan.Name())
		}
		for _, f := range failed {
			if ok, _ := pipeline.Matches(match(f.Plan, ev)); ok {
				t.Errorf("index reported a filter error for %s, which matches", f.Plan.Name())
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("event %d (%s %s %v): index = %v; loop = %v", i, ev.Type, ev.Workspace, data, got, want)
		}
	}
}

func TestIndexReportsFilterErrors(t *testing.T) {
	plans := genPlans(t, 30, 1)
	x := pipeline.NewIndex(plans...)
	ev := event(t, events.PlatformTypes()[0], "ws-0", map[string]any{})
	_, failed := x.Match(context.Background(), pipeline.NewEventVars(ev))
	if len(failed) == 0 {
		t.Errorf("no filter error reported for an event without the field the filters read")
	}
}

func TestIndexSkipsDisabled(t *testing.T) {
	src := []byte("name: off\nenabled: false\non: [{event: schema.changed}]\nsteps: [{id: a, uses: emit, with: {type: x.y}}]\n")
	plan := mustParse(t, newParser(), "off.yaml", src).Plan()
	x := pipeline.NewIndex(plan)
	ev := event(t, events.TypeSchemaChanged, "", nil)
	if hits, failed := x.Match(context.Background(), pipeline.NewEventVars(ev)); len(hits)+len(failed) != 0 {
		t.Errorf("disabled plan matched through the index: %+v, %+v", hits, failed)
	}
	if r := match(plan, ev); r[0].Matched || r[0].Reason != "pipeline is disabled" {
		t.Errorf("Match on a disabled plan = %+v", r)
	}
}

func TestLoadDir(t *testing.T) {
	ok := "on: [{event: schema.changed}]\nsteps: [{id: a, uses: emit, with: {type: x.y}}]\n"
	fsys := fstest.MapFS{
		"pipes/a.yaml":     {Data: []byte("name: a\n" + ok)},
		"pipes/b.yaml":     {Data: []byte("name: b\n" + ok)},
		"pipes/notes.txt":  {Data: []byte("not yaml")},
		"bad/one.yaml":     {Data: []byte("name: x\n" + ok)},
		"bad/two.yaml":     {Data: []byte("name: x\n" + ok)},
		"bad/three.yaml":   {Data: []byte("name: y\non: []\nsteps: [{id: a, uses: emit, with: {type: x.y}}]\n")},
		"bad/unknown.yaml": {Data: []byte("name: z\non: [{event: a.b}]\nsteps: [{id: a, uses: nope}]\n")},
	}
	defs, err := pipeline.LoadDir(fsys, "pipes/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(defs) != 2 || defs[0].Name != "a" || defs[1].Name != "b" || defs[0].File != "pipes/a.yaml" {
		t.Errorf("LoadDir = %d definitions", len(defs))
	}
	_, err = newParser().LoadDir(fsys, "bad/*.yaml")
	want := "bad/three.yaml:2:5: on: at least one trigger is required\n" +
		"bad/two.yaml:1:7: duplicate pipeline name \"x\" (also defined in bad/one.yaml)\n" +
		"bad/unknown.yaml:3:23: unknown step type \"nope\""
	if err == nil || err.Error() != want {
		t.Errorf("LoadDir(bad) =\n%v\nwant\n%s", err, want)
	}
	if _, err := pipeline.LoadDir(fsys, "[bad"); err == nil {
		t.Errorf("LoadDir with a malformed pattern = nil error")
	}
}
