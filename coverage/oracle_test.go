package coverage

import (
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// The real documents the matcher is checked against kin-openapi's router on.
var oracleSpecs = []string{"petstore-expanded.yaml", "redocly-museum-api.yaml", "twilio-api-v2010.json"}

// Every method the three documents use, and one none of them does.
var oracleMethods = []string{"GET", "POST", "DELETE", "PATCH", "PUT"}

// oracle holds one document twice: compiled by us, and routed by
// kin-openapi's gorillamux router, the slow obvious reference.
type oracle struct {
	spec   *Spec
	doc    *openapi3.T
	router routers.Router
	routes []oracleRoute
}

// oracleRoute is one path template under one of its servers.
type oracleRoute struct {
	scheme, host, base string
	template           string
	segs               []segment // of base + template
}

// oracles caches newOracle's results by file.
var oracles sync.Map

func newOracle(t testing.TB, file string) *oracle {
	t.Helper()
	if o, ok := oracles.Load(file); ok {
		return o.(*oracle)
	}
	src, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	spec := loadTestdata(t, file)
	doc, err := openapi3.NewLoader().LoadFromData(src)
	if err != nil {
		t.Fatal(err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	o := &oracle{spec: spec, doc: doc, router: router}
	for _, tmpl := range doc.Paths.Keys() {
		item := doc.Paths.Value(tmpl)
		servers := doc.Servers
		if len(item.Servers) > 0 {
			servers = item.Servers
		}
		for _, srv := range servers {
			u, err := url.Parse(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			base := strings.TrimRight(u.EscapedPath(), "/")
			segs, err := parseTemplate(base + tmpl)
			if err != nil {
				t.Fatal(err)
			}
			o.routes = append(o.routes, oracleRoute{scheme: u.Scheme, host: u.Host, base: base, template: tmpl, segs: segs})
		}
	}
	oracles.Store(file, o)
	return o
}

// want is what kin-openapi's router finds: "GET /pets/{id}", or the
// sentinel's text.
func (o *oracle) want(t testing.TB, r oracleRoute, method, path string) string {
	t.Helper()
	req, err := http.NewRequest(method, r.scheme+"://"+r.host+path, nil)
	if err != nil {
		t.Fatalf("http.NewRequest(%q, %q): %v", method, path, err)
	}
	route, _, err := o.router.FindRoute(req)
	switch {
	case errors.Is(err, routers.ErrPathNotFound):
		return ErrPathNotFound.Error()
	case errors.Is(err, routers.ErrMethodNotAllowed):
		return ErrMethodNotAllowed.Error()
	case err != nil:
		t.Fatalf("FindRoute(%s %s): %v", method, path, err)
	}
	return method + " " + route.Path
}

// got is what our matcher finds, in the same form.
func (o *oracle) got(method, path string) string {
	id, err := o.spec.Match(method, path)
	if err != nil {
		return err.Error()
	}
	op, _ := o.spec.Operation(id)
	return op.Method + " " + op.Path
}

// literalsAt returns, per segment index, the literal segments of every route.
func (o *oracle) literalsAt() map[int][]string {
	lits := map[int][]string{}
	for _, r := range o.routes {
		for i, s := range r.segs {
			if s.parts == nil && !slices.Contains(lits[i], s.lit) {
				lits[i] = append(lits[i], s.lit)
			}
		}
	}
	return lits
}

// fill renders segs with every parameter set to value, except that the
// segment at index at (if any) is set whole to override.
func fill(segs []segment, value string, at int, override string) string {
	var b strings.Builder
	for i, s := range segs {
		b.WriteByte('/')
		switch {
		case i == at:
			b.WriteString(override)
		case s.parts == nil:
			b.WriteString(s.lit)
		default:
			for _, p := range s.parts {
				if p.param {
					b.WriteString(value)
				} else {
					b.WriteString(p.lit)
				}
			}
		}
	}
	return b.String()
}

// examplePaths are the paths the oracle test sends for one route: its
// template filled in, each parameter segment replaced by every literal
// another template has at that depth (where concrete must beat
// templated), and near misses (a trailing slash, an extra segment, no
// base path, an empty parameter, a cut-off suffix).
func (o *oracle) examplePaths(r oracleRoute, lits map[int][]string) []string {
	p := fill(r.segs, "AC0123abc", -1, "")
	paths := []string{p, p + "/", p + "/extra", p[:len(p)-1], fill(r.segs, "", -1, "")}
	if r.base != "" {
		paths = append(paths, strings.TrimPrefix(p, r.base))
	}
	for i, s := range r.segs {
		if s.parts == nil {
			continue
		}
		for _, l := range lits[i] {
			paths = append(paths, fill(r.segs, "AC0123abc", i, l))
		}
	}
	return paths
}

func TestMatchAgreesWithKinOpenAPI(t *testing.T) {
	for _, file := range oracleSpecs {
		t.Run(file, func(t *testing.T) {
			o := newOracle(t, file)
			lits := o.literalsAt()
			n, found := 0, map[string]bool{}
			for _, r := range o.routes {
				for _, p := range o.examplePaths(r, lits) {
					for _, m := range oracleMethods {
						want := o.want(t, r, m, p)
						if got := o.got(m, p); got != want {
							t.Errorf("Match(%q, %q) = %s; want %s (kin-openapi)", m, p, got, want)
						}
						n++
						if !strings.HasPrefix(want, "coverage:") {
							found[want] = true
						}
					}
				}
			}
			// Every operation was matched, so the comparison covered the
			// document rather than agreeing on misses.
			if len(found) != o.spec.Len() {
				t.Errorf("%d distinct operations matched in %d requests; want all %d", len(found), n, o.spec.Len())
			}
			t.Logf("%d requests compared, all %d operations matched", n, len(found))
		})
	}
}
