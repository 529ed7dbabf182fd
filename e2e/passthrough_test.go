package e2e

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ackflow/ackflow/internal/testsink"
)

// sender is one kind of OTLP client: a transport, a media type and an
// encoding. send returns nil when the client got OK / 200.
type sender struct {
	name string
	send func(ctx context.Context, p payload) error
}

// senders returns every client kind, talking to p's receiver: gRPC
// uncompressed, gzip and zstd; HTTP/1.1 protobuf and JSON, each
// uncompressed, gzip and zstd; HTTP/2 cleartext (h2c) protobuf and JSON.
func senders(t *testing.T, p *pipe) []sender {
	conn := dialGRPC(t, p.grpcAddr)
	hc := httpClient(t, p)
	var out []sender
	for _, enc := range []string{"", "gzip", "zstd"} {
		var opts []grpc.CallOption
		name := "grpc"
		if enc != "" {
			opts = append(opts, grpc.UseCompressor(enc))
			name += "+" + enc
		}
		out = append(out, sender{name, func(ctx context.Context, pl payload) error {
			return pl.Export(ctx, conn, opts...)
		}})
	}
	post := func(hc *http.Client, proto int, media, enc string) func(ctx context.Context, pl payload) error {
		return func(ctx context.Context, pl payload) error {
			a, err := postHTTP(ctx, hc, p.httpURL, pl, media, enc)
			switch {
			case err != nil:
				return err
			case a.code != 200:
				return fmt.Errorf("%v", a)
			case a.media != media:
				return fmt.Errorf("answer in %q to a request in %q: %v", a.media, media, a)
			case a.proto != proto:
				return fmt.Errorf("answer over HTTP/%d, want HTTP/%d", a.proto, proto)
			}
			return nil
		}
	}
	for _, media := range []string{mediaProto, mediaJSON} {
		for _, enc := range []string{"", "gzip", "zstd"} {
			name := map[string]string{mediaProto: "http-proto", mediaJSON: "http-json"}[media]
			if enc != "" {
				name += "+" + enc
			}
			out = append(out, sender{name, post(hc, 1, media, enc)})
		}
	}
	h2c := h2cClient(t, p)
	out = append(out,
		sender{"h2c-proto+zstd", post(h2c, 2, mediaProto, "zstd")},
		sender{"h2c-json+gzip", post(h2c, 2, mediaJSON, "gzip")})
	return out
}

// passThroughYAML is receiver:otlp (gRPC and HTTP) → processor:batch
// (batchCfg) → exporter:otlp_grpc to sinkAddr with the given compression.
func passThroughYAML(sinkAddr, batchCfg, compression string) string {
	return yamlDoc("", fmt.Sprintf(`
        nodes:
          in:
            type: receiver:otlp
            config:
              protocols:
                grpc: { listening_addr: "127.0.0.1:0" }
                http: { listening_addr: "127.0.0.1:0" }
          batch:
            type: processor:batch
            config: %s
          out:
            type: exporter:otlp_grpc
            config: { grpc_endpoint: "http://%s", compression: %s }
        connections:
          - { from: in, to: batch }
          - { from: batch, to: out }
`, batchCfg, sinkAddr, compression))
}

// mergingBatch cuts batches by age (20ms), so that concurrent requests are
// merged.
const mergingBatch = "{ max_batch_duration: 20ms, otlp: { min_size: 64KiB, max_size: 1MiB }, otap: { min_size: 200, max_size: 1000 } }"

// TestPassThroughEveryItemArrivesExactlyOnce sends every signal with every
// client kind, concurrently, through the receiver, the batch processor and
// the OTLP/gRPC exporter to a sink. The sink must accept each item exactly
// once and unchanged (every field compared, with its resource and scope),
// and each client's OK must come after the sink accepted all its items.
// The exporter sends uncompressed, gzip and zstd.
func TestPassThroughEveryItemArrivesExactlyOnce(t *testing.T) {
	for _, compression := range []string{"none", "gzip", "zstd"} {
		t.Run("exporter compression "+compression, func(t *testing.T) {
			passThrough(t, compression)
		})
	}
}

