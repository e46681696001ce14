package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/mockops/mockops/store"
)

// The engine accessors the pages need and the Go API does not offer. They
// read the engine's snapshot and store; none changes anything.

// execution reads one execution as stored.
func (e *Engine) execution(ctx context.Context, id string) (store.Execution, error) {
	x, err := e.st.GetExecution(ctx, id)
	if err != nil {
		return store.Execution{}, fmt.Errorf("pipeline: execution %s: %w", id, err)
	}
	return x, nil
}

// loadState says how the stored definition name is loaded: its plan, or
// the error (usually an ErrorList) that keeps it from loading; both nil
// when the snapshot has not seen it yet.
func (e *Engine) loadState(name string) (*Plan, error) {
	s := e.snap.Load()
	if l, ok := s.byName[name]; ok {
		return l.def.plan, nil
	}
	if err, ok := s.invalid[name]; ok {
		return nil, err
	}
	return nil, nil
}

// check validates src as PutSource would, storing nothing.
func (e *Engine) check(file string, src []byte) (*Definition, error) {
	return e.validate(file, src)
}

// scopes tells the workspace an execution belongs to for authorization,
// as the JSON API decides it: its pipeline's when that is scoped,
// otherwise (unscoped, or removed since) its event's. It reads each
// pipeline's record once; one scopes serves one request.
type scopes struct {
	e  *Engine
	ws map[string]string // pipeline name -> its workspace ("" = unscoped)
}

func (e *Engine) scopes() *scopes { return &scopes{e: e, ws: map[string]string{}} }

func (s *scopes) of(ctx context.Context, x *store.Execution) (string, error) {
	ws, ok := s.ws[x.Pipeline]
	if !ok {
		p, err := s.e.st.GetPipeline(ctx, x.Pipeline)
		switch {
		case err == nil:
			ws = p.Workspace
		case errors.Is(err, store.ErrNotFound):
		default:
			return "", fmt.Errorf("pipeline: workspace of %s: %w", x.Pipeline, err)
		}
		s.ws[x.Pipeline] = ws
	}
	if ws != "" {
		return ws, nil
	}
	return x.Event.Workspace, nil
}
