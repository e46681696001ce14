package pipeline_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
	"github.com/mockops/mockops/store"
)

// groupPipeline is a one-step pipeline in concurrency group event.data.g
// with mode (none: no `concurrency:` at all).
func groupPipeline(mode string) string {
	src := "name: grouped\non: [{event: schema.changed}]\n"
	if mode != "" {
		src += "concurrency: {group: \"${{ event.data.g }}\", mode: " + mode + "}\n"
	}
	return src + "steps: [{id: s, uses: probe, with: {key: s}}]\n"
}

// groupCase is one concurrency mode: the executions triggered (by group,
// the first one while nothing else runs, the others while it runs) and
// how they end.
var groupCases = []struct {
	mode   string
	groups []string
	want   []store.Status
	peak   int    // most steps running at once
	errSub string // in the error of every cancelled execution
}{
	// No `concurrency:`: no group, every execution runs at once.
	{"", []string{"a", "a", "a", "b"}, []store.Status{"succeeded", "succeeded", "succeeded", "succeeded"}, 4, ""},
	{"queue", []string{"a", "a", "a", "b"}, []store.Status{"succeeded", "succeeded", "succeeded", "succeeded"}, 2, ""},
	{"cancel_in_progress", []string{"a", "a", "a", "b"}, []store.Status{"cancelled", "cancelled", "succeeded", "succeeded"}, 2, ""},
	{"skip", []string{"a", "a", "a", "b"}, []store.Status{"succeeded", "cancelled", "cancelled", "succeeded"}, 2, "skipped: concurrency group"},
}

func statusesOf(xs []store.Execution) []store.Status {
	out := make([]store.Status, len(xs))
	for i, x := range xs {
		out[i] = x.Status
	}
	return out
}

// checkGroupOrder fails unless the executions of one group that ran their
// step did so one at a time, in creation (ID) order.
func checkGroupOrder(t *testing.T, groups []string, xs []store.Execution) {
	t.Helper()
	last := map[string]store.Execution{}
	for i, x := range xs {
		if i > 0 && x.ID <= xs[i-1].ID {
			t.Fatalf("executions not in creation order: %s after %s", x.ID, xs[i-1].ID)
		}
		s := x.Steps
		if len(s) != 1 || s[0].StartedAt.IsZero() {
			continue // never ran its step
		}
		if prev, ok := last[groups[i]]; ok && s[0].StartedAt.Before(prev.Steps[0].FinishedAt) {
			t.Errorf("group %s: %s started its step at %v, before %s finished at %v", groups[i], x.ID, s[0].StartedAt, prev.ID, prev.Steps[0].FinishedAt)
		}
		last[groups[i]] = x
	}
}

// TestEngineConcurrencyGroups: each mode, on one engine, with a slow step.
func TestEngineConcurrencyGroups(t *testing.T) {
	for _, tt := range groupCases {
		t.Run("mode="+tt.mode, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				c := &calls{}
				h := start(t, pipeline.Config{Steps: registry(map[string]probeFunc{"s": sleepStep(10 * time.Second)}, c)})
				h.put(groupPipeline(tt.mode))
				var ids []string
				for i, g := range tt.groups {
					id, err := h.eng.Trigger(ctx, "grouped", event(t, events.TypeSchemaChanged, "ws", map[string]string{"g": g}))
					if err != nil {
						t.Fatal(err)
					}
					ids = append(ids, id)
					if i == 0 {
						synctest.Wait() // the first one runs its step
					}
				}
				var xs []store.Execution
				for _, id := range ids {
					xs = append(xs, h.wait(id))
				}
				if diff := cmp.Diff(statusesOf(xs), tt.want); diff != "" {
					t.Errorf("statuses (-got +want):\n%s", diff)
				}
				if _, peak := c.got(); peak != tt.peak {
					t.Errorf("peak %d steps at once; want %d", peak, tt.peak)
				}
				for _, x := range xs {
					if x.Status == store.StatusCancelled && !strings.Contains(x.Error, tt.errSub) {
						t.Errorf("cancelled execution %s error %q; want it to contain %q", x.ID, x.Error, tt.errSub)
					}
				}
				switch got := h.eng.Stats().GroupWaits; tt.mode {
				case "":
					if got != 0 {
						t.Errorf("Stats().GroupWaits = %d without concurrency; want 0", got)
					}
				case "queue":
					if got == 0 {
						t.Errorf("Stats().GroupWaits = 0; want the queued executions counted")
					}
				}
				if tt.mode != "" {
					checkGroupOrder(t, tt.groups, xs)
				}
				h.stop() // the run goroutines release the groups after the final write
				if ents, err := h.st.ListState(ctx, pipeline.GroupScope); err != nil || len(ents) != 0 {
					t.Errorf("group locks left after every execution ended: %+v, %v; want none", ents, err)
				}
			})
		})
	}
}

