package pdata

import (
	"slices"
	"sync/atomic"
)

// A Lease is a hold on memory a transport lent to the payloads built from
// it: the buffers a request arrived in, which the transport reuses for
// other requests once every holder has let go. It counts its holders; the
// last Release gives the memory back.
//
// The receiver that made the lease holds the first reference and releases
// it when the message's outcome comes back, and only when every node below
// it promised to read no payload bytes after reporting that outcome
// (engine.Factory.ReleasesPayloads). Until then the lease is simply never
// released, and the garbage collector reclaims the memory as for any other
// slice. A node that hands the bytes to something that reads them later (an
// exporter's transport writing asynchronously) takes its own reference for
// as long as that lasts. A reference that is never released costs reuse,
// never correctness.
type Lease struct {
	refs atomic.Int32
	free func()
}

// leasesLive counts the leases made and not yet given back: what tests
// check, on every path, to prove that no release point was forgotten.
var leasesLive atomic.Int64

// NewLease returns a lease held once by the caller. free gives the memory
// back; it runs once, on the last Release.
func NewLease(free func()) *Lease {
	l := &Lease{free: free}
	l.refs.Store(1)
	leasesLive.Add(1)
	return l
}

// Retain adds a holder. The caller must hold a reference already: a lease
// that was given back cannot be revived. A nil lease holds nothing.
func (l *Lease) Retain() {
	if l == nil {
		return
	}
	for {
		n := l.refs.Load()
		if n <= 0 {
			panic("pdata: Retain of a lease given back")
		}
		if l.refs.CompareAndSwap(n, n+1) {
			return
		}
	}
}

// Release drops a holder; the last one gives the memory back. A nil lease
// holds nothing.
func (l *Lease) Release() {
	if l == nil {
		return
	}
	switch n := l.refs.Add(-1); {
	case n == 0:
		leasesLive.Add(-1)
		l.free()
	case n < 0:
		panic("pdata: Release of a lease given back")
	}
}

// Leases are the leases of one payload, or of one hold on it, retained and
// released together.
type Leases []*Lease

// Retain adds a holder to each lease.
func (ls Leases) Retain() {
	for _, l := range ls {
		l.Retain()
	}
}

// Release drops a holder from each lease.
func (ls Leases) Release() {
	for _, l := range ls {
		l.Release()
	}
}

// LiveLeases returns the number of leases not given back yet, over the
// whole process.
func LiveLeases() int64 { return leasesLive.Load() }

// Leases returns the leases whose memory the payload's chunks may alias:
// nil for most payloads, and for a nil one. A node sending the chunks
// through a transport that may read them after the call returns retains
// each for as long.
func (p *Payload) Leases() Leases {
	if p == nil {
		return nil
	}
	return p.leases
}

// Borrow records that the payload's chunks may alias memory under the
// given leases, in addition to any it has. It takes no reference: the
// payload lives no longer than the messages it was built from, whose
// receivers hold the leases until their outcomes. Nodes that build a
// payload from other payloads' chunks (a batch, a concatenation) pass
// their leases on with it.
func (p *Payload) Borrow(ls ...*Lease) {
	for _, l := range ls {
		if l != nil && !slices.Contains(p.leases, l) {
			p.leases = append(p.leases, l)
		}
	}
}
