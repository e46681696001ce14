package sqlstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/mockops/mockops/internal/cursor"
	"github.com/mockops/mockops/store"
)

// rollupKey is a rollup's identity: counts with equal keys add up.
type rollupKey struct {
	kind, workspace, service, key string
	bucket                        int64 // UnixMicro of the normalised bucket
}

// AddRollups implements store.Coverage. The batch is one transaction of
// multi-row upserts; rows with the same key are merged first, because one
// PostgreSQL INSERT ... ON CONFLICT may not touch a row twice. Keys are
// written in sorted order so that two replicas flushing overlapping batches
// lock rows in the same order and cannot deadlock.
func (s *Store) AddRollups(ctx context.Context, rs []store.Rollup) error {
	if len(rs) == 0 {
		return nil
	}
	merged := make(map[rollupKey]store.Rollup, len(rs))
	for _, r := range rs {
		r.Bucket, r.LastSeen = normTime(r.Bucket), normTime(r.LastSeen)
		k := rollupKey{r.Kind, r.Workspace, r.Service, r.Key, r.Bucket.UnixMicro()}
		if m, ok := merged[k]; ok {
			m.Count += r.Count
			if r.LastSeen.After(m.LastSeen) {
				m.LastSeen = r.LastSeen
			}
			r = m
		}
		merged[k] = r
	}
	rows := make([]store.Rollup, 0, len(merged))
	for _, r := range merged {
		rows = append(rows, r)
	}
	slices.SortFunc(rows, compareRollups)

	err := s.inTx(ctx, func(tx execer) error {
		args := make([]any, 0, 7*rollupBatchSizes[0])
		for len(rows) > 0 {
			n := batchSize(len(rows))
			args = args[:0]
			for _, r := range rows[:n] {
				args = append(args, r.Kind, r.Workspace, r.Service, r.Key, s.d.ts(r.Bucket), r.Count, s.d.ts(r.LastSeen))
			}
			if _, err := tx.ExecContext(ctx, s.q.rollupUpserts[n], args...); err != nil {
				return err
			}
			rows = rows[n:]
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlstore: add %d rollups: %w", len(rs), err)
	}
	return nil
}

// batchSize is the largest prepared batch size that fits in n rows.
func batchSize(n int) int {
	for _, size := range rollupBatchSizes {
		if size <= n {
			return size
		}
	}
	return 1
}

func compareRollups(a, b store.Rollup) int {
	return cmp.Or(
		cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Workspace, b.Workspace),
		cmp.Compare(a.Service, b.Service), cmp.Compare(a.Key, b.Key),
		a.Bucket.Compare(b.Bucket))
}

// ListRollups implements store.Coverage.
func (s *Store) ListRollups(ctx context.Context, q store.RollupQuery) (store.RollupPage, error) {
	limit := q.PageLimit()
	args := []any{q.Kind, q.Kind, q.Workspace, q.Workspace, q.Service, q.Service,
		q.From.IsZero(), s.d.ts(q.From), q.To.IsZero(), s.d.ts(q.To)}
	paged := 0
	if q.Cursor != "" {
		k, err := cursor.DecodeRollup(q.Cursor)
		if err != nil {
			return store.RollupPage{}, fmt.Errorf("sqlstore: list rollups: %w: %w", store.ErrInvalidCursor, err)
		}
		args = append(args, k.Kind, k.Workspace, k.Service, k.Key, s.d.ts(k.Bucket))
		paged = 1
	}
	// One row more than asked says whether there is a next page.
	args = append(args, limit+1)
	rows, err := s.r().QueryContext(ctx, s.q.listRollups[paged], args...)
	if err != nil {
		return store.RollupPage{}, fmt.Errorf("sqlstore: list rollups: %w", err)
	}
	out, err := collect(rows, func(r scanner) (store.Rollup, error) {
		var ru store.Rollup
		err := r.Scan(&ru.Kind, &ru.Workspace, &ru.Service, &ru.Key, timeCol{&ru.Bucket}, &ru.Count, timeCol{&ru.LastSeen})
		return ru, err
	})
	if err != nil {
		return store.RollupPage{}, fmt.Errorf("sqlstore: list rollups: %w", err)
	}
	var page store.RollupPage
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		page.Next = cursor.Rollup{Kind: last.Kind, Workspace: last.Workspace, Service: last.Service, Key: last.Key, Bucket: last.Bucket}.Encode()
	}
	page.Rollups = out
	return page, nil
}
