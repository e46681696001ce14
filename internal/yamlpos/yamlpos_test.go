package yamlpos

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, src string
		want      string // the error; "" = no error
		nilNode   bool
	}{
		{"mapping", "a: 1\nb: [x]\n", "", false},
		{"empty", "", "", true},
		{"comment only", "# nothing\n", "", true},
		{"bad indentation", "a: 1\n b: 2\nc: [\n", "f.yaml:2:1: yaml: mapping values are not allowed in this context", false},
		{"unclosed flow", "a: [1, 2\n", "f.yaml:1:1: yaml: did not find expected ',' or ']'", false},
		{"tab", "a:\n\tb: 1\n", "f.yaml:2:1: yaml: found character that cannot start any token", false},
		{"two documents", "a: 1\n---\nb: 2\n", "f.yaml:2:1: only one YAML document is allowed", false},
		// Multi-document input: nothing is dropped silently. Documents
		// without content are ignored, every other one is an error, and a
		// broken document is reported wherever it is.
		{"broken second document", "a: 1\n---\nb: [\n", "f.yaml:3:1: yaml: did not find expected node content", false},
		{"trailing separator", "a: 1\n---\n", "", false},
		{"trailing comment document", "a: 1\n---\n# end\n", "", false},
		{"document end marker", "a: 1\n...\n", "", false},
		{"leading separators", "---\n---\na: 1\n", "", false},
		{"only a separator", "---\n", "", true},
		{"explicit null is content", "a: 1\n---\nnull\n", "f.yaml:2:1: only one YAML document is allowed", false},
		{"three documents", "a: 1\n---\nb: 2\n---\nc: 3\n", "f.yaml:2:1: only one YAML document is allowed\nf.yaml:4:1: only one YAML document is allowed", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := Parse("f.yaml", []byte(tt.src))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Fatalf("Parse(%q) error = %q; want %q", tt.src, got, tt.want)
			}
			if err == nil && (n == nil) != tt.nilNode {
				t.Errorf("Parse(%q) node = %v; want nil %v", tt.src, n, tt.nilNode)
			}
		})
	}
}

func TestFields(t *testing.T) {
	src := "name: x\ntimout: 5s\nname: y\nsteps: []\n? [a]\n: 1\n<<: {z: 1}\n"
	n, err := Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var errs ErrorList
	fields := Fields("p.yaml", n, []string{"name", "timeout", "steps"}, &errs)
	var keys []string
	for _, f := range fields {
		keys = append(keys, f.Key)
	}
	if diff := cmp.Diff([]string{"name", "steps"}, keys); diff != "" {
		t.Errorf("Fields keys (-want +got):\n%s", diff)
	}
	want := strings.Join([]string{
		`p.yaml:2:1: unknown key "timout" (did you mean "timeout"?)`,
		`p.yaml:3:1: duplicate key "name"`,
		`p.yaml:5:3: mapping keys must be strings`,
		`p.yaml:7:1: merge keys (<<) are not supported`,
	}, "\n")
	if got := errs.Err(); got == nil || got.Error() != want {
		t.Errorf("diagnostics =\n%v\nwant\n%s", got, want)
	}
	var list ErrorList
	Fields("p.yaml", n.Content[7], nil, &list) // "steps: []" value is a list
	if got := list.Error(); got != "p.yaml:4:8: expected a mapping, got a list" {
		t.Errorf("Fields on a list = %q", got)
	}
}

func TestErrorList(t *testing.T) {
	var l ErrorList
	if l.Err() != nil {
		t.Fatal("empty ErrorList.Err() != nil")
	}
	l.Add(Pos{File: "b", Line: 1, Col: 1}, "second file")
	l.Add(Pos{File: "a", Line: 3, Col: 2}, "later")
	l.Add(Pos{File: "a", Line: 3, Col: 1}, "earlier")
	err := l.Err()
	want := "a:3:1: earlier\na:3:2: later\nb:1:1: second file"
	if err.Error() != want {
		t.Errorf("Err() =\n%v\nwant\n%s", err, want)
	}
	var e *Error
	if !errors.As(err, &e) || e.Msg != "earlier" {
		t.Errorf("errors.As(err, *Error) = %v; want the first diagnostic", e)
	}
}

func TestPosString(t *testing.T) {
	tests := []struct {
		p    Pos
		want string
	}{
		{Pos{"f", 1, 2}, "f:1:2"},
		{Pos{"f", 1, 0}, "f:1"},
		{Pos{"f", 0, 0}, "f"},
		{Pos{"", 3, 4}, "3:4"},
		{Pos{}, "-"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%#v.String() = %q; want %q", tt.p, got, tt.want)
		}
	}
}

