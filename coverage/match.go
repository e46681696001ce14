package coverage

import (
	"errors"
	"slices"
	"strings"
)

// The matcher is a trie of path segments. At each node a literal child
// (found in a small hash table) is tried
// before the templated children, and a failed subtree backtracks to the
// next candidate, so a concrete path wins over a templated one as OpenAPI
// asks ("/pets/mine" before "/pets/{id}") while "/a/{x}/c" still matches
// when "/a/b" exists but has no "/c" below it. A templated segment is a
// sequence of literals and parameters ("{Sid}.json", "v{major}-{minor}");
// each parameter matches one or more characters of the segment, never a
// "/", like kin-openapi's gorilla/mux router.

type part struct {
	lit   string
	param bool
}

type segment struct {
	lit   string // a literal segment, when parts is nil
	parts []part // a templated segment
	shape string // parts with parameter names left out: "{}.json"
}

type terminal struct {
	template string
	methods  []methodOp
}

type methodOp struct {
	method string
	id     OpID
}

type patEdge struct {
	seg  segment
	litN int // literal bytes in the pattern: more is more specific
	// kind and lit are the pattern's shape when it is one of the common
	// ones ("{id}", "{id}.json", "v{n}"), set by child: these are matched
	// inline instead of through matchParts.
	kind patKind
	lit  string
	next *node
}

type patKind uint8

const (
	patAny     patKind = iota // "{a}": any non-empty segment
	patSuffix                 // "{a}lit"
	patPrefix                 // "lit{a}"
	patGeneric                // matchParts (find relies on this order)
)

// classify sets e.kind and e.lit from its parts.
func (e *patEdge) classify() {
	p := e.seg.parts
	switch {
	case len(p) == 1 && p[0].param:
		e.kind = patAny
	case len(p) == 2 && p[0].param && !p[1].param:
		e.kind, e.lit = patSuffix, p[1].lit
	case len(p) == 2 && !p[0].param && p[1].param:
		e.kind, e.lit = patPrefix, p[0].lit
	default:
		e.kind = patGeneric
	}
}

// match reports whether the non-empty segment seg matches e, exactly as
// matchParts(e.seg.parts, seg) does; a parameter takes at least one byte.
func (e *patEdge) match(seg string) bool {
	switch e.kind {
	case patAny:
		return true
	case patSuffix:
		return len(seg) > len(e.lit) && seg[len(seg)-len(e.lit):] == e.lit
	case patPrefix:
		return len(seg) > len(e.lit) && seg[:len(e.lit)] == e.lit
	}
	return matchParts(e.seg.parts, seg)
}

type litEdge struct {
	seg  string
	hash uint32
	next *node
}

type node struct {
	// lits are the literal children in insertion order; table is an
	// open-addressing hash table over them (a power-of-two size at least
	// twice theirs), built by finish: segHash and a probe or two cost less
	// than a Go map's hashing and bucket walk.
	lits  []litEdge
	table []litEdge
	shift uint32 // 32 - log2(len(table)): a probe starts at hash >> shift
	pats  []*patEdge
	term  *terminal
}

func newNode() *node { return &node{} }

// segHash is a cheap hash of a segment: its length and three of its
// bytes. Chaining a multiply through every byte costs more than the rest
// of a match; the table compares the strings anyway, so a rare collision
// only costs one comparison.
func segHash(s string) uint32 {
	n := len(s)
	if n == 0 {
		return 0
	}
	h := uint32(n) * 0x9e3779b1
	h ^= uint32(s[0]) | uint32(s[n/2])<<8 | uint32(s[n-1])<<16
	return h * 0x85ebca6b
}

// lit returns the literal child for seg, whose segHash is h, or nil. The
// node has literal children (len(n.table) > 0): callers check first, so
// that nodes with none ("{Sid}") cost no hash.
func (n *node) lit(seg string, h uint32) *node {
	mask := uint32(len(n.table) - 1)
	for i := (h >> n.shift) & mask; ; i = (i + 1) & mask {
		e := &n.table[i]
		if e.next == nil {
			return nil
		}
		if e.hash == h && e.seg == seg {
			return e.next
		}
	}
}

