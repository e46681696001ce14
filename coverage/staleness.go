package coverage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mockops/mockops/store"
)

// State scopes the collector keeps in the store, shared by replicas.
const (
	// StateScopeContracts holds one entry per service: the contract hash
	// its mocks were set from, the upstream's as last verified, and when.
	StateScopeContracts = "mockops.coverage.contracts"
	// StateScopeDrift holds one entry per (workspace, service) whose drift
	// crossed the budget: the crossing's fence across replicas.
	StateScopeDrift = "mockops.coverage.drift"
)

// contractState is a StateScopeContracts entry.
type contractState struct {
	MockHash     string     `json:"mock_hash"`
	UpstreamHash string     `json:"upstream_hash"`
	RefreshedAt  *time.Time `json:"refreshed_at,omitempty"`
	VerifiedAt   *time.Time `json:"verified_at,omitempty"`
}

// casAttempts bounds the retries of a compare-and-swap that lost a race.
const casAttempts = 8

// updateContract applies f to the service's stored contract state with
// compare-and-swap. It returns the upstream hash before (known when none
// is stored: the hash of the spec this collector was configured with),
// and whether this call changed it (the first hash known is no change).
func (c *Collector) updateContract(ctx context.Context, service, known string, f func(*contractState)) (prev string, changed bool, err error) {
	for range casAttempts {
		e, err := c.st.GetState(ctx, StateScopeContracts, service)
		var st contractState
		switch {
		case errors.Is(err, store.ErrNotFound):
			e = store.StateEntry{Scope: StateScopeContracts, Key: service}
		case err != nil:
			return "", false, fmt.Errorf("coverage: contract state of %q: %w", service, err)
		default:
			if err := json.Unmarshal(e.Value, &st); err != nil {
				return "", false, fmt.Errorf("coverage: contract state of %q: %w", service, err)
			}
		}
		prev = st.UpstreamHash
		if prev == "" {
			prev = known
		}
		f(&st)
		e.Value, err = json.Marshal(st)
		if err != nil {
			return "", false, fmt.Errorf("coverage: contract state of %q: %w", service, err)
		}
		if _, err := c.st.PutState(ctx, e); err != nil {
			if errors.Is(err, store.ErrConflict) {
				continue // a replica wrote first: apply f to what it wrote
			}
			return "", false, fmt.Errorf("coverage: contract state of %q: %w", service, err)
		}
		return prev, prev != "" && prev != st.UpstreamHash, nil
	}
	return "", false, fmt.Errorf("coverage: contract state of %q: %w after %d attempts", service, store.ErrConflict, casAttempts)
}

// staleness reads every service's contract state and ages it at now.
// Services with a spec but no state are "never".
func (c *Collector) staleness(ctx context.Context, now time.Time) (Staleness, error) {
	entries, err := c.st.ListState(ctx, StateScopeContracts)
	if err != nil {
		return Staleness{}, fmt.Errorf("coverage: staleness: %w", err)
	}
	states := map[string]contractState{}
	for _, e := range entries {
		var st contractState
		if err := json.Unmarshal(e.Value, &st); err != nil {
			return Staleness{}, fmt.Errorf("coverage: staleness of %q: %w", e.Key, err)
		}
		states[e.Key] = st
	}
	c.svcMu.Lock()
	for name := range c.specs {
		if _, ok := states[name]; !ok {
			states[name] = contractState{}
		}
	}
	specHash := map[string]string{}
	for name, comp := range c.specs {
		specHash[name] = comp.hash
	}
	c.svcMu.Unlock()

	out := Staleness{Services: []ServiceStaleness{}}
	names := make([]string, 0, len(states))
	for n := range states {
		names = append(names, n)
	}
	slices.Sort(names)
	fresh := int64(0)
	for _, n := range names {
		st := states[n]
		ss := ServiceStaleness{Service: n, LastRefresh: st.RefreshedAt, LastVerified: st.VerifiedAt, ContractHash: st.MockHash, UpstreamHash: st.UpstreamHash}
		if ss.ContractHash == "" {
			ss.ContractHash = specHash[n]
		}
		ss.State = c.age(&ss, now)
		if ss.State == StaleFresh {
			fresh++
		}
		out.Services = append(out.Services, ss)
	}
	out.Fresh = NewRatio(fresh, int64(len(names)))
	return out, nil
}

// age computes the state at now: content first (a changed upstream is
// stale however recent the check), then the age of the latest check.
func (c *Collector) age(ss *ServiceStaleness, now time.Time) StalenessState {
	var last time.Time
	for _, t := range []*time.Time{ss.LastRefresh, ss.LastVerified} {
		if t != nil && t.After(last) {
			last = *t
		}
	}
	if last.IsZero() {
		return StaleNever
	}
	age := max(now.Sub(last), 0)
	s := age.Seconds()
	ss.AgeSeconds = &s
	switch {
	case ss.UpstreamHash != "" && ss.ContractHash != "" && ss.UpstreamHash != ss.ContractHash:
		return StaleByContent
	case age < c.cfg.AgingAfter:
		return StaleFresh
	case age < c.cfg.StaleAfter:
		return StaleAging
	}
	return StaleByAge
}
