package coverage

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// renderSpec lists a Spec's operations one a line: id, method, template,
// flags, declared responses.
func renderSpec(s *Spec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "openapi %s, %d operations\n", s.Version(), s.Len())
	for _, op := range s.Operations() {
		fmt.Fprintf(&b, "%d %s %s", op.ID, op.Method, op.Path)
		if op.OperationID != "" {
			fmt.Fprintf(&b, " id=%s", op.OperationID)
		}
		if op.RequestBody {
			b.WriteString(" body")
			if op.RequestBodyRequired {
				b.WriteString("(required)")
			}
		}
		if op.Deprecated {
			b.WriteString(" deprecated")
		}
		b.WriteString(" ->")
		for _, r := range op.Responses {
			b.WriteString(" " + r.Key)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// The compiled operations of every document in testdata/, against golden
// files (go test -run Golden -update rewrites them).
func TestSpecGolden(t *testing.T) {
	for _, file := range append(oracleSpecs, "features.yaml") {
		t.Run(file, func(t *testing.T) {
			got := renderSpec(loadTestdata(t, file))
			golden := filepath.Join("testdata", strings.TrimSuffix(file, filepath.Ext(file))+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("operations of %s (-want +got):\n%s", file, diff)
			}
		})
	}
}
