package steps_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
)

// TestBuiltinConfigsAtLoad checks that the typed configs of emit,
// auto_promote, regenerate_sdk and create_pr are what the pipeline parser
// validates a definition against, with YAML positions.
func TestBuiltinConfigsAtLoad(t *testing.T) {
	r := steps.NewRegistry()
	gen, err := steps.NewCommandGenerator(steps.CommandConfig{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		steps.RegisterEmit(r),
		steps.RegisterAutoPromote(r, steps.PromoterFunc(nil)),
		steps.RegisterRegenerateSDK(r, gen),
		steps.RegisterCreatePR(r, http.DefaultClient),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	good := `name: chain
on: [{event: schema.changed}]
steps:
  - id: sdk
    uses: regenerate_sdk
    with: {spec: "${{ event.data.spec_path }}", languages: [go]}
  - id: promote
    uses: auto_promote
    with: {entity_type: scenario, entity_id: "${{ event.subject }}", from_environment: dev, to_environment: staging, environments: [dev, staging]}
  - id: pr
    uses: create_pr
    with:
      provider: github
      repo: octo/sdk
      token: "${{ secrets.GITHUB_TOKEN }}"
      branch: sdk-update
      title: Regenerate
      files: [{path: README.md, content: "${{ event.data.spec_path }}"}]
  - id: tell
    uses: emit
    with: {type: sdk.done, data: {pr: "${{ steps.pr.outputs.url }}"}}
`
	p := &pipeline.Parser{Registry: r}
	if _, err := p.Parse("good.yaml", []byte(good)); err != nil {
		t.Fatalf("Parse(good) = %v", err)
	}
	bad := `name: chain
on: [{event: schema.changed}]
steps:
  - id: sdk
    uses: regenerate_sdk
    with: {spec: x, languages: go}
  - id: promote
    uses: auto_promote
    with: {entity_type: scenario, entity_id: x, from_environment: dev, to_environment: staging, enviroments: [dev]}
  - id: pr
    uses: create_pr
    with: {provider: github, repo: o/r, token: t, branch: b, title: x, files: [{content: y}], draft: "yes"}
  - id: tell
    uses: emit
    with: {data: {}}
`
	_, err = p.Parse("bad.yaml", []byte(bad))
	var list pipeline.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("Parse(bad) = %v; want an ErrorList", err)
	}
	var got []string
	for _, e := range list {
		got = append(got, e.Error())
	}
	want := []string{
		`bad.yaml:6:32: with.languages: expected a list, got a string`,
		`bad.yaml:9:11: with: missing required field "environments"`,
		`bad.yaml:9:97: with: unknown key "enviroments" (did you mean "environments"?)`,
		`bad.yaml:12:80: with.files[0]: missing required field "path"`,
		`bad.yaml:12:102: with.draft: expected a boolean, got a string`,
		`bad.yaml:15:11: with: missing required field "type"`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse(bad) diagnostics mismatch (-want +got):\n%s", diff)
	}
}
