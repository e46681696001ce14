package steps_test

import (
	"strings"
	"testing"

	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
)

// TestBuiltinConfigsCheckedAtLoad: the typed configs of http and notify
// are checked when a definition is parsed, with the YAML position.
func TestBuiltinConfigsCheckedAtLoad(t *testing.T) {
	r := steps.NewRegistry()
	if err := steps.RegisterBuiltins(r, steps.Deps{}); err != nil {
		t.Fatal(err)
	}
	p := &pipeline.Parser{Registry: r}
	head := "name: p\non: [{event: schema.changed}]\nsteps:\n  - id: s\n"
	tests := []struct {
		name, step string
		want       string // "" = valid
	}{
		{"valid http", "    uses: http\n    with: {url: \"https://api.example.com/x\", expect_status: [200, 201]}\n", ""},
		{"valid notify", "    uses: notify\n    with:\n      targets:\n        - email: {host: mail.example.com, from: a@example.com, to: [b@example.com], text: hi, password: \"${{ secrets.SMTP }}\", username: ops}\n", ""},
		{"http without url", "    uses: http\n    with: {method: GET}\n", `p.yaml:6:11: with: missing required field "url"`},
		{"expect_status of the wrong type", "    uses: http\n    with: {url: \"https://x\", expect_status: ok}\n", "p.yaml:6:45: with.expect_status: expected a list"},
		{"email without from", "    uses: notify\n    with:\n      targets:\n        - email: {host: h, to: [b@example.com], text: hi}\n", `p.yaml:8:18: with.targets[0].email: missing required field "from"`},
		{"webhook unknown key", "    uses: notify\n    with:\n      targets:\n        - webhook: {url: \"https://x\", secrte: s}\n", `p.yaml:8:39: with.targets[0].webhook: unknown key "secrte" (did you mean "secret"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.Parse("p.yaml", []byte(head+tt.step))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if tt.want == "" && got != "" || tt.want != "" && !strings.HasPrefix(got, tt.want) {
				t.Errorf("Parse = %q; want %q", got, tt.want)
			}
		})
	}
}