func TestDidYouMean(t *testing.T) {
	known := []string{"timeout", "retry", "continue_on_error", "needs", "id"}
	tests := []struct{ in, want string }{
		{"timout", ` (did you mean "timeout"?)`},
		{"retries", ` (did you mean "retry"?)`},
		{"continue-on-error", ` (did you mean "continue_on_error"?)`},
		{"Needs", ` (did you mean "needs"?)`},
		{"banana", ""},
		{"x", ""},
	}
	for _, tt := range tests {
		if got := DidYouMean(tt.in, known); got != tt.want {
			t.Errorf("DidYouMean(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"a: 1", "a: [1, {b: c}]\n", "- x\n- &a y\n- *a\n", "a:\n  b: |\n    text\n", "{",
		"a: 1\n---\nb: [", "a: 1\n---\n", "---\n---\na: 1\n", "a: 1\n...\n---\nb: &x [*x]\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		n, err := Parse("f.yaml", []byte(src))
		if err != nil {
			var l ErrorList
			if !errors.As(err, &l) || len(l) == 0 {
				t.Fatalf("Parse error %v is not an ErrorList", err)
			}
			for _, e := range l {
				if e.Pos.File != "f.yaml" || e.Pos.Line < 1 || e.Pos.Col < 1 {
					t.Fatalf("diagnostic without a position: %v", e)
				}
			}
			return
		}
		var errs ErrorList
		Fields("f.yaml", n, []string{"a"}, &errs)
		for _, e := range errs {
			if e.Pos.Line < 1 || e.Pos.Col < 1 {
				t.Fatalf("diagnostic without a position: %v", e)
			}
		}
	})
}

func TestParseRejectsAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	_, err := Parse("bomb.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "aliases expand the document") || !strings.HasPrefix(err.Error(), "bomb.yaml:") {
		t.Fatalf("Parse(alias bomb) = %v; want a positioned alias-expansion error", err)
	}
	// A few aliases are fine.
	if _, err := Parse("ok.yaml", []byte("base: &b {x: 1}\none: *b\ntwo: *b\n")); err != nil {
		t.Errorf("Parse(small aliases) = %v", err)
	}
}

// TestErrListCapsPerFile checks that Err keeps MaxErrorsPerFile
// diagnostics of a file and then says how many more there were, file by
// file, and that trimming twice changes nothing.
func TestErrListCapsPerFile(t *testing.T) {
	tests := []struct {
		name   string
		counts map[string]int
		want   map[string]int // diagnostics kept per file, the summary included
	}{
		{"under the cap", map[string]int{"a": 3}, map[string]int{"a": 3}},
		{"one over is kept whole", map[string]int{"a": MaxErrorsPerFile + 1}, map[string]int{"a": MaxErrorsPerFile + 1}},
		{"far over", map[string]int{"a": 250, "b": 40, "c": 1000}, map[string]int{"a": MaxErrorsPerFile + 1, "b": 40, "c": MaxErrorsPerFile + 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l ErrorList
			for file, n := range tt.counts {
				for i := range n {
					l.Add(Pos{File: file, Line: n - i, Col: 1}, "problem %d", n-i)
				}
			}
			err := l.Err()
			var got ErrorList
			if !errors.As(err, &got) {
				t.Fatalf("Err() = %T; want an ErrorList", err)
			}
			perFile := map[string]int{}
			for _, e := range got {
				perFile[e.Pos.File]++
			}
			if diff := cmp.Diff(tt.want, perFile); diff != "" {
				t.Errorf("diagnostics per file (-want +got):\n%s", diff)
			}
			for file, n := range tt.counts {
				if n <= MaxErrorsPerFile+1 {
					continue
				}
				var last *Error
				for _, e := range got {
					if e.Pos.File == file {
						last = e
					}
				}
				want := fmt.Sprintf("%s:%d:1: and %d more problems (only the first %d of a file are listed)", file, MaxErrorsPerFile+1, n-MaxErrorsPerFile, MaxErrorsPerFile)
				if last.Error() != want {
					t.Errorf("last diagnostic of %s = %q; want %q", file, last.Error(), want)
				}
			}
			again := got.Err().(ErrorList)
			if diff := cmp.Diff(got.Error(), again.Error()); diff != "" {
				t.Errorf("Err() of a trimmed list changed it (-first +second):\n%s", diff)
			}
		})
	}
}
