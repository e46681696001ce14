package pipeline_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
)

// Fake step types whose configs exercise the checker; the built-in steps
// come in a later issue.
type regenerateSDKConfig struct {
	Spec      string   `json:"spec"`
	SpecPath  string   `json:"spec_path"`
	Languages []string `json:"languages" step:"required"`
	OutputDir string   `json:"output_dir"`
}

type notifyConfig struct {
	Type            string            `json:"type"`
	Channel         string            `json:"channel"`
	Channels        []string          `json:"channels"`
	Message         string            `json:"message" step:"required"`
	WebhookURL      string            `json:"webhook_url"`
	SlackWebhookURL string            `json:"slack_webhook_url"`
	Headers         map[string]string `json:"headers"`
	Retries         int               `json:"retries"`
	Timeout         time.Duration     `json:"timeout"`
}

type prFile struct {
	Path    string `json:"path" step:"required"`
	Content string `json:"content"`
	Type    string `json:"type"`
}

type createPRConfig struct {
	Provider   string   `json:"provider"`
	Owner      string   `json:"owner"`
	Repo       string   `json:"repo"`
	Token      string   `json:"token"`
	Title      string   `json:"title"`
	Body       string   `json:"body"`
	Branch     string   `json:"branch"`
	BaseBranch string   `json:"base_branch"`
	Files      []prFile `json:"files"`
	Draft      bool     `json:"draft"`
}

type autoPromoteConfig struct {
	EntityType      string `json:"entity_type" step:"required"`
	EntityID        string `json:"entity_id" step:"required"`
	EntityVersion   string `json:"entity_version"`
	FromEnvironment string `json:"from_environment" step:"required"`
	ToEnvironment   string `json:"to_environment" step:"required"`
	Comments        string `json:"comments"`
}

func nop[C any](C) (steps.Step, error) {
	return steps.StepFunc(func(context.Context, steps.Input) (steps.Output, error) { return steps.Output{}, nil }), nil
}

func testRegistry() *steps.Registry {
	r := steps.NewRegistry()
	steps.MustRegister(r, "regenerate_sdk", nop[regenerateSDKConfig])
	steps.MustRegister(r, "notify", nop[notifyConfig])
	steps.MustRegister(r, "create_pr", nop[createPRConfig])
	steps.MustRegister(r, "auto_promote", nop[autoPromoteConfig])
	steps.MustRegister(r, "emit", nop[struct {
		Type string         `json:"type" step:"required"`
		Data map[string]any `json:"data"`
	}])
	return r
}

func newParser() *pipeline.Parser { return &pipeline.Parser{Registry: testRegistry()} }

func mustParse(t testing.TB, p *pipeline.Parser, file string, src []byte) *pipeline.Definition {
	t.Helper()
	d, err := p.Parse(file, src)
	if err != nil {
		t.Fatalf("Parse(%s) = %v", file, err)
	}
	return d
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pipelineRenderContext(ev events.Event) pipeline.RenderContext {
	return pipeline.RenderContext{Event: pipeline.NewEventVars(ev), Secrets: mapSecrets{}}
}

// match is Plan.Match for an event built in a test.
func match(p *pipeline.Plan, ev events.Event) []pipeline.TriggerResult {
	return p.Match(context.Background(), pipeline.NewEventVars(ev))
}
