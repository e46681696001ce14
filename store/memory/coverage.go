package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/mockops/mockops/internal/cursor"
	"github.com/mockops/mockops/store"
)

// rollupKey identifies a rollup. The bucket is kept as seconds and
// nanoseconds rather than a time.Time, whose location would make the same
// instant in two time zones two keys.
type rollupKey struct {
	kind, workspace, service, key string
	sec                           int64
	nsec                          int32
}

func keyOf(r store.Rollup) rollupKey {
	k := rollupKey{kind: r.Kind, workspace: r.Workspace, service: r.Service, key: r.Key}
	if !r.Bucket.IsZero() {
		k.sec, k.nsec = r.Bucket.Unix(), int32(r.Bucket.Nanosecond())
	}
	return k
}

// AddRollups implements store.Coverage. Buckets and LastSeen are stored in
// UTC.
func (s *Store) AddRollups(ctx context.Context, rs []store.Rollup) error {
	if err := s.check(ctx, "add rollups"); err != nil {
		return err
	}
	s.covMu.Lock()
	defer s.covMu.Unlock()
	for _, r := range rs {
		k := keyOf(r)
		old, ok := s.rollups[k]
		if !ok {
			r.Bucket = utc(r.Bucket)
			r.LastSeen = utc(r.LastSeen)
			s.rollups[k] = r
			continue
		}
		old.Count += r.Count
		if r.LastSeen.After(old.LastSeen) {
			old.LastSeen = utc(r.LastSeen)
		}
		s.rollups[k] = old
	}
	return nil
}

// utc returns t in UTC, leaving the zero time zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// ListRollups implements store.Coverage. The cursor is the last key of the
// previous page, in the form both adapters share.
func (s *Store) ListRollups(ctx context.Context, q store.RollupQuery) (store.RollupPage, error) {
	if err := s.check(ctx, "list rollups"); err != nil {
		return store.RollupPage{}, err
	}
	limit := q.PageLimit()
	var (
		after    store.Rollup
		hasAfter bool
	)
	if q.Cursor != "" {
		k, err := cursor.DecodeRollup(q.Cursor)
		if err != nil {
			return store.RollupPage{}, fmt.Errorf("memory: list rollups: %w: %w", store.ErrInvalidCursor, err)
		}
		after = store.Rollup{Kind: k.Kind, Workspace: k.Workspace, Service: k.Service, Key: k.Key, Bucket: k.Bucket}
		hasAfter = true
	}
	s.covMu.RLock()
	var out []store.Rollup
	for _, r := range s.rollups {
		if (q.Kind != "" && r.Kind != q.Kind) ||
			(q.Workspace != "" && r.Workspace != q.Workspace) ||
			(q.Service != "" && r.Service != q.Service) ||
			(!q.From.IsZero() && r.Bucket.Before(q.From)) ||
			(!q.To.IsZero() && !r.Bucket.Before(q.To)) ||
			(hasAfter && compareRollups(r, after) <= 0) {
			continue
		}
		out = append(out, r)
	}
	s.covMu.RUnlock()
	// Sorted after unlocking: writers need not wait for it.
	slices.SortFunc(out, compareRollups)
	var page store.RollupPage
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		page.Next = cursor.Rollup{Kind: last.Kind, Workspace: last.Workspace, Service: last.Service, Key: last.Key, Bucket: last.Bucket}.Encode()
	}
	page.Rollups = out
	return page, nil
}

func compareRollups(a, b store.Rollup) int {
	return cmp.Or(
		cmp.Compare(a.Kind, b.Kind),
		cmp.Compare(a.Workspace, b.Workspace),
		cmp.Compare(a.Service, b.Service),
		cmp.Compare(a.Key, b.Key),
		a.Bucket.Compare(b.Bucket),
	)
}
