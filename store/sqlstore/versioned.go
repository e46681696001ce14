package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mockops/mockops/store"
)

// putVersioned writes one record of a versioned kind under the rules of
// store.Store: version 0 creates (ErrConflict if the key exists), AnyVersion
// creates or overwrites, any other version must equal the stored one. It
// returns the new version and the UpdatedAt it stored. what names the
// record in errors.
func (s *Store) putVersioned(ctx context.Context, what string, q *versionedQueries, version int64, keys, vals []any) (int64, time.Time, error) {
	now := normTime(s.now())
	var (
		text string
		args []any
	)
	switch {
	case version == 0:
		text, args = q.insert, append(append(append([]any{}, keys...), vals...), s.d.ts(now))
	case version == store.AnyVersion:
		text, args = q.upsert, append(append(append([]any{}, keys...), vals...), s.d.ts(now))
	case version > 0:
		args = append(append([]any{}, vals...), s.d.ts(now))
		text, args = q.update, append(append(args, keys...), version)
	default:
		return 0, time.Time{}, fmt.Errorf("sqlstore: put %s: version %d: %w", what, version, store.ErrConflict)
	}
	var got int64
	err := s.write(ctx, func(db execer) error {
		return db.QueryRowContext(ctx, text, args...).Scan(&got)
	})
	switch {
	case err == nil:
		return got, now, nil
	case version == 0 && isUniqueViolation(err):
		return 0, time.Time{}, fmt.Errorf("sqlstore: put %s: already exists: %w", what, store.ErrConflict)
	case version > 0 && errors.Is(err, sql.ErrNoRows):
		// Missing or at another version: either way the caller's version is
		// not the stored one, and a version other than 0 never creates.
		return 0, time.Time{}, fmt.Errorf("sqlstore: put %s: version %d is not the stored version: %w", what, version, store.ErrConflict)
	}
	return 0, time.Time{}, fmt.Errorf("sqlstore: put %s: %w", what, err)
}

// deleteVersioned removes one record if version matches (or is
// AnyVersion): ErrNotFound if there is none, ErrConflict if it is at
// another version.
func (s *Store) deleteVersioned(ctx context.Context, what string, q *versionedQueries, version int64, keys []any) error {
	text, args := q.deleteAny, keys
	if version != store.AnyVersion {
		text, args = q.deleteAt, append(append([]any{}, keys...), version)
	}
	// The delete and the look that explains a miss are two statements: a
	// writer in between can re-create the record at the very version asked
	// for (or at any, for AnyVersion), and then the delete is tried again.
	for range 3 {
		var n int64
		err := s.write(ctx, func(db execer) error {
			res, err := db.ExecContext(ctx, text, args...)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlstore: delete %s: %w", what, err)
		}
		if n > 0 {
			return nil
		}
		var stored int64
		err = s.r().QueryRowContext(ctx, q.version, keys...).Scan(&stored)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("sqlstore: delete %s: %w", what, store.ErrNotFound)
		case err != nil:
			return fmt.Errorf("sqlstore: delete %s: %w", what, err)
		case version != store.AnyVersion && stored != version:
			return fmt.Errorf("sqlstore: delete %s: version %d, stored %d: %w", what, version, stored, store.ErrConflict)
		}
	}
	return fmt.Errorf("sqlstore: delete %s: version %d keeps changing under concurrent writers: %w", what, version, store.ErrConflict)
}

// notFound maps sql.ErrNoRows to store.ErrNotFound, with context.
func notFound(err error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlstore: %s: %w", msg, store.ErrNotFound)
	}
	return fmt.Errorf("sqlstore: %s: %w", msg, err)
}
