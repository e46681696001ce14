package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mockops/mockops/store"
)

// hour is a bucket start the tests build others from; whole seconds, so no
// adapter has a reason to round it.
var hour = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func testAddRollups(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	seen := hour.Add(17 * time.Minute)
	key := store.Rollup{Kind: "scenario", Workspace: "payments", Service: "orders", Key: "outage", Bucket: hour}
	with := func(count int64, lastSeen time.Time) store.Rollup {
		r := key
		r.Count = count
		r.LastSeen = lastSeen
		return r
	}
	allTime := store.Rollup{Kind: "persona", Workspace: "payments", Key: "alice", Count: 4, LastSeen: seen}

	if err := s.AddRollups(ctx, nil); err != nil {
		t.Fatalf("AddRollups(nil): %v", err)
	}
	// Duplicate keys within one batch add up too.
	if err := s.AddRollups(ctx, []store.Rollup{with(2, seen), with(3, seen.Add(time.Minute)), allTime}); err != nil {
		t.Fatalf("AddRollups: %v", err)
	}
	// An older LastSeen adds its count but does not move LastSeen back; the
	// same instant written in another time zone is the same bucket.
	zoned := with(5, seen.Add(-time.Hour))
	zoned.Bucket = hour.In(time.FixedZone("UTC+2", 2*3600))
	if err := s.AddRollups(ctx, []store.Rollup{zoned, allTime}); err != nil {
		t.Fatalf("AddRollups: %v", err)
	}
	got, err := allRollups(ctx, s, store.RollupQuery{})
	if err != nil {
		t.Fatalf("ListRollups: %v", err)
	}
	wantAllTime := allTime
	wantAllTime.Count = 8
	want := []store.Rollup{wantAllTime, with(10, seen.Add(time.Minute))}
	if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
		t.Errorf("ListRollups after three batches (-want +got):\n%s", diff)
	}
	for _, r := range got {
		if !r.Bucket.IsZero() && !r.Bucket.Equal(hour) {
			t.Errorf("rollup %s/%s Bucket = %v; want %v", r.Kind, r.Key, r.Bucket, hour)
		}
	}

	// A later LastSeen moves it forward.
	if err := s.AddRollups(ctx, []store.Rollup{with(1, seen.Add(time.Hour))}); err != nil {
		t.Fatalf("AddRollups: %v", err)
	}
	got, err = allRollups(ctx, s, store.RollupQuery{Kind: "scenario"})
	if err != nil {
		t.Fatalf("ListRollups: %v", err)
	}
	if diff := cmp.Diff([]store.Rollup{with(11, seen.Add(time.Hour))}, got, cmpOpts); diff != "" {
		t.Errorf("ListRollups after a later observation (-want +got):\n%s", diff)
	}
}

