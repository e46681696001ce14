package events

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
	"time"
)

// crockford is the Crockford base32 alphabet: sortable, no ambiguous letters.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewID returns a 26-character ULID: the first ten characters encode t in
// milliseconds and the remaining sixteen 80 bits of entropy. Within a
// process the IDs strictly increase in the order NewID returns them
// (monotonic entropy): the first ID of a millisecond has random entropy,
// and each later one in the same millisecond is the previous one plus one.
// A t before the previous ID's millisecond (a clock stepped back) is taken
// as that millisecond, so the order still holds. That is what makes
// "oldest first" exact wherever IDs are the order: the durable bus, and
// every store adapter's listing and claims.
func NewID(t time.Time) string {
	raw := ids.next(t.UnixMilli())
	var out [26]byte
	// 128 bits = 2 bits of padding + 26 symbols of 5 bits, most significant first.
	hi := binary.BigEndian.Uint64(raw[:8])
	lo := binary.BigEndian.Uint64(raw[8:])
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

// ids is the process's ID sequence. It is the one piece of package state,
// because monotonicity is a property of the whole process: two generators
// would hand out interleaved, unordered IDs.
var ids idSequence

// idSequence remembers the last ID handed out; mu guards both fields, and
// every NewID takes it for the few nanoseconds of an increment.
type idSequence struct {
	mu   sync.Mutex
	ms   int64    // the millisecond of the last ID
	last [16]byte // the last ID: 48 bits of ms, 80 of entropy
}

// next returns the 16 bytes of the ID after the last one, at millisecond ms.
func (s *idSequence) next(ms int64) [16]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ms > s.ms || s.ms == 0 {
		s.ms = ms
		binary.BigEndian.PutUint64(s.last[:8], uint64(ms)<<16)
		rand.Read(s.last[6:]) // never fails: crypto/rand panics rather than returning short reads
		return s.last
	}
	// Same millisecond (or an earlier one): add one to the 80-bit entropy.
	// Carrying out of it moves on to the next millisecond, which keeps the
	// order at the cost of a timestamp one millisecond late once in 2^80.
	for i := 15; i >= 0; i-- {
		s.last[i]++
		if s.last[i] != 0 {
			break
		}
	}
	s.ms = int64(binary.BigEndian.Uint64(s.last[:8]) >> 16)
	return s.last
}
