package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/store"
)

// newExecution returns an unsaved execution of pipeline for a new event.
// It builds the event by hand rather than with events.New so that it cannot
// fail, and may be called from any goroutine.
func newExecution(pipeline string) store.Execution {
	now := time.Now().UTC()
	ev := events.Event{
		ID:        events.NewID(now),
		Type:      events.TypeSchemaChanged,
		Source:    events.DefaultSource,
		Workspace: "payments",
		Time:      now,
		Data:      json.RawMessage(`{"schema_type":"openapi"}`),
	}
	return store.Execution{Pipeline: pipeline, Version: 1, EventID: ev.ID, Event: ev}
}

func mustCreate(t testing.TB, ctx context.Context, s store.Store, x store.Execution) store.Execution {
	t.Helper()
	got, err := s.CreateExecution(ctx, x)
	if err != nil {
		t.Fatalf("CreateExecution(%s, event %s): %v", x.Pipeline, x.EventID, err)
	}
	return got
}

// isID reports whether id looks like an events.NewID: 26 symbols of the
// Crockford base32 alphabet.
func isID(id string) bool {
	const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	if len(id) != 26 {
		return false
	}
	for _, c := range id {
		if !strings.ContainsRune(crockford, c) {
			return false
		}
	}
	return true
}

func testCreateExecution(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	in := newExecution("p")
	before := time.Now()
	got := mustCreate(t, ctx, s, in)
	after := time.Now()
	if !isID(got.ID) {
		t.Errorf("CreateExecution filled ID %q; want a 26-character events.NewID", got.ID)
	}
	checkTime(t, "CreatedAt", got.CreatedAt, before, after)
	if got.Status != store.StatusQueued {
		t.Errorf("CreateExecution with no Status: Status = %q; want %q", got.Status, store.StatusQueued)
	}
	if got.Attempt != 0 || got.Owner != "" || !got.StartedAt.IsZero() || !got.FinishedAt.IsZero() {
		t.Errorf("new execution: Attempt=%d Owner=%q StartedAt=%v FinishedAt=%v; want it unclaimed", got.Attempt, got.Owner, got.StartedAt, got.FinishedAt)
	}
	stored, err := s.GetExecution(ctx, got.ID)
	if err != nil {
		t.Fatalf("GetExecution(%s): %v", got.ID, err)
	}
	if diff := cmp.Diff(got, stored, cmpOpts); diff != "" {
		t.Errorf("GetExecution differs from CreateExecution's result (-create +get):\n%s", diff)
	}

	// A caller-chosen ID and Status are kept.
	own := newExecution("p")
	own.ID = events.NewID(time.Now())
	own.Status = store.StatusSucceeded
	got = mustCreate(t, ctx, s, own)
	if got.ID != own.ID || got.Status != store.StatusSucceeded {
		t.Errorf("CreateExecution with ID %s, Status %s = %s, %s; want them kept", own.ID, own.Status, got.ID, got.Status)
	}
	// IDs are the primary key: reusing one is a conflict even for another event.
	dup := newExecution("p")
	dup.ID = own.ID
	if _, err := s.CreateExecution(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateExecution with an existing ID = %v; want ErrConflict", err)
	}

	if _, err := s.GetExecution(ctx, events.NewID(time.Now())); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetExecution(missing) = %v; want ErrNotFound", err)
	}
}

