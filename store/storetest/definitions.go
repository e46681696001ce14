package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mockops/mockops/store"
)

// versioned adapts one kind of versioned record (pipelines, federations,
// activations, state entries) to the operations the version rules are
// about, so one table of steps checks every kind the same way.
type versioned struct {
	kind string
	// put writes key with payload p at version v and returns the stored
	// version and UpdatedAt.
	put func(ctx context.Context, s store.Store, key string, v int64, p string) (int64, time.Time, error)
	// get returns the stored version and payload.
	get func(ctx context.Context, s store.Store, key string) (int64, string, error)
	// del is nil for records that cannot be deleted (activations).
	del func(ctx context.Context, s store.Store, key string, v int64) error
}

var versionedKinds = []versioned{
	{
		kind: "pipeline",
		put: func(ctx context.Context, s store.Store, key string, v int64, p string) (int64, time.Time, error) {
			got, err := s.PutPipeline(ctx, store.Pipeline{Name: key, Version: v, Source: []byte(p)})
			return got.Version, got.UpdatedAt, err
		},
		get: func(ctx context.Context, s store.Store, key string) (int64, string, error) {
			got, err := s.GetPipeline(ctx, key)
			return got.Version, string(got.Source), err
		},
		del: func(ctx context.Context, s store.Store, key string, v int64) error {
			return s.DeletePipeline(ctx, key, v)
		},
	},
	{
		kind: "federation",
		put: func(ctx context.Context, s store.Store, key string, v int64, p string) (int64, time.Time, error) {
			got, err := s.PutFederation(ctx, store.FederationRecord{Name: key, Version: v, Spec: []byte(p)})
			return got.Version, got.UpdatedAt, err
		},
		get: func(ctx context.Context, s store.Store, key string) (int64, string, error) {
			got, err := s.GetFederation(ctx, key)
			return got.Version, string(got.Spec), err
		},
		del: func(ctx context.Context, s store.Store, key string, v int64) error {
			return s.DeleteFederation(ctx, key, v)
		},
	},
	{
		kind: "activation",
		put: func(ctx context.Context, s store.Store, key string, v int64, p string) (int64, time.Time, error) {
			got, err := s.PutActivation(ctx, store.ScenarioActivation{Federation: key, Version: v, Scenario: p})
			return got.Version, got.UpdatedAt, err
		},
		get: func(ctx context.Context, s store.Store, key string) (int64, string, error) {
			got, err := s.GetActivation(ctx, key)
			return got.Version, got.Scenario, err
		},
	},
	{
		kind: "state",
		put: func(ctx context.Context, s store.Store, key string, v int64, p string) (int64, time.Time, error) {
			got, err := s.PutState(ctx, store.StateEntry{Scope: "scope", Key: key, Version: v, Value: stateValue(p)})
			return got.Version, got.UpdatedAt, err
		},
		get: func(ctx context.Context, s store.Store, key string) (int64, string, error) {
			got, err := s.GetState(ctx, "scope", key)
			var p string
			if len(got.Value) > 0 {
				if err := json.Unmarshal(got.Value, &p); err != nil {
					return got.Version, "", fmt.Errorf("value %s: %w", got.Value, err)
				}
			}
			return got.Version, p, err
		},
		del: func(ctx context.Context, s store.Store, key string, v int64) error {
			return s.DeleteState(ctx, "scope", key, v)
		},
	},
}

// stateValue makes a state value (JSON) out of a payload string.
func stateValue(p string) json.RawMessage {
	b, _ := json.Marshal(p) // a string always marshals
	return b
}

// testVersions walks every versioned kind through the optimistic
// concurrency rules: Version 0 creates, the stored version updates, any
// other version conflicts, AnyVersion overwrites.
func testVersions(t *testing.T, s store.Store) {
	for _, k := range versionedKinds {
		t.Run(k.kind, func(t *testing.T) {
			testVersionRules(t, s, k)
		})
	}
}

