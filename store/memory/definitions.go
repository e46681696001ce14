package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/mockops/mockops/store"
)

// PutPipeline implements store.Pipelines.
func (s *Store) PutPipeline(ctx context.Context, p store.Pipeline) (store.Pipeline, error) {
	if err := s.check(ctx, "put pipeline"); err != nil {
		return store.Pipeline{}, err
	}
	s.defsMu.Lock()
	defer s.defsMu.Unlock()
	old, ok := s.pipelines[p.Name]
	v, err := checkPut("put pipeline", p.Name, old.Version, ok, p.Version)
	if err != nil {
		return store.Pipeline{}, err
	}
	p.Version = v
	p.UpdatedAt = now()
	p.Source = slices.Clone(p.Source)
	s.pipelines[p.Name] = p
	return clonePipeline(p), nil
}

// GetPipeline implements store.Pipelines.
func (s *Store) GetPipeline(ctx context.Context, name string) (store.Pipeline, error) {
	if err := s.check(ctx, "get pipeline"); err != nil {
		return store.Pipeline{}, err
	}
	s.defsMu.RLock()
	defer s.defsMu.RUnlock()
	p, ok := s.pipelines[name]
	if !ok {
		return store.Pipeline{}, fmt.Errorf("memory: get pipeline %q: %w", name, store.ErrNotFound)
	}
	return clonePipeline(p), nil
}

// ListPipelines implements store.Pipelines. A Workspace filter matches
// pipelines scoped to exactly that workspace.
func (s *Store) ListPipelines(ctx context.Context, q store.PipelineQuery) ([]store.Pipeline, error) {
	if err := s.check(ctx, "list pipelines"); err != nil {
		return nil, err
	}
	s.defsMu.RLock()
	defer s.defsMu.RUnlock()
	var out []store.Pipeline
	for _, p := range s.pipelines {
		if (q.Workspace != "" && p.Workspace != q.Workspace) || (q.EnabledOnly && !p.Enabled) {
			continue
		}
		out = append(out, clonePipeline(p))
	}
	slices.SortFunc(out, func(a, b store.Pipeline) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// DeletePipeline implements store.Pipelines.
func (s *Store) DeletePipeline(ctx context.Context, name string, version int64) error {
	if err := s.check(ctx, "delete pipeline"); err != nil {
		return err
	}
	s.defsMu.Lock()
	defer s.defsMu.Unlock()
	old, ok := s.pipelines[name]
	if err := checkDelete("delete pipeline", name, old.Version, ok, version); err != nil {
		return err
	}
	delete(s.pipelines, name)
	return nil
}

// PutFederation implements store.Federations.
func (s *Store) PutFederation(ctx context.Context, f store.FederationRecord) (store.FederationRecord, error) {
	if err := s.check(ctx, "put federation"); err != nil {
		return store.FederationRecord{}, err
	}
	s.defsMu.Lock()
	defer s.defsMu.Unlock()
	old, ok := s.federations[f.Name]
	v, err := checkPut("put federation", f.Name, old.Version, ok, f.Version)
	if err != nil {
		return store.FederationRecord{}, err
	}
	f.Version = v
	f.UpdatedAt = now()
	f.Spec = slices.Clone(f.Spec)
	s.federations[f.Name] = f
	return cloneFederation(f), nil
}

// GetFederation implements store.Federations.
func (s *Store) GetFederation(ctx context.Context, name string) (store.FederationRecord, error) {
	if err := s.check(ctx, "get federation"); err != nil {
		return store.FederationRecord{}, err
	}
	s.defsMu.RLock()
	defer s.defsMu.RUnlock()
	f, ok := s.federations[name]
	if !ok {
		return store.FederationRecord{}, fmt.Errorf("memory: get federation %q: %w", name, store.ErrNotFound)
	}
	return cloneFederation(f), nil
}

// ListFederations implements store.Federations.
func (s *Store) ListFederations(ctx context.Context) ([]store.FederationRecord, error) {
	if err := s.check(ctx, "list federations"); err != nil {
		return nil, err
	}
	s.defsMu.RLock()
	defer s.defsMu.RUnlock()
	out := make([]store.FederationRecord, 0, len(s.federations))
	for _, f := range s.federations {
		out = append(out, cloneFederation(f))
	}
	slices.SortFunc(out, func(a, b store.FederationRecord) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// DeleteFederation implements store.Federations. The federation's
// activation is left alone: the contract versions the two apart, and the
// SQL adapter keeps them in unrelated tables.
func (s *Store) DeleteFederation(ctx context.Context, name string, version int64) error {
	if err := s.check(ctx, "delete federation"); err != nil {
		return err
	}
	s.defsMu.Lock()
	defer s.defsMu.Unlock()
	old, ok := s.federations[name]
	if err := checkDelete("delete federation", name, old.Version, ok, version); err != nil {
		return err
	}
	delete(s.federations, name)
	return nil
}

// PutActivation implements store.Federations. An activation may be set for
// a federation that is not stored (yet): the two are versioned apart.
func (s *Store) PutActivation(ctx context.Context, a store.ScenarioActivation) (store.ScenarioActivation, error) {
	if err := s.check(ctx, "put activation"); err != nil {
		return store.ScenarioActivation{}, err
	}
	s.defsMu.Lock()
	defer s.defsMu.Unlock()
	old, ok := s.activations[a.Federation]
	v, err := checkPut("put activation", a.Federation, old.Version, ok, a.Version)
	if err != nil {
		return store.ScenarioActivation{}, err
	}
	a.Version = v
	a.UpdatedAt = now()
	s.activations[a.Federation] = a
	return a, nil
}

// GetActivation implements store.Federations.
func (s *Store) GetActivation(ctx context.Context, federation string) (store.ScenarioActivation, error) {
	if err := s.check(ctx, "get activation"); err != nil {
		return store.ScenarioActivation{}, err
	}
	s.defsMu.RLock()
	defer s.defsMu.RUnlock()
	a, ok := s.activations[federation]
	if !ok {
		return store.ScenarioActivation{}, fmt.Errorf("memory: get activation %q: %w", federation, store.ErrNotFound)
	}
	return a, nil
}
