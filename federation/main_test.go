package federation

import (
	"testing"

	"go.uber.org/goleak"
)

// The router starts no goroutine of its own, but its transports and the
// test servers do: every test must leave none behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
