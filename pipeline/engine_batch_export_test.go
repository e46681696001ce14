package pipeline

// BatchCounts returns how many batched store writes e made and how many
// execution writes they carried, for benchmarks and tests (0, 0 when
// batching is off).
func BatchCounts(e *Engine) (batches, rows int64) {
	if e.batch == nil {
		return 0, 0
	}
	return e.batch.counts()
}