func testVersionRules(t *testing.T, s store.Store, k versioned) {
	ctx := ctxFor(t)
	const key = "alpha"

	if _, _, err := k.get(ctx, s, key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get %s %q before any put: err = %v; want ErrNotFound", k.kind, key, err)
	}

	before := time.Now()
	v, updated, err := k.put(ctx, s, key, 0, "one")
	after := time.Now()
	if err != nil {
		t.Fatalf("put %s %q version 0: %v", k.kind, key, err)
	}
	if v != 1 {
		t.Errorf("put %s version 0: Version = %d; want 1", k.kind, v)
	}
	checkTime(t, "UpdatedAt", updated, before, after)

	// Put with a stale or wrong version must fail without changing anything.
	conflicts := []struct {
		name    string
		version int64
	}{
		{"create existing", 0},
		{"future version", 7},
	}
	for _, c := range conflicts {
		if _, _, err := k.put(ctx, s, key, c.version, "lost"); !errors.Is(err, store.ErrConflict) {
			t.Errorf("put %s (%s, version %d) = %v; want ErrConflict", k.kind, c.name, c.version, err)
		}
	}

	v, updated2, err := k.put(ctx, s, key, 1, "two")
	if err != nil {
		t.Fatalf("put %s version 1: %v", k.kind, err)
	}
	if v != 2 {
		t.Errorf("put %s version 1: Version = %d; want 2", k.kind, v)
	}
	if updated2.Before(updated.Add(-time.Microsecond)) {
		t.Errorf("UpdatedAt went back from %v to %v", updated, updated2)
	}
	if _, _, err := k.put(ctx, s, key, 1, "stale"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("put %s with stale version 1 = %v; want ErrConflict", k.kind, err)
	}
	checkStored(t, ctx, s, k, key, 2, "two")

	v, _, err = k.put(ctx, s, key, store.AnyVersion, "three")
	if err != nil {
		t.Fatalf("put %s AnyVersion: %v", k.kind, err)
	}
	if v != 3 {
		t.Errorf("put %s AnyVersion over version 2: Version = %d; want 3", k.kind, v)
	}
	checkStored(t, ctx, s, k, key, 3, "three")

	// A version other than 0 or AnyVersion cannot create a record.
	if _, _, err := k.put(ctx, s, "beta", 5, "ghost"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("put missing %s %q version 5 = %v; want ErrConflict", k.kind, "beta", err)
	}
	if _, _, err := k.get(ctx, s, "beta"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get %s %q after a failed put: err = %v; want ErrNotFound", k.kind, "beta", err)
	}
	v, _, err = k.put(ctx, s, "gamma", store.AnyVersion, "fresh")
	if err != nil {
		t.Fatalf("put missing %s AnyVersion: %v", k.kind, err)
	}
	if v != 1 {
		t.Errorf("put missing %s AnyVersion: Version = %d; want 1", k.kind, v)
	}

	if k.del == nil {
		return
	}
	for _, stale := range []int64{0, 2, 4} {
		if err := k.del(ctx, s, key, stale); !errors.Is(err, store.ErrConflict) {
			t.Errorf("delete %s %q version %d (stored 3) = %v; want ErrConflict", k.kind, key, stale, err)
		}
	}
	checkStored(t, ctx, s, k, key, 3, "three")
	if err := k.del(ctx, s, key, 3); err != nil {
		t.Fatalf("delete %s %q version 3: %v", k.kind, key, err)
	}
	if _, _, err := k.get(ctx, s, key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get deleted %s: err = %v; want ErrNotFound", k.kind, err)
	}
	for _, v := range []int64{3, store.AnyVersion} {
		if err := k.del(ctx, s, key, v); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("delete missing %s version %d = %v; want ErrNotFound", k.kind, v, err)
		}
	}
	if err := k.del(ctx, s, "gamma", store.AnyVersion); err != nil {
		t.Errorf("delete %s %q AnyVersion: %v", k.kind, "gamma", err)
	}
	// A deleted name can be created again, starting over at version 1.
	v, _, err = k.put(ctx, s, key, 0, "again")
	if err != nil {
		t.Fatalf("recreate deleted %s: %v", k.kind, err)
	}
	if v != 1 {
		t.Errorf("recreate deleted %s: Version = %d; want 1", k.kind, v)
	}
}

