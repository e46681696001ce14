package federation

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The diagnostic types are the package's own, so go doc shows their
// fields, and they are what Parse and Validate return.
func TestDiagnosticTypesArePublic(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeFor[Error](), reflect.TypeFor[ErrorList](), reflect.TypeFor[Pos]()} {
		if got := typ.PkgPath(); got != "github.com/mockops/mockops/federation" {
			t.Errorf("%s is defined in %s; want the federation package itself", typ, got)
		}
	}
	_, err := Parse("x.yaml", []byte("name: x\nservices: [{name: a, base_path: /a, reality: nope}]\n"))
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 1 {
		t.Fatalf("Parse = %v; want an ErrorList of one", err)
	}
	want := &Error{Pos: Pos{File: "x.yaml", Line: 2, Col: 46}, Path: "services[a].reality", Msg: list[0].Msg}
	if diff := cmp.Diff(want, list[0]); diff != "" {
		t.Errorf("diagnostic (-want +got):\n%s", diff)
	}
	var one *Error
	if !errors.As(err, &one) || one != list[0] {
		t.Errorf("errors.As(*Error) = %v; want the list's diagnostic", one)
	}
}

// A federation built in Go has no positions: each diagnostic names the
// service and field by path instead of rendering "-:", and a duplicate
// names where the first one is.
func TestHandBuiltDiagnosticsNameThePath(t *testing.T) {
	p := 2.0
	f := &Federation{Name: "h", Services: []Service{
		{Name: "orders", BasePath: "/o", Reality: Real, Upstream: "http://127.0.0.1:1", Timeout: -1},
		{Name: "audit", BasePath: "/o", Reality: MockV3, DependsOn: []string{"nope"}},
		{BasePath: "/x", Reality: MockV3},
		{Name: "chaos", BasePath: "/c", Reality: ChaosDriven, Chaos: &Chaos{Abort: &AbortFault{P: p, Status: 503}}},
		{Name: "orders", BasePath: "/p", Reality: MockV3},
	}, Scenarios: []Scenario{{Name: "s", Services: []Override{{Service: "audit", Reality: "bogus"}}}}}
	err := f.Validate()
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("Validate() = %v; want an ErrorList", err)
	}
	var paths []string
	for _, e := range list {
		paths = append(paths, e.Path)
		if e.Pos.IsValid() {
			t.Errorf("diagnostic %q has a position %v for a value built in Go", e.Msg, e.Pos)
		}
		if got := e.Error(); strings.HasPrefix(got, "-") || !strings.HasPrefix(got, e.Path+": ") {
			t.Errorf("diagnostic renders %q; want it to start with its path %q", got, e.Path)
		}
	}
	want := []string{
		"services[orders].timeout",
		"services[audit].base_path",
		"services[2]",
		"services[chaos].chaos.abort.p",
		"services[4].name",
		"services[audit].depends_on[0]",
		"scenarios[s].services[audit].reality",
	}
	if diff := cmp.Diff(want, paths); diff != "" {
		t.Errorf("diagnostic paths (-want +got):\n%s\n%v", diff, err)
	}
	// The duplicates point at the first declaration by path.
	for _, e := range list {
		if e.Path == "services[audit].base_path" && !strings.Contains(e.Msg, "services[orders].base_path") {
			t.Errorf("duplicate base path %q does not name the first one's path", e.Msg)
		}
		if e.Path == "services[4].name" && !strings.Contains(e.Msg, "services[orders].name") {
			t.Errorf("duplicate name %q does not name the first one's path", e.Msg)
		}
	}
}

// Cycle diagnostics stay linear in the definition: each group of services
// that depend on each other is reported once, with a bounded message,
// however many edges close a cycle (each back edge used to print the
// whole depth-first stack: quadratic).
func TestCycleDiagnosticsAreBounded(t *testing.T) {
	const n = 3000
	for _, tc := range []struct {
		name   string
		deps   func(i int) []string
		groups int // cycle diagnostics wanted
	}{
		// A chain where every service also depends on the first: n back
		// edges, one group.
		{"chain back to the first", func(i int) []string {
			return []string{fmt.Sprintf("s%d", (i+1)%n), "s0"}
		}, 1},
		// Every service depends on every later one and the last on the
		// first: dense, one group.
		{"dense", func(i int) []string {
			var out []string
			for j := i + 1; j < min(i+20, n); j++ {
				out = append(out, fmt.Sprintf("s%d", j))
			}
			return append(out, "s0")
		}, 1},
		// Disjoint pairs: n/2 groups, each reported once.
		{"pairs", func(i int) []string { return []string{fmt.Sprintf("s%d", i^1)} }, n / 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &Federation{Name: "c"}
			for i := range n {
				f.Services = append(f.Services, Service{Name: fmt.Sprintf("s%d", i), BasePath: fmt.Sprintf("/s%d", i), Reality: MockV3, DependsOn: tc.deps(i)})
			}
			err := f.Validate()
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("Validate() = %v; want cycle diagnostics", err)
			}
			cycles := 0
			for _, e := range list {
				if strings.HasPrefix(e.Msg, "dependency cycle: ") {
					cycles++
				}
				if len(e.Msg) > 400 {
					t.Fatalf("a diagnostic is %d bytes: %.200s...", len(e.Msg), e.Msg)
				}
			}
			// yamlpos may cap the list per file ("and N more"): never more
			// than one diagnostic per group.
			if cycles == 0 || cycles > tc.groups {
				t.Errorf("%d cycle diagnostics; want one per group (%d)", cycles, tc.groups)
			}
			if size := len(err.Error()); size > 400*tc.groups+1000 {
				t.Errorf("error is %d bytes for %d services; want it linear", size, n)
			}
		})
	}
}

// Parse refuses a source over MaxSourceSize before decoding it.
func TestParseRejectsOversizedSource(t *testing.T) {
	src := []byte("name: big\ndescription: " + strings.Repeat("x", MaxSourceSize) + "\nservices: [{name: a, base_path: /a, reality: mock_v3}]\n")
	_, err := Parse("big.yaml", src)
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 1 || list[0].Pos != (Pos{File: "big.yaml", Line: 1, Col: 1}) {
		t.Fatalf("Parse of %d bytes = %v; want one diagnostic at big.yaml:1:1", len(src), err)
	}
	if _, err := Parse("ok.yaml", src[:0:0]); err == nil {
		t.Fatalf("Parse of an empty source succeeded")
	}
	small := []byte("name: small\nservices: [{name: a, base_path: /a, reality: mock_v3}]\n")
	if _, err := Parse("small.yaml", small); err != nil {
		t.Fatalf("Parse of a small source = %v", err)
	}
}
