package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/mockops/mockops/events"
)

// Validate reports, with an error wrapping ErrInvalid, what makes e a
// state entry no adapter stores: a Value that is neither empty nor one
// JSON document in UTF-8. PutState checks it in every adapter, so a value
// that one database would reject and another keep fails alike everywhere.
func (e StateEntry) Validate() error {
	if err := checkJSON(e.Value); err != nil {
		return fmt.Errorf("%w: state %q/%q: value %w", ErrInvalid, e.Scope, e.Key, err)
	}
	return nil
}

// Validate reports, with an error wrapping ErrInvalid, what makes x an
// execution no adapter stores: an Event that is set but not valid
// (events.Event.Validate, whose error is wrapped too) or whose Data is not
// UTF-8, an ID, Pipeline, EventID, Status, Owner or Error that is not
// UTF-8 text without NUL bytes (PostgreSQL's text type refuses both, and
// would fail a whole CreateExecutions batch over one such item), or a
// step whose With or Output is neither empty nor one JSON document in
// UTF-8. A zero Event (an execution started by hand) is valid. CreateExecution checks it, and UpdateExecution checks the
// error and the steps it writes.
func (x Execution) Validate() error {
	for _, f := range []struct{ name, value string }{
		{"id", x.ID}, {"pipeline", x.Pipeline}, {"event id", x.EventID}, {"status", string(x.Status)}, {"owner", x.Owner},
	} {
		if err := checkText(f.value); err != nil {
			return fmt.Errorf("%w: execution of %q: %s %w", ErrInvalid, x.Pipeline, f.name, err)
		}
	}
	if err := checkText(x.Error); err != nil {
		return fmt.Errorf("%w: execution of %q: error %w", ErrInvalid, x.Pipeline, err)
	}
	if !isZeroEvent(x.Event) {
		if err := x.Event.Validate(); err != nil {
			return fmt.Errorf("%w: execution of %q: event: %w", ErrInvalid, x.Pipeline, err)
		}
		// Validate checks the payload's syntax; its encoding too must be
		// one every adapter keeps.
		if err := checkJSON(x.Event.Data); err != nil {
			return fmt.Errorf("%w: execution of %q: event data %w", ErrInvalid, x.Pipeline, err)
		}
	}
	for i, st := range x.Steps {
		if err := checkJSON(st.With); err != nil {
			return fmt.Errorf("%w: execution of %q: step %d (%s): with %w", ErrInvalid, x.Pipeline, i, st.ID, err)
		}
		if err := checkJSON(st.Output); err != nil {
			return fmt.Errorf("%w: execution of %q: step %d (%s): output %w", ErrInvalid, x.Pipeline, i, st.ID, err)
		}
	}
	return nil
}

// checkJSON accepts an empty payload (no value) or one JSON document in
// UTF-8, as RFC 8259 requires and PostgreSQL's json type enforces.
func checkJSON(b json.RawMessage) error {
	switch {
	case len(b) == 0:
		return nil
	case !utf8.Valid(b):
		return errors.New("is not UTF-8")
	case !json.Valid(b):
		return errors.New("is not valid JSON")
	}
	return nil
}

// checkText accepts UTF-8 text without NUL bytes, what every adapter's
// text column keeps. A caller storing an arbitrary error message cleans it
// first (strings.ToValidUTF8, and NUL replaced).
func checkText(s string) error {
	switch {
	case !utf8.ValidString(s):
		return errors.New("is not UTF-8")
	case strings.IndexByte(s, 0) >= 0:
		return errors.New("contains a NUL byte")
	}
	return nil
}

func isZeroEvent(e events.Event) bool {
	return e.ID == "" && e.Type == "" && e.Source == "" && e.Subject == "" && e.Workspace == "" &&
		e.Org == "" && e.Time.IsZero() && len(e.Data) == 0 && len(e.Extensions) == 0
}
