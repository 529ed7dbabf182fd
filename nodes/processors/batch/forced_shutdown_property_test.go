package batch

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ackflow/ackflow/pdata"
)

// Random traffic, random acks/nacks, then a forced Shutdown at a random
// point (with or without a prior Shutdown): every input exactly one outcome.
func TestPropertyForcedShutdownAnswersEveryInput(t *testing.T) {
	for seed := range 400 {
		rng := rand.New(rand.NewPCG(uint64(seed), 9))
		cfg := randomConfig(rng)
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			h, _ := newHarness(t, cfg)
			var inflight []*pdata.Message
			outcomes := map[uint64]int{}
			var ids []uint64
			take := func() {
				inflight = append(inflight, h.TakeSent(port)...)
				for _, o := range h.TakeUpstream() {
					outcomes[o.ID]++
				}
			}
			resolve := func(all bool) {
				n := len(inflight)
				if !all {
					n = rng.IntN(n + 1)
				}
				rng.Shuffle(len(inflight), func(i, j int) { inflight[i], inflight[j] = inflight[j], inflight[i] })
				b := inflight[:n]
				inflight = slices.Clone(inflight[n:])
				for _, m := range b {
					if rng.IntN(4) == 0 {
						h.Nack(m, pdata.Nack{Reason: "random"})
					} else {
						h.Ack(m)
					}
					take()
				}
			}
			for i := range 1 + rng.IntN(30) {
				ids = append(ids, h.SendPData(randomLogs(rng, fmt.Sprintf("i%d", i))))
				take()
				if rng.IntN(3) == 0 {
					h.Advance(time.Duration(rng.IntN(400)) * time.Millisecond)
					take()
				}
				resolve(false)
			}
			if rng.IntN(2) == 0 && h.Queued() == 0 {
				h.Shutdown(h.Clock.Now().Add(time.Minute))
				take()
				resolve(false)
			}
			queued := h.Queued()
			h.ForceShutdown()
			take()
			resolve(true)
			n := 0
			for _, id := range ids {
				if outcomes[id] > 1 {
					t.Fatalf("config:\n%s\ninput %d got %d outcomes", cfg, id, outcomes[id])
				}
				if outcomes[id] == 1 {
					n++
				}
			}
			if n+queued < len(ids) {
				t.Fatalf("config:\n%s\n%d of %d inputs answered (%d queued)", cfg, n, len(ids), queued)
			}
			if h.Pending() != 0 {
				t.Fatalf("%d pending", h.Pending())
			}
		})
	}
}
