package trafficgen

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/ackflow/ackflow/pdata"
)

func testSettings(batch int, limit int64, w [3]uint64) settings {
	s := settings{batch: batch, limit: limit, weights: w}
	for _, sig := range pdata.Signals() {
		if w[sig] > 0 {
			s.signals = append(s.signals, sig)
		}
	}
	return s
}

// After every message no signal is more than one message above its
// weighted share of the total, hence none more than one message per other
// signal below it; the total stops exactly at the limit.
func TestPlanStaysWithinOneMessageOfTheWeights(t *testing.T) {
	tests := []struct {
		batch int
		limit int64
		w     [3]uint64
	}{
		{100, 100_000, [3]uint64{60, 30, 10}},
		{7, 10_001, [3]uint64{1, 1, 1}},
		{100, 50_000, [3]uint64{1, 0, 1_000_000}},
		{1, 1000, [3]uint64{3, 5, 0}},
		{64, 0, [3]uint64{math.MaxUint32, 1, 7}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("batch=%d/w=%v", tt.batch, tt.w), func(t *testing.T) {
			p := newPlan(testSettings(tt.batch, tt.limit, tt.w))
			W := float64(tt.w[0] + tt.w[1] + tt.w[2])
			var got [3]float64
			total := 0.0
			for i := 0; i < 20_000; i++ {
				sig, n, ok := p.next()
				if !ok {
					break
				}
				if n < 1 || n > tt.batch || tt.w[sig] == 0 {
					t.Fatalf("message %d: %d items of %v", i, n, sig)
				}
				got[sig] += float64(n)
				total += float64(n)
				others := float64(len(p.signals) - 1)
				for _, s := range pdata.Signals() {
					share := total * float64(tt.w[s]) / W
					if got[s]-share > float64(tt.batch) || share-got[s] > others*float64(tt.batch) {
						t.Fatalf("after %v items: %v has %v, its share is %.1f", total, s, got[s], share)
					}
				}
			}
			if tt.limit > 0 && total != float64(tt.limit) {
				t.Fatalf("sent %v items, want the limit %d", total, tt.limit)
			}
		})
	}
}

func TestOffset(t *testing.T) {
	tests := []struct {
		items, rate int64
		want        time.Duration
	}{
		{0, 1000, 0},
		{100, 1000, 100 * time.Millisecond},
		{1500, 1000, 1500 * time.Millisecond},
		{1, 3, 333333333},
		{1 << 40, 1_000_000_000, 1099*time.Second + 511627776},
		{math.MaxInt64 / 2, MaxSignalsPerSecond, time.Duration(math.MaxInt64/2/MaxSignalsPerSecond)*time.Second + math.MaxInt64/2%MaxSignalsPerSecond},
		{MaxSignalsPerSecond - 1, MaxSignalsPerSecond, time.Second - 1},
	}
	for _, tt := range tests {
		if got := offset(tt.items, tt.rate); got != tt.want {
			t.Errorf("offset(%d, %d) = %v, want %v", tt.items, tt.rate, got, tt.want)
		}
	}
}
