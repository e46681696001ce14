// Package yamlpos turns YAML documents into yaml.Node trees and collects
// positioned diagnostics about them, in the style of go/scanner: an Error
// is "file:line:col: message" and an ErrorList gathers every problem of a
// document so that a user fixes them all in one pass, bounded per file by
// MaxErrorsPerFile. The mechanics live here once, for every parser;
// public packages give their API their own documented Pos, Error and
// ErrorList and convert at the boundary.
package yamlpos

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Pos is a position in a named source. Line and Col are 1-based; zero
// means unknown.
type Pos struct {
	File string
	Line int
	Col  int
}

// At returns the position of n in file.
func At(file string, n *yaml.Node) Pos {
	if n == nil {
		return Pos{File: file}
	}
	return Pos{File: file, Line: n.Line, Col: n.Column}
}

// String renders file:line:col, leaving out what is unknown.
func (p Pos) String() string {
	s := p.File
	if p.Line > 0 {
		if s != "" {
			s += ":"
		}
		s += strconv.Itoa(p.Line)
		if p.Col > 0 {
			s += ":" + strconv.Itoa(p.Col)
		}
	}
	if s == "" {
		s = "-"
	}
	return s
}

// Error is one diagnostic.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// ErrorList is a list of diagnostics. The zero value is an empty list.
type ErrorList []*Error

// Add appends a diagnostic at pos.
func (l *ErrorList) Add(pos Pos, format string, args ...any) {
	*l = append(*l, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// Len returns the number of diagnostics.
func (l ErrorList) Len() int { return len(l) }

// Sort orders the list by file, line and column, keeping the order of
// diagnostics at the same position.
func (l ErrorList) Sort() {
	slices.SortStableFunc(l, func(a, b *Error) int { return Compare(a.Pos, b.Pos) })
}

// Compare orders positions by file, line and column, for the public
// diagnostic types that sort as ErrorList does.
func Compare(a, b Pos) int {
	if c := strings.Compare(a.File, b.File); c != 0 {
		return c
	}
	if a.Line != b.Line {
		return a.Line - b.Line
	}
	return a.Col - b.Col
}

// Error renders every diagnostic, one per line.
func (l ErrorList) Error() string { return Join(l) }

// Unwrap exposes the diagnostics to errors.Is and errors.As.
func (l ErrorList) Unwrap() []error { return Errors(l) }

// Join renders a list of diagnostics one per line, "no errors" when it is
// empty: the Error method of every package's public ErrorList.
func Join[E error](l []E) string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Errors returns the diagnostics as a []error, for the Unwrap method of
// every package's public ErrorList.
func Errors[E error](l []E) []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// MaxErrorsPerFile bounds the diagnostics Err keeps for one file: past it,
// one more diagnostic, at the first one left out, says how many were. A
// broken or hostile file can hold hundreds of thousands of problems; the
// first hundred are what a person reads, and the bound keeps the error
// text small enough to store, log and send back from an API.
const MaxErrorsPerFile = 100

// Err returns the sorted list as an error, or nil when it is empty. Each
// file keeps at most MaxErrorsPerFile diagnostics, then one "and N more
// problems"; a list that Err already trimmed is returned unchanged.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	l.Sort()
	return l.capped()
}

// capped trims each file's run of the sorted list to MaxErrorsPerFile
// diagnostics plus a summary. A run of MaxErrorsPerFile+1 is kept whole, so
// trimming twice changes nothing (and a summary never replaces just one).
func (l ErrorList) capped() ErrorList {
	var out ErrorList // nil until a run is trimmed
	for start := 0; start < len(l); {
		end := start + 1
		for end < len(l) && l[end].Pos.File == l[start].Pos.File {
			end++
		}
		run := l[start:end]
		if len(run) > MaxErrorsPerFile+1 {
			if out == nil {
				out = slices.Clone(l[:start])
			}
			out = append(out, run[:MaxErrorsPerFile]...)
			out = append(out, &Error{
				Pos: run[MaxErrorsPerFile].Pos,
				Msg: fmt.Sprintf("and %d more problems (only the first %d of a file are listed)", len(run)-MaxErrorsPerFile, MaxErrorsPerFile),
			})
		} else if out != nil {
			out = append(out, run...)
		}
		start = end
	}
	if out == nil {
		return l
	}
	return out
}

// syntaxLine finds the line number in yaml.v3's error messages
// ("yaml: line 3: mapping values are not allowed in this context").
var syntaxLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Parse decodes a source holding one YAML document. A syntax error is
// returned as an ErrorList holding one positioned Error (yaml.v3 reports
// lines but not columns, so the column is 1). An empty source yields a nil
// node and no error.
//
// The rule for several documents ("---") is that nothing is dropped
// silently: documents without content (a bare "---" or "...", comments)
// are ignored wherever they are, a second document with content is an
// error at its start, and a syntax error in any document is reported, so a
// broken document after a good one is never skipped.
func Parse(file string, src []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var root *yaml.Node
	var l ErrorList
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			l = append(l, syntaxError(file, src, err)...)
			return nil, l.Err()
		}
		if emptyDocument(&doc) {
			continue
		}
		if root != nil {
			l.Add(At(file, &doc), "only one YAML document is allowed")
			continue
		}
		root = doc.Content[0]
	}
	if err := l.Err(); err != nil {
		return nil, err
	}
	if root == nil {
		return nil, nil
	}
	if at := aliasBomb(root); at != nil {
		l.Add(At(file, at), "aliases expand the document by more than %d nodes", MaxAliasExpansion)
		return nil, l.Err()
	}
	return root, nil
}

