package pipeline

import (
	"os"
	"testing"

	"github.com/mockops/mockops/internal/schematest"
	"github.com/mockops/mockops/steps"
)

// FuzzSchemaAcceptsParsed holds the schema to never being stricter than
// the parser: whatever a Parser with the built-in step types (and a free
// "log" type the examples use) accepts, the schema accepts, so an editor
// never flags a definition that loads.
func FuzzSchemaAcceptsParsed(f *testing.F) {
	for _, glob := range []string{"testdata/valid/*.yaml", examplesGlob} {
		files, _ := schematest.Glob(glob)
		for _, file := range files {
			src, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(src)
		}
	}
	f.Add([]byte("name: p\non: [{event: a.b, match: {data.x: [1, true, null]}}]\nconcurrency: {mode: skip}\nsteps:\n  - {id: a, uses: http, with: {url: 'https://example.com', expect_status: [200]}, retry: {attempts: 2, backoff: 1s}}\n  - {id: b, uses: emit, needs: a, with: {type: c.d}}\n"))
	f.Add([]byte("name: p\ntriggers: [{event: a.b, filters: {workspace_id: w}}]\nstep_defaults: {emit: {type: x.y}}\nsteps:\n  - {name: open-pr, type: emit, timeout: 5}\n"))
	r := builtinRegistry(f)
	if err := steps.Register(r, "log", func(struct {
		Message string `json:"message"`
		Level   string `json:"level"`
	}) (steps.Step, error) {
		return nil, nil
	}); err != nil {
		f.Fatal(err)
	}
	p := &Parser{Registry: r}
	f.Fuzz(func(t *testing.T, src []byte) {
		if _, err := p.Parse("fuzz.yaml", src); err != nil {
			return
		}
		if err := validateYAML(t, "fuzz.yaml", src); err != nil {
			t.Fatalf("Parse accepts this definition, the schema refuses it:\n%s\n%v", src, err)
		}
	})
}
