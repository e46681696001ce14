//go:build unix

package docs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/mockops/mockops/federation"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
)

// A ```yaml block whose first line names one of the schemas the repository
// ships (`# yaml-language-server: $schema=...pipeline.schema.json` or
// `...federation.schema.json`) is a whole definition: the test checks that
// the schema path exists in the repository, that the block validates
// against that schema as an editor would see it, and that the package's
// parser accepts it (pipelines with the built-in step types and the
// quickstart's `log`, which the guides use). Other YAML blocks are excerpts
// and are not checked.

const schemaMark = "# yaml-language-server: $schema="

// rawBase is how the guides address a schema by URL: the file on the main
// branch of the repository.
const rawBase = "https://raw.githubusercontent.com/mockops/mockops/main/"

// docRegistry holds the step types the guides' pipelines use.
func docRegistry(t *testing.T) *steps.Registry {
	t.Helper()
	reg := steps.NewRegistry()
	err := steps.RegisterBuiltins(reg, steps.Deps{
		SDKGenerator: sdkStub{},
		Promoter: steps.PromoterFunc(func(context.Context, steps.PromotionRequest) (steps.PromotionResult, error) {
			return steps.PromotionResult{}, nil
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	type logConfig struct {
		Message string `json:"message" step:"required"`
	}
	err = steps.Register(reg, "log", func(logConfig) (steps.Step, error) {
		return steps.StepFunc(func(context.Context, steps.Input) (steps.Output, error) { return steps.Output{}, nil }), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// sdkStub makes regenerate_sdk a registered type; nothing runs it.
type sdkStub struct{}

func (sdkStub) Generate(context.Context, steps.SDKRequest) (steps.SDKResult, error) {
	return steps.SDKResult{}, nil
}

func compileSchema(t *testing.T, id string, src []byte) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(id, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// asJSON decodes YAML into the values a JSON Schema validator reads.
func asJSON(src string) (any, error) {
	var v any
	if err := yaml.Unmarshal([]byte(src), &v); err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(b))
}

func TestDocsYAML(t *testing.T) {
	root := moduleRoot(t)
	pipelineSchema := compileSchema(t, pipeline.JSONSchemaID, pipeline.JSONSchema())
	federationSchema := compileSchema(t, federation.JSONSchemaID, federation.JSONSchema())
	parser := pipeline.Parser{Registry: docRegistry(t)}
	checked := 0
	for _, b := range allBlocks(t, root) {
		first, _, _ := strings.Cut(b.body, "\n")
		ref, ok := strings.CutPrefix(strings.TrimSpace(first), schemaMark)
		if b.lang != "yaml" || !ok {
			continue
		}
		checked++
		path, isURL := strings.CutPrefix(ref, rawBase)
		if !isURL {
			t.Errorf("%s: $schema=%s: the guides name the schema by its URL (%s<path>), since a relative path depends on where the reader's file is", b.pos(), ref, rawBase)
			continue
		}
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(path))); err != nil {
			t.Errorf("%s: $schema names %s, which is not in the repository: %v", b.pos(), path, err)
		}
		v, err := asJSON(b.body)
		if err != nil {
			t.Errorf("%s: YAML: %v", b.pos(), err)
			continue
		}
		// Padded so that the parsers' file:line:col are the Markdown file's.
		src := []byte(strings.Repeat("\n", b.line) + b.body)
		switch {
		case strings.HasSuffix(path, "pipeline.schema.json"):
			if err := pipelineSchema.Validate(v); err != nil {
				t.Errorf("%s: against the pipeline schema: %v", b.pos(), err)
			}
			if _, err := parser.Parse(b.file, src); err != nil {
				t.Errorf("%s: pipeline.Parser.Parse:\n%v", b.pos(), err)
			}
		case strings.HasSuffix(path, "federation.schema.json"):
			if err := federationSchema.Validate(v); err != nil {
				t.Errorf("%s: against the federation schema: %v", b.pos(), err)
			}
			if _, err := federation.Parse(b.file, src); err != nil {
				t.Errorf("%s: federation.Parse:\n%v", b.pos(), err)
			}
		default:
			t.Errorf("%s: $schema names %s, not a schema the docs test knows", b.pos(), path)
		}
	}
	if checked < 2 {
		t.Errorf("checked %d definitions; the pipelines and federation guides each show at least one", checked)
	}
}
