package batch

import "testing"

// Two inputs pending in one buffer, then the forced Shutdown (deadline, or
// failNode after any node error) must answer both (it used to panic).
func TestForcedShutdownWithTwoPendingInputs(t *testing.T) {
	h, _ := newHarness(t, "")
	a := h.SendPData(otlpLogs("a", 1, 0))
	b := h.SendPData(otlpLogs("b", 1, 0))
	h.ForceShutdown()
	h.RequireNacked(a, b)
}
