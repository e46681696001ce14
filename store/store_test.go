package store_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mockops/mockops/store"
)

func TestStatusTerminal(t *testing.T) {
	tests := []struct {
		s    store.Status
		want bool
	}{
		{store.StatusQueued, false},
		{store.StatusRunning, false},
		{store.StatusSucceeded, true},
		{store.StatusFailed, true},
		{store.StatusCancelled, true},
		{store.StatusTimedOut, true},
		{store.StatusSkipped, true},
		{"", false},
		{"paused", false},
	}
	for _, tt := range tests {
		if got := tt.s.Terminal(); got != tt.want {
			t.Errorf("Status(%q).Terminal() = %v; want %v", tt.s, got, tt.want)
		}
	}
}

// TestCursorIsOpaque: the store package exports no way to build or read a
// cursor, so callers can only pass back the Next they were given; the
// encoding lives in internal/cursor, which the adapters share.
func TestCursorIsOpaque(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if ok && fn.Recv == nil && fn.Name.IsExported() && strings.Contains(fn.Name.Name, "Cursor") {
				t.Errorf("%s: package store exports func %s; want cursors opaque (internal/cursor)", fset.Position(fn.Pos()), fn.Name.Name)
			}
		}
	}
}