func testExecutionRoundTrip(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	ev, err := events.New(events.TypeSchemaChanged, "payments", map[string]any{
		"schema_type": "openapi",
		"spec_path":   "specs/payments.yaml",
		"changes":     []any{"added /refunds", map[string]any{"n": 2.5}},
	})
	if err != nil {
		t.Fatalf("events.New: %v", err)
	}
	ev.Subject = "payments.yaml"
	ev.Org = "acme"
	ev.Extensions = map[string]string{"causationid": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "depth": "1"}

	t0 := time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)
	in := store.Execution{
		Pipeline: "sdk",
		Version:  4,
		EventID:  ev.ID,
		Event:    ev,
		Steps: []store.StepRun{
			{
				ID: "sdk", Uses: "regenerate_sdk",
				Status: store.StatusSucceeded, Outcome: store.StatusSucceeded, Conclusion: store.StatusSucceeded,
				Attempts:  2,
				StartedAt: t0, FinishedAt: t0.Add(1500 * time.Millisecond),
				With:   json.RawMessage(`{"spec": "specs/payments.yaml", "languages": ["typescript", "go"]}`),
				Output: json.RawMessage(`{"files": 12, "nested": {"ok": true, "none": null}}`),
			},
			{
				ID: "tell", Uses: "notify",
				Status: store.StatusFailed, Outcome: store.StatusFailed, Conclusion: store.StatusSucceeded,
				Attempts:  1,
				StartedAt: t0.Add(2 * time.Second), FinishedAt: t0.Add(3 * time.Second),
				With:  json.RawMessage(`{"webhook_url":"[redacted]"}`),
				Error: "notify: slack: 500 Internal Server Error",
			},
			{ID: "pr", Uses: "create_pr", Status: store.StatusSkipped},
		},
	}
	got := mustCreate(t, ctx, s, in)
	want := in
	want.ID = got.ID
	want.Status = store.StatusQueued
	want.CreatedAt = got.CreatedAt
	if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
		t.Errorf("CreateExecution result (-want +got):\n%s", diff)
	}
	stored, err := s.GetExecution(ctx, got.ID)
	if err != nil {
		t.Fatalf("GetExecution: %v", err)
	}
	if diff := cmp.Diff(want, stored, cmpOpts); diff != "" {
		t.Errorf("GetExecution (-want +got):\n%s", diff)
	}

	// An event with no payload and no extensions comes back empty too.
	bare := newExecution("bare")
	bare.Event.Data = nil
	created := mustCreate(t, ctx, s, bare)
	stored, err = s.GetExecution(ctx, created.ID)
	if err != nil {
		t.Fatalf("GetExecution: %v", err)
	}
	if len(stored.Event.Data) > 0 && string(stored.Event.Data) != "null" {
		t.Errorf("event without data came back with Data %s; want none", stored.Event.Data)
	}
	if len(stored.Steps) != 0 {
		t.Errorf("execution without steps came back with %d steps", len(stored.Steps))
	}
}

func testExecutionUniqueness(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	first := mustCreate(t, ctx, s, newExecution("p"))

	again := newExecution("p")
	again.EventID = first.EventID
	again.Event = first.Event
	if _, err := s.CreateExecution(ctx, again); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second CreateExecution for (p, %s) = %v; want ErrConflict", first.EventID, err)
	}
	// Only the pair is unique: the same event may run other pipelines.
	other := again
	other.Pipeline = "q"
	mustCreate(t, ctx, s, other)

	page, err := s.ListExecutions(ctx, store.ExecutionQuery{Pipeline: "p"})
	if err != nil {
		t.Fatalf("ListExecutions: %v", err)
	}
	if len(page.Executions) != 1 || page.Executions[0].ID != first.ID {
		t.Errorf("executions of p after a rejected duplicate = %v; want only %s", ids(page.Executions), first.ID)
	}
}

func ids(xs []store.Execution) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = x.ID
	}
	return out
}

// newestFirst returns the IDs sorted the way ListExecutions orders them.
func newestFirst(xs []string) []string {
	out := slices.Clone(xs)
	slices.Sort(out)
	slices.Reverse(out)
	return out
}