func checkStored(t *testing.T, ctx context.Context, s store.Store, k versioned, key string, wantV int64, wantP string) {
	t.Helper()
	v, p, err := k.get(ctx, s, key)
	if err != nil {
		t.Fatalf("get %s %q: %v", k.kind, key, err)
	}
	if v != wantV || p != wantP {
		t.Errorf("get %s %q = version %d, %q; want version %d, %q", k.kind, key, v, p, wantV, wantP)
	}
}

// awkwardYAML is a definition whose bytes an adapter could easily alter:
// CRLF line ends, tabs, trailing blanks, non-ASCII text, no final newline.
const awkwardYAML = "name: crlf\r\n# déjà vu ✓ 日本\r\nsteps:\t[]  \r\n\r\n  trailing:   "

func testPipelineRoundTrip(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	in := store.Pipeline{
		Name:      "sdk-on-schema-change",
		Source:    []byte(awkwardYAML),
		Enabled:   true,
		Workspace: "payments",
	}
	before := time.Now()
	put, err := s.PutPipeline(ctx, in)
	after := time.Now()
	if err != nil {
		t.Fatalf("PutPipeline: %v", err)
	}
	checkTime(t, "UpdatedAt", put.UpdatedAt, before, after)
	want := in
	want.Version = 1
	want.UpdatedAt = put.UpdatedAt
	if diff := cmp.Diff(want, put, bytesOpts); diff != "" {
		t.Errorf("PutPipeline returned a different record (-want +got):\n%s", diff)
	}
	got, err := s.GetPipeline(ctx, in.Name)
	if err != nil {
		t.Fatalf("GetPipeline: %v", err)
	}
	if diff := cmp.Diff(want, got, bytesOpts); diff != "" {
		t.Errorf("GetPipeline mismatch (-want +got):\n%s", diff)
	}

	// Flipping Enabled and Workspace is an update like any other.
	in2 := got
	in2.Enabled = false
	in2.Workspace = ""
	put2, err := s.PutPipeline(ctx, in2)
	if err != nil {
		t.Fatalf("PutPipeline update: %v", err)
	}
	got2, err := s.GetPipeline(ctx, in.Name)
	if err != nil {
		t.Fatalf("GetPipeline: %v", err)
	}
	if got2.Enabled || got2.Workspace != "" || got2.Version != 2 {
		t.Errorf("after update: Enabled=%v Workspace=%q Version=%d; want false, \"\", 2", got2.Enabled, got2.Workspace, got2.Version)
	}
	if diff := cmp.Diff(put2, got2, bytesOpts); diff != "" {
		t.Errorf("GetPipeline after update differs from PutPipeline's result (-put +get):\n%s", diff)
	}
}

