package store

import (
	"encoding/base64"
	"errors"
	"fmt"
)

// ErrInvalidCursor is returned (wrapped) by ListExecutions for a cursor it
// did not hand out, so an API can answer 400 rather than 500.
var ErrInvalidCursor = errors.New("store: invalid cursor")

// EncodeCursor turns the last ID of a page into the opaque cursor of the
// next page. Adapters share it so cursors look alike whatever the backend.
func EncodeCursor(lastID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(lastID))
}

// DecodeCursor is the inverse of EncodeCursor; anything else fails with an
// error wrapping ErrInvalidCursor.
func DecodeCursor(cursor string) (lastID string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(b) == 0 {
		return "", fmt.Errorf("%w %q", ErrInvalidCursor, cursor)
	}
	return string(b), nil
}
