package batch

import (
	"slices"
	"testing"

	"github.com/ackflow/ackflow/pdata"
)

// a's first part is in flight, its second part is held (outbound limit 1)
// together with b. The in-flight batch is nacked: a is nacked upstream (its
// sender retries all of a), so the held batch must go out without a's data.
func TestHeldBatchDropsDataOfInputsNackedMeanwhile(t *testing.T) {
	h, _ := newHarness(t, "format: otap\noutbound_request_limit: 1\notap: {min_size: 4, max_size: 4, sizer: items}")
	a := h.SendPData(decodedLogs("a", 6, 0))
	out := h.RequireSent(port, 1)            // [a:4] in flight, a:2 pending
	b := h.SendPData(decodedLogs("b", 2, 0)) // [a:2 b:2] held
	h.RequireSent(port, 0)
	h.Nack(out[0], pdata.Nack{Reason: "no"})
	h.RequireNacked(a)
	next := h.RequireSent(port, 1)
	if tags := tagsOf(t, next[0]); slices.Contains(tags, "a") {
		t.Errorf("held batch sent after a was nacked still carries a's data: %v (a will be retried: duplicate)", tags)
	}
	if next[0].Items() != 2 {
		t.Errorf("rebuilt batch holds %d items, want b's 2", next[0].Items())
	}
	h.Ack(next[0])
	h.RequireAcked(b)
}
