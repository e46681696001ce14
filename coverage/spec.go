package coverage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/mockops/mockops/internal/yamlpos"
)

// OpID is an operation's dense integer id within one Spec: 0 to
// Spec.Len()-1, in the order of Spec.Operations.
type OpID int32

// NoOp is the OpID Match returns when no operation matched.
const NoOp OpID = -1

// ResponseKind says how a declared response key selects status codes.
type ResponseKind uint8

const (
	// ResponseCode is an explicit status code ("200").
	ResponseCode ResponseKind = iota
	// ResponseRange is a class of codes ("2XX": 200 to 299).
	ResponseRange
	// ResponseDefault is "default": every status no other key declares.
	ResponseDefault
)

// Response is one declared response of an operation: one branch of
// endpoint coverage.
type Response struct {
	// Key is the key as written in the document ("200", "2XX", "default").
	Key  string
	Kind ResponseKind
	// Code is the status for ResponseCode, the class digit (1 to 5) for
	// ResponseRange, 0 for ResponseDefault.
	Code int
}

// Operation is one OpenAPI operation: a method on a path template.
type Operation struct {
	ID OpID
	// Method is the HTTP method as Match compares it ("GET", or a custom
	// method of an OpenAPI 3.2 additionalOperations entry).
	Method string
	// Path is the path template as the document declares it, without a
	// server base path ("/pets/{id}").
	Path string
	// OperationID is the document's operationId, "" when it has none.
	OperationID string
	Deprecated  bool
	// RequestBody reports a declared request body (RequestBodyRequired
	// whether it is required).
	RequestBody         bool
	RequestBodyRequired bool
	// Responses are the declared responses: explicit codes ascending,
	// then ranges ascending, then default.
	Responses []Response
}

// ResponseFor returns the index in Responses of the declared response
// that a status selects, the OpenAPI way: an explicit code first, then
// its range ("2XX"), then "default"; -1 when none does (an undeclared
// status). It does not allocate.
func (o *Operation) ResponseFor(status int) int {
	dflt := -1
	rng := -1
	for i := range o.Responses {
		r := &o.Responses[i]
		switch r.Kind {
		case ResponseCode:
			if r.Code == status {
				return i
			}
		case ResponseRange:
			if status/100 == r.Code && status >= 100 && status <= 599 {
				rng = i
			}
		case ResponseDefault:
			dflt = i
		}
	}
	if rng >= 0 {
		return rng
	}
	return dflt
}

// Spec is a loaded OpenAPI document compiled for coverage: its operations
// with dense ids and a matcher from (method, path) to them. A Spec is
// immutable, safe for concurrent use, and holds no reference to the
// kin-openapi document it was built from.
type Spec struct {
	version string
	title   string
	ops     []Operation
	root    *node
}

// Version returns the document's "openapi" field ("3.0.1", "3.1.0").
func (s *Spec) Version() string { return s.version }

// Title returns the document's info.title.
func (s *Spec) Title() string { return s.title }

// Len returns the number of operations.
func (s *Spec) Len() int { return len(s.ops) }

// Operation returns the operation with the id, read-only: the Spec shares
// it with every caller.
func (s *Spec) Operation(id OpID) (*Operation, bool) {
	if id < 0 || int(id) >= len(s.ops) {
		return nil, false
	}
	return &s.ops[id], true
}

// Operations returns a copy of every operation, in id order: by path
// template, then method.
func (s *Spec) Operations() []Operation {
	out := slices.Clone(s.ops)
	for i := range out {
		out[i].Responses = slices.Clone(out[i].Responses)
	}
	return out
}

// LoadOpenAPI loads an OpenAPI 3.0 or 3.1 document, JSON or YAML, resolves
// its $refs and compiles its operations. See LoadOpenAPIFile.
func LoadOpenAPI(src []byte) (*Spec, error) { return LoadOpenAPIFile("", src) }

