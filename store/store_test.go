package store_test

import (
	"errors"
	"testing"

	"github.com/mockops/mockops/store"
)

func TestStatusTerminal(t *testing.T) {
	tests := []struct {
		s    store.Status
		want bool
	}{
		{store.StatusQueued, false},
		{store.StatusRunning, false},
		{store.StatusSucceeded, true},
		{store.StatusFailed, true},
		{store.StatusCancelled, true},
		{store.StatusTimedOut, true},
		{store.StatusSkipped, true},
		{"", false},
		{"paused", false},
	}
	for _, tt := range tests {
		if got := tt.s.Terminal(); got != tt.want {
			t.Errorf("Status(%q).Terminal() = %v; want %v", tt.s, got, tt.want)
		}
	}
}

func TestCursor(t *testing.T) {
	for _, id := range []string{"01KB0000000000000000000000", "x", "with space/and+plus"} {
		got, err := store.DecodeCursor(store.EncodeCursor(id))
		if err != nil || got != id {
			t.Errorf("DecodeCursor(EncodeCursor(%q)) = %q, %v; want %q", id, got, err, id)
		}
	}
	for _, c := range []string{"", "!!", "a b", "=="} {
		if got, err := store.DecodeCursor(c); !errors.Is(err, store.ErrInvalidCursor) {
			t.Errorf("DecodeCursor(%q) = %q, %v; want ErrInvalidCursor", c, got, err)
		}
	}
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add("MDFLQg")
	f.Add("!!")
	f.Fuzz(func(t *testing.T, c string) {
		id, err := store.DecodeCursor(c)
		if err != nil {
			if !errors.Is(err, store.ErrInvalidCursor) {
				t.Fatalf("DecodeCursor(%q) = %v; want ErrInvalidCursor", c, err)
			}
			return
		}
		if again, err := store.DecodeCursor(store.EncodeCursor(id)); err != nil || again != id {
			t.Fatalf("cursor for %q does not round-trip: %q, %v", id, again, err)
		}
	})
}