// litBuilding is lit before finish built the table.
func (n *node) litBuilding(seg string) *node {
	for _, e := range n.lits {
		if e.seg == seg {
			return e.next
		}
	}
	return nil
}

var (
	errBraces   = errors.New("unbalanced or nested braces")
	errNoSlash  = errors.New("a path template starts with /")
	errConflict = errors.New("another path template matches the same paths")
)

// parseTemplate splits a path template ("/a/{b}.json") into segments; ""
// has none.
func parseTemplate(t string) ([]segment, error) {
	if t == "" {
		return nil, nil
	}
	if t[0] != '/' {
		return nil, errNoSlash
	}
	raw := strings.Split(t[1:], "/")
	segs := make([]segment, len(raw))
	for i, r := range raw {
		s, err := parseSegment(r)
		if err != nil {
			return nil, err
		}
		segs[i] = s
	}
	return segs, nil
}

func parseSegment(r string) (segment, error) {
	if !strings.ContainsAny(r, "{}") {
		return segment{lit: r}, nil
	}
	var s segment
	var shape strings.Builder
	for r != "" {
		open := strings.IndexByte(r, '{')
		if cl := strings.IndexByte(r, '}'); cl >= 0 && (open < 0 || cl < open) {
			return segment{}, errBraces
		}
		if open < 0 {
			s.parts = append(s.parts, part{lit: r})
			shape.WriteString(r)
			break
		}
		if open > 0 {
			s.parts = append(s.parts, part{lit: r[:open]})
			shape.WriteString(r[:open])
		}
		r = r[open+1:]
		cl := strings.IndexByte(r, '}')
		if cl <= 0 || strings.IndexByte(r[:cl], '{') >= 0 {
			return segment{}, errBraces
		}
		s.parts = append(s.parts, part{param: true})
		shape.WriteString("{}")
		r = r[cl+1:]
	}
	s.shape = shape.String()
	return s, nil
}

func (n *node) insert(segs []segment, t *terminal) error {
	for _, s := range segs {
		n = n.child(s)
	}
	if n.term != nil {
		if n.term.template == t.template {
			return nil // the same path through two servers with one base path
		}
		return errConflict
	}
	n.term = t
	return nil
}

func (n *node) child(s segment) *node {
	if s.parts == nil {
		c := n.litBuilding(s.lit)
		if c == nil {
			c = newNode()
			n.lits = append(n.lits, litEdge{seg: s.lit, hash: segHash(s.lit), next: c})
		}
		return c
	}
	for _, e := range n.pats {
		if e.seg.shape == s.shape {
			return e.next
		}
	}
	e := &patEdge{seg: s, next: newNode()}
	for _, p := range s.parts {
		e.litN += len(p.lit)
	}
	e.classify()
	n.pats = append(n.pats, e)
	return e.next
}

// finish builds the literal table and orders templated children, most
// literal first, for a deterministic and specific-first match.
func (n *node) finish() {
	if len(n.lits) > 0 {
		size, shift := 2, uint32(31)
		for size < 2*len(n.lits) {
			size, shift = size*2, shift-1
		}
		n.table, n.shift = make([]litEdge, size), shift
		mask := uint32(size - 1)
		for _, e := range n.lits {
			// The high bits: the final multiply of segHash mixes every
			// input bit into them, not into the low ones.
			i := (e.hash >> shift) & mask
			for n.table[i].next != nil {
				i = (i + 1) & mask
			}
			n.table[i] = e
		}
	}
	slices.SortStableFunc(n.pats, func(a, b *patEdge) int {
		if a.litN != b.litN {
			return b.litN - a.litN
		}
		return strings.Compare(b.seg.shape, a.seg.shape)
	})
	for _, e := range n.lits {
		e.next.finish()
	}
	for _, e := range n.pats {
		e.next.finish()
	}
}

// Match maps a request to its operation: method exactly as sent, path the
// escaped path without the query (r.URL.EscapedPath()), server base path
// included ("/v2/pets/7"). It returns ErrPathNotFound when no template
// matches and ErrMethodNotAllowed when the matched path item has no
// operation for the method, with NoOp. It does not allocate.
func (s *Spec) Match(method, path string) (OpID, error) {
	if len(path) == 0 || path[0] != '/' {
		return NoOp, ErrPathNotFound
	}
	n := s.root.find(path[1:])
	if n == nil {
		return NoOp, ErrPathNotFound
	}
	for _, m := range n.term.methods {
		if m.method == method {
			return m.id, nil
		}
	}
	return NoOp, ErrMethodNotAllowed
}

// MatchTemplate returns the path template (as the document declares it,
// without the server base path) that Match would select for path,
// whatever the method, and false when none matches: the template to
// report a request with an undeclared method under. It does not allocate.
func (s *Spec) MatchTemplate(path string) (string, bool) {
	if len(path) == 0 || path[0] != '/' {
		return "", false
	}
	n := s.root.find(path[1:])
	if n == nil {
		return "", false
	}
	return n.term.template, true
}

// find matches p, the path after its leading "/", and returns the node
// holding the terminal, or nil. It first descends greedily, in a loop,
// along the first candidate of each node (the literal child, else the
// first templated child that matches): that is the path walk's
// depth-first search tries first, so when it ends on a terminal it is
// walk's answer too. Only when it dead-ends does walk backtrack from the
// root. Most requests take the greedy path; it saves walk's recursion.
func (n *node) find(p string) *node {
	root, rest := n, p
	for {
		seg, tail, more := rest, "", false
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			seg, tail, more = rest[:i], rest[i+1:], true
		}
		var c *node
		if len(n.table) > 0 { // many nodes have none ("{Sid}"): no hash
			c = n.lit(seg, segHash(seg))
		}
		if c == nil && seg != "" {
			for _, e := range n.pats {
				// The two commonest shapes inline; match for the rest.
				if e.kind == patAny || e.kind == patSuffix && len(seg) > len(e.lit) && seg[len(seg)-len(e.lit):] == e.lit ||
					e.kind > patSuffix && e.match(seg) {
					c = e.next
					break
				}
			}
		}
		if c == nil {
			break
		}
		if !more {
			if c.term != nil {
				return c
			}
			break
		}
		n, rest = c, tail
	}
	return root.walk(p)
}

// walk matches p, the rest of the path after a "/", and returns the node
// holding the terminal, or nil.
func (n *node) walk(p string) *node {
	seg, tail, more := p, "", false
	if i := strings.IndexByte(p, '/'); i >= 0 {
		seg, tail, more = p[:i], p[i+1:], true
	}
	if len(n.table) > 0 {
		if c := n.lit(seg, segHash(seg)); c != nil {
			if r := c.next(tail, more); r != nil {
				return r
			}
		}
	}
	if seg == "" {
		return nil // a parameter never matches an empty segment
	}
	for _, e := range n.pats {
		if e.match(seg) {
			if r := e.next.next(tail, more); r != nil {
				return r
			}
		}
	}
	return nil
}

func (n *node) next(tail string, more bool) *node {
	if more {
		return n.walk(tail)
	}
	if n.term != nil {
		return n
	}
	return nil
}

// matchParts reports whether seg matches the literals and parameters of
// parts, each parameter taking one or more bytes. Literals at either end
// are anchored; each literal in between is taken at its leftmost place
// after the bytes its preceding parameters need, which is enough for
// patterns whose only wildcard is "one or more of anything": what a
// later place would leave to the following parts, the leftmost leaves
// too. So a request segment costs linear time, however many parameters
// a document puts in one segment.
func matchParts(parts []part, seg string) bool {
	if len(parts) > 0 && !parts[0].param {
		if !strings.HasPrefix(seg, parts[0].lit) {
			return false
		}
		seg, parts = seg[len(parts[0].lit):], parts[1:]
	}
	if k := len(parts) - 1; k >= 0 && !parts[k].param {
		if !strings.HasSuffix(seg, parts[k].lit) {
			return false
		}
		seg, parts = seg[:len(seg)-len(parts[k].lit)], parts[:k]
	}
	need := 0 // bytes the parameters since the last literal still need
	for _, p := range parts {
		if p.param {
			need++
			continue
		}
		if need > len(seg) {
			return false
		}
		i := strings.Index(seg[need:], p.lit)
		if i < 0 {
			return false
		}
		seg, need = seg[need+i+len(p.lit):], 0
	}
	return len(seg) >= need && (need > 0 || seg == "")
}
