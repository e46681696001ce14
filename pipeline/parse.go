package pipeline

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/internal/expr"
	"github.com/mockops/mockops/internal/yamlpos"
	"github.com/mockops/mockops/steps"
)

// MaxSourceSize bounds a definition's size: definitions come from API
// calls too, and parsing is superlinear in the worst case.
const MaxSourceSize = 1 << 20

// Parser parses definitions against a host's step types. The zero value
// is usable: without a Registry, `uses:` is only checked for syntax and
// `with:` only for templates (see Parse). A Parser builds its expression
// environment on first use and is then safe for concurrent use; do not
// copy it after that.
type Parser struct {
	// Registry, when set, makes unknown step types and invalid step
	// configs load errors.
	Registry *steps.Registry
	// CostBudget is the highest estimated cost of one expression
	// (expr default when zero).
	CostBudget uint64

	once   sync.Once
	env    *expr.Env
	envErr error

	baseline func(*dag) ancestry // tests only (export_test.go)
}

// Parse parses a definition without step types: every structural,
// expression and DAG problem is reported, but `uses:` is only checked for
// syntax and `with:` is not checked against a config struct. Step types
// belong to the host (there is no global registry), so this form suits
// tools that lint files on their own; hosts parse with
// Parser{Registry: r}, which also checks step types and their `with:`.
//
// file names the source in diagnostics. The error, if any, is an ErrorList
// holding every problem, each "file:line:col: message".
func Parse(file string, src []byte) (*Definition, error) {
	return new(Parser).Parse(file, src)
}

func (p *Parser) environment() (*expr.Env, error) {
	p.once.Do(func() {
		p.env, p.envErr = expr.NewEnv(expr.Config{CostBudget: p.CostBudget})
		if p.envErr != nil {
			p.envErr = fmt.Errorf("pipeline: %w", p.envErr)
		}
	})
	return p.env, p.envErr
}

// Parse parses one definition in the MockOps format or MockForge's,
// detected from its keys. The error, if any, is an ErrorList.
func (p *Parser) Parse(file string, src []byte) (*Definition, error) {
	d, err := p.parse(file, src)
	return d, exportErr(err)
}

// parse is Parse with the diagnostics still a yamlpos.ErrorList, so that
// LoadDir merges and trims the lists of several files as one.
func (p *Parser) parse(file string, src []byte) (*Definition, error) {
	env, err := p.environment()
	if err != nil {
		return nil, err
	}
	if len(src) > MaxSourceSize {
		var l yamlpos.ErrorList
		l.Add(yamlpos.Pos{File: file, Line: 1, Col: 1}, "definition is %d bytes; the limit is %d", len(src), MaxSourceSize)
		return nil, l.Err()
	}
	root, err := yamlpos.Parse(file, src)
	if err != nil {
		return nil, err
	}
	ps := &parser{file: file, lines: strings.Split(string(src), "\n"), env: env, reg: p.Registry, baseline: p.baseline}
	if root == nil {
		ps.errs.Add(yamlpos.Pos{File: file, Line: 1, Col: 1}, "empty definition")
		return nil, ps.errs.Err()
	}
	root = yamlpos.Resolve(root)
	var d *Definition
	if isMockForge(root) {
		d = ps.parseMockForge(root)
	} else {
		d = ps.parseNative(root)
	}
	if err := ps.result(); err != nil {
		return nil, err
	}
	d.Source = append([]byte(nil), src...)
	d.File = file
	return d, nil
}

// parser is the state of one Parse call.
type parser struct {
	file  string
	lines []string
	errs  yamlpos.ErrorList
	env   *expr.Env
	reg   *steps.Registry

	sortedIDs []string            // step ids for suggestions, built on first use
	baseline  func(*dag) ancestry // tests only: the quadratic ancestry, for benchmarks
}

// didYouMean is yamlpos.DidYouMean over a definition's own names (step
// ids), which can be many: once a file has more diagnostics than are
// shown, suggestions are no longer computed.
func (p *parser) didYouMean(name string, candidates []string) string {
	if len(p.errs) > yamlpos.MaxErrorsPerFile {
		return ""
	}
	return yamlpos.DidYouMean(name, candidates)
}

func (p *parser) pos(n *yaml.Node) yamlpos.Pos { return yamlpos.At(p.file, n) }

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	p.errs.Add(p.pos(n), format, args...)
}

