package coverage

import "testing"

func TestPointSpan(t *testing.T) {
	tests := []struct{ buckets, want int64 }{
		{1, 1}, {24, 1}, {30, 1}, {31, 2}, {60, 2}, {61, 3}, {169, 6}, {180, 6}, {181, 8},
		{360, 12}, {361, 24}, {720, 24}, {721, 48}, {1000, 48},
	}
	for _, tt := range tests {
		got := pointSpan(tt.buckets)
		if got != tt.want {
			t.Errorf("pointSpan(%d) = %d; want %d", tt.buckets, got, tt.want)
		}
		if points := (tt.buckets + got - 1) / got; points > maxDriftPoints {
			t.Errorf("pointSpan(%d) = %d makes %d points; at most %d", tt.buckets, got, points, maxDriftPoints)
		}
	}
}

func TestHeatLevels(t *testing.T) {
	tests := []struct {
		max  int64
		n    []int64
		want []int
	}{
		{0, []int64{0}, []int{0}},
		{1, []int64{0, 1}, []int{0, 4}},
		{2, []int64{1, 2}, []int{2, 4}},
		{100, []int64{1, 25, 26, 50, 51, 75, 76, 100}, []int{1, 1, 2, 2, 3, 3, 4, 4}},
	}
	for _, tt := range tests {
		hi := heatLevels(tt.max)
		for i, n := range tt.n {
			if got := heatLevel(n, &hi); got != tt.want[i] {
				t.Errorf("heatLevel(%d) of max %d = %d; want %d", n, tt.max, got, tt.want[i])
			}
		}
	}
}
