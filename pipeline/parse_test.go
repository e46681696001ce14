package pipeline_test

import (
	"testing"
	"time"
)

// TestPipelineLevelTimeout checks that a definition's top-level
// `timeout:` (DESIGN: per step and per pipeline) is accepted and reaches
// the plan.
func TestPipelineLevelTimeout(t *testing.T) {
	tests := []struct {
		name string
		top  string
		want time.Duration
	}{
		{"set", "timeout: 30m\n", 30 * time.Minute},
		{"absent", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "name: t\n" + tt.top + "on:\n  - event: schema.changed\nsteps:\n  - {id: a, uses: emit, with: {type: x.y}, timeout: 1m}\n"
			d := mustParse(t, newParser(), "t.yaml", []byte(src))
			if got := d.Plan().Timeout(); got != tt.want {
				t.Errorf("Plan().Timeout() = %v; want %v", got, tt.want)
			}
			s, _ := d.Plan().Step("a")
			if got := s.Timeout(); got != time.Minute {
				t.Errorf("step timeout = %v; want 1m (the pipeline's does not replace it)", got)
			}
		})
	}
}
