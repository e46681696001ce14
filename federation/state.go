package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/mockops/mockops/store"
)

// Store is what the federation keeps in a store.Store: definitions and
// active scenarios, and shared state. Every store adapter implements it.
type Store interface {
	store.Federations
	store.State
}

// StateScope is the store.State scope of a federation's shared state.
func StateScope(federation string) string { return "federation/" + federation }

// MaxStateKey bounds a shared-state key, in bytes.
const MaxStateKey = 512

// State is a federation's shared key/value space: versioned JSON values in
// the Store under StateScope(name), so that every replica on that store,
// and every mock workspace of the federation, sees the same values. The
// orders mock can read the user the auth mock created.
//
// Writes are optimistic: every entry has a Version, bumped by each write;
// CompareAndSwap and a versioned Delete succeed only on the version the
// caller read, and fail with an error wrapping store.ErrConflict
// otherwise. It is safe for concurrent use.
type State struct {
	st    store.State
	scope string
}

// NewState returns the shared state of federation in st.
func NewState(st store.State, federation string) *State {
	return &State{st: st, scope: StateScope(federation)}
}

// State returns the Router's shared state, nil when RouterConfig.Store is
// not set.
func (r *Router) State() *State { return r.state }

// StateFrom returns the shared state of the federation serving a request:
// mock handlers call it with their request's context. It reports false
// outside a routed request or when the Router has no Store.
func StateFrom(ctx context.Context) (*State, bool) {
	x := exchangeFrom(ctx)
	if x == nil || x.route.c == nil || x.route.c.state == nil {
		return nil, false
	}
	return x.route.c.state, true
}

// Scope returns the store scope the state lives in.
func (s *State) Scope() string { return s.scope }

// Get returns the entry of key; store.ErrNotFound (wrapped) when unset.
func (s *State) Get(ctx context.Context, key string) (store.StateEntry, error) {
	if err := checkKey(key); err != nil {
		return store.StateEntry{}, err
	}
	e, err := s.st.GetState(ctx, s.scope, key)
	if err != nil {
		return store.StateEntry{}, fmt.Errorf("federation: state get %q: %w", key, err)
	}
	return e, nil
}

// Put writes value (one JSON document) to key whatever its version, and
// returns the stored entry.
func (s *State) Put(ctx context.Context, key string, value json.RawMessage) (store.StateEntry, error) {
	return s.put(ctx, key, value, store.AnyVersion)
}

// CompareAndSwap writes value to key only if its stored version is
// version (0: only if key is unset), and returns the stored entry. A
// stale version fails with an error wrapping store.ErrConflict.
func (s *State) CompareAndSwap(ctx context.Context, key string, value json.RawMessage, version int64) (store.StateEntry, error) {
	if version < 0 {
		return store.StateEntry{}, fmt.Errorf("federation: state %q: version %d: %w", key, version, store.ErrInvalid)
	}
	return s.put(ctx, key, value, version)
}

func (s *State) put(ctx context.Context, key string, value json.RawMessage, version int64) (store.StateEntry, error) {
	if err := checkKey(key); err != nil {
		return store.StateEntry{}, err
	}
	if len(value) == 0 {
		return store.StateEntry{}, fmt.Errorf("federation: state %q: empty value: %w", key, store.ErrInvalid)
	}
	e, err := s.st.PutState(ctx, store.StateEntry{Scope: s.scope, Key: key, Value: value, Version: version})
	if err != nil {
		return store.StateEntry{}, fmt.Errorf("federation: state put %q: %w", key, err)
	}
	return e, nil
}

// Delete removes key if its stored version is version (store.AnyVersion:
// whatever it is). A stale version fails with store.ErrConflict, an unset
// key with store.ErrNotFound (both wrapped).
func (s *State) Delete(ctx context.Context, key string, version int64) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := s.st.DeleteState(ctx, s.scope, key, version); err != nil {
		return fmt.Errorf("federation: state delete %q: %w", key, err)
	}
	return nil
}

// List returns the entries whose key starts with prefix, ordered by key.
func (s *State) List(ctx context.Context, prefix string) ([]store.StateEntry, error) {
	all, err := s.st.ListState(ctx, s.scope)
	if err != nil {
		return nil, fmt.Errorf("federation: state list: %w", err)
	}
	out := all[:0]
	for _, e := range all {
		if strings.HasPrefix(e.Key, prefix) {
			out = append(out, e)
		}
	}
	return out, nil
}

// errBadKey is wrapped by the errors of keys no adapter should store.
var errBadKey = errors.New("key must be 1 to 512 bytes of UTF-8 text without control characters")

// checkKey refuses keys that are empty, too long, or not printable text:
// keys appear in URLs of the admin API and in logs.
func checkKey(key string) error {
	ok := key != "" && len(key) <= MaxStateKey && utf8.ValidString(key)
	for _, c := range key {
		if c < 0x20 || c == 0x7f {
			ok = false
			break
		}
	}
	if !ok {
		return fmt.Errorf("federation: state key %q: %w: %w", clip(key), errBadKey, store.ErrInvalid)
	}
	return nil
}
