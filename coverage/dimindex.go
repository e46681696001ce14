package coverage

import (
	"hash/maphash"
	"math/bits"
)

// dimIndex is the lock-free read side of a dimTable: an immutable
// open-addressing hash table from a dimKey to its counter slot, rebuilt
// (under the table's lock) when misses have paid for it. It replaces a Go
// map whose generic hashing of a six-field key with two strings cost
// several times a lookup here. Dimension values come from request headers,
// so the strings are hashed with a per-table random seed (hash/maphash):
// nobody can choose values that collide.
type dimIndex struct {
	seed  maphash.Seed
	mask  uint32
	slots []dimSlot // idx -1: empty
	keys  []dimKey  // a prefix of the table's keys; never written again
}

type dimSlot struct {
	hash uint32
	idx  int32
}

func dimHash(seed maphash.Seed, k *dimKey) uint32 {
	h := maphash.String(seed, k.a)
	if k.b != "" {
		h ^= bits.RotateLeft64(maphash.String(seed, k.b), 29)
	}
	ci := uint64(0)
	if k.ci {
		ci = 1
	}
	h ^= (uint64(uint32(k.svc))<<32 | uint64(uint32(k.n))) * 0x9e3779b97f4a7c15
	h ^= (uint64(k.kind)<<1 | ci) * 0xc2b2ae3d27d4eb4f
	h ^= h >> 32
	return uint32(h)
}

// newDimIndex indexes keys (slot i holds keys[i]).
func newDimIndex(seed maphash.Seed, keys []dimKey) *dimIndex {
	size := 8
	for size < 2*len(keys) {
		size *= 2
	}
	x := &dimIndex{seed: seed, mask: uint32(size - 1), slots: make([]dimSlot, size), keys: keys}
	for i := range x.slots {
		x.slots[i].idx = -1
	}
	for i := range keys {
		h := dimHash(seed, &keys[i])
		j := h & x.mask
		for x.slots[j].idx >= 0 {
			j = (j + 1) & x.mask
		}
		x.slots[j] = dimSlot{hash: h, idx: int32(i)}
	}
	return x
}

// find returns k's slot, or false.
func (x *dimIndex) find(k *dimKey) (int32, bool) {
	h := dimHash(x.seed, k)
	for j := h & x.mask; ; j = (j + 1) & x.mask {
		s := x.slots[j]
		if s.idx < 0 {
			return -1, false
		}
		if s.hash == h {
			if o := &x.keys[s.idx]; o.kind == k.kind && o.ci == k.ci && o.svc == k.svc && o.n == k.n && o.a == k.a && o.b == k.b {
				return s.idx, true
			}
		}
	}
}