// result sorts the diagnostics and drops exact repeats (a faulty
// `defaults.with` entry is checked once per step that inherits it).
func (p *parser) result() error {
	if len(p.errs) == 0 {
		return nil
	}
	p.errs.Sort()
	out := p.errs[:0]
	for i, e := range p.errs {
		if i > 0 && e.Pos == p.errs[i-1].Pos && e.Msg == p.errs[i-1].Msg {
			continue
		}
		out = append(out, e)
	}
	p.errs = out
	return p.errs.Err()
}

func isScalar(n *yaml.Node) bool { return n != nil && n.Kind == yaml.ScalarNode }

// isText reports whether n is a string scalar. yaml.v3 tags a plain
// 2024-01-01 as a timestamp, but YAML 1.2 has no such type: it is text.
func isText(n *yaml.Node) bool {
	return isScalar(n) && (n.Tag == "!!str" || n.Tag == "!!timestamp")
}

func isNullNode(n *yaml.Node) bool { return n == nil || (isScalar(n) && n.Tag == "!!null") }

// str reads a string scalar; what names the field in messages.
func (p *parser) str(n *yaml.Node, what string) (string, bool) {
	n = yamlpos.Resolve(n)
	if isScalar(n) && yamlpos.LocalTag(n.Tag) {
		text := strings.TrimSpace(n.Tag + " " + n.Value)
		p.errorf(n, "%s: YAML reads %s as a tag (a plain value that starts with '!'), not as text; quote the whole value: %s: '%s'",
			what, n.Tag, what, strings.ReplaceAll(text, "'", "''"))
		return "", false
	}
	if !isText(n) {
		p.errorf(n, "%s must be a string, got %s", what, yamlpos.KindName(n))
		return "", false
	}
	return n.Value, true
}

func (p *parser) boolean(n *yaml.Node, what string) (bool, bool) {
	n = yamlpos.Resolve(n)
	var b bool
	if !isScalar(n) || n.Tag != "!!bool" || n.Decode(&b) != nil {
		p.errorf(n, "%s must be true or false, got %s", what, yamlpos.KindName(n))
		return false, false
	}
	return b, true
}

func (p *parser) integer(n *yaml.Node, what string, lo, hi int) (int, bool) {
	n = yamlpos.Resolve(n)
	var i int
	if !isScalar(n) || n.Tag != "!!int" || n.Decode(&i) != nil {
		p.errorf(n, "%s must be an integer, got %s", what, yamlpos.KindName(n))
		return 0, false
	}
	if i < lo || i > hi {
		p.errorf(n, "%s must be between %d and %d, got %d", what, lo, hi, i)
		return 0, false
	}
	return i, true
}

// maxDuration bounds timeouts and backoffs: anything longer is a typo
// (a missing unit) more likely than an intent.
const maxDuration = 24 * time.Hour

