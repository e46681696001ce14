package sqlstore

import (
	"context"
	"fmt"
	"math"
	"time"
)

// qPruneEvents deletes stored bus events older than a cut-off that every
// named consumer has handled; with no consumer at all, the cut-off alone
// decides.
const qPruneEvents = `DELETE FROM mockops_bus_events
	WHERE created_at < ?
	AND seq <= (SELECT COALESCE(MIN(position), ?) FROM mockops_bus_consumers)`

// PruneEvents deletes the durable bus's stored events that were published
// before olderThan and that every named consumer has already handled, and
// returns how many it deleted. The bus never deletes events by itself: a
// host calls this on a schedule with its retention window (for example
// time.Now().Add(-7 * 24 * time.Hour)).
//
// A named consumer that never comes back holds every later event until
// DeleteConsumer retires it; anonymous subscriptions (Subscribe) are
// protected only by the window, so keep it longer than any of them may lag.
func (s *Store) PruneEvents(ctx context.Context, olderThan time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, func(db execer) error {
		res, err := db.ExecContext(ctx, s.q.pruneEvents, s.d.ts(olderThan), int64(math.MaxInt64))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlstore: prune bus events: %w", err)
	}
	return n, nil
}