func testListPipelines(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	if got, err := s.ListPipelines(ctx, store.PipelineQuery{}); err != nil || len(got) != 0 {
		t.Fatalf("ListPipelines on an empty store = %d pipelines, %v; want 0, nil", len(got), err)
	}
	// Inserted out of order so that ordering cannot come from insertion.
	defs := []store.Pipeline{
		{Name: "m-global", Enabled: true},
		{Name: "b-pay", Workspace: "payments", Enabled: true},
		{Name: "z-pay-off", Workspace: "payments"},
		{Name: "a-auth", Workspace: "auth", Enabled: true},
		{Name: "c-pay", Workspace: "payments", Enabled: true},
		{Name: "k-off"},
	}
	for _, p := range defs {
		p.Source = []byte("name: " + p.Name + "\n")
		if _, err := s.PutPipeline(ctx, p); err != nil {
			t.Fatalf("PutPipeline(%s): %v", p.Name, err)
		}
	}
	tests := []struct {
		q    store.PipelineQuery
		want []string
	}{
		{store.PipelineQuery{}, []string{"a-auth", "b-pay", "c-pay", "k-off", "m-global", "z-pay-off"}},
		{store.PipelineQuery{EnabledOnly: true}, []string{"a-auth", "b-pay", "c-pay", "m-global"}},
		{store.PipelineQuery{Workspace: "payments"}, []string{"b-pay", "c-pay", "z-pay-off"}},
		{store.PipelineQuery{Workspace: "payments", EnabledOnly: true}, []string{"b-pay", "c-pay"}},
		{store.PipelineQuery{Workspace: "nowhere"}, nil},
	}
	for _, tt := range tests {
		got, err := s.ListPipelines(ctx, tt.q)
		if err != nil {
			t.Fatalf("ListPipelines(%+v): %v", tt.q, err)
		}
		var names []string
		for _, p := range got {
			names = append(names, p.Name)
			if string(p.Source) != "name: "+p.Name+"\n" || p.Version != 1 || p.UpdatedAt.IsZero() {
				t.Errorf("ListPipelines(%+v): %s has Source %q, Version %d, UpdatedAt %v; want its stored record", tt.q, p.Name, p.Source, p.Version, p.UpdatedAt)
			}
		}
		if diff := cmp.Diff(tt.want, names); diff != "" {
			t.Errorf("ListPipelines(%+v) names (-want +got):\n%s", tt.q, diff)
		}
	}
}

func testFederationRoundTrip(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	in := store.FederationRecord{Name: "shop", Spec: []byte(awkwardYAML)}
	put, err := s.PutFederation(ctx, in)
	if err != nil {
		t.Fatalf("PutFederation: %v", err)
	}
	want := in
	want.Version = 1
	want.UpdatedAt = put.UpdatedAt
	got, err := s.GetFederation(ctx, in.Name)
	if err != nil {
		t.Fatalf("GetFederation: %v", err)
	}
	if diff := cmp.Diff(want, got, bytesOpts); diff != "" {
		t.Errorf("GetFederation mismatch (-want +got):\n%s", diff)
	}
}

func testListFederations(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	if got, err := s.ListFederations(ctx); err != nil || len(got) != 0 {
		t.Fatalf("ListFederations on an empty store = %d federations, %v; want 0, nil", len(got), err)
	}
	for _, name := range []string{"shop", "bank", "zoo", "air"} {
		if _, err := s.PutFederation(ctx, store.FederationRecord{Name: name, Spec: []byte("name: " + name)}); err != nil {
			t.Fatalf("PutFederation(%s): %v", name, err)
		}
	}
	got, err := s.ListFederations(ctx)
	if err != nil {
		t.Fatalf("ListFederations: %v", err)
	}
	var names []string
	for _, f := range got {
		names = append(names, f.Name)
		if string(f.Spec) != "name: "+f.Name {
			t.Errorf("ListFederations: %s has Spec %q; want %q", f.Name, f.Spec, "name: "+f.Name)
		}
	}
	if diff := cmp.Diff([]string{"air", "bank", "shop", "zoo"}, names); diff != "" {
		t.Errorf("ListFederations names (-want +got):\n%s", diff)
	}
}

func testActivation(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	if _, err := s.GetActivation(ctx, "shop"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetActivation before any put: err = %v; want ErrNotFound", err)
	}
	a, err := s.PutActivation(ctx, store.ScenarioActivation{Federation: "shop", Scenario: "payments-outage"})
	if err != nil {
		t.Fatalf("PutActivation: %v", err)
	}
	// "" is a valid scenario: it records that none is active.
	a.Scenario = ""
	cleared, err := s.PutActivation(ctx, a)
	if err != nil {
		t.Fatalf("PutActivation(clear): %v", err)
	}
	got, err := s.GetActivation(ctx, "shop")
	if err != nil {
		t.Fatalf("GetActivation: %v", err)
	}
	want := store.ScenarioActivation{Federation: "shop", Scenario: "", Version: 2, UpdatedAt: cleared.UpdatedAt}
	if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
		t.Errorf("GetActivation mismatch (-want +got):\n%s", diff)
	}
	// Activations belong to one federation each.
	if _, err := s.GetActivation(ctx, "other"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetActivation(other) = %v; want ErrNotFound", err)
	}
}