// TestEngineQueueOrderManyWaiting: more executions waiting for one group
// than the engine holds claims on still run one at a time in creation
// order, none dropped.
func TestEngineQueueOrderManyWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		c := &calls{}
		h := start(t, pipeline.Config{Workers: 1, Steps: registry(map[string]probeFunc{"s": sleepStep(time.Second)}, c)})
		h.put(groupPipeline("queue"))
		const n = 10 // Workers 1 claims 4 executions at once
		groups := make([]string, n)
		var ids []string
		for i := range n {
			groups[i] = "a"
			id, err := h.eng.Trigger(ctx, "grouped", event(t, events.TypeSchemaChanged, "ws", map[string]string{"g": "a"}))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
			if i == 0 {
				synctest.Wait() // the first one holds the group
			}
		}
		var xs []store.Execution
		for _, id := range ids {
			xs = append(xs, h.wait(id))
		}
		for _, x := range xs {
			if x.Status != store.StatusSucceeded {
				t.Errorf("execution %s: %s %q; want succeeded", x.ID, x.Status, x.Error)
			}
		}
		if order, peak := c.got(); len(order) != n || peak != 1 {
			t.Errorf("%d step runs, peak %d; want %d, 1", len(order), peak, n)
		}
		checkGroupOrder(t, groups, xs)
	})
}

// TestEngineGroupCancelWaiting: cancelling an execution waiting for its
// group ends it cancelled without running its step.
func TestEngineGroupCancelWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		c := &calls{}
		h := start(t, pipeline.Config{Steps: registry(map[string]probeFunc{"s": sleepStep(10 * time.Second)}, c)})
		h.put(groupPipeline("queue"))
		first, err := h.eng.Trigger(ctx, "grouped", event(t, events.TypeSchemaChanged, "ws", map[string]string{"g": "a"}))
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		second, err := h.eng.Trigger(ctx, "grouped", event(t, events.TypeSchemaChanged, "ws", map[string]string{"g": "a"}))
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if _, err := h.eng.Cancel(ctx, second); err != nil {
			t.Fatal(err)
		}
		if x := h.wait(second); x.Status != store.StatusCancelled {
			t.Errorf("cancelled waiting execution: %s; want cancelled", x.Status)
		}
		if x := h.wait(first); x.Status != store.StatusSucceeded {
			t.Errorf("holder: %s; want succeeded", x.Status)
		}
		if order, _ := c.got(); len(order) != 1 {
			t.Errorf("%d step runs; want 1 (the cancelled one never ran)", len(order))
		}
	})
}

// gate is a step that blocks until released or its ctx ends, telling the
// test when it has started.
type gate struct {
	started chan struct{} // one send per start
	release chan struct{} // closed to let every run finish
	once    sync.Once
}

func newGate() *gate { return &gate{started: make(chan struct{}, 16), release: make(chan struct{})} }

func (g *gate) step(ctx context.Context, _ steps.Input, _ probeConfig) (steps.Output, error) {
	g.started <- struct{}{}
	select {
	case <-g.release:
		return steps.Output{}, nil
	case <-ctx.Done():
		return steps.Output{}, ctx.Err()
	}
}

func (g *gate) open() { g.once.Do(func() { close(g.release) }) }

// TestEngineConcurrencyGroupsTwoEngines: each mode holds across two
// engines sharing one SQLite store: the first execution runs on a, the
// others are triggered through b, and either engine may claim them.
func TestEngineConcurrencyGroupsTwoEngines(t *testing.T) {
	for _, tt := range groupCases {
		t.Run("mode="+tt.mode, func(t *testing.T) {
			ctx := context.Background()
			st := openSQLite(t)
			g := newGate()
			defer g.open()
			c := &calls{}
			reg := registry(map[string]probeFunc{"s": g.step}, c)
			cfg := pipeline.Config{Store: st, Steps: reg, Lease: 3 * time.Second, PollInterval: 20 * time.Millisecond}
			cfg.Owner = "a"
			a := start(t, cfg)
			cfg.Owner = "b"
			b := start(t, cfg)
			a.put(groupPipeline(tt.mode))
			if err := b.eng.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for i, grp := range tt.groups {
				eng := b.eng
				if i == 0 {
					eng = a.eng
				}
				id, err := eng.Trigger(ctx, "grouped", event(t, events.TypeSchemaChanged, "ws", map[string]string{"g": grp}))
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
				if i == 0 {
					<-g.started
				}
			}
			// Let the steps finish once the waiting executions have been
			// refused their group at least once (or, in the modes that end
			// them, once they have ended).
			switch tt.mode {
			case "skip":
				a.wait(ids[1])
				a.wait(ids[2])
			case "cancel_in_progress":
				a.wait(ids[0]) // cancelled by the newer ones
				a.wait(ids[1]) // cancelled by the newest while its step blocks
			case "queue":
				waitFor(t, func() bool { return a.eng.Stats().GroupWaits+b.eng.Stats().GroupWaits >= 2 })
			default: // no group: all four run at once
				waitFor(t, func() bool { _, peak := c.got(); return peak == len(tt.groups) })
			}
			g.open()
			var xs []store.Execution
			for _, id := range ids {
				xs = append(xs, a.wait(id))
			}
			if diff := cmp.Diff(statusesOf(xs), tt.want); diff != "" {
				t.Errorf("statuses (-got +want):\n%s", diff)
			}
			if _, peak := c.got(); peak > tt.peak {
				t.Errorf("peak %d steps at once; want at most %d", peak, tt.peak)
			}
			if tt.mode != "" {
				checkGroupOrder(t, tt.groups, xs)
			}
			owners := map[string]int{}
			for _, x := range xs {
				owners[x.Owner]++
			}
			t.Logf("executions by owner: %v", owners)
		})
	}
}

// waitFor waits until cond holds, checking at every step of a short
// ticker; it fails the test after a minute (a hang, not a timing
// assertion).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(time.Minute)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatal("condition not reached within a minute")
		}
	}
}