func passThrough(t *testing.T, compression string) {
	s := newSink(t, nil)
	p := startPipe(t, passThroughYAML(s.Addr(), mergingBatch, compression), "grpc", "http")
	ctx := callCtx(t)

	var sent []string
	var wg sync.WaitGroup
	requests := 0
	for _, snd := range senders(t, p) {
		for _, sig := range signals {
			for r := range 3 {
				pl := makePayload(sig, fmt.Sprintf("%s.%s.%d", snd.name, sig, r), 4+3*r)
				sent = append(sent, pl.Keys...)
				requests++
				wg.Go(func() {
					if err := snd.send(ctx, pl); err != nil {
						t.Errorf("%s %s request %d: %v", snd.name, sig, r, err)
						return
					}
					if miss := s.Missing(pl.Keys); len(miss) > 0 {
						t.Errorf("%s %s request %d: client got OK before the sink accepted %d of its %d items, e.g. %s",
							snd.name, sig, r, len(miss), pl.Items(), miss[0])
					}
				})
			}
		}
	}
	wg.Wait()
	s.RequireExactly(t, sent)
	if err := p.shutdown(drainDeadline); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	n := uint64(len(sent))
	p.requireFlow(t, n, n, 0)
	calls := s.Stats().Calls
	t.Logf("%d requests, %d items, %d sink calls", requests, len(sent), calls)
}

// TestPassThroughSplitRequests: requests of 60 to 120 items are split by
// the batch processor (max_size 4KiB, 30 decoded items) into several
// exports each. A client gets OK only once every part is accepted; when the
// sink refuses some parts, a client whose data was in a refused part gets
// UNAVAILABLE / 503 and every client that got OK has all its items at the
// sink.
func TestPassThroughSplitRequests(t *testing.T) {
	const split = "{ max_batch_duration: 10ms, otlp: { min_size: 2KiB, max_size: 4KiB }, otap: { min_size: 20, max_size: 30 } }"
	for _, refuse := range []bool{false, true} {
		t.Run(fmt.Sprintf("sink refuses some parts=%t", refuse), func(t *testing.T) {
			s := newSink(t, func(c testsink.Call) testsink.Verdict {
				if refuse && c.N%5 == 2 {
					return testsink.Verdict{Code: codes.Unavailable}
				}
				return testsink.Verdict{Code: codes.OK}
			})
			p := startPipe(t, passThroughYAML(s.Addr(), split, "none"), "grpc", "http")
			conn, hc := dialGRPC(t, p.grpcAddr), httpClient(t, p)
			ctx := callCtx(t)
			var sent []string
			var okItems, okReqs, refusedReqs atomic.Int64
			var wg sync.WaitGroup
			requests := 0
			for _, sig := range signals {
				for i, via := range []string{"grpc", mediaProto, mediaJSON} {
					pl := makePayload(sig, fmt.Sprintf("split.%s.%d", sig, i), 60+30*i)
					sent = append(sent, pl.Keys...)
					requests++
					wg.Go(func() {
						var err error
						ok, unavailable := false, false
						if via == "grpc" {
							err = pl.Export(ctx, conn)
							ok, unavailable = err == nil, status.Code(err) == codes.Unavailable
						} else {
							var a httpAnswer
							a, err = postHTTP(ctx, hc, p.httpURL, pl, via, "")
							ok, unavailable = err == nil && a.code == 200, err == nil && a.code == 503
							if err == nil && !ok {
								err = fmt.Errorf("%v", a)
							}
						}
						switch {
						case ok:
							okReqs.Add(1)
							okItems.Add(int64(pl.Items()))
							if miss := s.Missing(pl.Keys); len(miss) > 0 {
								t.Errorf("%s %s: OK with %d of %d items not accepted by the sink, e.g. %s", via, sig, len(miss), pl.Items(), miss[0])
							}
						case refuse && unavailable:
							refusedReqs.Add(1)
						default:
							t.Errorf("%s %s: %v", via, sig, err)
						}
					})
				}
			}
			wg.Wait()
			if err := p.shutdown(drainDeadline); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			calls := s.Stats().Calls
			if calls <= requests {
				t.Errorf("%d requests made %d exports: the batch processor did not split them", requests, calls)
			}
			n := uint64(len(sent))
			if !refuse {
				s.RequireExactly(t, sent)
				p.requireFlow(t, n, n, 0)
				return
			}
			if refusedReqs.Load() == 0 {
				t.Errorf("no request was refused although the sink refused every fifth part")
			}
			p.requireFlow(t, n, uint64(okItems.Load()), n-uint64(okItems.Load()))
			t.Logf("%d requests OK, %d refused, %d exports", okReqs.Load(), refusedReqs.Load(), calls)
		})
	}
}
