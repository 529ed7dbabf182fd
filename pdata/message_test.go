package pdata_test

import (
	"testing"

	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

func TestUnwindNearestInterestedFrameWins(t *testing.T) {
	m := pdatatest.Msg(pdatatest.Logs(3))
	m.Subscribe(1, pdata.AcksAndNacks, pdata.CallData{1})
	m.Subscribe(2, pdata.AcksAndNacks, pdata.CallData{2})
	f, ok := m.Unwind(pdata.Acks)
	if !ok || f.Node != 2 || f.CallData != (pdata.CallData{2}) {
		t.Fatalf("got frame %+v ok=%v, want node 2 with its call data", f, ok)
	}
	if m.Depth() != 1 {
		t.Fatalf("depth after unwind = %d, want 1 (the lower frame stays)", m.Depth())
	}
}

func TestUnwindSkipsFramesNotInterested(t *testing.T) {
	m := pdatatest.Msg(pdatatest.Logs(1))
	m.Subscribe(1, pdata.Acks, pdata.CallData{11})
	m.Subscribe(2, pdata.Nacks, pdata.CallData{22})
	f, ok := m.Unwind(pdata.Acks)
	if !ok || f.Node != 1 || f.CallData[0] != 11 {
		t.Fatalf("ack went to %+v, want node 1 (node 2 only wants nacks)", f)
	}
	m2 := pdatatest.Msg(pdatatest.Logs(1))
	m2.Subscribe(1, pdata.Nacks, pdata.CallData{})
	m2.Subscribe(2, pdata.Acks, pdata.CallData{})
	if f, ok := m2.Unwind(pdata.Nacks); !ok || f.Node != 1 {
		t.Fatalf("nack went to %+v, want node 1", f)
	}
}

func TestUnwindReturnDataKeepsPayload(t *testing.T) {
	p := pdatatest.Logs(2)
	m := pdatatest.Msg(p)
	m.Subscribe(1, pdata.AcksAndNacks|pdata.ReturnData, pdata.CallData{})
	m.Subscribe(2, pdata.AcksAndNacks, pdata.CallData{}) // inherits ReturnData
	if top, _ := m.Top(); top.Interests&pdata.ReturnData == 0 {
		t.Fatalf("frame pushed above a ReturnData frame has interests %v, want return_data inherited", top.Interests)
	}
	if _, ok := m.Unwind(pdata.Acks); !ok || m.Payload() != p {
		t.Fatalf("payload = %v after unwinding to a ReturnData frame, want it kept", m.Payload())
	}

	m = pdatatest.Msg(p)
	m.Subscribe(1, pdata.AcksAndNacks, pdata.CallData{})
	if _, ok := m.Unwind(pdata.Acks); !ok || m.Payload() != nil {
		t.Fatal("payload kept for a frame without ReturnData, want it dropped")
	}
	if m.Items() != 2 {
		t.Fatalf("Items() = %d after the payload was dropped, want 2", m.Items())
	}
}

func TestSubscribeSameNodeMerges(t *testing.T) {
	m := pdatatest.Msg(pdatatest.Logs(1))
	m.Subscribe(7, pdata.Acks, pdata.CallData{1, 2, 3})
	m.Subscribe(7, pdata.Nacks, pdata.CallData{4, 5, 6})
	if m.Depth() != 1 {
		t.Fatalf("depth = %d, want 1 (same node merges)", m.Depth())
	}
	top, _ := m.Top()
	if top.Interests != pdata.AcksAndNacks || top.CallData != (pdata.CallData{4, 5, 6}) {
		t.Fatalf("merged frame = %+v, want acks|nacks and the new call data", top)
	}
}

func TestUnwindNoInterestedFrame(t *testing.T) {
	m := pdatatest.Msg(pdatatest.Logs(1))
	m.Subscribe(1, pdata.Nacks, pdata.CallData{})
	if f, ok := m.Unwind(pdata.Acks); ok {
		t.Fatalf("ack delivered to %+v, want no delivery", f)
	}
	if m.Depth() != 0 || m.Payload() != nil {
		t.Fatal("route and payload should be gone after an unanswered unwind")
	}
}

func TestDeepStacksSpillAndClone(t *testing.T) {
	m := pdatatest.Msg(pdatatest.Logs(1))
	for i := range 10 {
		m.Subscribe(pdata.NodeID(i), pdata.Acks, pdata.CallData{uint64(i)})
	}
	c := m.Clone()
	for i := 9; i >= 0; i-- {
		f, ok := m.Unwind(pdata.Acks)
		if !ok || f.Node != pdata.NodeID(i) || f.CallData[0] != uint64(i) {
			t.Fatalf("unwind %d: got %+v", i, f)
		}
	}
	if c.Depth() != 10 {
		t.Fatalf("clone depth = %d after unwinding the original, want 10 (own route)", c.Depth())
	}
	if d := m.CloneDetached(); d.Depth() != 0 || d.Payload() != m.Payload() {
		t.Fatal("CloneDetached should share the payload and have no route")
	}
}

func TestIngressFrameCatchesFinalOutcome(t *testing.T) {
	m := pdatatest.Msg(pdatatest.Logs(1))
	m.Subscribe(0, pdata.Nacks, pdata.CallData{9})
	m.MarkIngress(0)
	m.Subscribe(3, pdata.Nacks, pdata.CallData{})
	f, ok := m.Unwind(pdata.Acks)
	if !ok || f.Node != 0 || f.Interests&pdata.Ingress == 0 || f.CallData[0] != 9 {
		t.Fatalf("final ack reached %+v, want the receiver's ingress frame with its call data", f)
	}
}

func TestNackWrapKeepsFlags(t *testing.T) {
	n := pdata.Nack{Reason: "down", Permanent: true, Cause: pdata.CauseTimeout}.Wrap("exporter out")
	if n.Reason != "exporter out: down" || !n.Permanent || n.Cause != pdata.CauseTimeout {
		t.Fatalf("Wrap = %+v", n)
	}
}

// A node that removes items on purpose shrinks the message: the items left
// are its count, the removed ones are remembered for the accounting, and a
// clone keeps both.
func TestShrinkRemembersTheRemovedItems(t *testing.T) {
	m := pdata.New(pdatatest.Logs(10))
	if got := m.Shrink(pdatatest.Logs(7)); got != 3 {
		t.Fatalf("Shrink removed %d, want 3", got)
	}
	if got := m.Shrink(pdatatest.Logs(2)); got != 5 {
		t.Fatalf("second Shrink removed %d, want 5", got)
	}
	if m.Items() != 2 || m.Dropped() != 8 || m.Payload().Items() != 2 {
		t.Fatalf("items %d, dropped %d, payload %d; want 2, 8, 2", m.Items(), m.Dropped(), m.Payload().Items())
	}
	if c := m.Clone(); c.Items() != 2 || c.Dropped() != 8 {
		t.Errorf("clone: items %d, dropped %d", c.Items(), c.Dropped())
	}
	if d := m.CloneDetached(); d.Items() != 2 || d.Dropped() != 0 {
		t.Errorf("detached clone (a new delivery): items %d, dropped %d; want 2, 0", d.Items(), d.Dropped())
	}
	// A "shrink" that grows the payload removes nothing.
	if got := m.Shrink(pdatatest.Logs(4)); got != 0 || m.Dropped() != 8 || m.Items() != 4 {
		t.Errorf("growing Shrink: removed %d, dropped %d, items %d", got, m.Dropped(), m.Items())
	}
	m.SetPayload(pdatatest.Logs(1))
	if m.Dropped() != 8 {
		t.Errorf("SetPayload changed Dropped to %d", m.Dropped())
	}
}
