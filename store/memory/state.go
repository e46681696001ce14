package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/mockops/mockops/store"
)

// GetState implements store.State.
func (s *Store) GetState(ctx context.Context, scope, key string) (store.StateEntry, error) {
	if err := s.check(ctx, "get state"); err != nil {
		return store.StateEntry{}, err
	}
	s.stateMu.RLock()
	defer s.stateMu.RUnlock()
	e, ok := s.state[scope][key]
	if !ok {
		return store.StateEntry{}, fmt.Errorf("memory: get state %q/%q: %w", scope, key, store.ErrNotFound)
	}
	return cloneState(e), nil
}

// PutState implements store.State.
func (s *Store) PutState(ctx context.Context, e store.StateEntry) (store.StateEntry, error) {
	if err := s.check(ctx, "put state"); err != nil {
		return store.StateEntry{}, err
	}
	if err := e.Validate(); err != nil {
		return store.StateEntry{}, fmt.Errorf("memory: put state: %w", err)
	}
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	entries := s.state[e.Scope]
	old, ok := entries[e.Key]
	v, err := checkPut("put state", e.Scope+"/"+e.Key, old.Version, ok, e.Version)
	if err != nil {
		return store.StateEntry{}, err
	}
	if entries == nil {
		entries = make(map[string]store.StateEntry)
		s.state[e.Scope] = entries
	}
	e.Version = v
	e.UpdatedAt = now()
	e.Value = slices.Clone(e.Value)
	entries[e.Key] = e
	return cloneState(e), nil
}

// DeleteState implements store.State.
func (s *Store) DeleteState(ctx context.Context, scope, key string, version int64) error {
	if err := s.check(ctx, "delete state"); err != nil {
		return err
	}
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	entries := s.state[scope]
	old, ok := entries[key]
	if err := checkDelete("delete state", scope+"/"+key, old.Version, ok, version); err != nil {
		return err
	}
	delete(entries, key)
	if len(entries) == 0 {
		delete(s.state, scope) // so that scopes that come and go do not pile up
	}
	return nil
}

// ListState implements store.State.
func (s *Store) ListState(ctx context.Context, scope string) ([]store.StateEntry, error) {
	if err := s.check(ctx, "list state"); err != nil {
		return nil, err
	}
	s.stateMu.RLock()
	defer s.stateMu.RUnlock()
	entries := s.state[scope]
	out := make([]store.StateEntry, 0, len(entries))
	for _, e := range entries {
		out = append(out, cloneState(e))
	}
	slices.SortFunc(out, func(a, b store.StateEntry) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}
