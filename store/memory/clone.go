package memory

import (
	"encoding/json"
	"maps"
	"slices"

	"github.com/mockops/mockops/store"
)

// The clone functions copy everything a record shares by reference, so that
// stored records and the caller's never alias. slices.Clone and maps.Clone
// keep nil as nil and empty as empty, so a record comes back as it went in.

func clonePipeline(p store.Pipeline) store.Pipeline {
	p.Source = slices.Clone(p.Source)
	return p
}

func cloneFederation(f store.FederationRecord) store.FederationRecord {
	f.Spec = slices.Clone(f.Spec)
	return f
}

func cloneState(e store.StateEntry) store.StateEntry {
	e.Value = slices.Clone(e.Value)
	return e
}

func cloneExecution(x store.Execution) store.Execution {
	x.Event.Data = slices.Clone(x.Event.Data)
	x.Event.Extensions = maps.Clone(x.Event.Extensions)
	x.Steps = cloneSteps(x.Steps)
	return x
}

func cloneSteps(steps []store.StepRun) []store.StepRun {
	if steps == nil {
		return nil
	}
	out := make([]store.StepRun, len(steps))
	for i, st := range steps {
		st.With = slices.Clone(st.With)
		st.Output = slices.Clone(st.Output)
		out[i] = st
	}
	return out
}

// copySteps returns a copy of src that reuses the memory of dst, the
// steps an update replaces. That is safe because stored steps are never
// handed out (every read clones them), and it spares the hot path of an
// execution, its updates, most of their allocations.
func copySteps(dst, src []store.StepRun) []store.StepRun {
	if src == nil {
		return nil
	}
	if cap(dst) < len(src) {
		dst = append(dst[:cap(dst)], make([]store.StepRun, len(src)-cap(dst))...)
	}
	dst = dst[:len(src)]
	for i, st := range src {
		st.With = copyBytes(dst[i].With, st.With)
		st.Output = copyBytes(dst[i].Output, st.Output)
		dst[i] = st
	}
	return dst
}

// copyBytes returns a copy of src that reuses the memory of dst, keeping
// nil and empty apart as slices.Clone does.
func copyBytes(dst, src json.RawMessage) json.RawMessage {
	switch {
	case src == nil:
		return nil
	case len(src) == 0:
		return json.RawMessage{}
	}
	return append(dst[:0], src...)
}
