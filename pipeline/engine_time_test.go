package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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
	"github.com/mockops/mockops/store/memory"
)

// The tests in this file depend on time; they run in a synctest bubble on
// the memory store, whose clock is the bubble's.

func sleepStep(d time.Duration) probeFunc {
	return func(ctx context.Context, _ steps.Input, _ probeConfig) (steps.Output, error) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return steps.Output{}, nil
		case <-ctx.Done():
			return steps.Output{}, ctx.Err()
		}
	}
}

func TestEngineParallelismBound(t *testing.T) {
	tests := []struct {
		workers, want int
	}{{1, 1}, {2, 2}, {8, 5}}
	for _, tt := range tests {
		synctest.Test(t, func(t *testing.T) {
			c := &calls{}
			h := start(t, pipeline.Config{Workers: tt.workers, Steps: registry(map[string]probeFunc{"s": sleepStep(time.Second)}, c)})
			h.put(`name: wide
on: [{event: schema.changed}]
steps:
  - {id: s1, uses: probe, needs: [], with: {key: s}}
  - {id: s2, uses: probe, needs: [], with: {key: s}}
  - {id: s3, uses: probe, needs: [], with: {key: s}}
  - {id: s4, uses: probe, needs: [], with: {key: s}}
  - {id: s5, uses: probe, needs: [], with: {key: s}}
`)
			start := time.Now()
			x := h.trigger("wide", events.Event{})
			_, peak := c.got()
			if peak != tt.want || x.Status != store.StatusSucceeded {
				t.Errorf("Workers %d: peak %d parallel steps, %s; want %d, succeeded", tt.workers, peak, x.Status, tt.want)
			}
			if got, want := time.Since(start), time.Duration((5+tt.want-1)/tt.want)*time.Second; got != want {
				t.Errorf("Workers %d: took %v; want %v", tt.workers, got, want)
			}
		})
	}
}

func TestEngineTimeouts(t *testing.T) {
	tests := []struct {
		name       string
		src        string
		wantStatus store.Status
		wantStep   store.Status
		wantErr    string
		took       time.Duration
	}{
		{"step timeout", "steps: [{id: s, uses: probe, timeout: 2s, with: {key: slow}}]\n",
			store.StatusFailed, store.StatusTimedOut, "step timed out", 2 * time.Second},
		{"step ignores ctx", "steps: [{id: s, uses: probe, timeout: 2s, with: {key: deaf}}]\n",
			store.StatusFailed, store.StatusTimedOut, "abandoned", 2*time.Second + 3*time.Second},
		{"pipeline timeout", "timeout: 3s\nsteps:\n  - {id: s, uses: probe, timeout: 1h, with: {key: slow}}\n  - {id: after, uses: probe, with: {key: x}}\n",
			store.StatusTimedOut, store.StatusTimedOut, "execution timed out", 3 * time.Second},
	}
	for _, tt := range tests {
		synctest.Test(t, func(t *testing.T) {
			release := make(chan struct{}) // of the bubble, so waiting on it is durable
			funcs := map[string]probeFunc{
				"slow": sleepStep(time.Hour),
				"deaf": func(context.Context, steps.Input, probeConfig) (steps.Output, error) {
					<-release // ignores its ctx
					return steps.Output{}, nil
				},
			}
			h := start(t, pipeline.Config{Grace: 3 * time.Second, Steps: registry(funcs, nil)})
			h.put("name: to\non: [{event: schema.changed}]\n" + tt.src)
			start := time.Now()
			x := h.trigger("to", events.Event{})
			s := stepRun(t, x, "s")
			if x.Status != tt.wantStatus || s.Status != tt.wantStep || !strings.Contains(s.Error, tt.wantErr) {
				t.Errorf("%s: execution %s, step %s (%q); want %s, %s (%q)", tt.name, x.Status, s.Status, s.Error, tt.wantStatus, tt.wantStep, tt.wantErr)
			}
			if got := time.Since(start); got != tt.took {
				t.Errorf("%s: took %v; want %v", tt.name, got, tt.took)
			}
			if tt.name == "pipeline timeout" && stepRun(t, x, "after").Status != store.StatusSkipped {
				t.Errorf("step after the pipeline timeout = %s; want skipped", stepRun(t, x, "after").Status)
			}
			if tt.name == "step ignores ctx" {
				if st := h.eng.Stats(); st.Abandoned != 1 || st.StepGoroutines != 1 {
					t.Errorf("Stats: abandoned %d, step goroutines %d; want 1, 1", st.Abandoned, st.StepGoroutines)
				}
				close(release)
				synctest.Wait()
				if n := h.eng.Stats().StepGoroutines; n != 0 {
					t.Errorf("step goroutines after the step returned = %d; want 0", n)
				}
			}
		})
	}
}

func TestEngineRetryBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var at []time.Time
		h := start(t, pipeline.Config{Steps: registry(map[string]probeFunc{
			"fail": func(context.Context, steps.Input, probeConfig) (steps.Output, error) {
				mu.Lock()
				defer mu.Unlock()
				at = append(at, time.Now())
				return steps.Output{}, errBoom
			},
		}, nil)})
		h.put(`name: retry
on: [{event: schema.changed}]
steps: [{id: s, uses: probe, retry: {attempts: 5, backoff: 1s, max_backoff: 3s}, with: {key: fail}}]
`)
		// Full jitter: the gap before attempt n+1 is in [0, min(3s, 1s*2^(n-1))].
		ceilings := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second}
		for run := range 20 {
			at = nil
			x := h.trigger("retry", events.Event{ID: "ev-" + string(rune('a'+run))})
			if s := stepRun(t, x, "s"); s.Attempts != 5 || len(at) != 5 {
				t.Fatalf("attempts recorded %d, made %d; want 5", s.Attempts, len(at))
			}
			for i, c := range ceilings {
				if gap := at[i+1].Sub(at[i]); gap < 0 || gap > c {
					t.Errorf("gap before attempt %d = %v; want within [0, %v]", i+2, gap, c)
				}
			}
		}
		if got := h.eng.Stats().Retries; got != 20*4 {
			t.Errorf("Stats().Retries = %d; want 80", got)
		}
	})
}

func TestEngineCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, pipeline.Config{Steps: registry(map[string]probeFunc{"slow": sleepStep(time.Hour)}, nil)})
		h.put(`name: cancel
on: [{event: schema.changed}]
steps:
  - {id: s, uses: probe, with: {key: slow}}
  - {id: next, uses: probe, with: {key: x}}
  - {id: cleanup, uses: probe, if: cancelled(), with: {key: x}}
`)
		id, err := h.eng.Trigger(context.Background(), "cancel", events.Event{})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // the step is running
		if _, err := h.eng.Cancel(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		x := h.wait(id)
		want := map[string]store.Status{"s": store.StatusCancelled, "next": store.StatusSkipped, "cleanup": store.StatusSucceeded}
		if diff := cmp.Diff(want, stepStatuses(x)); x.Status != store.StatusCancelled || diff != "" {
			t.Errorf("execution %s; want cancelled; steps (-want +got):\n%s", x.Status, diff)
		}
	})
}

func TestEngineCausationLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := memory.New()
		h := start(t, pipeline.Config{Store: st, MaxDepth: 3, Steps: registry(map[string]probeFunc{
			"emit": func(ctx context.Context, in steps.Input, _ probeConfig) (steps.Output, error) {
				ev, err := events.New("acme.loop", "ws", map[string]any{})
				if err != nil {
					return steps.Output{}, err
				}
				return steps.Output{}, in.Publisher.Publish(ctx, ev)
			},
		}, nil)})
		h.put(`name: loop
on: [{event: acme.loop}]
steps: [{id: a, uses: probe, with: {key: emit}}]
`)
		if err := h.bus.Publish(context.Background(), event(t, "acme.loop", "ws", map[string]any{})); err != nil {
			t.Fatal(err)
		}
		deep := event(t, "acme.loop", "ws", map[string]any{})
		deep.Extensions = map[string]string{events.ExtDepth: "4"}
		if err := h.bus.Publish(context.Background(), deep); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		h.stop()
		byDepth := map[int]store.Status{}
		for _, x := range listAll(t, st, "loop") {
			byDepth[x.Event.Depth()] = x.Status
			if d := x.Event.Depth(); d > 0 && x.Event.Extensions[events.ExtCausationID] == "" {
				t.Errorf("event at depth %d has no causation id", d)
			}
		}
		// Depths 0 to 3 run; the run at depth 3 cannot emit depth 4, and
		// the published depth-4 event starts nothing.
		want := map[int]store.Status{0: store.StatusSucceeded, 1: store.StatusSucceeded, 2: store.StatusSucceeded, 3: store.StatusFailed}
		if diff := cmp.Diff(want, byDepth); diff != "" {
			t.Errorf("executions by depth (-want +got):\n%s", diff)
		}
		if got := h.eng.Stats().DepthRefused; got != 1 {
			t.Errorf("Stats().DepthRefused = %d; want 1", got)
		}
	})
}

