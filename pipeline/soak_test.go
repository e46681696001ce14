package pipeline_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/memory"
)

// soakEvents is how many events the soak test publishes: a short run by
// default, 100,000 with MOCKOPS_SOAK=1.
func soakEvents() int {
	if os.Getenv("MOCKOPS_SOAK") == "1" {
		return 100_000
	}
	return 4_000
}

// soakBehaviour draws what one attempt of one step does, from a hash of
// the event, the step and the attempt, so a run is reproducible whatever
// the goroutine order: mostly succeed; else fail (retryable), fail
// permanently, panic, time out honouring ctx, or ignore ctx past the
// grace period.
func soakBehaviour(in steps.Input) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%s/%s/%s/%d", in.Pipeline, in.Event.ID, in.StepID, in.Attempt)
	switch p := h.Sum32() % 100; {
	case p < 75:
		return "ok"
	case p < 87:
		return "fail"
	case p < 91:
		return "permanent"
	case p < 95:
		return "panic"
	case p < 98:
		return "timeout"
	default:
		return "ignore"
	}
}

const (
	soakStepTimeout = 20 * time.Millisecond
	soakGrace       = 10 * time.Millisecond
)

func soakStep(ctx context.Context, in steps.Input, _ probeConfig) (steps.Output, error) {
	switch soakBehaviour(in) {
	case "fail":
		return steps.Output{}, errBoom
	case "permanent":
		return steps.Output{}, steps.Permanent(errBoom)
	case "panic":
		panic("soak panic")
	case "timeout":
		<-ctx.Done()
		return steps.Output{}, ctx.Err()
	case "ignore":
		time.Sleep(soakStepTimeout + 2*soakGrace) // ignores ctx, but ends: goleak must see it gone
		return steps.Output{}, nil
	}
	return steps.Output{Outputs: map[string]any{"n": in.Attempt}}, nil
}

// soakPipelines: every event runs soak-a (two chained steps), even ones
// also run soak-b (one); each ends with an always() step, mark, that
// counts the (pipeline, event) it ran for, which is how the retention run,
// whose records are pruned, checks that each ran once. mark has a long
// timeout of its own: on a loaded machine a 20ms budget can pass before a
// step's goroutine is even scheduled, and a retried mark would count twice.
var soakPipelines = []string{
	"name: soak-a\non: [{event: acme.soak}]\nconcurrency: {group: \"${{ event.id }}\"}\n" +
		"defaults: {timeout: 20ms, retry: {attempts: 2, backoff: 1ms, max_backoff: 2ms}}\nsteps:\n" +
		"  - {id: one, uses: probe, with: {key: soak}}\n" +
		"  - {id: two, uses: probe, with: {key: soak}}\n" +
		"  - {id: mark, uses: probe, if: always(), timeout: 1m, with: {key: mark}}\n",
	"name: soak-b\non: [{event: acme.soak, if: event.data.n % 2 == 0}]\nconcurrency: {group: \"${{ event.id }}\"}\n" +
		"defaults: {timeout: 20ms}\nsteps:\n" +
		"  - {id: one, uses: probe, with: {key: soak}}\n" +
		"  - {id: mark, uses: probe, if: always(), timeout: 1m, with: {key: mark}}\n",
}

// heapSampler samples the live heap every interval until stopped, and
// keeps the peak.
type heapSampler struct {
	stop chan struct{}
	done chan struct{}
	peak uint64
}

func sampleHeap(interval time.Duration) *heapSampler {
	s := &heapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			metrics.Read(sample)
			s.peak = max(s.peak, sample[0].Value.Uint64())
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *heapSampler) Stop() uint64 {
	close(s.stop)
	<-s.done
	return s.peak
}

// marks counts the mark steps run, per (pipeline, event).
type marks struct {
	mu  sync.Mutex
	n   map[[2]string]int
	who map[[2]string][]string // execution/attempt of each run
}

func (m *marks) step(_ context.Context, in steps.Input, _ probeConfig) (steps.Output, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{in.Pipeline, in.Event.ID}
	m.n[k]++
	m.who[k] = append(m.who[k], in.IdempotencyKey)
	return steps.Output{}, nil
}

// TestEngineSoak publishes many events through the memory bus and store,
// one in a hundred twice, to pipelines whose steps randomly fail, panic,
// time out or ignore their ctx: every matching (pipeline, event) ends
// with exactly one execution, in a terminal state; no goroutine outlives
// the engine; the heap's peak is logged. With MOCKOPS_SOAK=1 it runs a
// second time with Retention pruning finished executions as it goes,
// which is what bounds the heap (the first run keeps every record).
func TestEngineSoak(t *testing.T) {
	modes := []time.Duration{0}
	if os.Getenv("MOCKOPS_SOAK") == "1" {
		modes = append(modes, 500*time.Millisecond)
	}
	for _, retention := range modes {
		t.Run(fmt.Sprintf("retention=%v", retention), func(t *testing.T) { soak(t, retention) })
	}
}

