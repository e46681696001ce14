package storetest

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/mockops/mockops/store"
)

// badJSON are payloads no adapter stores: not JSON, more than one
// document, or not UTF-8 (which encoding/json alone would let through and
// PostgreSQL would refuse).
var badJSON = []struct {
	name  string
	value json.RawMessage
}{
	{"truncated", json.RawMessage(`{"a":`)},
	{"trailing garbage", json.RawMessage(`{"a":1} x`)},
	{"two documents", json.RawMessage(`1 2`)},
	{"trailing comma", json.RawMessage(`[1,]`)},
	{"bare word", json.RawMessage(`hello`)},
	{"raw NUL", json.RawMessage("\"a\x00b\"")},
	{"invalid UTF-8", json.RawMessage("{\"a\":\"\xff\xfe\"}")},
}

// testInvalidState: PutState refuses a value that is not one JSON
// document with ErrInvalid, whatever the version, and stores nothing; any
// JSON value is accepted, and so is an empty one.
func testInvalidState(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	kept, err := s.PutState(ctx, store.StateEntry{Scope: "f", Key: "kept", Value: json.RawMessage(`{"v":1}`)})
	if err != nil {
		t.Fatalf("PutState: %v", err)
	}
	for _, tt := range badJSON {
		for _, e := range []store.StateEntry{
			{Scope: "f", Key: "new", Value: tt.value},
			{Scope: "f", Key: "new", Value: tt.value, Version: store.AnyVersion},
			{Scope: "f", Key: "kept", Value: tt.value, Version: kept.Version},
			{Scope: "f", Key: "kept", Value: tt.value, Version: store.AnyVersion},
		} {
			if got, err := s.PutState(ctx, e); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("PutState(%s, version %d, %s value %q) = version %d, %v; want ErrInvalid", e.Key, e.Version, tt.name, e.Value, got.Version, err)
			}
		}
	}
	if got, err := s.GetState(ctx, "f", "new"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetState(new) after refused puts = %s, %v; want ErrNotFound", got.Value, err)
	}
	if got, err := s.GetState(ctx, "f", "kept"); err != nil || string(got.Value) != `{"v":1}` || got.Version != kept.Version {
		t.Errorf("GetState(kept) after refused puts = %s version %d, %v; want {\"v\":1} version %d", got.Value, got.Version, err, kept.Version)
	}
	for i, v := range []json.RawMessage{nil, json.RawMessage(`null`), json.RawMessage(`"x"`), json.RawMessage(` [1, {"b": "é"}] `), json.RawMessage(`"\u0000"`)} {
		e := store.StateEntry{Scope: "ok", Key: string(rune('a' + i)), Value: v}
		if _, err := s.PutState(ctx, e); err != nil {
			t.Errorf("PutState(value %q) = %v; want it stored", v, err)
		}
	}
}

// testInvalidExecution: CreateExecution refuses an execution whose event
// is not valid, whose error, ID, pipeline, event ID, status or owner is
// not UTF-8 text without NUL, or whose step
// payloads are not JSON, and UpdateExecution refuses such errors and steps,
// with ErrInvalid and without writing.
func testInvalidExecution(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	type mutation struct {
		name string
		set  func(x *store.Execution)
	}
	var bad []mutation
	for _, tt := range badJSON {
		bad = append(bad,
			mutation{"event data " + tt.name, func(x *store.Execution) { x.Event.Data = tt.value }},
			mutation{"step with " + tt.name, func(x *store.Execution) { x.Steps = []store.StepRun{{ID: "s", With: tt.value}} }},
			mutation{"step output " + tt.name, func(x *store.Execution) {
				x.Steps = []store.StepRun{{ID: "ok", Output: json.RawMessage(`{}`)}, {ID: "s", Output: tt.value}}
			}},
		)
	}
	bad = append(bad,
		mutation{"event data not an object", func(x *store.Execution) { x.Event.Data = json.RawMessage(`[1]`) }},
		mutation{"event without source", func(x *store.Execution) { x.Event.Source = "" }},
		mutation{"event without id", func(x *store.Execution) { x.Event.ID = "" }},
		mutation{"error with a NUL byte", func(x *store.Execution) { x.Error = "boom\x00" }},
		mutation{"error not UTF-8", func(x *store.Execution) { x.Error = "boom \xff" }},
		mutation{"event id with a NUL byte", func(x *store.Execution) { x.EventID = "evt\x00" }},
		mutation{"pipeline not UTF-8", func(x *store.Execution) { x.Pipeline = "p\xff" }},
		mutation{"id with a NUL byte", func(x *store.Execution) { x.ID = "id\x00" }},
		mutation{"owner not UTF-8", func(x *store.Execution) { x.Owner = "w\xff" }},
		mutation{"status with a NUL byte", func(x *store.Execution) { x.Status = "queued\x00" }},
	)
	for _, m := range bad {
		x := newExecution("p")
		m.set(&x)
		if got, err := s.CreateExecution(ctx, x); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("CreateExecution(%s) = %s, %v; want ErrInvalid", m.name, got.ID, err)
		}
	}
	if page, err := s.ListExecutions(ctx, store.ExecutionQuery{}); err != nil || len(page.Executions) != 0 {
		t.Errorf("ListExecutions after refused creates = %v, %v; want none", ids(page.Executions), err)
	}

	// A manual run has no event at all, which is valid.
	manual := mustCreate(t, ctx, s, store.Execution{Pipeline: "p", EventID: "manual-1"})
	claimed, err := s.ClaimExecutions(ctx, "w", longLease, 1)
	if err != nil || len(claimed) != 1 || claimed[0].ID != manual.ID {
		t.Fatalf("ClaimExecutions = %v, %v; want [%s]", ids(claimed), err, manual.ID)
	}
	for _, tt := range badJSON {
		x := claimed[0]
		x.Steps = []store.StepRun{{ID: "s", Status: store.StatusSucceeded, FinishedAt: time.Now(), Output: tt.value}}
		if _, err := s.UpdateExecution(ctx, x); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("UpdateExecution(step output %s) = %v; want ErrInvalid", tt.name, err)
		}
	}
	for _, bad := range []string{"boom\x00", "boom \xff"} {
		x := claimed[0]
		x.Status, x.Error, x.FinishedAt = store.StatusFailed, bad, time.Now()
		if _, err := s.UpdateExecution(ctx, x); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("UpdateExecution(error %q) = %v; want ErrInvalid", bad, err)
		}
	}
	stored, err := s.GetExecution(ctx, manual.ID)
	if err != nil {
		t.Fatalf("GetExecution: %v", err)
	}
	if len(stored.Steps) != 0 {
		t.Errorf("after refused updates the execution has %d steps; want none", len(stored.Steps))
	}
}
