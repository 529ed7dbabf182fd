package wakeup

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestSlotTableMatchesMap runs random inserts, lookups and wakeups going
// out of and back into life against a map, with slot sets that are dense,
// random, spread in the high bits only, and all colliding, and checks the
// table after every step: a slot is found until the table purges it, and
// it purges only entries that are not live.
func TestSlotTableMatchesMap(t *testing.T) {
	tests := []struct {
		name  string
		slots func(rng *rand.Rand, n int) []Slot
	}{
		{"dense", func(_ *rand.Rand, n int) []Slot {
			out := make([]Slot, n)
			for i := range out {
				out[i] = Slot(i)
			}
			return out
		}},
		{"random", func(rng *rand.Rand, n int) []Slot {
			out := make([]Slot, n)
			for i := range out {
				out[i] = Slot(rng.Uint64())
			}
			return out
		}},
		{"high bits", func(_ *rand.Rand, n int) []Slot {
			out := make([]Slot, n)
			for i := range out {
				out[i] = Slot(i) << 40
			}
			return out
		}},
		// With the seed at 0, slots whose home in a 64-cell table is its
		// last cell: one cluster that wraps around to cell 0 whenever the
		// table is that size or smaller.
		{"colliding", func(_ *rand.Rand, n int) []Slot {
			probe := slotTable{shift: 64 - 6}
			var out []Slot
			for s := Slot(0); len(out) < n; s++ {
				if probe.home(s) == 63 {
					out = append(out, s)
				}
			}
			return out
		}},
	}
	for _, tc := range tests {
		for _, pool := range []int{5, 40, 300, 3000} {
			if tc.name == "colliding" && pool > 300 {
				continue // a cluster of thousands: slow, and no new case
			}
			t.Run(fmt.Sprintf("%s/%d", tc.name, pool), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(pool), 7))
				slots := tc.slots(rng, pool)
				var tab slotTable
				if tc.name == "colliding" {
					tab.rehash(minCells)
					tab.seed = 0
				}
				model := map[Slot]*entry{} // what the table holds
				live := 0
				peak := 0
				drop := func(e *entry) {
					if e.h >= 0 || model[e.slot] != e {
						t.Fatalf("purged %+v, the table holds %p for its slot", e, model[e.slot])
					}
					delete(model, e.slot)
				}
				for step := range 10_000 {
					s := slots[rng.IntN(len(slots))]
					e := model[s]
					switch op := rng.IntN(10); {
					case e == nil && op < 5:
						e = &entry{slot: s}
						size, before := len(tab.cells), len(model)
						tab.insert(e, drop)
						model[s] = e
						live++
						// A purge or growth must leave room for about as
						// many inserts as there are live slots.
						if (len(tab.cells) != size || len(model) != before+1) && tab.n > limit(len(tab.cells))/2+1 {
							t.Fatalf("step %d: %d of %d cells in use after making room", step, tab.n, len(tab.cells))
						}
					case e != nil && e.h >= 0 && op < 7: // popped or cancelled
						e.h = -1
						live--
					case e != nil && e.h < 0 && op < 5: // set again
						e.h = 0
						live++
					default:
						if got := tab.get(s); got != e {
							t.Fatalf("step %d: get(%d) = %p, want %p", step, s, got, e)
						}
					}
					peak = max(peak, live)
					if tab.n != len(model) {
						t.Fatalf("step %d: %d slots, want %d", step, tab.n, len(model))
					}
					if size := len(tab.cells); size > minCells && limit(size)/2 > 2*peak {
						t.Fatalf("step %d: %d cells for a peak of %d live slots", step, size, peak)
					}
					if step%31 == 0 || pool < 50 {
						if err := checkSlotTable(&tab); err != nil {
							t.Fatalf("step %d: %v", step, err)
						}
						for s, e := range model {
							if got := tab.get(s); got != e {
								t.Fatalf("step %d: get(%d) = %p, want %p", step, s, got, e)
							}
						}
					}
				}
				tab.clear()
				if err := checkSlotTable(&tab); err != nil || tab.get(slots[0]) != nil {
					t.Fatalf("after clear: %v, get = %p", err, tab.get(slots[0]))
				}
			})
		}
	}
}

func TestSlotTableReserve(t *testing.T) {
	for _, n := range []int{1, 6, 7, 100, 768, 769, 1024} {
		var tab slotTable
		tab.reserve(n)
		if size := len(tab.cells); limit(size) < n || (size > minCells && limit(size/2) >= n) {
			t.Errorf("reserve(%d): %d cells, room for %d", n, size, limit(size))
		}
		cells := len(tab.cells)
		for i := range n {
			tab.insert(&entry{slot: Slot(i)}, func(*entry) { t.Fatal("purged a live entry") })
		}
		if len(tab.cells) != cells {
			t.Errorf("reserve(%d): grew from %d to %d cells for %d slots", n, cells, len(tab.cells), n)
		}
		if err := checkSlotTable(&tab); err != nil {
			t.Error(err)
		}
	}
}
