package schematest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Glob is filepath.Glob with one {a,b} alternation, which filepath.Glob
// lacks, so a test finds example files wherever an example keeps them.
func Glob(glob string) ([]string, error) {
	pre, rest, ok := strings.Cut(glob, "{")
	if !ok {
		return filepath.Glob(glob)
	}
	alts, post, _ := strings.Cut(rest, "}")
	var out []string
	for alt := range strings.SplitSeq(alts, ",") {
		m, err := filepath.Glob(pre + alt + post)
		if err != nil {
			return nil, err
		}
		out = append(out, m...)
	}
	return out, nil
}

// CheckHead fails t unless src declares draft 2020-12 and the $id id.
func CheckHead(t testing.TB, src []byte, id string) {
	t.Helper()
	var head struct {
		Schema string `json:"$schema"`
		ID     string `json:"$id"`
	}
	if err := json.Unmarshal(src, &head); err != nil {
		t.Fatal(err)
	}
	if head.Schema != "https://json-schema.org/draft/2020-12/schema" || head.ID != id {
		t.Errorf("schema head = %+v; want draft 2020-12 and $id %s", head, id)
	}
}

// CheckComments checks every "# yaml-language-server: $schema=" line of
// files names schema, by a path relative to the file that resolves.
func CheckComments(t testing.TB, files []string, schema []byte) {
	t.Helper()
	const prefix = "# yaml-language-server: $schema="
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.SplitSeq(string(src), "\n") {
			rel, ok := strings.CutPrefix(strings.TrimSpace(line), prefix)
			if !ok {
				continue
			}
			got, err := os.ReadFile(filepath.Join(filepath.Dir(file), rel))
			if err != nil || !bytes.Equal(got, schema) {
				t.Errorf("%s: $schema=%s does not name this package's schema (%v)", file, rel, err)
			}
		}
	}
}
