package batch

import (
	"fmt"
	"testing"

	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// a is cut into three batches: one in flight, two held (outbound limit 1),
// each holding a's leases. The batch in flight is nacked, so a is nacked
// and its sender lets go of its reference; the held batches, which carry
// only a's data, are skipped and must let go of theirs too, or a's request
// buffers are never given back for reuse.
func TestSkippedHeldBatchesGiveTheirLeasesBack(t *testing.T) {
	e := entryBytes()
	h, _ := newHarness(t, fmt.Sprintf("format: otlp\noutbound_request_limit: 1\nmax_batch_duration: 0s\notlp: {max_size: %d, sizer: bytes}", e))
	freed := 0
	lease := pdata.NewLease(func() { freed++ })
	pl := pdatatest.LogsPayload("a", 3, 1, 32)
	pl.Borrow(lease)
	a := h.SendPData(pdata.New(pl))
	out := h.RequireSent(port, 1) // the other two batches are held
	h.Nack(out[0], pdata.Nack{Reason: "no"})
	h.RequireNacked(a)
	lease.Release() // the sender has its answer
	h.RequireSent(port, 0)
	if freed != 1 {
		t.Fatalf("lease given back %d times after every batch of a was nacked or skipped, want once", freed)
	}
}
