package pipeline

import (
	"fmt"
	"strings"
)

// dag is the step graph of one definition: node i is the i-th distinct
// step id, needs[i] the nodes it waits for. Everything here is linear in
// steps plus edges (Tarjan's strongly connected components for the order
// and for cycles, an Euler tour for ancestry), because a definition can
// hold tens of thousands of steps and arrives through admin APIs.
type dag struct {
	ids   []string
	index map[string]int
	needs [][]int

	// Filled by sort for an acyclic graph.
	topo        []int // topo[i]: position of node i in order
	enter, exit []int // Euler tour of the forest "parent = first need"
	seen        []int // per-query visit marks (the query's generation)
	gen         int
}

// cycle is one strongly connected component of more than one step: at is
// the node whose `needs:` closes path (path[0] ... at, then back to
// path[0]); size counts every step of the component.
type cycle struct {
	at   int
	path []int
	size int
}

// sort returns a topological order (every node after its needs, in the
// order a depth-first walk from the nodes in definition order finishes
// them) and every cycle once, as strongly connected components.
func (g *dag) sort() ([]int, []cycle) {
	n := len(g.ids)
	const unvisited = -1
	num := make([]int, n) // discovery number
	low := make([]int, n)
	onStack := make([]bool, n)
	grey := make([]bool, n)  // on the current depth-first path
	parent := make([]int, n) // depth-first tree parent
	backTo := make([]int, n) // first back edge from the node to a grey node
	backAt := make([]int, n) // when it was found
	for i := range num {
		num[i], backTo[i] = unvisited, unvisited
	}
	var stack, order []int
	var cycles []cycle
	next, clock := 0, 0
	var visit func(v int)
	visit = func(v int) {
		num[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v], grey[v] = true, true
		for _, w := range g.needs[v] {
			switch {
			case num[w] == unvisited:
				parent[w] = v
				visit(w)
				low[v] = min(low[v], low[w])
			case onStack[w]:
				low[v] = min(low[v], num[w])
				if grey[w] && backTo[v] == unvisited {
					backTo[v], backAt[v] = w, clock
					clock++
				}
			}
		}
		grey[v] = false
		if low[v] != num[v] {
			return
		}
		i := len(stack) - 1
		for stack[i] != v {
			i--
		}
		members := stack[i:]
		stack = stack[:i]
		for _, m := range members {
			onStack[m] = false
		}
		if len(members) == 1 {
			order = append(order, v)
			return
		}
		// Every strongly connected component holds a back edge to a node on
		// the depth-first path: the first one found closes the cycle shown.
		x := unvisited
		for _, m := range members {
			if backTo[m] != unvisited && (x == unvisited || backAt[m] < backAt[x]) {
				x = m
			}
		}
		var path []int
		for u := x; u != backTo[x]; u = parent[u] {
			path = append(path, u)
		}
		path = append(path, backTo[x])
		for l, r := 0, len(path)-1; l < r; l, r = l+1, r-1 {
			path[l], path[r] = path[r], path[l]
		}
		cycles = append(cycles, cycle{at: x, path: path, size: len(members)})
		order = append(order, members...)
	}
	for v := range n {
		if num[v] == unvisited {
			visit(v)
		}
	}
	if len(cycles) == 0 {
		g.prepare(order)
	}
	return order, cycles
}

// prepare prepares ancestry queries on an acyclic graph.
func (g *dag) prepare(order []int) {
	n := len(g.ids)
	g.topo = make([]int, n)
	for pos, v := range order {
		g.topo[v] = pos
	}
	// The forest whose parent is each node's first need: a tree ancestor
	// is an ancestor, found in O(1) from the Euler tour's intervals.
	children := make([][]int, n)
	var roots []int
	for v := range n {
		if len(g.needs[v]) == 0 {
			roots = append(roots, v)
		} else {
			p := g.needs[v][0]
			children[p] = append(children[p], v)
		}
	}
	g.enter, g.exit = make([]int, n), make([]int, n)
	g.seen = make([]int, n)
	clock := 0
	type frame struct{ v, next int }
	var st []frame
	for _, r := range roots {
		g.enter[r] = clock
		clock++
		st = append(st[:0], frame{v: r})
		for len(st) > 0 {
			f := &st[len(st)-1]
			if f.next < len(children[f.v]) {
				c := children[f.v][f.next]
				f.next++
				g.enter[c] = clock
				clock++
				st = append(st, frame{v: c})
				continue
			}
			g.exit[f.v] = clock
			clock++
			st = st[:len(st)-1]
		}
	}
}

func (g *dag) treeAncestor(a, v int) bool {
	return g.enter[a] < g.enter[v] && g.exit[v] < g.exit[a]
}

// needsTransitively reports whether step id waits, directly or not, for
// step anc. It is only meaningful once sort found no cycle.
func (g *dag) needsTransitively(id, anc string) bool {
	v, ok := g.index[id]
	a, ok2 := g.index[anc]
	return ok && ok2 && g.reaches(v, a)
}

// reaches reports whether node v waits, directly or not, for node a. A tree ancestor answers at once (chains and trees, the usual
// shapes, never search); otherwise a walk back from v over needs skips
// every node placed before a in the order, since its own needs come even
// earlier.
func (g *dag) reaches(v, a int) bool {
	if v == a || g.topo[a] >= g.topo[v] {
		return false
	}
	if g.treeAncestor(a, v) {
		return true
	}
	g.gen++
	stack := []int{v}
	g.seen[v] = g.gen
	for len(stack) > 0 {
		u := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, w := range g.needs[u] {
			if w == a || g.treeAncestor(a, w) {
				return true
			}
			if g.seen[w] == g.gen || g.topo[w] < g.topo[a] {
				continue
			}
			g.seen[w] = g.gen
			stack = append(stack, w)
		}
	}
	return false
}

// maxCycleShown bounds the steps a cycle diagnostic names: a cycle through
// thousands of steps is reported with its ends and a count.
const maxCycleShown = 8

// describe renders c as "a -> b -> c -> a", shortened when long.
func (g *dag) describe(c cycle) string {
	names := make([]string, 0, maxCycleShown+2)
	if len(c.path) <= maxCycleShown {
		for _, v := range c.path {
			names = append(names, g.ids[v])
		}
	} else {
		head, tail := maxCycleShown/2, maxCycleShown/2-1
		for _, v := range c.path[:head] {
			names = append(names, g.ids[v])
		}
		names = append(names, fmt.Sprintf("... (%d more)", len(c.path)-head-tail))
		for _, v := range c.path[len(c.path)-tail:] {
			names = append(names, g.ids[v])
		}
	}
	names = append(names, g.ids[c.path[0]])
	s := strings.Join(names, " -> ")
	if c.size > len(c.path) {
		s += fmt.Sprintf(" (%d steps in all need each other)", c.size)
	}
	return s
}
