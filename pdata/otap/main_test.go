package otap_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Decoding zstd-compressed IPC buffers starts decoder goroutines inside
// arrow-go: every one of them must be gone when the tests end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
