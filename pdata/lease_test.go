package pdata_test

import (
	"testing"

	"github.com/ackflow/ackflow/pdata"
)

func TestLeaseGivesTheMemoryBackOnceWhenTheLastHolderLetsGo(t *testing.T) {
	base := pdata.LiveLeases()
	freed := 0
	l := pdata.NewLease(func() { freed++ })
	if pdata.LiveLeases() != base+1 {
		t.Fatalf("live leases %d, want %d", pdata.LiveLeases(), base+1)
	}
	l.Retain()
	l.Release()
	if freed != 0 {
		t.Fatal("memory given back while a holder remains")
	}
	l.Release()
	if freed != 1 || pdata.LiveLeases() != base {
		t.Fatalf("freed %d times, %d live leases; want once and %d", freed, pdata.LiveLeases(), base)
	}
	for name, f := range map[string]func(){"Retain": l.Retain, "Release": l.Release} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s of a lease given back did not panic", name)
				}
			}()
			f()
		}()
	}
	var none *pdata.Lease
	none.Retain() // a nil lease holds nothing
	none.Release()
}

func TestConcatBorrowsTheLeasesOfItsParts(t *testing.T) {
	a, b := pdata.NewLease(func() {}), pdata.NewLease(func() {})
	defer a.Release()
	defer b.Release()
	p1 := pdata.FromOTLPChunks(pdata.Logs, nil, 0)
	p1.Borrow(a)
	p2 := pdata.FromOTLPChunks(pdata.Logs, nil, 0)
	p2.Borrow(a, b, nil)
	c, err := pdata.Concat(pdata.Logs, p1, p2)
	if err != nil {
		t.Fatal(err)
	}
	if ls := c.Leases(); len(ls) != 2 || ls[0] != a || ls[1] != b {
		t.Fatalf("concatenation borrows %v, want a and b once each", ls)
	}
}