func (p *parser) duration(n *yaml.Node, what string) (time.Duration, bool) {
	n = yamlpos.Resolve(n)
	if isScalar(n) && n.Tag == "!!int" {
		p.errorf(n, "%s must be a duration with a unit, such as \"%ss\" or \"%sm\", got the integer %s", what, n.Value, n.Value, n.Value)
		return 0, false
	}
	if !isScalar(n) || n.Tag != "!!str" {
		p.errorf(n, "%s must be a duration such as \"30s\" or \"5m\", got %s", what, yamlpos.KindName(n))
		return 0, false
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil {
		p.errorf(n, "%s: invalid duration %q (use a unit: \"30s\", \"5m\", \"1h\")", what, n.Value)
		return 0, false
	}
	if d <= 0 || d > maxDuration {
		p.errorf(n, "%s must be positive and at most %s, got %s", what, maxDuration, d)
		return 0, false
	}
	return d, true
}

func (p *parser) list(n *yaml.Node, what string) ([]*yaml.Node, bool) {
	n = yamlpos.Resolve(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		p.errorf(n, "%s must be a list, got %s", what, yamlpos.KindName(n))
		return nil, false
	}
	return n.Content, true
}

// parseHeader reads the top-level keys both formats share.
func (p *parser) parseHeader(f yamlpos.Field, d *Definition) {
	switch f.Key {
	case "name":
		d.namePos = p.pos(f.Value)
		if s, ok := p.str(f.Value, "name"); ok {
			if !validName(s) {
				p.errorf(f.Value, "invalid name %q: use lower-case letters, digits, '-', '_' and '.'", s)
			}
			d.Name = s
		}
	case "description":
		if s, ok := p.str(f.Value, "description"); ok {
			d.Description = s
		}
	case "enabled":
		if b, ok := p.boolean(f.Value, "enabled"); ok {
			d.Enabled = b
		}
	}
}

// platformTypes are the types a trigger's `event:` is checked against for
// typos.
var platformTypes = func() []string {
	var out []string
	for _, t := range events.PlatformTypes() {
		out = append(out, string(t))
	}
	return out
}()

// maxTypoEdits is how close to a platform type a custom event type may not
// be: "schema.chnged" would otherwise wait, silently, for an event that is
// never published.
const maxTypoEdits = 2

// eventType reads a trigger's `event:`.
func (p *parser) eventType(n *yaml.Node) events.Type {
	s, ok := p.str(n, "event")
	if !ok {
		return ""
	}
	if !validEventType(s) {
		hint := ""
		if lower := strings.ToLower(s); lower != s && validEventType(lower) {
			hint = fmt.Sprintf(" (did you mean %q?)", lower)
		}
		p.errorf(n, "invalid event type %q: use a dotted lower-case name such as %q%s", s, events.TypeSchemaChanged, hint)
		return events.Type(s)
	}
	if near, ok := yamlpos.Closest(s, platformTypes, maxTypoEdits); ok && near != s {
		p.errorf(n, "event type %q is not a platform type (did you mean %q?); a custom type must differ from every platform type by more than %d edits", s, near, maxTypoEdits)
	}
	return events.Type(s)
}

// typeDefaults reads per-step-type `with:` defaults (`defaults.with`,
// MockForge's `step_defaults`) into into, passing each through conv.
func (p *parser) typeDefaults(n *yaml.Node, what string, into map[string]*yaml.Node, conv func(*yaml.Node) *yaml.Node) {
	for _, tf := range yamlpos.Fields(p.file, n, nil, &p.errs) {
		v := yamlpos.Resolve(tf.Value)
		if v.Kind != yaml.MappingNode {
			p.errorf(v, "%s.%s must be a mapping, got %s", what, tf.Key, yamlpos.KindName(v))
			continue
		}
		p.checkTypeName(tf.KeyNd, tf.Key)
		into[tf.Key] = conv(v)
	}
}

// validName reports whether s is a pipeline name: [a-z0-9-_.], not empty.
func validName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// validStepID reports whether s can be read as steps.<id> in an
// expression: a CEL identifier.
func validStepID(s string) bool { return stepIDProblem(s) == "" }

// stepIDProblem says why s cannot be read as steps.<id>, or "".
func stepIDProblem(s string) string {
	switch s {
	case "":
		return "empty id"
	case "in", "null", "true", "false":
		// CEL's grammar reads these as an operator or literals, even
		// after a dot, so steps.<id> would not parse.
		return "it is a CEL keyword, so steps." + s + " cannot be read"
	}
	if len(s) > 64 {
		return "use at most 64 characters"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return "use letters, digits and '_', starting with a letter (it is read as steps.<id>)"
		}
	}
	return ""
}