func testListExecutions(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	if page, err := s.ListExecutions(ctx, store.ExecutionQuery{}); err != nil || len(page.Executions) != 0 || page.Next != "" {
		t.Fatalf("ListExecutions on an empty store = %d, next %q, %v; want an empty last page", len(page.Executions), page.Next, err)
	}
	byKey := map[string][]string{} // pipeline, pipeline/status, status -> ids
	var all []string
	add := func(pipeline string, status store.Status) {
		x := newExecution(pipeline)
		x.Status = status
		x = mustCreate(t, ctx, s, x)
		all = append(all, x.ID)
		byKey[pipeline] = append(byKey[pipeline], x.ID)
		byKey[pipeline+"/"+string(status)] = append(byKey[pipeline+"/"+string(status)], x.ID)
		byKey["/"+string(status)] = append(byKey["/"+string(status)], x.ID)
	}
	for i := range 12 {
		p := []string{"a", "b", "ab"}[i%3]
		st := []store.Status{store.StatusQueued, store.StatusSucceeded, store.StatusFailed, store.StatusQueued}[i%4]
		add(p, st)
	}
	tests := []struct {
		q   store.ExecutionQuery
		key string // into byKey; "" = all
	}{
		{store.ExecutionQuery{}, ""},
		{store.ExecutionQuery{Pipeline: "a"}, "a"},
		{store.ExecutionQuery{Pipeline: "ab"}, "ab"},
		{store.ExecutionQuery{Status: store.StatusQueued}, "/queued"},
		{store.ExecutionQuery{Status: store.StatusFailed}, "/failed"},
		{store.ExecutionQuery{Pipeline: "b", Status: store.StatusSucceeded}, "b/succeeded"},
		{store.ExecutionQuery{Pipeline: "a", Status: store.StatusRunning}, "a/running"},
		{store.ExecutionQuery{Pipeline: "none"}, "none"},
	}
	for _, tt := range tests {
		want := byKey[tt.key]
		if tt.key == "" {
			want = all
		}
		want = newestFirst(want)
		page, err := s.ListExecutions(ctx, tt.q)
		if err != nil {
			t.Fatalf("ListExecutions(%+v): %v", tt.q, err)
		}
		if diff := cmp.Diff(want, ids(page.Executions), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("ListExecutions(%+v) ids (-want +got):\n%s", tt.q, diff)
		}
		if page.Next != "" {
			t.Errorf("ListExecutions(%+v).Next = %q; want \"\" on the only page", tt.q, page.Next)
		}
		for _, x := range page.Executions {
			if (tt.q.Pipeline != "" && x.Pipeline != tt.q.Pipeline) || (tt.q.Status != "" && x.Status != tt.q.Status) {
				t.Errorf("ListExecutions(%+v) returned %s of %s, %s", tt.q, x.ID, x.Pipeline, x.Status)
			}
		}
	}

	// Listed records are whole: the event comes with them.
	page, err := s.ListExecutions(ctx, store.ExecutionQuery{Limit: 1})
	if err != nil {
		t.Fatalf("ListExecutions(Limit 1): %v", err)
	}
	if len(page.Executions) != 1 {
		t.Fatalf("ListExecutions(Limit 1) = %d executions; want 1", len(page.Executions))
	}
	x := page.Executions[0]
	stored, err := s.GetExecution(ctx, x.ID)
	if err != nil {
		t.Fatalf("GetExecution: %v", err)
	}
	if diff := cmp.Diff(stored, x, cmpOpts); diff != "" {
		t.Errorf("listed execution differs from GetExecution (-get +list):\n%s", diff)
	}
}

// walk lists every page of q and returns the IDs in the order seen.
func walk(t *testing.T, ctx context.Context, s store.Store, q store.ExecutionQuery) (seen []string, pages int) {
	t.Helper()
	return walkPaced(t, ctx, s, q, 0)
}

// walkPaced is walk with a pause between pages, for walks that must
// overlap with concurrent writes.
func walkPaced(t *testing.T, ctx context.Context, s store.Store, q store.ExecutionQuery, pause time.Duration) (seen []string, pages int) {
	t.Helper()
	for {
		if pages > 0 && pause > 0 {
			time.Sleep(pause)
		}
		page, err := s.ListExecutions(ctx, q)
		if err != nil {
			t.Fatalf("ListExecutions(%+v): %v", q, err)
		}
		pages++
		if q.Limit > 0 && len(page.Executions) > q.Limit {
			t.Fatalf("ListExecutions(Limit %d) returned %d executions", q.Limit, len(page.Executions))
		}
		seen = append(seen, ids(page.Executions)...)
		if page.Next == "" {
			return seen, pages
		}
		if pages > 10000 {
			t.Fatalf("pagination did not end after %d pages", pages)
		}
		q.Cursor = page.Next
	}
}

