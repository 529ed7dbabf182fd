package attribute

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/otlpwire"
)

// FuzzRewrite feeds arbitrary bytes to the byte path with a random action
// list (chosen by seed) and checks that it never panics, that it fails
// exactly on what Scan rejects or pdata cannot decode (a KeyValue, span
// event, link or exemplar it reads), that what it returns always passes
// Scan with the same items, and that on a request pdata decodes (with
// distinct keys in every list) it equals the pdata path.
func FuzzRewrite(f *testing.F) {
	for i := range uint64(24) {
		r := rand.New(rand.NewPCG(i, 7))
		sig := pdata.Signals()[i%3]
		b := genRequest(f, r, sig)
		f.Add(uint8(sig), i, b)
		for _, v := range variants(f, sig, b) {
			f.Add(uint8(sig), i+100, v.b)
		}
	}
	f.Fuzz(func(t *testing.T, kind uint8, seed uint64, b []byte) {
		sig := pdata.Signals()[kind%3]
		s := genSettings(rand.New(rand.NewPCG(seed, 0)))
		c := newCore("fuzz", s, newMetrics(nil, nil))
		out, _, err := c.rewrite(nil, sig, [][]byte{b})
		c.ed.take()
		in, scanErr := otlpwire.Scan(wireKinds[sig], b)
		decoded, decErr := decode(sig, b)
		switch {
		case scanErr != nil:
			if err == nil || !errors.Is(err, otlpwire.ErrMalformed) {
				t.Fatalf("Scan rejects the input (%v), the rewrite returned %v", scanErr, err)
			}
			return
		case err != nil:
			if !errors.Is(err, otlpwire.ErrMalformed) {
				t.Fatalf("rewrite error does not wrap ErrMalformed: %v", err)
			}
			if decErr == nil {
				t.Fatalf("the rewrite rejects what pdata decodes: %v", err)
			}
			return
		}
		if st, err := otlpwire.Scan(wireKinds[sig], out); err != nil || st.Items != in.Items {
			t.Fatalf("output: Scan %+v, %v; input has %d items", st, err, in.Items)
		}
		if decErr != nil || !uniqueKeys(decoded) {
			return
		}
		got, err := decode(sig, out)
		if err != nil {
			t.Fatalf("pdata decodes the input but not the output: %v", err)
		}
		pp, err := c.applyPdata(decodedPayload(decoded))
		if err != nil {
			t.Fatalf("pdata path: %v", err)
		}
		c.ed.take()
		if g, w := canonical(t, got), canonical(t, payloadData(t, pp)); !bytes.Equal(g, w) {
			t.Fatalf("byte path and pdata path differ\nactions %+v over %v\nbyte:  %s\npdata: %s",
				s.actions, s.domains, dump(got), dump(payloadData(t, pp)))
		}
	})
}