func testListRollups(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	var all []store.Rollup
	// Built in an order unlike the listing order, with one field varying at
	// a time so each filter and each sort key is exercised.
	for _, kind := range []string{"scenario", "endpoint"} {
		for _, ws := range []string{"b-ws", "a-ws"} {
			for _, svc := range []string{"", "orders", "auth"} {
				for _, key := range []string{"k2", "k1"} {
					for _, b := range []time.Time{hour.Add(2 * time.Hour), {}, hour} {
						all = append(all, store.Rollup{Kind: kind, Workspace: ws, Service: svc, Key: key, Bucket: b, Count: 1, LastSeen: hour.Add(3 * time.Hour)})
					}
				}
			}
		}
	}
	if err := s.AddRollups(ctx, all); err != nil {
		t.Fatalf("AddRollups(%d rows): %v", len(all), err)
	}
	name := func(r store.Rollup) string {
		b := "all-time"
		if !r.Bucket.IsZero() {
			b = r.Bucket.UTC().Format("15h")
		}
		return fmt.Sprintf("%s/%s/%s/%s/%s", r.Kind, r.Workspace, r.Service, r.Key, b)
	}
	// expect lists the rows matching keep, in the contract's order.
	expect := func(keep func(store.Rollup) bool) []string {
		var out []string
		for _, kind := range []string{"endpoint", "scenario"} {
			for _, ws := range []string{"a-ws", "b-ws"} {
				for _, svc := range []string{"", "auth", "orders"} {
					for _, key := range []string{"k1", "k2"} {
						for _, b := range []time.Time{{}, hour, hour.Add(2 * time.Hour)} {
							r := store.Rollup{Kind: kind, Workspace: ws, Service: svc, Key: key, Bucket: b}
							if keep(r) {
								out = append(out, name(r))
							}
						}
					}
				}
			}
		}
		return out
	}
	tests := []struct {
		q    store.RollupQuery
		keep func(store.Rollup) bool
	}{
		{store.RollupQuery{}, func(store.Rollup) bool { return true }},
		{store.RollupQuery{Kind: "scenario"}, func(r store.Rollup) bool { return r.Kind == "scenario" }},
		{store.RollupQuery{Workspace: "b-ws"}, func(r store.Rollup) bool { return r.Workspace == "b-ws" }},
		{store.RollupQuery{Service: "auth"}, func(r store.Rollup) bool { return r.Service == "auth" }},
		{store.RollupQuery{From: hour}, func(r store.Rollup) bool { return !r.Bucket.Before(hour) }},
		{store.RollupQuery{To: hour.Add(2 * time.Hour)}, func(r store.Rollup) bool { return r.Bucket.Before(hour.Add(2 * time.Hour)) }},
		{store.RollupQuery{From: hour, To: hour.Add(time.Hour)}, func(r store.Rollup) bool { return r.Bucket.Equal(hour) }},
		{store.RollupQuery{From: hour.Add(time.Second), To: hour.Add(2 * time.Hour)}, func(store.Rollup) bool { return false }},
		{
			store.RollupQuery{Kind: "endpoint", Workspace: "a-ws", Service: "orders", From: hour.Add(time.Hour)},
			func(r store.Rollup) bool {
				return r.Kind == "endpoint" && r.Workspace == "a-ws" && r.Service == "orders" && r.Bucket.Equal(hour.Add(2*time.Hour))
			},
		},
		{store.RollupQuery{Kind: "none"}, func(store.Rollup) bool { return false }},
	}
	for _, tt := range tests {
		got, err := allRollups(ctx, s, tt.q)
		if err != nil {
			t.Fatalf("ListRollups(%+v): %v", tt.q, err)
		}
		var names []string
		for _, r := range got {
			names = append(names, name(r))
			if r.Count != 1 || !r.LastSeen.Equal(hour.Add(3*time.Hour)) {
				t.Errorf("ListRollups(%+v): %s has Count %d, LastSeen %v; want 1, %v", tt.q, name(r), r.Count, r.LastSeen, hour.Add(3*time.Hour))
			}
		}
		if diff := cmp.Diff(expect(tt.keep), names); diff != "" {
			t.Errorf("ListRollups(%+v) (-want +got):\n%s", tt.q, diff)
		}
	}
}