// validEventType accepts dotted lower-case types ("schema.changed"),
// platform or custom.
func validEventType(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// exprPos maps a byte offset inside scalar n's value to a file position.
// For single-line plain and quoted scalars whose source text equals their
// value (no escapes), the column is exact. For block scalars (| and >),
// multi-line flow scalars and quoted scalars with escapes, the value no
// longer lines up with the source, so the scalar's own position is used.
func (p *parser) exprPos(n *yaml.Node, off int) yamlpos.Pos {
	pos := p.pos(n)
	if n == nil || n.Line < 1 || n.Line > len(p.lines) || strings.Contains(n.Value, "\n") || off < 0 || off > len(n.Value) {
		return pos
	}
	skip := 0
	switch n.Style {
	case 0:
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		skip = 1
	default:
		return pos
	}
	line := p.lines[n.Line-1]
	// Column is 1-based and counted in characters.
	start := 0
	for c := 1; c < n.Column+skip && start < len(line); c++ {
		_, size := utf8.DecodeRuneInString(line[start:])
		start += size
	}
	if !strings.HasPrefix(line[start:], n.Value) {
		return pos
	}
	pos.Col = n.Column + skip + utf8.RuneCountInString(n.Value[:off])
	return pos
}

// compileCondition compiles an `if:` scalar, reporting errors inside it.
// A YAML boolean is the CEL literal of the same value.
func (p *parser) compileCondition(n *yaml.Node, scope expr.Scope) *expr.Program {
	if b, ok := yamlBool(n); ok {
		prg, errs := p.env.CompileCondition(strconv.FormatBool(b), scope)
		for _, e := range errs {
			p.errorf(n, "if: %s", e.Msg)
		}
		return prg
	}
	if r := yamlpos.Resolve(n); r == nil || (!isText(r) && !yamlpos.LocalTag(r.Tag)) {
		p.errorf(r, "if must be a CEL expression (a string) or true or false, got %s", yamlpos.KindName(r))
		return nil
	}
	src, ok := p.str(n, "if")
	if !ok {
		return nil
	}
	if strings.TrimSpace(src) == "" {
		p.errorf(n, "if: empty condition")
		return nil
	}
	text, shift := conditionText(src)
	prg, errs := p.env.CompileCondition(text, scope)
	for _, e := range errs {
		p.errs.Add(p.exprPos(n, shift+e.Offset), "if: %s", friendlySyntax(e.Msg, text, e.Offset, "condition"))
	}
	return prg
}

// yamlBool reads a boolean scalar (true, false).
func yamlBool(n *yaml.Node) (bool, bool) {
	n = yamlpos.Resolve(n)
	var b bool
	if !isScalar(n) || n.Tag != "!!bool" || n.Decode(&b) != nil {
		return false, false
	}
	return b, true
}

// friendlySyntax rewrites a CEL syntax error, which is the raw output of
// its ANTLR parser ("Syntax error: mismatched input '<EOF>' expecting {'[',
// '{', ...}"), as a short sentence with the column inside the expression
// (block scalars put the diagnostic at the scalar, so the file column alone
// does not find it), keeping the parser's words without the token list.
// Other errors pass unchanged. what names the text: condition or value.
func friendlySyntax(msg, src string, off int, what string) string {
	raw, ok := strings.CutPrefix(msg, "Syntax error: ")
	if !ok {
		return msg
	}
	raw, _, _ = strings.Cut(raw, " expecting ")
	col := 1
	if off >= 0 && off <= len(src) {
		col = utf8.RuneCountInString(src[:off]) + 1
	}
	var sentence string
	token := func(prefix string) (string, bool) {
		rest, ok := strings.CutPrefix(raw, prefix)
		return strings.Trim(rest, "'"), ok
	}
	if t, ok := token("mismatched input "); ok && t == "<EOF>" {
		sentence = "the expression ends too early"
	} else if t, ok := token("token recognition error at: "); ok {
		switch t = strings.TrimSpace(t); {
		case strings.HasPrefix(t, "="):
			sentence = "CEL compares with ==, not ="
		case strings.HasPrefix(t, "&") || strings.HasPrefix(t, "|"):
			sentence = "CEL's and and or are && and ||"
		default:
			sentence = fmt.Sprintf("%q cannot appear here", t)
		}
	} else if t, ok := token("mismatched input "); ok {
		sentence = "unexpected " + t
	} else if t, ok := token("extraneous input "); ok {
		sentence = "unexpected " + t
	} else {
		sentence = "the expression is not valid CEL"
	}
	return fmt.Sprintf("syntax error at column %d of the %s: %s (CEL: %s)", col, what, sentence, raw)
}

// conditionText strips a GitHub-style `${{ }}` around a whole condition
// (redundant, but people write it) and returns the offset of the
// expression text in src.
func conditionText(src string) (string, int) {
	parts, err := expr.ParseTemplate(strings.TrimSpace(src))
	if err != nil || len(parts) != 1 || !parts[0].IsExpr {
		return src, 0
	}
	lead := len(src) - len(strings.TrimLeftFunc(src, unicode.IsSpace))
	return parts[0].Expr, lead + parts[0].Offset
}

// compileTemplate compiles a string scalar holding `${{ }}`.
func (p *parser) compileTemplate(n *yaml.Node, scope expr.Scope, what string) *expr.Template {
	t, errs := p.env.CompileTemplate(n.Value, scope)
	for _, e := range errs {
		p.errs.Add(p.exprPos(n, e.Offset), "%s: %s", what, friendlySyntax(e.Msg, n.Value, e.Offset, "value"))
	}
	return t
}
