package clock

import (
	"container/heap"
	"testing"
	"time"
)

// TestFakeQueueOrder checks the order in which Advance fires timers: the
// sends happen atomically under the fake's lock, so the order is not
// observable through the channels and is tested on the queue itself.
func TestFakeQueueOrder(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFake(t0)
	// name -> delay; ties (b, d) must keep arming order, c is reset behind d.
	arm := []struct {
		name string
		d    time.Duration
	}{{"a", 3}, {"b", 1}, {"c", 1}, {"d", 1}, {"e", 2}}
	byTimer := map[*fakeTimer]string{}
	var c *fakeTimer
	for _, a := range arm {
		tm := f.NewTimer(a.d).(*fakeTimer)
		byTimer[tm] = a.name
		if a.name == "c" {
			c = tm
		}
	}
	c.Reset(1) // same deadline as b and d, but now armed last
	var got []string
	for len(f.timers) > 0 {
		got = append(got, byTimer[heap.Pop(&f.timers).(*fakeTimer)])
	}
	want := []string{"b", "d", "c", "e", "a"}
	if len(got) != len(want) {
		t.Fatalf("order = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order = %v, want %v", got, want)
		}
	}
}
