package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/tidwall/gjson"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/internal/expr"
)

// ErrInvalidPayload is returned (wrapped) for an event whose payload is not
// a JSON object: every trigger the event reaches fails with it (a filter
// error, not "did not match"), and so does every expression evaluated for
// it.
var ErrInvalidPayload = errors.New("pipeline: event payload is not a JSON object")

// EventVars is one event as plans read it: what match keys look up and
// what expressions see as `event`. Build it once per event with
// NewEventVars and hand the same value to Index.Match, Plan.Match,
// Plan.ConcurrencyGroup and, in a RenderContext, to Plan.ShouldRun and
// Plan.Render of every step of every execution the event starts: the
// payload is checked once, and decoded at most once, by the first
// expression that reads it.
//
// An EventVars is safe for concurrent use and never changes after
// NewEventVars returns (the decode happens under a sync.Once).
type EventVars struct {
	ev      events.Event
	invalid error // set when the payload is not a JSON object

	once sync.Once
	vars *expr.EventVars // decoded on first use
	err  error
}

// NewEventVars checks ev's payload and prepares it for matching and
// rendering. It never fails: an invalid payload is reported by Err and by
// everything that reads the payload.
func NewEventVars(ev events.Event) *EventVars {
	e := &EventVars{ev: ev}
	if raw := bytes.TrimSpace(ev.Data); len(raw) > 0 {
		switch {
		case !gjson.ValidBytes(raw):
			e.invalid = fmt.Errorf("%w: event %s: not valid JSON", ErrInvalidPayload, ev.ID)
		case raw[0] != '{':
			e.invalid = fmt.Errorf("%w: event %s: a JSON %s", ErrInvalidPayload, ev.ID, jsonKind(raw[0]))
		}
	}
	return e
}

func jsonKind(c byte) string {
	switch c {
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// Event returns the event.
func (e *EventVars) Event() events.Event {
	if e == nil {
		return events.Event{}
	}
	return e.ev
}

// Err reports a payload that is not a JSON object (wrapping
// ErrInvalidPayload), or nil.
func (e *EventVars) Err() error {
	if e == nil {
		return nil
	}
	return e.invalid
}

// decoded returns the `event` variable, decoding the payload on first use.
func (e *EventVars) decoded() (*expr.EventVars, error) {
	if e == nil {
		return expr.NewEventVars(events.Event{}) // no event: every field empty
	}
	if e.invalid != nil {
		return nil, e.invalid
	}
	e.once.Do(func() { e.vars, e.err = expr.NewEventVars(e.ev) })
	return e.vars, e.err
}
