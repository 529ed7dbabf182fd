package loadgen

import (
	"fmt"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/otap"
)

// A stream the server ends fails the batches pending on it with the
// stream's status; the next request opens a new stream, with a new
// encoder (the new stream's receiver knows none of the old one's
// dictionaries: a batch encoded for the old stream would not decode).
func TestOTAPStreamEndFailsPendingAndReopens(t *testing.T) {
	s := newSink(t, func(n int64) verdict {
		if n == 2 {
			return verdict{code: codes.Unavailable, abort: true}
		}
		return verdict{}
	})
	addr, streams := serveOTAP(t, s)
	cfg := testConfig(OTAP, addr)
	cfg.Workers, cfg.Requests = 1, 6
	rep, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.requireClean(t)
	if rep.OK != 5 || rep.ErrorsByStatus["Unavailable"] != 1 || len(rep.ErrorsByStatus) != 1 {
		t.Errorf("ok %d, errors %v; want 5 ok and 1 Unavailable", rep.OK, rep.ErrorsByStatus)
	}
	if got := streams.Load(); got != 2 {
		t.Errorf("%d streams opened, want 2 (the first ended by the server)", got)
	}
}

// Workers sharing a connection share its stream: several batches in
// flight on one stream, sent in encoder order, each answered once.
func TestOTAPWorkersShareAStream(t *testing.T) {
	s := newSink(t, nil)
	addr, streams := serveOTAP(t, s)
	cfg := testConfig(OTAP, addr)
	cfg.Workers, cfg.Connections, cfg.Requests = 4, 1, 40
	rep, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.requireClean(t)
	if rep.OK != 40 || s.requests.Load() != 40 || s.items.Load() != 40*int64(cfg.Items) {
		t.Errorf("ok %d, server %d batches and %d items; want 40 and %d", rep.OK, s.requests.Load(), s.items.Load(), 40*cfg.Items)
	}
	if got := streams.Load(); got != 1 {
		t.Errorf("%d streams, want 1", got)
	}
	if rep.BatchBytes <= 0 {
		t.Errorf("batch_bytes = %g, want the mean size of the batches sent", rep.BatchBytes)
	}
}

// Two batches made from the same pool request share no log body and no
// trace or span id (a stream's dictionaries would otherwise turn a
// repeated pool into indices), keep every size, and keep each child's
// parent.
func TestOTAPBatchesAreUnique(t *testing.T) {
	for _, sig := range []Signal{Logs, Traces} {
		cfg := DefaultConfig()
		cfg.Signal, cfg.Items, cfg.Pool = sig, 50, 1
		pool, err := NewPool(cfg)
		if err != nil {
			t.Fatal(err)
		}
		src, err := decodeRequest(pdataSignal(sig), pool.Raw[0])
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for n := int64(1); n <= 2; n++ {
			p := unique(src, n)
			b, err := p.AppendOTLP(nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != len(pool.Raw[0]) || p.Items() != 50 {
				t.Errorf("%s batch %d: %d B and %d items, want the pool request's %d B and 50", sig, n, len(b), p.Items(), len(pool.Raw[0]))
			}
			switch sig {
			case Logs:
				ld, _ := p.Logs()
				for _, lr := range ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().All() {
					seen[lr.Body().Str()]++
				}
			case Traces:
				td, _ := p.Traces()
				ids := map[pcommon.SpanID]bool{}
				spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
				for _, sp := range spans.All() {
					ids[sp.SpanID()] = true
					seen[sp.TraceID().String()+"/"+sp.SpanID().String()]++
				}
				for _, sp := range spans.All() {
					if pid := sp.ParentSpanID(); !pid.IsEmpty() && !ids[pid] {
						t.Errorf("batch %d: span %s lost its parent %s", n, sp.SpanID(), pid)
					}
				}
			}
		}
		for v, k := range seen {
			if k > 1 {
				t.Errorf("%s: %q is in %d batches", sig, v, k)
				break
			}
		}
	}
}

// BenchmarkOTAPBatch is what the generator pays per OTAP batch of the
// default request (1,000 logs × 185 B): making it unique, then encoding
// it on its stream. The generator is not the bottleneck while this stays
// well under the system's own cost per batch.
func BenchmarkOTAPBatch(b *testing.B) {
	for _, arrowZstd := range []bool{false, true} {
		b.Run(fmt.Sprintf("arrow-zstd=%v", arrowZstd), func(b *testing.B) {
			cfg := DefaultConfig()
			pool, err := NewPool(cfg)
			if err != nil {
				b.Fatal(err)
			}
			var src []any
			for _, raw := range pool.Raw {
				s, err := decodeRequest(pdata.Logs, raw)
				if err != nil {
					b.Fatal(err)
				}
				src = append(src, s)
			}
			enc := otap.NewEncoder(otap.EncoderOptions{Zstd: arrowZstd})
			defer enc.Close()
			b.ReportAllocs()
			var size int
			for i := 0; b.Loop(); i++ {
				bar, err := enc.Encode(unique(src[i%len(src)], int64(i)))
				if err != nil {
					b.Fatal(err)
				}
				size += proto.Size(bar)
			}
			items := float64(b.N * cfg.Items)
			b.ReportMetric(items/b.Elapsed().Seconds(), "items/s")
			b.ReportMetric(float64(size)/items, "B/item")
		})
	}
}

// With a ring each stream sends its pre-encoded batches from the start of
// a new stream each time round: every batch decodes on its stream (the
// sink's decoder of each stream starts fresh), and the stream count shows
// one stream per time round.
func TestOTAPRing(t *testing.T) {
	tests := []struct {
		name                                  string
		workers, connections, ring            int
		requests, wantStreams, wantMinStreams int64
	}{
		{"one worker per stream", 1, 0, 3, 8, 3, 3},
		// Four workers on one stream: the ring's last batch retires the
		// stream while others may still be pending on it.
		{"workers share the stream", 4, 1, 5, 40, 8, 8},
		// Two streams, each sending its own ring: at least two time
		// rounds each (which stream a ticket lands on varies).
		{"two streams", 2, 2, 4, 20, 0, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSink(t, nil)
			addr, streams := serveOTAP(t, s)
			cfg := testConfig(OTAP, addr)
			cfg.Workers, cfg.Connections, cfg.OTAPRing, cfg.Requests = tt.workers, tt.connections, tt.ring, tt.requests
			rep, err := Run(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			s.requireClean(t)
			if rep.OK != tt.requests || s.items.Load() != tt.requests*int64(cfg.Items) || rep.OTAPRing != tt.ring {
				t.Errorf("ok %d (errors %v), sink %d items, ring %d; want %d ok and %d items", rep.OK, rep.ErrorsByStatus, s.items.Load(), rep.OTAPRing, tt.requests, tt.requests*int64(cfg.Items))
			}
			got := streams.Load()
			if tt.wantStreams > 0 && got != tt.wantStreams || got < tt.wantMinStreams {
				t.Errorf("%d streams, want %d (at least %d)", got, tt.wantStreams, tt.wantMinStreams)
			}
		})
	}
}
