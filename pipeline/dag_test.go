package pipeline

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestDAGReachesMatchesWalk checks the linear ancestry (Euler tour plus a
// pruned walk) against the obvious oracle, a full walk of each step's
// needs, on random acyclic graphs of every shape: chains, trees, fan-ins.
func TestDAGReachesMatchesWalk(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 300 {
		n := 1 + rng.IntN(40)
		g := &dag{index: map[string]int{}, needs: make([][]int, n)}
		for i := range n {
			id := fmt.Sprintf("s%d", i)
			g.index[id] = i
			g.ids = append(g.ids, id)
			// Needs point at earlier steps, so the graph is acyclic; the
			// order of a step's needs is random, so the forest's parent
			// (the first need) is not always the nearest.
			g.needs[i] = rng.Perm(i)[:rng.IntN(min(i, 3)+1)]
		}
		if _, cycles := g.sort(); len(cycles) != 0 {
			t.Fatalf("round %d: sort found cycles %v in an acyclic graph", round, cycles)
		}
		for v := range n {
			want := make([]bool, n)
			var walk func(int)
			walk = func(u int) {
				for _, w := range g.needs[u] {
					if !want[w] {
						want[w] = true
						walk(w)
					}
				}
			}
			walk(v)
			for a := range n {
				if got := g.reaches(v, a); got != want[a] {
					t.Fatalf("round %d: reaches(%d, %d) = %v; want %v (needs %v)", round, v, a, got, want[a], g.needs)
				}
			}
		}
	}
}

// TestDAGCyclesReportedOnce checks that each strongly connected group of
// steps yields one cycle, whatever the number of back edges into it.
func TestDAGCyclesReportedOnce(t *testing.T) {
	tests := []struct {
		name  string
		needs [][]int
		want  []string
	}{
		{"triangle", [][]int{{2}, {0}, {1}}, []string{"s0 -> s2 -> s1 -> s0"}},
		{"two loops", [][]int{{1}, {0}, {3}, {2}}, []string{"s0 -> s1 -> s0", "s2 -> s3 -> s2"}},
		// Every step needs every other: n(n-1) edges, one group.
		{"clique", [][]int{{1, 2, 3}, {0, 2, 3}, {0, 1, 3}, {0, 1, 2}}, []string{"s0 -> s1 -> s0 (4 steps in all need each other)"}},
		{"acyclic", [][]int{{}, {0}, {0, 1}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &dag{index: map[string]int{}, needs: tt.needs}
			for i := range tt.needs {
				g.ids = append(g.ids, fmt.Sprintf("s%d", i))
				g.index[g.ids[i]] = i
			}
			_, cycles := g.sort()
			var got []string
			for _, c := range cycles {
				got = append(got, g.describe(c))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("cycles = %q; want %q", got, tt.want)
			}
		})
	}
}

// TestDAGCyclesMatchReachability checks sort's cycles on random graphs
// against the obvious oracle: two steps are in one loop when each reaches
// the other. Every loop is reported once, by a path whose edges exist.
func TestDAGCyclesMatchReachability(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 300 {
		n := 1 + rng.IntN(25)
		g := &dag{index: map[string]int{}, needs: make([][]int, n)}
		for i := range n {
			g.ids = append(g.ids, fmt.Sprintf("s%d", i))
			g.index[g.ids[i]] = i
			for _, j := range rng.Perm(n)[:rng.IntN(min(n, 3))] {
				if j != i {
					g.needs[i] = append(g.needs[i], j)
				}
			}
		}
		reach := make([][]bool, n)
		for v := range n {
			reach[v] = make([]bool, n)
			var walk func(int)
			walk = func(u int) {
				for _, w := range g.needs[u] {
					if !reach[v][w] {
						reach[v][w] = true
						walk(w)
					}
				}
			}
			walk(v)
		}
		groups := map[int]int{} // smallest member -> size
		for v := range n {
			lowest, size := v, 0
			for w := range n {
				if w == v || (reach[v][w] && reach[w][v]) {
					lowest, size = min(lowest, w), size+1
				}
			}
			if size > 1 {
				groups[lowest] = size
			}
		}
		order, cycles := g.sort()
		if len(order) != n {
			t.Fatalf("round %d: order has %d steps; want %d", round, len(order), n)
		}
		if len(cycles) != len(groups) {
			t.Fatalf("round %d: %d cycles; want %d (needs %v)", round, len(cycles), len(groups), g.needs)
		}
		for _, c := range cycles {
			lowest := c.path[0]
			for i, v := range c.path {
				lowest = min(lowest, v)
				next := c.path[(i+1)%len(c.path)]
				if !slices.Contains(g.needs[v], next) {
					t.Fatalf("round %d: cycle %v: %d does not need %d", round, c.path, v, next)
				}
			}
			if c.at != c.path[len(c.path)-1] {
				t.Errorf("round %d: cycle %v reported at %d; want its last step", round, c.path, c.at)
			}
			// The group's smallest member need not be on the path shown.
			found := false
			for low, size := range groups {
				if reach[low][lowest] && reach[lowest][low] && size == c.size {
					found = true
				}
			}
			if !found {
				t.Errorf("round %d: cycle %v (size %d) matches no loop %v", round, c.path, c.size, groups)
			}
		}
	}
}
