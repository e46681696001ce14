package pipeline_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mockops/mockops/pipeline"
)

// stepChain is a definition of n steps in a chain of implicit edges, with
// every step after the first reading the outcome of a step halfway back
// and every tenth step waiting for two steps (a fan-in), so parsing checks
// ancestry on a DAG that is not a tree.
func stepChain(n int) []byte {
	var b strings.Builder
	b.WriteString("name: long\non:\n  - event: schema.changed\nsteps:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - id: s%d\n    uses: emit\n    with: {type: x.y}\n", i)
		if i > 0 {
			fmt.Fprintf(&b, "    if: steps.s%d.outcome == \"success\"\n", i/2)
		}
		if i >= 2 && i%10 == 0 {
			fmt.Fprintf(&b, "    needs: [s%d, s%d]\n", i-1, i-2)
		}
	}
	return []byte(b.String())
}

// BenchmarkParseSteps parses definitions of 1,000 and 10,000 steps with
// the parser (linear-N) and, as the baseline, with the ancestry check that
// parsing used before, every step's ancestor set walked from scratch
// (quadratic-N; about a minute per parse at 10,000 steps).
func BenchmarkParseSteps(b *testing.B) {
	linear := newParser()
	quadratic := pipeline.QuadraticBaseline(linear)
	for _, n := range []int{1000, 10000} {
		src := stepChain(n)
		for _, c := range []struct {
			name string
			p    *pipeline.Parser
		}{{"linear", linear}, {"quadratic", quadratic}} {
			b.Run(fmt.Sprintf("%s-%d", c.name, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.p.Parse("long.yaml", src); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