func TestEngineShutdownDrains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, pipeline.Config{Steps: registry(map[string]probeFunc{"slow": sleepStep(time.Minute)}, nil)})
		h.put("name: drain\non: [{event: schema.changed}]\nsteps: [{id: s, uses: probe, with: {key: slow}}]\n")
		id, err := h.eng.Trigger(context.Background(), "drain", events.Event{})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		start := time.Now()
		h.stop() // no deadline: waits for the step
		if got := time.Since(start); got != time.Minute {
			t.Errorf("Shutdown took %v; want the step's remaining minute", got)
		}
		x, err := h.st.GetExecution(context.Background(), id)
		if err != nil || x.Status != store.StatusSucceeded {
			t.Errorf("after Shutdown: %s, %v; want succeeded", x.Status, err)
		}
		if _, err := h.eng.Trigger(context.Background(), "drain", events.Event{}); !errors.Is(err, pipeline.ErrStopped) {
			t.Errorf("Trigger after Shutdown = %v; want ErrStopped", err)
		}
	})
}

// TestEngineLeases: a claim whose owner died is rescued once its lease
// expires; a live owner's renewals keep another engine off its execution.
func TestEngineLeases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		st := memory.New()
		c := &calls{}
		reg := registry(map[string]probeFunc{"slow": sleepStep(20 * time.Second)}, c)
		// One group per event, so the rescued execution does not queue
		// behind the live one.
		src := "name: lease\non: [{event: schema.changed}]\nconcurrency: {group: \"${{ event.id }}\"}\nsteps: [{id: s, uses: probe, with: {key: slow}}]\n"
		a := start(t, pipeline.Config{Store: st, Owner: "a", Lease: 3 * time.Second, PollInterval: time.Hour, Steps: reg})
		a.put(src)
		live, err := a.eng.Trigger(ctx, "lease", events.Event{})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		// A dead owner: claims and never writes again.
		dead, err := st.CreateExecution(ctx, store.Execution{Pipeline: "lease", Version: 1, EventID: "dead-event"})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := st.ClaimExecutions(ctx, "ghost", 3*time.Second, 1); err != nil || len(got) != 1 || got[0].ID != dead.ID {
			t.Fatalf("ghost claim = %v, %v; want the dead execution", got, err)
		}
		// b polls every second while a renews its claim of live.
		b := start(t, pipeline.Config{Store: st, Owner: "b", Lease: 3 * time.Second, PollInterval: time.Second, Steps: reg})
		x := b.wait(dead.ID)
		if x.Status != store.StatusSucceeded || x.Owner != "b" || x.Attempt != 2 {
			t.Errorf("rescued execution: %s owner %s attempt %d; want succeeded by b at attempt 2", x.Status, x.Owner, x.Attempt)
		}
		x = a.wait(live)
		if x.Owner != "a" || x.Attempt != 1 || x.Status != store.StatusSucceeded {
			t.Errorf("renewed execution: %s owner %s attempt %d; want succeeded by a at attempt 1", x.Status, x.Owner, x.Attempt)
		}
		if order, _ := c.got(); len(order) != 2 {
			t.Errorf("the step ran %d times; want twice (one per execution)", len(order))
		}
	})
}

