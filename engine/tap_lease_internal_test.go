package engine

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/ackflow/ackflow/pdata"
)

// A tapped port hands the tap a payload whose message it has already sent:
// the consumer may have answered it and the receiver given its buffers back
// (pdata.Lease) before the tap takes its own hold. The send must hold the
// leases across, so that the tap never retains a lease given back (a panic)
// and its reader never sees buffers reused for other requests.
func TestTapTakesLeasesBeforeTheOutcomeCanGiveThemBack(t *testing.T) {
	const n = 20000
	e := &edge{name: "src -> out", ch: make(chan *pdata.Message, 1)}
	e.sources.Store(1)
	o := newOutputs(map[string]*edge{"default": e}, "")
	pt, err := o.port("")
	if err != nil {
		t.Fatal(err)
	}
	tap := &Tap{ch: make(chan TapSample, n)}
	tap.C = tap.ch
	pt.taps.Store(&[]tapRef{{t: tap}})

	// Downstream answers at once and the receiver lets go of its
	// reference: the consumer polls, so that it takes each message as
	// soon as the send put it in the channel.
	var freed atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case m, ok := <-e.ch:
				if !ok {
					return
				}
				for _, l := range m.Payload().Leases() {
					l.Release()
				}
			default:
			}
		}
	}()

	send := func(m *pdata.Message) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("send panicked: %v", r)
			}
		}()
		return o.send(context.Background(), make(chan struct{}), "", m, 0, false)
	}
	for i := range n {
		p := pdata.FromOTLPChunks(pdata.Logs, nil, 0)
		p.Borrow(pdata.NewLease(func() { freed.Add(1) }))
		if err := send(pdata.New(p)); err != nil {
			t.Errorf("message %d: %v", i, err)
			break
		}
	}
	o.close()
	<-done
	if f := freed.Load(); f != 0 {
		t.Errorf("%d leases given back while the tap held their samples", f)
	}
	if t.Failed() {
		return // a lease was given back too early: the counts below mean nothing
	}
	// The tap's holds are the last: letting go of them gives every lease
	// back, once.
	taken := len(tap.ch)
	for range taken {
		for _, l := range (<-tap.ch).Payload.Leases() {
			l.Release()
		}
	}
	if f := freed.Load(); f != int64(taken) {
		t.Errorf("%d leases given back after the tap let go of %d samples", f, taken)
	}
}
