package cursor

import (
	"errors"
	"slices"
	"testing"
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