// TestEngineResumeAfterShutdown: an engine stopped mid-execution leaves
// it for the next, which does not run the finished steps again.
func TestEngineResumeAfterShutdown(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run(sk.name, func(t *testing.T) {
			st := sk.open(t)
			c := &calls{}
			blocked := make(chan struct{}, 1)
			reg := registry(map[string]probeFunc{
				"block": func(ctx context.Context, in steps.Input, _ probeConfig) (steps.Output, error) {
					if in.Attempt == 1 {
						blocked <- struct{}{}
						<-ctx.Done()
						return steps.Output{}, ctx.Err()
					}
					return steps.Output{Outputs: map[string]any{"attempt": in.Attempt}}, nil
				},
			}, c)
			src := "name: resume\non: [{event: schema.changed}]\nsteps:\n  - {id: a, uses: probe, with: {key: a}}\n  - {id: b, uses: probe, with: {key: block}}\n  - {id: c, uses: probe, with: {key: c}}\n"
			first := start(t, pipeline.Config{Store: st, Owner: "first", Steps: reg})
			first.put(src)
			id, err := first.eng.Trigger(context.Background(), "resume", events.Event{})
			if err != nil {
				t.Fatal(err)
			}
			<-blocked
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // no time to drain: interrupt at once
			if err := first.eng.Shutdown(ctx); !errors.Is(err, context.Canceled) {
				t.Errorf("Shutdown(ended ctx) = %v; want context.Canceled", err)
			}
			first.stop()
			x, err := st.GetExecution(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]store.Status{"a": store.StatusSucceeded, "b": store.StatusRunning, "c": store.StatusQueued}
			if diff := cmp.Diff(want, stepStatuses(x)); x.Status != store.StatusRunning || diff != "" {
				t.Fatalf("interrupted execution %s; want running; steps (-want +got):\n%s", x.Status, diff)
			}
			second := start(t, pipeline.Config{Store: st, Owner: "second", Steps: reg})
			x = second.wait(id)
			if x.Status != store.StatusSucceeded || x.Owner != "second" {
				t.Errorf("resumed execution %s by %s; want succeeded by second", x.Status, x.Owner)
			}
			if got := stepRun(t, x, "b").Attempts; got != 2 {
				t.Errorf("step b attempts = %d; want 2 (the interrupted one and the resumed one)", got)
			}
			order, _ := c.got()
			if diff := cmp.Diff([]string{"a", "block", "block", "c"}, order); diff != "" {
				t.Errorf("steps run (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEngineReplicas: two engines on one store and one bus run every
// (pipeline, event) once; a definition put through one reaches the other
// at its next poll; a cancel asked of one reaches an execution the other
// runs at that one's next lease renewal.
func TestEngineReplicas(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		st := memory.New()
		bus := events.NewMemoryBus(events.MemoryConfig{})
		defer bus.Close()
		c := &calls{}
		reg := registry(map[string]probeFunc{"slow": sleepStep(time.Hour)}, c)
		a := start(t, pipeline.Config{Store: st, Bus: bus, Owner: "a", Steps: reg})
		b := start(t, pipeline.Config{Store: st, Bus: bus, Owner: "b", Lease: 3 * time.Second, Steps: reg})
		a.put(onePipeline)
		if ds, _ := b.eng.Test(ctx, event(t, events.TypeSchemaChanged, "ws", nil)); len(ds) != 0 {
			t.Errorf("b knows %d pipelines before its poll; want 0 (the test must see the poll)", len(ds))
		}
		time.Sleep(pipeline.DefaultPollInterval)
		synctest.Wait()
		if ds, _ := b.eng.Test(ctx, event(t, events.TypeSchemaChanged, "ws", nil)); len(ds) != 1 || !ds[0].Matched {
			t.Fatalf("b after its poll: %+v; want pipeline one matched", ds)
		}
		const n = 50
		for range n {
			if err := bus.Publish(ctx, event(t, events.TypeSchemaChanged, "ws", nil)); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		xs := listAll(t, st, "one")
		owners := map[string]int{}
		for _, x := range xs {
			x = a.wait(x.ID)
			owners[x.Owner]++
			if x.Status != store.StatusSucceeded {
				t.Errorf("execution %s: %s", x.ID, x.Status)
			}
		}
		if order, _ := c.got(); len(xs) != n || len(order) != n {
			t.Errorf("%d executions, %d step runs for %d events; want %d of each", len(xs), len(order), n, n)
		}
		t.Logf("executions by owner: %v", owners)

		a.put("name: slow\non: [{event: acme.slow}]\nsteps: [{id: s, uses: probe, with: {key: slow}}]\n")
		a.stop() // only b runs from now on
		time.Sleep(pipeline.DefaultPollInterval)
		id, err := b.eng.Trigger(ctx, "slow", events.Event{})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if _, err := a.eng.Cancel(ctx, id); err != nil { // a runs nothing: b must learn of it
			t.Fatal(err)
		}
		start := time.Now()
		x := b.wait(id)
		if x.Status != store.StatusCancelled || time.Since(start) > time.Second {
			t.Errorf("remotely cancelled execution: %s after %v; want cancelled within one renewal (1s)", x.Status, time.Since(start))
		}
	})
}

func TestEnginePipelineStats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, pipeline.Config{Steps: registry(map[string]probeFunc{
			"wait": func(ctx context.Context, in steps.Input, cfg probeConfig) (steps.Output, error) {
				secs, err := strconv.ParseFloat(fmt.Sprint(cfg.Value), 64)
				if err != nil {
					return steps.Output{}, err
				}
				if secs < 0 {
					return steps.Output{}, steps.Permanent(errBoom)
				}
				return sleepStep(time.Duration(secs)*time.Second)(ctx, in, cfg)
			},
		}, nil)})
		ctx := context.Background()
		if st, err := h.eng.PipelineStats(ctx, "stats"); err != nil || st.SuccessRate != nil || st.Finished != 0 {
			t.Errorf("PipelineStats before any run = %+v, %v; want nothing finished, no rate", st, err)
		}
		h.put("name: stats\non: [{event: schema.changed}]\nsteps: [{id: s, uses: probe, with: {key: wait, value: \"${{ event.data.secs }}\"}}]\n")
		// Durations 1s..19s and one failure (0s): the 10th and 19th of 20 are 9s and 18s.
		for _, secs := range []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, -1} {
			h.trigger("stats", event(t, events.TypeSchemaChanged, "ws", map[string]any{"secs": secs}))
		}
		st, err := h.eng.PipelineStats(ctx, "stats")
		if err != nil {
			t.Fatal(err)
		}
		rate := 0.95
		want := pipeline.PipelineStats{
			Pipeline: "stats", ByStatus: map[store.Status]int{store.StatusSucceeded: 19, store.StatusFailed: 1},
			Finished: 20, SuccessRate: &rate, P50: 9 * time.Second, P95: 18 * time.Second,
		}
		if diff := cmp.Diff(want, st); diff != "" {
			t.Errorf("PipelineStats mismatch (-want +got):\n%s", diff)
		}
	})
}

// TestEngineRunCtxEnds: when Run's ctx ends, Run interrupts what is in
// flight, releases it, and returns ctx's error after its goroutines end.
func TestEngineRunCtxEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := memory.New()
		eng, err := pipeline.NewEngine(pipeline.Config{Store: st, Steps: registry(map[string]probeFunc{"slow": sleepStep(time.Hour)}, nil)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := eng.PutSource(context.Background(), "t.yaml", []byte("name: slow\non: [{event: acme.slow}]\nsteps: [{id: s, uses: probe, with: {key: slow}}]\n"), 0); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- eng.Run(ctx) }()
		<-eng.Ready()
		id, err := eng.Trigger(context.Background(), "slow", events.Event{})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run after its ctx ended = %v; want context.Canceled", err)
		}
		x, err := st.GetExecution(context.Background(), id)
		if err != nil || x.Status != store.StatusRunning || x.LeaseUntil.After(time.Now()) {
			t.Errorf("interrupted execution: %s, lease until %v (now %v), %v; want running with its lease released", x.Status, x.LeaseUntil, time.Now(), err)
		}
		if err := eng.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown after Run returned = %v; want nil", err)
		}
	})
}
