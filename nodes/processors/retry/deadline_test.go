package retry_test

import (
	"testing"

	"github.com/ackflow/ackflow/pdata"
)

// A message parked for a retry when the deadline comes (without a prior
// Shutdown) is answered at the forced Shutdown with the shutdown cause,
// like everything else the node holds.
func TestParkedAtTheDeadlineIsAnsweredNodeShutdown(t *testing.T) {
	h, _ := newHarness(t, cfgExact)
	id := h.SendPData(logs())
	h.Nack(h.RequireSent(port, 1)[0], transient)
	if h.Pending() != 1 || h.Wakeups() != 1 {
		t.Fatalf("pending %d, wakeups %d after a transient nack, want 1 parked under 1 wakeup", h.Pending(), h.Wakeups())
	}
	h.ForceShutdown()
	h.RequireSent(port, 0) // not sent: the deadline passed
	got := h.RequireNacked(id)[0].Nack
	if got.Cause != pdata.CauseNodeShutdown {
		t.Fatalf("held message answered at the deadline with %v (%q), want node_shutdown", got.Cause, got.Reason)
	}
	if h.Pending() != 0 {
		t.Fatalf("pending %d", h.Pending())
	}
}
