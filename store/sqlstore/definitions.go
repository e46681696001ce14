package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/mockops/mockops/store"
)

// PutPipeline implements store.Pipelines.
func (s *Store) PutPipeline(ctx context.Context, p store.Pipeline) (store.Pipeline, error) {
	v, at, err := s.putVersioned(ctx, fmt.Sprintf("pipeline %q", p.Name), &s.q.pipelines, p.Version,
		[]any{p.Name}, []any{nonNil(p.Source), p.Enabled, p.Workspace})
	if err != nil {
		return store.Pipeline{}, err
	}
	p.Version, p.UpdatedAt = v, at
	return p, nil
}

// GetPipeline implements store.Pipelines.
func (s *Store) GetPipeline(ctx context.Context, name string) (store.Pipeline, error) {
	p, err := scanPipeline(s.r().QueryRowContext(ctx, s.q.getPipeline, name))
	if err != nil {
		return store.Pipeline{}, notFound(err, "get pipeline %q", name)
	}
	return p, nil
}

// ListPipelines implements store.Pipelines.
func (s *Store) ListPipelines(ctx context.Context, q store.PipelineQuery) ([]store.Pipeline, error) {
	rows, err := s.r().QueryContext(ctx, s.q.listPipelines, q.Workspace, q.Workspace, q.EnabledOnly)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list pipelines: %w", err)
	}
	out, err := collect(rows, scanPipeline)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list pipelines: %w", err)
	}
	return out, nil
}

// DeletePipeline implements store.Pipelines.
func (s *Store) DeletePipeline(ctx context.Context, name string, version int64) error {
	return s.deleteVersioned(ctx, fmt.Sprintf("pipeline %q", name), &s.q.pipelines, version, []any{name})
}

func scanPipeline(r scanner) (store.Pipeline, error) {
	var p store.Pipeline
	err := r.Scan(&p.Name, &p.Version, &p.Source, &p.Enabled, &p.Workspace, timeCol{&p.UpdatedAt})
	return p, err
}

// PutFederation implements store.Federations.
func (s *Store) PutFederation(ctx context.Context, f store.FederationRecord) (store.FederationRecord, error) {
	v, at, err := s.putVersioned(ctx, fmt.Sprintf("federation %q", f.Name), &s.q.federations, f.Version,
		[]any{f.Name}, []any{nonNil(f.Spec)})
	if err != nil {
		return store.FederationRecord{}, err
	}
	f.Version, f.UpdatedAt = v, at
	return f, nil
}

// GetFederation implements store.Federations.
func (s *Store) GetFederation(ctx context.Context, name string) (store.FederationRecord, error) {
	f, err := scanFederation(s.r().QueryRowContext(ctx, s.q.getFederation, name))
	if err != nil {
		return store.FederationRecord{}, notFound(err, "get federation %q", name)
	}
	return f, nil
}

// ListFederations implements store.Federations.
func (s *Store) ListFederations(ctx context.Context) ([]store.FederationRecord, error) {
	rows, err := s.r().QueryContext(ctx, s.q.listFederations)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list federations: %w", err)
	}
	out, err := collect(rows, scanFederation)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list federations: %w", err)
	}
	return out, nil
}

// DeleteFederation implements store.Federations.
func (s *Store) DeleteFederation(ctx context.Context, name string, version int64) error {
	return s.deleteVersioned(ctx, fmt.Sprintf("federation %q", name), &s.q.federations, version, []any{name})
}

func scanFederation(r scanner) (store.FederationRecord, error) {
	var f store.FederationRecord
	err := r.Scan(&f.Name, &f.Version, &f.Spec, timeCol{&f.UpdatedAt})
	return f, err
}

// PutActivation implements store.Federations.
func (s *Store) PutActivation(ctx context.Context, a store.ScenarioActivation) (store.ScenarioActivation, error) {
	v, at, err := s.putVersioned(ctx, fmt.Sprintf("activation of %q", a.Federation), &s.q.activations, a.Version,
		[]any{a.Federation}, []any{a.Scenario})
	if err != nil {
		return store.ScenarioActivation{}, err
	}
	a.Version, a.UpdatedAt = v, at
	return a, nil
}

// GetActivation implements store.Federations.
func (s *Store) GetActivation(ctx context.Context, federation string) (store.ScenarioActivation, error) {
	var a store.ScenarioActivation
	err := s.r().QueryRowContext(ctx, s.q.getActivation, federation).
		Scan(&a.Federation, &a.Scenario, &a.Version, timeCol{&a.UpdatedAt})
	if err != nil {
		return store.ScenarioActivation{}, notFound(err, "get activation of %q", federation)
	}
	return a, nil
}

// GetState implements store.State.
func (s *Store) GetState(ctx context.Context, scope, key string) (store.StateEntry, error) {
	e, err := scanState(s.r().QueryRowContext(ctx, s.q.getState, scope, key))
	if err != nil {
		return store.StateEntry{}, notFound(err, "get state %q/%q", scope, key)
	}
	return e, nil
}

// PutState implements store.State. The value is kept byte for byte.
func (s *Store) PutState(ctx context.Context, e store.StateEntry) (store.StateEntry, error) {
	if err := e.Validate(); err != nil {
		return store.StateEntry{}, fmt.Errorf("sqlstore: put state: %w", err)
	}
	v, at, err := s.putVersioned(ctx, fmt.Sprintf("state %q/%q", e.Scope, e.Key), &s.q.state, e.Version,
		[]any{e.Scope, e.Key}, []any{nullJSON(e.Value)})
	if err != nil {
		return store.StateEntry{}, err
	}
	e.Version, e.UpdatedAt = v, at
	return e, nil
}

// DeleteState implements store.State.
func (s *Store) DeleteState(ctx context.Context, scope, key string, version int64) error {
	return s.deleteVersioned(ctx, fmt.Sprintf("state %q/%q", scope, key), &s.q.state, version, []any{scope, key})
}

// ListState implements store.State.
func (s *Store) ListState(ctx context.Context, scope string) ([]store.StateEntry, error) {
	rows, err := s.r().QueryContext(ctx, s.q.listState, scope)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list state %q: %w", scope, err)
	}
	out, err := collect(rows, scanState)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list state %q: %w", scope, err)
	}
	return out, nil
}

func scanState(r scanner) (store.StateEntry, error) {
	var (
		e     store.StateEntry
		value []byte
	)
	err := r.Scan(&e.Scope, &e.Key, &value, &e.Version, timeCol{&e.UpdatedAt})
	if len(value) > 0 {
		e.Value = json.RawMessage(value)
	}
	return e, err
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// collect scans every row and closes rows.
func collect[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// nonNil stores a nil definition as an empty one: the columns are NOT NULL,
// because a definition always has a body, even an empty one.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
