package retry_test

import (
	"testing"

	"github.com/ackflow/ackflow/pdata"
)

// At the deadline the inbox hands a retry waiting in RequeueLater back to
// the node before the forced Shutdown, so the node answers it with the
// shutdown cause like everything else it holds (it used to be answered
// route_closed after the Shutdown).
func TestResumeWaitingAtTheDeadlineIsAnsweredNodeShutdown(t *testing.T) {
	h, _ := newHarness(t, cfgExact)
	id := h.SendPData(logs())
	h.Nack(h.RequireSent(port, 1)[0], transient)
	if h.Resumes() != 1 {
		t.Fatalf("resumes = %d after a transient nack, want 1", h.Resumes())
	}
	h.ForceShutdown()
	if h.Resumes() != 0 {
		t.Fatalf("resumes = %d after the forced Shutdown, want 0 (delivered before it)", h.Resumes())
	}
	got := h.RequireNacked(id)[0].Nack
	if got.Cause != pdata.CauseNodeShutdown {
		t.Fatalf("held message answered at the deadline with %v (%q), want node_shutdown", got.Cause, got.Reason)
	}
}
