package expr

import (
	"fmt"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/ext"
)

// Scope says where an expression appears, which decides the variables and
// functions it may use.
type Scope uint8

const (
	// ScopeTrigger is a trigger's `if:` and the concurrency group: the event
	// and the pipeline only, since no execution exists yet.
	ScopeTrigger Scope = iota
	// ScopeStep is a step's `if:`: adds steps, execution and the status
	// functions.
	ScopeStep
	// ScopeWith is a `with:` template: everything ScopeStep has, plus secrets.
	ScopeWith
)

func (s Scope) String() string {
	switch s {
	case ScopeTrigger:
		return "trigger"
	case ScopeStep:
		return "step"
	case ScopeWith:
		return "with"
	}
	return fmt.Sprintf("scope(%d)", uint8(s))
}

// Defaults applied by NewEnv to zero Config fields.
const (
	DefaultCostBudget        = 100_000
	DefaultMaxCollectionSize = 1_000
	// interruptEvery is how many comprehension iterations pass between two
	// checks of the context: often enough to stop promptly, rarely enough not
	// to show in profiles.
	interruptEvery = 100
)

// Config bounds what expressions may cost. The zero value is usable.
type Config struct {
	// CostBudget is the highest estimated cost accepted at load time
	// (DefaultCostBudget when zero).
	CostBudget uint64
	// CostLimit stops an evaluation that goes past it at run time
	// (CostBudget when zero). Estimates assume MaxCollectionSize, so a larger
	// payload can cost more than estimated: this is the backstop.
	CostLimit uint64
	// MaxCollectionSize is the size assumed for payload lists, maps and
	// strings when estimating cost (DefaultMaxCollectionSize when zero).
	MaxCollectionSize uint64
}

// Env is the compiled CEL environment. It is immutable and safe for
// concurrent use; build one per parser and share it.
type Env struct {
	cel *cel.Env
	cfg Config
}

// Variable names, shared by the declarations, the activation and the
// reference checks.
const (
	varEvent     = "event"
	varSteps     = "steps"
	varPipeline  = "pipeline"
	varExecution = "execution"
	varSecrets   = "secrets"
)

// statusFuncs are the late-bound status functions.
var statusFuncs = [...]string{"success", "failure", "cancelled", "always"}

// eventFields are the keys of the event variable; a selection of any other
// field is a load error rather than a run-time surprise.
var eventFields = [...]string{"id", "type", "source", "subject", "workspace", "org", "time", "data", "extensions"}

// NewEnv builds the environment.
func NewEnv(cfg Config) (*Env, error) {
	if cfg.CostBudget == 0 {
		cfg.CostBudget = DefaultCostBudget
	}
	if cfg.CostLimit == 0 {
		cfg.CostLimit = cfg.CostBudget
	}
	if cfg.MaxCollectionSize == 0 {
		cfg.MaxCollectionSize = DefaultMaxCollectionSize
	}
	dynMap := cel.MapType(cel.StringType, cel.DynType)
	opts := []cel.EnvOption{
		cel.Variable(varEvent, dynMap),
		cel.Variable(varSteps, dynMap),
		cel.Variable(varPipeline, dynMap),
		cel.Variable(varExecution, dynMap),
		cel.Variable(varSecrets, cel.MapType(cel.StringType, cel.StringType)),
		cel.OptionalTypes(),
		ext.Strings(),
		cel.CrossTypeNumericComparisons(true),
	}
	for _, name := range statusFuncs {
		opts = append(opts, cel.Function(name,
			cel.Overload(name+"_bool", nil, cel.BoolType, cel.LateFunctionBinding())))
	}
	env, err := cel.NewEnv(opts...)
	if err != nil {
		return nil, fmt.Errorf("expr: build environment: %w", err)
	}
	return &Env{cel: env, cfg: cfg}, nil
}

// Error is a compile-time problem. Offset is the byte offset inside the
// source text handed to Compile or CompileTemplate, so a caller that knows
// where that text sits in a file can point at the exact character.
type Error struct {
	Offset int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }
