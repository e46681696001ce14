package pipeline

import (
	"slices"
	"time"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/internal/expr"
	"github.com/mockops/mockops/internal/yamlpos"
)

// Format is the dialect a definition was written in.
type Format string

// The accepted dialects.
const (
	FormatMockOps   Format = "mockops"
	FormatMockForge Format = "mockforge"
)

// DefaultTimeout is a step's timeout when neither the step nor the
// definition's defaults give one: every step has a finite deadline.
const DefaultTimeout = 10 * time.Minute

// Definition is a parsed, validated pipeline definition.
type Definition struct {
	Name        string
	Description string
	Workspace   string // empty: every workspace
	Enabled     bool
	Format      Format
	Source      []byte // the text it was parsed from
	File        string // the name given to Parse (for diagnostics)

	namePos yamlpos.Pos
	plan    *Plan
}

// Plan returns the compiled plan.
func (d *Definition) Plan() *Plan { return d.plan }

// ConcurrencyMode says what happens when a run of a concurrency group is
// in progress and another is triggered.
type ConcurrencyMode string

// The concurrency modes; ModeQueue is the default so that no run is ever
// dropped silently.
const (
	ModeQueue            ConcurrencyMode = "queue"
	ModeCancelInProgress ConcurrencyMode = "cancel_in_progress"
	ModeSkip             ConcurrencyMode = "skip"
)

// Retry is a step's retry policy. Attempts counts the first try, so 1
// means no retry.
type Retry struct {
	Attempts   int
	Backoff    time.Duration
	MaxBackoff time.Duration
}

// The retry policy when neither the step nor the defaults set a field:
// no retry, and a backoff that is sane should attempts be raised alone.
const (
	defaultAttempts   = 1
	defaultBackoff    = time.Second
	defaultMaxBackoff = time.Minute
)

// Plan is a compiled definition: trigger index keys, compiled filters,
// the step DAG and compiled templates. It is immutable and safe for
// concurrent use; accessors return copies.
type Plan struct {
	name      string
	workspace string
	enabled   bool
	triggers  []*trigger
	grouped   bool           // `concurrency:` is declared: each execution holds a group
	group     *expr.Template // nil: one group per pipeline
	mode      ConcurrencyMode
	timeout   time.Duration // a whole execution's; 0: none beyond the steps'
	steps     []*Step
	byID      map[string]*Step
	order     []string       // a topological order of step ids
	pvars     map[string]any // the `pipeline` variable, built once
}

// seal finishes a plan after parsing.
func (p *Plan) seal() {
	p.pvars = map[string]any{"name": p.name, "workspace": p.workspace}
	for _, s := range p.steps {
		if s.with == nil {
			continue
		}
		for _, r := range s.with.Refs().Secrets {
			if r.Optional && !slices.Contains(s.optionalSecrets, r.Name) {
				s.optionalSecrets = append(s.optionalSecrets, r.Name)
			}
		}
	}
}

// Name returns the pipeline name.
func (p *Plan) Name() string { return p.name }

// Workspace returns the workspace scope ("" = every workspace).
func (p *Plan) Workspace() string { return p.workspace }

// Enabled reports whether the pipeline reacts to events.
func (p *Plan) Enabled() bool { return p.enabled }

// EventTypes returns the event types of the triggers, in trigger order
// (the keys of the type index).
func (p *Plan) EventTypes() []events.Type {
	out := make([]events.Type, len(p.triggers))
	for i, t := range p.triggers {
		out[i] = t.event
	}
	return out
}

// ConcurrencyMode returns the concurrency mode.
func (p *Plan) ConcurrencyMode() ConcurrencyMode { return p.mode }

// Timeout returns the pipeline-level `timeout:`, the deadline of a whole
// execution, or 0 when the definition sets none (each step still has its
// own). The earlier of the two deadlines ends a step.
func (p *Plan) Timeout() time.Duration { return p.timeout }

// Steps returns the steps in definition order.
func (p *Plan) Steps() []*Step { return slices.Clone(p.steps) }

// Step returns the step with the given id.
func (p *Plan) Step(id string) (*Step, bool) {
	s, ok := p.byID[id]
	return s, ok
}

// Order returns the step ids in an order where every step comes after the
// steps it needs.
func (p *Plan) Order() []string { return slices.Clone(p.order) }

// Step is one compiled step of a plan. It is immutable.
type Step struct {
	id              string
	uses            string
	needs           []string
	timeout         time.Duration
	retry           Retry
	continueOnError bool
	cond            *expr.Program // nil: success()
	with            *expr.Value
	secrets         []string
	optionalSecrets []string // tested with has() or read with .?: may be missing
	pos             yamlpos.Pos
}

// ID returns the step id.
func (s *Step) ID() string { return s.id }

// Uses returns the step type.
func (s *Step) Uses() string { return s.uses }

// Needs returns the ids of the steps this one waits for: the explicit
// `needs:` list, or else the step before it.
func (s *Step) Needs() []string { return slices.Clone(s.needs) }

// Timeout returns the step's timeout, defaults applied.
func (s *Step) Timeout() time.Duration { return s.timeout }

// Retry returns the step's retry policy, defaults applied.
func (s *Step) Retry() Retry { return s.retry }

// ContinueOnError reports whether a failure of this step leaves the
// execution successful (outcome failure, conclusion success).
func (s *Step) ContinueOnError() bool { return s.continueOnError }

// If returns the source of the step's condition ("" when it has none and
// runs on success()).
func (s *Step) If() string {
	if s.cond == nil {
		return ""
	}
	return s.cond.Source()
}

// Secrets returns the secret names the step's `with:` reads, sorted.
func (s *Step) Secrets() []string { return slices.Clone(s.secrets) }

// Pos returns the position of the step in its definition.
func (s *Step) Pos() Pos { return Pos(s.pos) }