// testConcurrentRollups is several replicas flushing into one store at
// once: no addition may be lost.
func testConcurrentRollups(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	const writers, flushes = 8, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range flushes {
				batch := []store.Rollup{
					{Kind: "endpoint", Workspace: "ws", Key: "GET /a", Bucket: hour, Count: 1, LastSeen: hour.Add(time.Duration(w*flushes+i) * time.Second)},
					{Kind: "endpoint", Workspace: "ws", Key: "GET /b", Bucket: hour, Count: 2, LastSeen: hour},
					{Kind: "endpoint", Workspace: "ws", Key: fmt.Sprintf("writer %d", w), Count: 3, LastSeen: hour},
				}
				if err := s.AddRollups(ctx, batch); err != nil {
					t.Errorf("writer %d: AddRollups: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, err := allRollups(ctx, s, store.RollupQuery{Kind: "endpoint"})
	if err != nil {
		t.Fatalf("ListRollups: %v", err)
	}
	counts := map[string]int64{}
	for _, r := range got {
		counts[r.Key] += r.Count
		if r.Key == "GET /a" && !r.LastSeen.Equal(hour.Add((writers*flushes-1)*time.Second)) {
			t.Errorf("GET /a LastSeen = %v; want the latest, %v", r.LastSeen, hour.Add((writers*flushes-1)*time.Second))
		}
	}
	want := map[string]int64{"GET /a": writers * flushes, "GET /b": 2 * writers * flushes}
	for w := range writers {
		want[fmt.Sprintf("writer %d", w)] = 3 * flushes
	}
	if diff := cmp.Diff(want, counts); diff != "" {
		t.Errorf("counts after %d concurrent writers (-want +got):\n%s", writers, diff)
	}
}

// allRollups reads every page of q.
func allRollups(ctx context.Context, s store.Store, q store.RollupQuery) ([]store.Rollup, error) {
	var out []store.Rollup
	for pages := 0; ; pages++ {
		page, err := s.ListRollups(ctx, q)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Rollups...)
		if page.Next == "" {
			return out, nil
		}
		if pages > 10000 {
			return nil, fmt.Errorf("ListRollups(%+v): no last page after %d pages", q, pages)
		}
		q.Cursor = page.Next
	}
}

// testListRollupsPages: ListRollups returns bounded pages (1,000 by
// default, at most 10,000 whatever the Limit) whose cursors walk the
// matching rollups in order, each once, also when rollups are added
// between pages; a cursor it did not hand out is ErrInvalidCursor.
func testListRollupsPages(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	const total = 10050
	var all []store.Rollup
	for i := range total {
		all = append(all, store.Rollup{
			Kind: []string{"endpoint", "scenario"}[i%2], Workspace: "ws", Service: fmt.Sprintf("svc-%d", i%7),
			Key: fmt.Sprintf("key-%04d", i/3), Bucket: hour.Add(time.Duration(i%3) * time.Hour), Count: 1, LastSeen: hour,
		})
	}
	if err := s.AddRollups(ctx, all); err != nil {
		t.Fatalf("AddRollups(%d): %v", total, err)
	}
	sortRollups(all)

	for _, tt := range []struct {
		limit, want int
	}{{0, 1000}, {-5, 1000}, {20000, 10000}, {total + 1, 10000}} {
		page, err := s.ListRollups(ctx, store.RollupQuery{Limit: tt.limit})
		if err != nil {
			t.Fatalf("ListRollups(Limit %d): %v", tt.limit, err)
		}
		if len(page.Rollups) != tt.want || page.Next == "" {
			t.Errorf("ListRollups(Limit %d) = %d rollups, Next %q; want %d and a next page", tt.limit, len(page.Rollups), page.Next, tt.want)
		}
	}

	// Walking with small pages, adding rollups before the first and
	// after the current position between pages: the walk sees every rollup
	// that existed when it started once, in order.
	q := store.RollupQuery{Kind: "scenario", Service: "svc-3", Limit: 7}
	var want []store.Rollup
	for _, r := range all {
		if r.Kind == q.Kind && r.Service == q.Service {
			want = append(want, r)
		}
	}
	var got []store.Rollup
	for pages := 0; ; pages++ {
		page, err := s.ListRollups(ctx, q)
		if err != nil {
			t.Fatalf("ListRollups(%+v): %v", q, err)
		}
		if len(page.Rollups) > q.Limit {
			t.Fatalf("ListRollups(Limit %d) = %d rollups", q.Limit, len(page.Rollups))
		}
		got = append(got, page.Rollups...)
		if page.Next == "" || pages > 1000 {
			break
		}
		early := store.Rollup{Kind: "scenario", Workspace: "ws", Service: "svc-3", Key: "aaa", Bucket: hour.Add(time.Duration(pages) * time.Minute), Count: 1, LastSeen: hour}
		if err := s.AddRollups(ctx, []store.Rollup{early}); err != nil {
			t.Fatal(err)
		}
		q.Cursor = page.Next
	}
	if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
		t.Errorf("walking ListRollups(Limit 7) (-want +got):\n%s", diff)
	}

	for _, c := range []string{"!!", "e30", "WyJhIl0"} {
		if page, err := s.ListRollups(ctx, store.RollupQuery{Cursor: c}); !errors.Is(err, store.ErrInvalidCursor) {
			t.Errorf("ListRollups(Cursor %q) = %d rollups, %v; want ErrInvalidCursor", c, len(page.Rollups), err)
		}
	}
}

// sortRollups puts rs in the order ListRollups returns them.
func sortRollups(rs []store.Rollup) {
	slices.SortFunc(rs, func(a, b store.Rollup) int {
		for _, c := range []int{
			strings.Compare(a.Kind, b.Kind), strings.Compare(a.Workspace, b.Workspace),
			strings.Compare(a.Service, b.Service), strings.Compare(a.Key, b.Key),
		} {
			if c != 0 {
				return c
			}
		}
		return a.Bucket.Compare(b.Bucket)
	})
}