func testListExecutionsPagination(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	var all, even []string
	for i := range 55 {
		x := newExecution("p")
		if i%2 == 0 {
			x.Status = store.StatusSucceeded
		}
		x = mustCreate(t, ctx, s, x)
		all = append(all, x.ID)
		if i%2 == 0 {
			even = append(even, x.ID)
		}
	}
	tests := []struct {
		q         store.ExecutionQuery
		want      []string
		wantPages int
	}{
		{store.ExecutionQuery{Limit: 10}, all, 6},
		{store.ExecutionQuery{Limit: 11}, all, 5}, // 55 = 5 x 11: the fifth page is the last
		{store.ExecutionQuery{Limit: 55}, all, 1},
		{store.ExecutionQuery{Limit: 2000}, all, 1},
		{store.ExecutionQuery{}, all, 2}, // the default limit is 50
		{store.ExecutionQuery{Limit: -1}, all, 2},
		{store.ExecutionQuery{Status: store.StatusSucceeded, Limit: 7}, even, 4},
		{store.ExecutionQuery{Pipeline: "p", Status: store.StatusSucceeded, Limit: 28}, even, 1},
	}
	for _, tt := range tests {
		seen, pages := walk(t, ctx, s, tt.q)
		if diff := cmp.Diff(newestFirst(tt.want), seen); diff != "" {
			t.Errorf("walking ListExecutions(%+v) (-want +got):\n%s", tt.q, diff)
		}
		if pages != tt.wantPages {
			t.Errorf("walking ListExecutions(%+v) took %d pages; want %d", tt.q, pages, tt.wantPages)
		}
	}
}

// testPaginationConcurrentInserts walks the executions while another
// goroutine keeps creating new ones: the walk must see every execution that
// existed when it started exactly once, in order, with no duplicates.
func testPaginationConcurrentInserts(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	var old []string
	for range 40 {
		old = append(old, mustCreate(t, ctx, s, newExecution("p")).ID)
	}

	stop := make(chan struct{})
	halt := sync.OnceFunc(func() { close(stop) })
	defer halt() // also when the walk fails the case
	started := make(chan struct{})
	inserted := make(chan int, 1)
	go func() {
		n := 0
		defer func() { inserted <- n }()
		for n < 500 {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.CreateExecution(ctx, newExecution("p")); err != nil {
				t.Errorf("concurrent CreateExecution: %v", err)
				return
			}
			if n++; n == 1 {
				close(started)
			}
		}
	}()
	// Start walking once the inserter is going, so that the two overlap.
	select {
	case <-started:
	case n := <-inserted:
		t.Fatalf("inserter stopped after %d executions", n)
	}
	seen, _ := walkPaced(t, ctx, s, store.ExecutionQuery{Limit: 6}, time.Millisecond)
	halt()
	n := <-inserted
	t.Logf("%d executions inserted during the walk", n)

	count := map[string]int{}
	for i, id := range seen {
		count[id]++
		if count[id] > 1 {
			t.Errorf("walk saw %s %d times", id, count[id])
		}
		if i > 0 && id >= seen[i-1] {
			t.Errorf("walk out of order: %s after %s", id, seen[i-1])
		}
	}
	for _, id := range old {
		if count[id] != 1 {
			t.Errorf("walk saw old execution %s %d times; want once", id, count[id])
		}
	}
}

func testInvalidCursor(t *testing.T, s store.Store) {
	for _, c := range []string{"!!!", "a b", "=", "not/base64"} {
		page, err := s.ListExecutions(context.Background(), store.ExecutionQuery{Cursor: c})
		if !errors.Is(err, store.ErrInvalidCursor) {
			t.Errorf("ListExecutions(Cursor %q) = %d executions, %v; want ErrInvalidCursor", c, len(page.Executions), err)
		}
	}
}
