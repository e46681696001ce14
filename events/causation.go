package events

import "strconv"

// Extension attributes that link an event to the event that caused it.
const (
	ExtCausationID = "causationid"
	ExtDepth       = "depth"
)

// CausedBy returns a copy of e marked as raised in reaction to parent: its
// causationid is parent's ID and its depth is parent's depth plus one. The
// depth is what lets a consumer refuse chains deeper than a limit (the
// pipeline engine, not built yet, is to default to 8), so a pipeline that
// emits the event that triggers it cannot loop forever.
func (e Event) CausedBy(parent Event) Event {
	ext := make(map[string]string, len(e.Extensions)+2)
	for k, v := range e.Extensions {
		ext[k] = v
	}
	ext[ExtCausationID] = parent.ID
	ext[ExtDepth] = strconv.Itoa(parent.Depth() + 1)
	e.Extensions = ext
	return e
}

// Depth is the number of events in e's causation chain before it: 0 for an
// event raised by the platform, 1 for one raised by a pipeline reacting to
// it, and so on. A missing or malformed depth counts as 0.
func (e Event) Depth() int {
	d, err := strconv.Atoi(e.Extensions[ExtDepth])
	if err != nil || d < 0 {
		return 0
	}
	return d
}
