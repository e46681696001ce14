package events

import (
	"encoding/binary"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// idMillis decodes the millisecond of an ID made by NewID.
func idMillis(t *testing.T, id string) int64 {
	t.Helper()
	var ms int64
	for _, c := range id[:10] {
		i := strings.IndexRune(crockford, c)
		if i < 0 {
			t.Fatalf("ID %q has %q, not a Crockford symbol", id, c)
		}
		ms = ms<<5 | int64(i)
	}
	return ms
}

// TestNewIDMonotonic: IDs from one process strictly increase in the order
// NewID returns them, also within one millisecond and when the clock steps
// back, and a later millisecond still shows in the ID.
func TestNewIDMonotonic(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name string
		at   func(i int) time.Time
	}{
		{"same millisecond", func(int) time.Time { return now }},
		{"clock steps back", func(i int) time.Time { return now.Add(-time.Duration(i) * time.Millisecond) }},
		{"clock moves on", func(i int) time.Time { return now.Add(time.Duration(i) * time.Microsecond) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prev := NewID(tt.at(0))
			for i := 1; i < 10000; i++ {
				id := NewID(tt.at(i))
				if id <= prev {
					t.Fatalf("NewID #%d = %s; want it after the previous %s", i, id, prev)
				}
				prev = id
			}
		})
	}
	later := now.Add(time.Hour)
	if got, want := idMillis(t, NewID(later)), later.UnixMilli(); got != want {
		t.Errorf("NewID(an hour on) encodes millisecond %d; want %d", got, want)
	}
}

// TestNewIDConcurrent: goroutines sharing the sequence never get the same
// ID, and the IDs each one gets increase.
func TestNewIDConcurrent(t *testing.T) {
	const workers, each = 8, 2000
	got := make([][]string, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			at := time.Now()
			for range each {
				got[w] = append(got[w], NewID(at))
			}
		})
	}
	wg.Wait()
	var all []string
	for w, ids := range got {
		if !slices.IsSorted(ids) {
			t.Errorf("goroutine %d got IDs out of order", w)
		}
		all = append(all, ids...)
	}
	slices.Sort(all)
	if n := len(slices.Compact(all)); n != workers*each {
		t.Errorf("%d goroutines made %d distinct IDs; want %d", workers, n, workers*each)
	}
}

// TestIDSequenceCarry: when the entropy of a millisecond runs out, the next
// ID moves to the next millisecond rather than wrapping to a smaller one.
func TestIDSequenceCarry(t *testing.T) {
	var s idSequence
	const ms = 1_700_000_000_000
	first := s.next(ms)
	for i := 6; i < 16; i++ {
		s.last[i] = 0xff
	}
	next := s.next(ms)
	if got := int64(binary.BigEndian.Uint64(next[:8]) >> 16); got != ms+1 {
		t.Errorf("after the last entropy of ms %d: ID at ms %d; want %d", ms, got, ms+1)
	}
	if string(next[:]) <= string(first[:]) {
		t.Errorf("ID after the carry %x is not after %x", next, first)
	}
}
