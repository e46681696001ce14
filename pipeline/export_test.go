package pipeline

// QuadraticBaseline returns a parser like p that checks which steps a step
// may read the way parsing did before ancestry became linear: the whole
// ancestor set of every step, walked from scratch. Benchmarks run it
// beside the real parser so one run shows the ratio.
func QuadraticBaseline(p *Parser) *Parser {
	return &Parser{Registry: p.Registry, CostBudget: p.CostBudget, baseline: newQuadratic}
}

type quadratic struct {
	graph map[string][]string
	memo  map[string]map[string]bool
}

func newQuadratic(g *dag) ancestry {
	q := &quadratic{graph: map[string][]string{}, memo: map[string]map[string]bool{}}
	for i, id := range g.ids {
		for _, n := range g.needs[i] {
			q.graph[id] = append(q.graph[id], g.ids[n])
		}
	}
	return q
}

func (q *quadratic) needsTransitively(id, anc string) bool {
	seen, ok := q.memo[id]
	if !ok {
		seen = map[string]bool{}
		var walk func(string)
		walk = func(s string) {
			for _, dep := range q.graph[s] {
				if !seen[dep] {
					seen[dep] = true
					walk(dep)
				}
			}
		}
		walk(id)
		q.memo[id] = seen
	}
	return seen[anc]
}