// LoadOpenAPIFile is LoadOpenAPI with the name of the source, which
// positions its diagnostics ("museum.yaml:12:3: ..."). The error is an
// ErrorList whose diagnostics wrap ErrInvalidSpec or ErrUnsupportedVersion.
//
// The document must be self-contained: $refs to other files or URLs are
// an error, since a spec arrives as bytes (often through an admin API)
// and loading must never read the file system or the network. Webhooks
// and callbacks are not operations a request path selects, so they are
// left out; so is the document's validation beyond what the compilation
// needs (many real documents, Twilio's among them, carry examples that
// do not match their schemas, and that does not change which operations
// exist).
func LoadOpenAPIFile(name string, src []byte) (*Spec, error) {
	var errs ErrorList
	if err := checkSyntax(name, src); err != nil {
		errs = append(errs, err)
		return nil, errs.Err()
	}
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	loader.IncludeOrigin = true
	doc, err := loadDoc(loader, src)
	if err != nil {
		errs.add(Pos{File: name}, ErrInvalidSpec, err.Error())
		return nil, errs.Err()
	}
	if !supportedVersion(doc.OpenAPI) {
		errs.add(Pos{File: name}, ErrUnsupportedVersion, fmt.Sprintf("openapi %q is not 3.0.x or 3.1.x", doc.OpenAPI))
		return nil, errs.Err()
	}
	s := &Spec{version: doc.OpenAPI, root: newNode()}
	if doc.Info != nil {
		s.title = doc.Info.Title
	}
	c := compiler{file: name, spec: s, errs: &errs}
	c.compile(doc)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

// loadDoc runs kin-openapi's loader, turning a panic on hostile input into
// an error: the loader is not ours, and no input may crash a host.
func loadDoc(loader *openapi3.Loader, src []byte) (doc *openapi3.T, err error) {
	defer func() {
		if r := recover(); r != nil {
			doc, err = nil, fmt.Errorf("kin-openapi failed on the document: %v", r)
		}
	}()
	return loader.LoadFromData(src)
}

// checkSyntax positions a syntax error, which kin-openapi reports without
// its file. JSON goes to encoding/json (yaml.v3 refuses some of its string
// escapes, such as the surrogate pairs of Twilio's document), the rest to
// yaml.v3, which also bounds alias expansion.
func checkSyntax(name string, src []byte) *Error {
	trimmed := bytes.TrimLeft(src, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var v any
		err := json.Unmarshal(src, &v)
		if err == nil {
			return nil
		}
		pos := Pos{File: name}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			pos.Line, pos.Col = lineCol(src, se.Offset)
		}
		return &Error{Pos: pos, Msg: "coverage: " + err.Error(), Err: ErrInvalidSpec}
	}
	if _, err := yamlpos.Parse(name, src); err != nil {
		var l yamlpos.ErrorList
		if errors.As(err, &l) && len(l) > 0 {
			return &Error{Pos: Pos(l[0].Pos), Msg: "coverage: " + l[0].Msg, Err: ErrInvalidSpec}
		}
		return &Error{Pos: Pos{File: name}, Msg: "coverage: " + err.Error(), Err: ErrInvalidSpec}
	}
	return nil
}

// lineCol turns a byte offset into a 1-based line and column (in bytes).
func lineCol(src []byte, off int64) (line, col int) {
	off = min(max(off, 0), int64(len(src)))
	before := src[:off]
	line = bytes.Count(before, []byte{'\n'}) + 1
	col = int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}

func supportedVersion(v string) bool {
	major, rest, _ := strings.Cut(v, ".")
	minor, _, _ := strings.Cut(rest, ".")
	return major == "3" && (minor == "0" || minor == "1")
}

// maxServerExpansions bounds the base paths one server URL's variables
// expand to (every combination of their enum values).
const maxServerExpansions = 64

type compiler struct {
	file string
	spec *Spec
	errs *ErrorList
}

func (c *compiler) pos(o *openapi3.Origin) Pos {
	if o == nil || o.Key == nil {
		return Pos{File: c.file}
	}
	return Pos{File: c.file, Line: o.Key.Line, Col: o.Key.Column}
}

func (c *compiler) compile(doc *openapi3.T) {
	docBases := c.bases(doc.Servers, Pos{File: c.file})
	if doc.Paths == nil {
		return
	}
	templates := doc.Paths.Keys() // sorted
	for _, tmpl := range templates {
		item := doc.Paths.Value(tmpl)
		if item == nil {
			continue
		}
		pos := c.pos(item.Origin)
		segs, err := parseTemplate(tmpl)
		if err != nil {
			c.errs.add(pos, ErrInvalidSpec, fmt.Sprintf("path %q: %v", tmpl, err))
			continue
		}
		bases := docBases
		if len(item.Servers) > 0 {
			bases = c.bases(item.Servers, pos)
		}
		ops := item.Operations()
		methods := make([]string, 0, len(ops))
		for m := range ops {
			methods = append(methods, m)
		}
		slices.SortFunc(methods, compareMethods)
		var mops []methodOp
		for _, m := range methods {
			op := ops[m]
			id := OpID(len(c.spec.ops))
			c.spec.ops = append(c.spec.ops, c.operation(id, m, tmpl, op))
			mops = append(mops, methodOp{method: m, id: id})
		}
		for _, b := range bases {
			bsegs, _ := parseTemplate(b) // literal: checked by bases
			all := append(slices.Clone(bsegs), segs...)
			if b == "" {
				all = segs
			}
			if err := c.spec.root.insert(all, &terminal{template: tmpl, methods: mops}); err != nil {
				c.errs.add(pos, ErrInvalidSpec, fmt.Sprintf("path %q: %v", b+tmpl, err))
			}
		}
	}
	c.spec.root.finish()
}

