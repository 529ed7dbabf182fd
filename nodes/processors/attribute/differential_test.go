package attribute

import (
	"math/rand/v2"
	"testing"

	"github.com/ackflow/ackflow/pdata"
)

// TestDifferential holds the byte path to the pdata path on random
// requests of every signal and random action lists over random domains.
func TestDifferential(t *testing.T) {
	n := 400
	if testing.Short() {
		n = 50
	}
	for _, sig := range pdata.Signals() {
		t.Run(sig.String(), func(t *testing.T) {
			for seed := range uint64(n) {
				r := rand.New(rand.NewPCG(seed, uint64(sig)))
				b := genRequest(t, r, sig)
				s := genSettings(r)
				differential(t, sig, b, s, true)
				if t.Failed() {
					t.Fatalf("seed %d", seed)
				}
			}
		})
	}
}

// TestDifferentialVariants holds the byte path to the pdata path on
// encodings pdata's marshaller does not write (see variants).
func TestDifferentialVariants(t *testing.T) {
	n := 150
	if testing.Short() {
		n = 30
	}
	for _, sig := range pdata.Signals() {
		t.Run(sig.String(), func(t *testing.T) {
			for seed := range uint64(n) {
				r := rand.New(rand.NewPCG(seed, 100+uint64(sig)))
				b := genRequest(t, r, sig)
				s := genSettings(r)
				for _, v := range variants(t, sig, b) {
					t.Run(v.name, func(t *testing.T) {
						differential(t, sig, v.b, s, v.minimal)
					})
					if t.Failed() {
						t.Fatalf("seed %d", seed)
					}
				}
			}
		})
	}
}
