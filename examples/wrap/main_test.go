package main

import (
	"bytes"
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	want := `GET /hello               200       hello from the app
GET /billing/invoices/1  200 real  invoice from the real billing service
GET /search?q=shoes      200 mock  results from the search mock
GET /hello               200       hello from the app
coverage of app: 1 of 2 operations
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

// The promise of this example: the wiring is under 30 lines.
func TestWiringIsShort(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "main.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Name.Name == "wrap" {
			n := fset.Position(fn.End()).Line - fset.Position(fn.Pos()).Line + 1
			if n >= 30 {
				t.Errorf("wrap is %d lines; want under 30", n)
			}
			return
		}
	}
	t.Fatal("no func wrap in main.go")
}