func soak(t *testing.T, retention time.Duration) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	n := soakEvents()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()

	runtime.GC()
	heap := sampleHeap(50 * time.Millisecond)
	began := time.Now()
	st := memory.New()
	bus := events.NewMemoryBus(events.MemoryConfig{})
	m := &marks{n: map[[2]string]int{}, who: map[[2]string][]string{}}
	eng, err := pipeline.NewEngine(pipeline.Config{
		Store: st, Bus: bus, Workers: 32, Grace: soakGrace, PollInterval: 100 * time.Millisecond,
		Steps:     registry(map[string]probeFunc{"soak": soakStep, "mark": m.step}, nil),
		Retention: retention, PruneInterval: 250 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	runErr := make(chan error, 1)
	wg.Go(func() { runErr <- eng.Run(ctx) })
	<-eng.Ready()
	for _, src := range soakPipelines {
		if _, err := eng.PutSource(ctx, "soak.yaml", []byte(src), store.AnyVersion); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]int{}
	wantMarks := map[[2]string]bool{}
	for i := range n {
		ev, err := events.New("acme.soak", "ws", map[string]int{"n": i})
		if err != nil {
			t.Fatal(err)
		}
		copies := 1
		if i%100 == 7 {
			copies = 2 // a duplicate delivery: still one execution
		}
		for range copies {
			if err := bus.Publish(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
		want["soak-a"]++
		wantMarks[[2]string{"soak-a", ev.ID}] = true
		if i%2 == 0 {
			want["soak-b"]++
			wantMarks[[2]string{"soak-b", ev.ID}] = true
		}
	}
	total := int64(want["soak-a"] + want["soak-b"])
	// Wait for the engine to have finished them all: its own counter, so
	// the wait costs no listing of the store.
	for {
		var finished int64
		for _, c := range eng.Stats().Executions {
			finished += c
		}
		if finished >= total {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d of %d executions finished before the deadline", finished, total)
		case <-time.After(20 * time.Millisecond):
		}
	}
	elapsed := time.Since(began)
	if err := eng.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	wg.Wait()
	if err := <-runErr; err != nil {
		t.Errorf("Run = %v", err)
	}
	if err := bus.Shutdown(ctx); err != nil {
		t.Errorf("bus Shutdown = %v", err)
	}
	stats := eng.Stats()
	// Abandoned steps end on their own shortly; wait for them before the
	// heap and goroutine checks.
	for eng.Stats().StepGoroutines > 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("%d step goroutines never ended", eng.Stats().StepGoroutines)
		case <-time.After(10 * time.Millisecond):
		}
	}
	peak := heap.Stop()

	byStatus := map[store.Status]int{}
	for name, w := range want {
		xs := listAll(t, st, name)
		seen := make(map[string]bool, len(xs))
		for _, x := range xs {
			if seen[x.EventID] {
				t.Errorf("%s: two executions for event %s", name, x.EventID)
			}
			seen[x.EventID] = true
			if !x.Status.Terminal() {
				t.Errorf("%s: execution %s is %s", name, x.ID, x.Status)
			}
			byStatus[x.Status]++
		}
		if retention == 0 && len(xs) != w {
			t.Errorf("%s: %d executions; want %d", name, len(xs), w)
		}
	}
	m.mu.Lock()
	for k := range wantMarks {
		if got := m.n[k]; got != 1 {
			t.Errorf("%v: mark step ran %d times (%v); want once", k, got, m.who[k])
		}
	}
	if len(m.n) != len(wantMarks) {
		t.Errorf("mark ran for %d (pipeline, event) pairs; want %d", len(m.n), len(wantMarks))
	}
	m.mu.Unlock()
	if bs := bus.Stats(); bs.Dropped != 0 || bs.Failed != 0 || bs.Panics != 0 {
		t.Errorf("bus stats %+v; want no drop, failure or panic", bs)
	}
	if stats.Duplicates == 0 {
		t.Error("Stats().Duplicates = 0; want the duplicated events counted")
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	t.Logf("%d events, %d executions in %v (%.0f executions/s): by status %v (%v stored, %d pruned); steps %v; retries %d, abandoned %d, duplicates %d",
		n, total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), stats.Executions, byStatus, stats.Pruned, stats.Steps, stats.Retries, stats.Abandoned, stats.Duplicates)
	t.Logf("heap: peak %.1f MiB sampled every 50ms (%.0f B per execution); %.1f MiB live after GC with the store and the marks still held",
		float64(peak)/(1<<20), float64(peak)/float64(total), float64(ms.HeapAlloc)/(1<<20))
	runtime.KeepAlive(st)
}