func testStateRoundTrip(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	// Whitespace, key order and number spelling are part of the bytes.
	raw := json.RawMessage(`{"z": 1,  "a":[1.50, 2e3 ],` + "\n\t" + `"s":"é\u00e9"}`)
	in := store.StateEntry{Scope: "shop", Key: "user:42", Value: raw}
	put, err := s.PutState(ctx, in)
	if err != nil {
		t.Fatalf("PutState: %v", err)
	}
	got, err := s.GetState(ctx, "shop", "user:42")
	if err != nil {
		t.Fatalf("GetState: %v", err)
	}
	want := in
	want.Version = 1
	want.UpdatedAt = put.UpdatedAt
	if diff := cmp.Diff(want, got, bytesOpts); diff != "" {
		t.Errorf("GetState mismatch (-want +got):\n%s", diff)
	}
	// The same key in another scope is another entry.
	if _, err := s.GetState(ctx, "other", "user:42"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetState(other scope) = %v; want ErrNotFound", err)
	}
	if _, err := s.PutState(ctx, store.StateEntry{Scope: "other", Key: "user:42", Value: json.RawMessage(`1`)}); err != nil {
		t.Fatalf("PutState(other scope, version 0): %v", err)
	}
	if err := s.DeleteState(ctx, "other", "user:42", 1); err != nil {
		t.Fatalf("DeleteState(other scope): %v", err)
	}
	if got, err := s.GetState(ctx, "shop", "user:42"); err != nil || got.Version != 1 {
		t.Errorf("GetState(shop) after deleting the other scope's entry = version %d, %v; want version 1", got.Version, err)
	}
}

func testListState(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	if got, err := s.ListState(ctx, "shop"); err != nil || len(got) != 0 {
		t.Fatalf("ListState on an empty store = %d entries, %v; want 0, nil", len(got), err)
	}
	puts := []struct{ scope, key string }{
		{"shop", "orders:2"}, {"shop", "auth:1"}, {"shopping", "auth:0"},
		{"sho", "a"}, {"shop", "orders:10"},
	}
	for _, p := range puts {
		v := stateValue(p.scope + "/" + p.key)
		if _, err := s.PutState(ctx, store.StateEntry{Scope: p.scope, Key: p.key, Value: v}); err != nil {
			t.Fatalf("PutState(%q, %q): %v", p.scope, p.key, err)
		}
	}
	tests := []struct {
		scope string
		want  []string
	}{
		{"shop", []string{"auth:1", "orders:10", "orders:2"}},
		{"shopping", []string{"auth:0"}},
		{"sho", []string{"a"}},
		{"none", nil},
	}
	for _, tt := range tests {
		got, err := s.ListState(ctx, tt.scope)
		if err != nil {
			t.Fatalf("ListState(%q): %v", tt.scope, err)
		}
		var keys []string
		for _, e := range got {
			keys = append(keys, e.Key)
			if e.Scope != tt.scope || !jsonEqual(e.Value, stateValue(tt.scope+"/"+e.Key)) {
				t.Errorf("ListState(%q): entry %q/%q = %s; want scope %q and its own value", tt.scope, e.Scope, e.Key, e.Value, tt.scope)
			}
		}
		if diff := cmp.Diff(tt.want, keys); diff != "" {
			t.Errorf("ListState(%q) keys (-want +got):\n%s", tt.scope, diff)
		}
	}
}
