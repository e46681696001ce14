package steps

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"

	"github.com/mockops/mockops/internal/stepconfig"
)

// ErrDuplicate is returned (wrapped) by Register for a name already taken.
var ErrDuplicate = errors.New("steps: step type already registered")

// Registry holds the step types a host offers to its pipelines. The zero
// value is not usable; call NewRegistry. It is safe for concurrent use.
type Registry struct {
	mu    sync.RWMutex
	types map[string]*Type
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{types: map[string]*Type{}}
}

// Type is a registered step type: its name, its config struct and the
// factory that turns a decoded config into a Step.
type Type struct {
	name   string
	config reflect.Type
	build  func(cfg any) (Step, error)
}

// Register adds the step type name, configured by C (a struct), to r.
// newStep is called on every run with the rendered, decoded config.
func Register[C any](r *Registry, name string, newStep func(cfg C) (Step, error)) error {
	ct := reflect.TypeFor[C]()
	if newStep == nil {
		return fmt.Errorf("steps: register %q: nil factory", name)
	}
	if !ValidTypeName(name) {
		return fmt.Errorf("steps: register %q: a step type name is lower-case letters, digits, '_', '-' and '.', starting with a letter", name)
	}
	if ct.Kind() != reflect.Struct {
		return fmt.Errorf("steps: register %q: config type %s is not a struct", name, ct)
	}
	if err := stepconfig.CheckType(ct); err != nil {
		return fmt.Errorf("steps: register %q: %w", name, err)
	}
	t := &Type{
		name:   name,
		config: ct,
		build:  func(cfg any) (Step, error) { return newStep(cfg.(C)) },
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.types[name]; dup {
		return fmt.Errorf("%w: %q", ErrDuplicate, name)
	}
	r.types[name] = t
	return nil
}

// MustRegister is Register for wiring code: it panics on error, which can
// only be a programmer mistake (duplicate name, unsupported config type).
func MustRegister[C any](r *Registry, name string, newStep func(cfg C) (Step, error)) {
	if err := Register(r, name, newStep); err != nil {
		panic(err)
	}
}

// Lookup returns the step type called name.
func (r *Registry) Lookup(name string) (*Type, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t, ok := r.types[name]
	return t, ok
}

// Names returns the registered names in sorted order (for diagnostics such
// as "did you mean").
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.types))
	for n := range r.types {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Name returns the step type's name.
func (t *Type) Name() string { return t.name }

// ConfigType returns the config struct type. Pipeline parsers check a
// step's `with:` against it when a definition is loaded.
func (t *Type) ConfigType() reflect.Type { return t.config }

// Decode decodes a rendered config into the config struct, returned as a
// value of the registered type C inside an any.
func (t *Type) Decode(with map[string]any) (any, error) {
	v := reflect.New(t.config).Elem()
	if err := decode(v, with); err != nil {
		return nil, fmt.Errorf("steps: config of %q: %w", t.name, err)
	}
	return v.Interface(), nil
}

// New decodes a rendered config and builds the Step from it.
func (t *Type) New(with map[string]any) (Step, error) {
	cfg, err := t.Decode(with)
	if err != nil {
		return nil, Permanent(err)
	}
	s, err := t.build(cfg)
	if err != nil {
		return nil, fmt.Errorf("steps: build %q: %w", t.name, err)
	}
	if s == nil {
		return nil, fmt.Errorf("steps: build %q: factory returned a nil step", t.name)
	}
	return s, nil
}

// DecodeConfig decodes a rendered config into C with the rules Type.Decode
// applies, for code that holds the config type statically.
func DecodeConfig[C any](with map[string]any) (C, error) {
	var c C
	if err := decode(reflect.ValueOf(&c).Elem(), with); err != nil {
		return c, fmt.Errorf("steps: config: %w", err)
	}
	return c, nil
}

// ValidTypeName reports whether s can name a step type: lower-case
// letters, digits, '_', '-' and '.', starting with a letter. Parsers use it
// to check `uses:` when no registry is at hand.
func ValidTypeName(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}