// emptyDocument reports whether doc has no content: nothing, or the null
// that yaml.v3 puts in a document that is only "---" (an explicit null or
// "~" is content).
func emptyDocument(doc *yaml.Node) bool {
	if len(doc.Content) == 0 {
		return true
	}
	n := doc.Content[0]
	return len(doc.Content) == 1 && n.Kind == yaml.ScalarNode && n.Tag == "!!null" && n.Value == "" &&
		n.Style == 0 && n.Anchor == ""
}

// MaxAliasExpansion bounds how many nodes YAML aliases may add to a
// document. Consumers walk aliased nodes once per use, so without a bound a
// few hundred bytes of nested anchors ("billion laughs") cost minutes of
// CPU; definitions arrive through admin APIs, so this is an attack surface.
const MaxAliasExpansion = 10_000

// aliasBomb returns the alias node at which the nodes added by aliases
// pass MaxAliasExpansion, or nil. Expanded sizes are memoized per anchor,
// so the check itself is linear in the document.
func aliasBomb(root *yaml.Node) *yaml.Node {
	memo := map[*yaml.Node]int{}
	// size is the node count of n with aliases expanded, saturated just
	// above the bound so that nesting cannot overflow it.
	var size func(n *yaml.Node) int
	size = func(n *yaml.Node) int {
		if n.Kind == yaml.AliasNode {
			if n.Alias == nil {
				return 1
			}
			n = n.Alias
		}
		if s, ok := memo[n]; ok {
			return s
		}
		memo[n] = MaxAliasExpansion + 1 // a node inside itself (yaml.v3 refuses these)
		s := 1
		for _, c := range n.Content {
			s = min(s+size(c), MaxAliasExpansion+1)
		}
		memo[n] = s
		return s
	}
	added := 0
	var walk func(n *yaml.Node) *yaml.Node
	walk = func(n *yaml.Node) *yaml.Node {
		if n.Kind == yaml.AliasNode {
			if added += size(n); added > MaxAliasExpansion {
				return n
			}
			return nil
		}
		for _, c := range n.Content {
			if at := walk(c); at != nil {
				return at
			}
		}
		return nil
	}
	return walk(root)
}

// tagStart finds a plain value that starts with '!' (a YAML tag) after a
// key or a list dash.
var tagStart = regexp.MustCompile(`(^|:\s|-\s)\s*![^!\s]`)

func syntaxError(file string, src []byte, err error) ErrorList {
	var l ErrorList
	msg := err.Error()
	if m := syntaxLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		hint := ""
		if lines := bytes.Split(src, []byte("\n")); line >= 1 && line <= len(lines) && tagStart.Match(lines[line-1]) {
			hint = " (a value that starts with '!' is read as a YAML tag: quote the whole value, as in if: '!has(event.data.x)')"
		}
		l.Add(Pos{File: file, Line: line, Col: 1}, "yaml: %s%s", m[2], hint)
		return l
	}
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	l.Add(Pos{File: file, Line: 1, Col: 1}, "%s", msg)
	return l
}

// Field is one key/value pair of a mapping.
type Field struct {
	Key   string
	KeyNd *yaml.Node
	Value *yaml.Node
}

// Fields returns the pairs of mapping node n in document order. It reports
// a node that is not a mapping, duplicate keys, and keys not in known (with
// a "did you mean" suggestion); known == nil accepts every key. Merge keys
// (<<) are reported as unsupported rather than silently ignored.
func Fields(file string, n *yaml.Node, known []string, errs *ErrorList) []Field {
	n = Resolve(n)
	if n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		errs.Add(At(file, n), "expected a mapping, got %s", KindName(n))
		return nil
	}
	out := make([]Field, 0, len(n.Content)/2)
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			errs.Add(At(file, k), "mapping keys must be strings")
			continue
		}
		if k.Tag == "!!merge" {
			errs.Add(At(file, k), "merge keys (<<) are not supported")
			continue
		}
		if seen[k.Value] {
			errs.Add(At(file, k), "duplicate key %q", k.Value)
			continue
		}
		seen[k.Value] = true
		if known != nil && !slices.Contains(known, k.Value) {
			errs.Add(At(file, k), "unknown key %q%s", k.Value, DidYouMean(k.Value, known))
			continue
		}
		out = append(out, Field{Key: k.Value, KeyNd: k, Value: v})
	}
	return out
}

// Resolve follows aliases to the node they name.
func Resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 32; i++ {
		n = n.Alias
	}
	return n
}

// KindName describes a node for messages: "a mapping", "a list", "a string", ...
func KindName(n *yaml.Node) string {
	n = Resolve(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!bool":
			return "a boolean"
		case "!!int":
			return "an integer"
		case "!!float":
			return "a number"
		}
		if LocalTag(n.Tag) {
			return "a value tagged " + n.Tag
		}
		return "a string"
	}
	return "an alias"
}

// LocalTag reports whether tag is one the author wrote ("!has(x)"), not
// one of YAML's own (!!str, !!int, ...). YAML reads a plain value that
// starts with '!' as such a tag, which is how `if: !has(event.data.x)`
// loses its text.
func LocalTag(tag string) bool {
	return strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!")
}

// Closest returns the candidate within maxEdits edits of name (ignoring
// case), the nearest first in candidates' order, or false when none is.
func Closest(name string, candidates []string, maxEdits int) (string, bool) {
	best, bestDist := "", maxEdits+1
	for _, c := range candidates {
		if d := distance(strings.ToLower(name), strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best, best != ""
}

// DidYouMean returns ` (did you mean "x"?)` for the candidate closest to
// name, or "" when none is close enough to be a likely typo.
func DidYouMean(name string, candidates []string) string {
	best, bestDist := "", len(name)/3+2
	for _, c := range candidates {
		if d := distance(strings.ToLower(name), strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// distance is the Levenshtein edit distance between a and b, in bytes.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
