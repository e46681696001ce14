package steps

import (
	"errors"
	"reflect"

	"github.com/mockops/mockops/internal/stepconfig"
)

// ConfigError is one problem in a step's rendered configuration: Path
// names the value ("with.channel", "with.files[2].path").
type ConfigError struct {
	Path string
	Msg  string
}

func (e *ConfigError) Error() string { return e.Path + ": " + e.Msg }

// decode fills v, a settable config struct, from rendered values; the
// error joins one *ConfigError per problem.
func decode(v reflect.Value, with map[string]any) error {
	problems := stepconfig.Decode(v, with)
	errs := make([]error, len(problems))
	for i, e := range problems {
		errs[i] = &ConfigError{Path: e.Path, Msg: e.Msg}
	}
	return errors.Join(errs...)
}
