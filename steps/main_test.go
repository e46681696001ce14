package steps_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The SDK generator runs processes (os/exec copies their output in
// goroutines) and the HTTP steps use test servers: every test must leave
// no goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
