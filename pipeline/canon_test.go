package pipeline

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"testing"
)

// TestCanonDecimalAgreesWithBigRat: two decimal texts get the same
// canonical form exactly when math/big reads them as the same rational.
func TestCanonDecimalAgreesWithBigRat(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 17))
	write := func(r *big.Rat) string {
		// The same value written one of several ways.
		f, _ := r.Float64()
		switch rng.IntN(4) {
		case 0:
			return r.FloatString(rng.IntN(6) + 3)
		case 1:
			if r.IsInt() {
				return r.Num().String() + "." + "000"[:rng.IntN(4)]
			}
		case 2:
			return fmt.Sprintf("%se%d", new(big.Rat).Mul(r, big.NewRat(1000, 1)).FloatString(3), -3)
		}
		return fmt.Sprint(f)
	}
	for range 20000 {
		a := big.NewRat(rng.Int64N(2_000_000)-1_000_000, []int64{1, 2, 4, 5, 10, 100, 1000}[rng.IntN(7)])
		b := a
		if rng.IntN(2) == 0 {
			b = new(big.Rat).Add(a, big.NewRat(rng.Int64N(3)-1, 1000))
		}
		sa, sb := write(a), write(b)
		ra, _ := new(big.Rat).SetString(sa)
		rb, _ := new(big.Rat).SetString(sb)
		ca, oka := canonDecimal(sa)
		cb, okb := canonDecimal(sb)
		if !oka || !okb {
			t.Fatalf("canonDecimal(%q) ok=%v, canonDecimal(%q) ok=%v; want both", sa, oka, sb, okb)
		}
		if (ca == cb) != (ra.Cmp(rb) == 0) {
			t.Fatalf("%q -> %s, %q -> %s; big.Rat equal = %v", sa, ca, sb, cb, ra.Cmp(rb) == 0)
		}
	}
	for _, bad := range []string{"", "-", ".", "e5", "1e", "1x", "--1", "1.2.3", "0x10", "1e+", "inf"} {
		if c, ok := canonDecimal(bad); ok {
			t.Errorf("canonDecimal(%q) = %s; want not a number", bad, c)
		}
	}
}