func (c *compiler) operation(id OpID, method, tmpl string, op *openapi3.Operation) Operation {
	o := Operation{ID: id, Method: method, Path: tmpl, OperationID: op.OperationID, Deprecated: op.Deprecated}
	if op.RequestBody != nil && op.RequestBody.Value != nil {
		o.RequestBody = true
		o.RequestBodyRequired = op.RequestBody.Value.Required
	}
	if op.Responses != nil {
		pos := c.pos(op.Origin)
		for key := range op.Responses.Map() {
			r, ok := parseResponseKey(key)
			if !ok {
				c.errs.add(pos, ErrInvalidSpec, fmt.Sprintf("%s %s: response key %q is not a status code, a range such as 2XX, or default", method, tmpl, key))
				continue
			}
			o.Responses = append(o.Responses, r)
		}
		slices.SortFunc(o.Responses, func(a, b Response) int {
			if a.Kind != b.Kind {
				return int(a.Kind) - int(b.Kind)
			}
			return a.Code - b.Code
		})
	}
	return o
}

func parseResponseKey(key string) (Response, bool) {
	if key == "default" {
		return Response{Key: key, Kind: ResponseDefault}, true
	}
	if len(key) != 3 || key[0] < '1' || key[0] > '5' {
		return Response{}, false
	}
	if (key[1] == 'X' || key[1] == 'x') && (key[2] == 'X' || key[2] == 'x') {
		return Response{Key: key, Kind: ResponseRange, Code: int(key[0] - '0')}, true
	}
	n, err := strconv.Atoi(key)
	if err != nil || key[1] < '0' || key[1] > '9' || key[2] < '0' || key[2] > '9' {
		return Response{}, false
	}
	return Response{Key: key, Kind: ResponseCode, Code: n}, true
}

// standard methods in the order ids are given, custom ones after, sorted.
var methodOrder = []string{"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE", "QUERY", "CONNECT"}

func compareMethods(a, b string) int {
	ia, ib := slices.Index(methodOrder, a), slices.Index(methodOrder, b)
	switch {
	case ia >= 0 && ib >= 0:
		return ia - ib
	case ia >= 0:
		return -1
	case ib >= 0:
		return 1
	}
	return strings.Compare(a, b)
}

// bases returns the distinct base paths of servers, without a trailing
// slash ("" for the root). Server variables expand to each of their enum
// values, or to their default. No servers means the root, as OpenAPI says.
func (c *compiler) bases(servers openapi3.Servers, pos Pos) []string {
	var out []string
	for _, srv := range servers {
		if srv == nil {
			continue
		}
		urls, err := expandServer(srv)
		if err != nil {
			c.errs.add(pos, ErrInvalidSpec, fmt.Sprintf("server %q: %v", srv.URL, err))
			continue
		}
		for _, raw := range urls {
			u, err := url.Parse(raw)
			if err != nil {
				c.errs.add(pos, ErrInvalidSpec, fmt.Sprintf("server %q: %v", srv.URL, err))
				continue
			}
			p := u.EscapedPath()
			if p != "" && p[0] != '/' {
				p = "/" + p
			}
			p = strings.TrimRight(p, "/")
			if strings.ContainsAny(p, "{}") {
				c.errs.add(pos, ErrInvalidSpec, fmt.Sprintf("server %q: base path %q holds braces", srv.URL, p))
				continue
			}
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	if len(out) == 0 {
		out = []string{""}
	}
	return out
}

func expandServer(srv *openapi3.Server) ([]string, error) {
	urls := []string{srv.URL}
	names := make([]string, 0, len(srv.Variables))
	for n := range srv.Variables {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		v := srv.Variables[n]
		if v == nil || !strings.Contains(srv.URL, "{"+n+"}") {
			continue
		}
		values := v.Enum
		if len(values) == 0 {
			values = []string{v.Default}
		}
		var next []string
		for _, u := range urls {
			for _, val := range values {
				next = append(next, strings.ReplaceAll(u, "{"+n+"}", val))
			}
		}
		if len(next) > maxServerExpansions {
			return nil, fmt.Errorf("its variables expand to more than %d URLs", maxServerExpansions)
		}
		urls = next
	}
	for _, u := range urls {
		if strings.ContainsAny(u, "{}") {
			return nil, fmt.Errorf("a variable has no declaration")
		}
	}
	return urls, nil
}
