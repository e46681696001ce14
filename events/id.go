package events

import (
	"crypto/rand"
	"encoding/binary"
	"time"
)

// crockford is the Crockford base32 alphabet: sortable, no ambiguous letters.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewID returns a 26-character identifier whose first ten characters encode
// t in milliseconds and whose remaining sixteen are 80 random bits (the ULID
// layout), so IDs sort by creation time and never collide in practice. The
// durable bus and the store order by it.
func NewID(t time.Time) string {
	var raw [16]byte
	binary.BigEndian.PutUint64(raw[:8], uint64(t.UnixMilli())<<16)
	rand.Read(raw[6:]) // never fails: crypto/rand panics rather than returning short reads
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
