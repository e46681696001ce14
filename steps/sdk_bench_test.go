package steps

import (
	"bytes"
	"testing"
)

// BenchmarkOutputTail: a generator writing 1 MiB of output in 100-byte
// lines. The bounded tail keeps 4 KiB whatever the volume; the baseline
// keeps everything, as capturing with a bytes.Buffer would.
func BenchmarkOutputTail(b *testing.B) {
	line := bytes.Repeat([]byte("x"), 99)
	line = append(line, '\n')
	const lines = 1 << 20 / 100
	b.Run("tail-4KiB", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			t := &tailBuffer{max: 4096}
			for range lines {
				t.Write(line)
			}
			_ = t.String()
		}
	})
	b.Run("baseline-buffer-all", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var buf bytes.Buffer
			for range lines {
				buf.Write(line)
			}
			_ = buf.String()
		}
	})
}
