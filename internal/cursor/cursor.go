// Package cursor encodes the opaque page cursors the store adapters hand
// out, so that store/memory and store/sqlstore write them alike while
// callers see only a string to pass back.
package cursor

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ErrInvalid is wrapped by Decode for a string Encode did not produce.
// Adapters wrap their own sentinel (store.ErrInvalidCursor) around it.
var ErrInvalid = errors.New("cursor: invalid")

// Encode turns the last key of a page into the cursor of the next page.
func Encode(lastKey string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(lastKey))
}

// Decode is the inverse of Encode; anything else fails with an error
// wrapping ErrInvalid.
func Decode(c string) (lastKey string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) == 0 {
		return "", fmt.Errorf("%w: %q", ErrInvalid, c)
	}
	return string(b), nil
}

// EncodeKey is Encode for a key of several parts (a composite primary
// key), which Decode gives back with DecodeKey.
func EncodeKey(parts ...string) string {
	b, _ := json.Marshal(parts) // a []string always marshals
	return Encode(string(b))
}

// DecodeKey is the inverse of EncodeKey for a key of n parts; anything else
// fails with an error wrapping ErrInvalid.
func DecodeKey(c string, n int) ([]string, error) {
	s, err := Decode(c)
	if err != nil {
		return nil, err
	}
	var parts []string
	if err := json.Unmarshal([]byte(s), &parts); err != nil || len(parts) != n {
		return nil, fmt.Errorf("%w: %q", ErrInvalid, c)
	}
	return parts, nil
}

// Rollup is the key of a coverage rollup, the cursor of ListRollups in
// every adapter: the bucket travels in RFC 3339 with nanoseconds, so no
// adapter's time resolution shifts a page boundary.
type Rollup struct {
	Kind, Workspace, Service, Key string
	Bucket                        time.Time
}

// Encode returns k as a cursor.
func (k Rollup) Encode() string {
	return EncodeKey(k.Kind, k.Workspace, k.Service, k.Key, k.Bucket.UTC().Format(time.RFC3339Nano))
}

// DecodeRollup is the inverse of Rollup.Encode; anything else fails with an
// error wrapping ErrInvalid.
func DecodeRollup(c string) (Rollup, error) {
	parts, err := DecodeKey(c, 5)
	if err != nil {
		return Rollup{}, err
	}
	bucket, err := time.Parse(time.RFC3339Nano, parts[4])
	if err != nil {
		return Rollup{}, fmt.Errorf("%w: %q", ErrInvalid, c)
	}
	return Rollup{Kind: parts[0], Workspace: parts[1], Service: parts[2], Key: parts[3], Bucket: bucket}, nil
}
