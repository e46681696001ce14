package sqlstore

import (
	"context"
	"fmt"
	"math"
	"time"
)

// qPruneEvents deletes stored bus events older than a cut-off that every
// named consumer has handled; with no consumer at all, the cut-off alone
// decides. It deletes at most a batch (the last argument) of the oldest
// such events, walking the primary key from its start, so one statement
// never holds its locks (or SQLite's write lock) for the whole backlog.
const qPruneEvents = `DELETE FROM mockops_bus_events WHERE seq IN (
	SELECT seq FROM mockops_bus_events
	WHERE created_at < ?
	AND seq <= (SELECT COALESCE(MIN(position), ?) FROM mockops_bus_consumers)
	ORDER BY seq LIMIT ?)`

// pruneBatch is how many events one DELETE of PruneEvents removes.
const pruneBatch = 5000

// PruneEvents deletes the durable bus's stored events that were published
// before olderThan and that every named consumer has already handled, and
// returns how many it deleted. The bus never deletes events by itself: a
// host calls this on a schedule with its retention window (for example
// time.Now().Add(-7 * 24 * time.Hour)).
//
// It deletes in batches of a few thousand events, each committed on its
// own, so pruning a long backlog never holds publishers off for its whole
// length; if ctx ends or a batch fails, the count says what was deleted.
//
// A named consumer that never comes back holds every later event until
// DeleteConsumer retires it; anonymous subscriptions (Subscribe) are
// protected only by the window, so keep it longer than any of them may lag.
func (s *Store) PruneEvents(ctx context.Context, olderThan time.Time) (int64, error) {
	return s.pruneEvents(ctx, olderThan, pruneBatch, nil)
}

// pruneEvents deletes in batches of at most batch events, each its own
// statement and transaction, so writers (publishers above all) get in
// between; each, if not nil, sees every batch's count. A failure returns
// what the batches before it deleted.
func (s *Store) pruneEvents(ctx context.Context, olderThan time.Time, batch int, each func(int64)) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.write(ctx, func(db execer) error {
			res, err := db.ExecContext(ctx, s.q.pruneEvents, s.d.ts(olderThan), int64(math.MaxInt64), batch)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, fmt.Errorf("sqlstore: prune bus events: %w", err)
		}
		total += n
		if each != nil {
			each(n)
		}
		if n < int64(batch) {
			return total, nil
		}
	}
}
