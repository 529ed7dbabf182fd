package e2e

import (
	"net"
	"testing"

	"github.com/ackflow/ackflow/internal/testsink"
)

// newSink starts an OTLP/gRPC sink on 127.0.0.1 that answers each call as
// decide says (nil: OK) and records the items it accepted; it stops at the
// end of the test.
func newSink(t *testing.T, decide func(testsink.Call) testsink.Verdict) *testsink.Sink {
	t.Helper()
	s := testsink.New(t)
	s.SetDecide(decide)
	return s
}

// hangingSink starts a sink that holds every call until Release (then
// accepts it) or the caller gives up.
func hangingSink(t *testing.T) *testsink.Sink {
	t.Helper()
	s := testsink.New(t)
	s.SetMode(testsink.Hang)
	return s
}

// deadAddr returns a loopback address nothing listens on. It is on
// 127.0.0.2, where no test binds, so the kernel cannot hand the port to
// another test's listener on 127.0.0.1 in the meantime.
func deadAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close()
	return addr
}
