package memory_test

import (
	"testing"

	"github.com/mockops/mockops/store/memory"
	"github.com/mockops/mockops/store/storetest"
)

// BenchmarkExecution creates, claims and finishes one execution with two
// step runs per operation (storetest.BenchExecution).
func BenchmarkExecution(b *testing.B) {
	storetest.BenchExecution(b, memory.New())
}

// BenchmarkAddRollups flushes storetest.RollupBatch rollup rows per
// operation (storetest.BenchRollups).
func BenchmarkAddRollups(b *testing.B) {
	storetest.BenchRollups(b, memory.New())
}
