package federation

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// body2K is a JSON object of about 2 KB: a page of orders.
func body2K(name string) []byte {
	var b strings.Builder
	b.WriteString(`{"page":1,"request_id":"r-1","items":[`)
	for i := range 15 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"sku":"SKU-%04d","name":%q,"price":{"amount":%d,"currency":"EUR"},"tags":["x","y"],"created_at":"2026-01-02T03:04:05Z"}`, i, i, name, 100+i)
	}
	b.WriteString(`],"total":15}`)
	return []byte(b.String())
}

// BenchmarkCompare compares two ~2 KB JSON bodies; the baseline is the
// floor any JSON comparison pays: decoding both bodies.
func BenchmarkCompare(b *testing.B) {
	mock, real := jsonAnswer(200, string(body2K("widget"))), jsonAnswer(200, string(body2K("gadget")))
	b.Logf("body: %d bytes", len(mock.Body))
	b.Run("baseline-unmarshal-both", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m, r any
			_ = json.Unmarshal(mock.Body, &m)
			_ = json.Unmarshal(real.Body, &r)
		}
	})
	b.Run("compare", func(b *testing.B) {
		c, err := newComparer(CompareConfig{ArrayValues: true})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if got := c.compare(mock, real); len(got.Differences) != 15 {
				b.Fatalf("differences = %d; want 15", len(got.Differences))
			}
		}
	})
}
