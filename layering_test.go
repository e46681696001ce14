package mockops

import (
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/mockops/mockops"

// The layers of DESIGN.md ("Layout and layering"), lowest first. A package
// may import packages of its own layer and of the layers it lists; nothing
// imports a layer above it. internal/ holds mechanisms just above events, so
// every layer from store up may use them.
var layerImports = map[string][]string{
	"events":     nil,
	"internal":   {"events"},
	"store":      {"events", "internal"},
	"steps":      {"events", "internal"},
	"pipeline":   {"events", "internal", "store", "steps"},
	"federation": {"events", "internal", "store"},
	"coverage":   {"events", "internal", "store", "federation"},
	"examples":   {"events", "internal", "store", "steps", "pipeline", "federation", "coverage"},
	"root":       nil,
}

// layerOf names the layer of a package, given its path inside the module
// ("" for the root package). A package outside every layer returns "", so
// a new top-level directory must be given a place here before it builds up
// imports nobody checked.
func layerOf(rel string) string {
	if rel == "" {
		return "root"
	}
	top, _, _ := strings.Cut(rel, "/")
	if _, ok := layerImports[top]; ok && top != "root" {
		return top
	}
	return ""
}

// importAllowed reports whether the package at from may import the package
// at to (both paths inside the module), and why not.
func importAllowed(from, to string) (bool, string) {
	lf, lt := layerOf(from), layerOf(to)
	switch {
	case lf == "":
		return false, "package " + from + " is in no layer of DESIGN.md"
	case lt == "":
		return false, "package " + to + " is in no layer of DESIGN.md"
	case from == "store" && strings.HasPrefix(to, "store/"):
		// The contract never depends on its implementations.
		return false, "the store contract imports its adapter " + to
	case lf == lt, slices.Contains(layerImports[lf], lt):
		return true, ""
	}
	return false, lf + " may not import " + lt
}

func TestImportAllowed(t *testing.T) {
	tests := []struct {
		from, to string
		want     bool
	}{
		{"store", "events", true},
		{"store/sqlstore", "store", true},
		{"store/sqlstore", "internal/yamlpos", true},
		{"store", "store/memory", false},
		{"store/storetest", "store/memory", true},
		{"steps", "events", true},
		{"steps", "store", false},
		{"pipeline", "steps", true},
		{"pipeline", "federation", false},
		{"federation", "pipeline", false},
		{"federation", "steps", false},
		{"coverage", "federation", true},
		{"coverage", "pipeline", false},
		{"events", "store", false},
		{"events", "internal/expr", false},
		{"internal/expr", "events", true},
		{"internal/expr", "steps", false},
		{"examples/quickstart", "coverage", true},
		{"pipeline", "examples/quickstart", false},
		{"tools/gen", "events", false},
		{"events", "tools/gen", false},
		{"", "events", false},
	}
	for _, tt := range tests {
		if got, why := importAllowed(tt.from, tt.to); got != tt.want {
			t.Errorf("importAllowed(%q, %q) = %v (%s); want %v", tt.from, tt.to, got, why, tt.want)
		}
	}
}

// TestLayering checks every non-test import of every package in the module
// against the layers. Test files may reach across layers (a conformance
// suite's test imports an adapter), so they are not checked.
func TestLayering(t *testing.T) {
	ctx := build.Default
	ctx.Dir = "."
	checked := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != "." && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata") {
			return filepath.SkipDir
		}
		pkg, err := ctx.ImportDir(path, 0)
		if _, ok := err.(*build.NoGoError); ok {
			return nil
		}
		if err != nil {
			return err
		}
		rel := filepath.ToSlash(path)
		if rel == "." {
			rel = ""
		}
		for _, imp := range pkg.Imports {
			if imp != module && !strings.HasPrefix(imp, module+"/") {
				continue
			}
			to := strings.TrimPrefix(strings.TrimPrefix(imp, module), "/")
			if ok, why := importAllowed(rel, to); !ok {
				t.Errorf("layering: %s imports %s: %s", displayPath(rel), displayPath(to), why)
			}
			checked++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A walk that found nothing (run from the wrong directory, say) must not pass.
	if checked == 0 {
		wd, _ := os.Getwd()
		t.Fatalf("layering: no module imports found under %s", wd)
	}
}

func displayPath(rel string) string {
	if rel == "" {
		return "the root package"
	}
	return rel
}
