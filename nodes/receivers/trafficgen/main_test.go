package trafficgen_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Run spawns no goroutine of its own, but the tests run it on one each:
// every one of them must have returned.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
