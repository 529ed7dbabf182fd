package retry_test

import (
	"testing"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/pdata"
)

// The engine's abortNow (engine/inbox.go) returns the forced Shutdown first
// and only then pops the resumes its latch made due: a retry waiting at the
// deadline is answered route_closed, not node_shutdown (issue 7).
func TestRegressionResumeAfterForcedShutdownCause(t *testing.T) {
	h, _ := newHarness(t, cfgExact)
	id := h.SendPData(logs())
	h.Nack(h.RequireSent(port, 1)[0], transient)
	h.Control(engine.Control{Kind: engine.KindShutdown, Deadline: h.Clock.Now(), Forced: true})
	h.Advance(time.Second) // the engine delivers the latched resume now
	got := h.RequireNacked(id)[0].Nack
	if got.Cause != pdata.CauseNodeShutdown {
		t.Fatalf("held message answered at the deadline with %v (%q), want node_shutdown", got.Cause, got.Reason)
	}
}
