package store

import "errors"

// ErrInvalidCursor is returned (wrapped) by ListExecutions and ListRollups
// for a cursor they did not hand out, so an API can answer 400 rather than
// 500. Cursors are opaque: pass back the Next of a page as it came, and
// nothing else.
var ErrInvalidCursor = errors.New("store: invalid cursor")
