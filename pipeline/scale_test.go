package pipeline_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/mockops/mockops/pipeline"
)

// allocatedBy returns the bytes f allocates.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestParseIsLinearInSteps checks that parsing four times the steps
// allocates about four times the memory. The ancestry check used to grow
// with the square of the steps (every step built its whole ancestor set),
// and 4,000 steps allocated 9.7 times what 1,000 did. Allocation, unlike
// time, does not depend on the machine; BenchmarkParseSteps gives the
// figures.
func TestParseIsLinearInSteps(t *testing.T) {
	p := newParser()
	size := func(n int) uint64 {
		src := stepChain(n)
		return allocatedBy(func() {
			if _, err := p.Parse("long.yaml", src); err != nil {
				t.Fatal(err)
			}
		})
	}
	size(10) // the expression environment is built on first use
	small, large := size(1000), size(4000)
	if ratio := float64(large) / float64(small); ratio > 6 {
		t.Errorf("parsing 4000 steps allocates %.1f times what 1000 do (%d vs %d bytes); want about 4", ratio, large, small)
	}
}

// TestCycleDiagnosticsAreBounded parses a definition whose steps all need
// each other in one loop, through thousands of back edges: the cycle is
// reported once, naming a bounded number of steps.
func TestCycleDiagnosticsAreBounded(t *testing.T) {
	const n = 3000
	var b strings.Builder
	b.WriteString("name: loop\non:\n  - event: schema.changed\nsteps:\n")
	for i := range n {
		// Each step needs the next and the first: a loop through every
		// step, and a back edge to s0 from each of them.
		fmt.Fprintf(&b, "  - {id: s%d, uses: emit, with: {type: x.y}, needs: [s%d, s0]}\n", i, (i+1)%n)
	}
	_, err := newParser().Parse("loop.yaml", []byte(b.String()))
	var list pipeline.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("Parse(loop) = %v; want an ErrorList", err)
	}
	var cycles []string
	for _, e := range list {
		if strings.Contains(e.Msg, "cycle") {
			cycles = append(cycles, e.Error())
		}
	}
	if len(cycles) != 1 {
		t.Fatalf("Parse(loop) reported %d cycles; want 1:\n%s", len(cycles), strings.Join(cycles[:min(len(cycles), 3)], "\n"))
	}
	want := "loop.yaml:3004:55: needs: cycle s0 -> s1 -> s2 -> s3 -> ... (2993 more) -> s2997 -> s2998 -> s2999 -> s0"
	if cycles[0] != want {
		t.Errorf("cycle diagnostic = %q; want %q", cycles[0], want)
	}
	if len(err.Error()) > 4096 {
		t.Errorf("Parse(loop) error is %d bytes; want at most 4096", len(err.Error()))
	}
}
