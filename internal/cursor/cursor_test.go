package cursor

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	for _, key := range []string{"01KB0000000000000000000000", "x", "with space/and+plus", "\x00\xff"} {
		got, err := Decode(Encode(key))
		if err != nil || got != key {
			t.Errorf("Decode(Encode(%q)) = %q, %v; want %q", key, got, err, key)
		}
	}
}

func TestDecodeInvalid(t *testing.T) {
	for _, c := range []string{"", "!!", "a b", "==", "MDFLQg=="} {
		if got, err := Decode(c); !errors.Is(err, ErrInvalid) {
			t.Errorf("Decode(%q) = %q, %v; want ErrInvalid", c, got, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("MDFLQg")
	f.Add("!!")
	f.Fuzz(func(t *testing.T, c string) {
		key, err := Decode(c)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Decode(%q) = %v; want ErrInvalid", c, err)
			}
			return
		}
		if again, err := Decode(Encode(key)); err != nil || again != key {
			t.Fatalf("cursor for %q does not round-trip: %q, %v", key, again, err)
		}
	})
}

func TestKeyRoundTrip(t *testing.T) {
	for _, key := range [][]string{{"a", "b"}, {"", ""}, {"with \"quotes\"", "é\x00"}} {
		got, err := DecodeKey(EncodeKey(key...), len(key))
		if err != nil || !slices.Equal(got, key) {
			t.Errorf("DecodeKey(EncodeKey(%q)) = %q, %v; want %q", key, got, err, key)
		}
	}
}

func TestDecodeKeyInvalid(t *testing.T) {
	for _, c := range []string{"", "!!", Encode("x"), Encode(`["a"]`), Encode(`["a","b","c"]`), Encode(`[1,2]`), EncodeKey("a")} {
		if got, err := DecodeKey(c, 2); !errors.Is(err, ErrInvalid) {
			t.Errorf("DecodeKey(%q, 2) = %q, %v; want ErrInvalid", c, got, err)
		}
	}
}

func TestRollupRoundTrip(t *testing.T) {
	tests := []Rollup{
		{},
		{Kind: "scenario", Workspace: "ws", Service: "svc", Key: "k", Bucket: time.Date(2026, 12, 1, 21, 0, 0, 123456789, time.UTC)},
		{Kind: "a\x00b", Workspace: `"quoted"`, Service: "é", Key: "[1,2]", Bucket: time.Unix(0, -1).UTC()},
	}
	for _, want := range tests {
		got, err := DecodeRollup(want.Encode())
		if err != nil || !got.Bucket.Equal(want.Bucket) || got.Kind != want.Kind || got.Workspace != want.Workspace ||
			got.Service != want.Service || got.Key != want.Key {
			t.Errorf("DecodeRollup(%+v.Encode()) = %+v, %v; want it back", want, got, err)
		}
	}
	for _, bad := range []string{"", "!", EncodeKey("a", "b", "c", "d"), EncodeKey("a", "b", "c", "d", "noon")} {
		if _, err := DecodeRollup(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("DecodeRollup(%q) = %v; want ErrInvalid", bad, err)
		}
	}
}
