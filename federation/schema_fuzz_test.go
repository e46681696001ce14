package federation

import (
	"bytes"
	"os"
	"testing"

	"github.com/mockops/mockops/internal/schematest"
)

// FuzzSchemaAcceptsParsed holds the schema to never being stricter than
// the parser, so an editor never flags a definition that loads, with one
// known exception: an empty string where the parser reads "" as the
// default (strategy: "", protocol: "", miss_header: "", ...); the schema
// asks to leave such a key out, so inputs holding an empty quoted string
// are skipped.
func FuzzSchemaAcceptsParsed(f *testing.F) {
	for _, glob := range []string{"testdata/parse/*.yaml", examplesGlob} {
		files, _ := schematest.Glob(glob)
		for _, file := range files {
			src, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(exampleSource(src))
		}
	}
	f.Add([]byte("name: s\nservices:\n  - {name: a, base_path: /, host: a.example, reality: blended, upstream: 'http://127.0.0.1:1', timeout: 0s, blend: {strategy: shadow, primary: mock, sample: 0.5, ignore: [$.a]}}\n  - {name: b, base_path: /b, reality: chaos_driven, protocol: websocket, chaos: {latency: {p: 1, fixed: +1s}, hang: {p: 0}}}\nscenarios: [{name: x, services: {a: {reality: mock_v3}}}]\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		if bytes.Contains(src, []byte(`""`)) || bytes.Contains(src, []byte(`''`)) {
			return
		}
		if _, err := Parse("fuzz.yaml", src); err != nil {
			return
		}
		if err := validateYAML(t, "fuzz.yaml", src); err != nil {
			t.Fatalf("Parse accepts this definition, the schema refuses it:\n%s\n%v", src, err)
		}
	})
}
