package pipeline_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mockops/mockops/pipeline"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/invalid")

// TestInvalidGolden parses every testdata/invalid/*.yaml with the test
// registry and compares the full diagnostics with the .golden file beside
// it.
func TestInvalidGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 30 {
		t.Errorf("found %d invalid definitions; want at least 30", len(files))
	}
	p := newParser()
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			d, err := p.Parse(filepath.Base(file), src)
			if err == nil {
				t.Fatalf("Parse(%s) = %+v, nil; want diagnostics", file, d)
			}
			var list pipeline.ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("Parse(%s) error %T is not a pipeline.ErrorList", file, err)
			}
			for _, e := range list {
				if e.Pos.Line == 0 || e.Pos.Col == 0 {
					t.Errorf("diagnostic without a position: %v", e)
				}
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("missing golden file (run go test -update): %v", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("diagnostics of %s mismatch (-want +got):\n%s", file, diff)
			}
		})
	}
}

// TestValidExamples parses every testdata/valid file with and without a
// registry.
func TestValidExamples(t *testing.T) {
	files, err := filepath.Glob("testdata/valid/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("found %d valid examples", len(files))
	}
	p := newParser()
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Parse(file, src); err != nil {
			t.Errorf("Parser.Parse(%s) = %v", file, err)
		}
		if _, err := pipeline.Parse(file, src); err != nil {
			t.Errorf("Parse(%s) = %v", file, err)
		}
	}
}
