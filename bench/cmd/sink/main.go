// Command sink is the OTLP/gRPC destination of ackflow's benchmarks: it
// accepts Export calls of the three signals on one or more loopback
// addresses and answers OK without decoding anything, so the same cheap
// sink serves every system under test.
//
// With -bytes-per-second it is a slow sink: requests are served one at a
// time, each held for its size divided by that rate, so its throughput in
// bytes is fixed whatever the batch sizes of the sender. With -count-items
// it counts the items it receives (a protobuf wire walk, no decoding).
//
// With -protocol otap it serves OTAP instead (the ArrowLogs, ArrowMetrics
// and ArrowTraces streams, see otap.go): it decodes every batch with its
// stream's decoder (package pdata/otap), counts the items and the bytes,
// and answers each batch OK (INVALID_ARGUMENT if it does not decode).
//
// On SIGTERM or SIGINT it stops and prints one JSON line with its totals.
//
// Usage:
//
//	sink -listen 127.0.0.1:5317[,127.0.0.1:5318] [-bytes-per-second N] [-count-items]
//	sink -protocol otap -listen 127.0.0.1:5317
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	_ "google.golang.org/grpc/encoding/gzip" // accept gzip requests
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "sink: %v\n", err)
		os.Exit(1)
	}
}

// Totals is the JSON line printed at exit.
//
// Requests are export calls (OTLP) or batches (OTAP). Bytes are the
// requests' protobuf sizes: as the gRPC messages carry them, after
// decompression. WireBytes (OTAP only) are the gRPC messages as they came
// over the connection, compressed and with their 5-byte gRPC headers.
type Totals struct {
	Requests  int64 `json:"requests"`
	Bytes     int64 `json:"bytes"`
	Items     int64 `json:"items"` // with -count-items, or -protocol otap
	WireBytes int64 `json:"wire_bytes,omitempty"`
	// Errors counts the OTAP batches that did not decode.
	Errors int64 `json:"errors,omitempty"`
}

// Transport tuning of both protocols: generous windows and buffers, so the
// sink never throttles a sender through flow control.
var transport = []grpc.ServerOption{
	grpc.MaxRecvMsgSize(256 << 20),
	grpc.InitialWindowSize(4 << 20),
	grpc.InitialConnWindowSize(16 << 20),
	grpc.ReadBufferSize(128 << 10),
	grpc.WriteBufferSize(128 << 10),
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:5317", "comma-separated loopback addresses to listen on")
	protocol := flag.String("protocol", "otlp", "otlp (OTLP/gRPC export calls) or otap (Arrow streams)")
	bps := flag.Float64("bytes-per-second", 0, "serve requests one at a time at this many bytes per second (0: as fast as possible; otlp only)")
	countItems := flag.Bool("count-items", false, "count log records, data points and spans received (otap always counts)")
	flag.Parse()

	var gs *grpc.Server
	var totals func() Totals
	switch *protocol {
	case "otlp":
		s := &sink{countItems: *countItems, bps: *bps, slot: make(chan struct{}, 1)}
		gs = grpc.NewServer(append([]grpc.ServerOption{grpc.ForceServerCodecV2(rawCodec{keep: *countItems})}, transport...)...)
		for _, svc := range services {
			gs.RegisterService(&grpc.ServiceDesc{
				ServiceName: svc.name,
				HandlerType: (*any)(nil),
				Methods:     []grpc.MethodDesc{{MethodName: "Export", Handler: s.handler(svc.count)}},
			}, struct{}{})
		}
		totals = func() Totals {
			return Totals{Requests: s.requests.Load(), Bytes: s.bytes.Load(), Items: s.items.Load()}
		}
	case "otap":
		if *bps > 0 {
			return fmt.Errorf("-bytes-per-second: a slow sink serves -protocol otlp only")
		}
		s := &otapSink{}
		gs = s.server()
		totals = s.totals
	default:
		return fmt.Errorf("-protocol %q: use otlp or otap", *protocol)
	}
	var lis []net.Listener
	for _, addr := range strings.Split(*listen, ",") {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("listen address %q: %w", addr, err)
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("listen address %q: only loopback IP addresses are allowed", addr)
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", addr, err)
		}
		lis = append(lis, l)
	}
	errc := make(chan error, len(lis))
	for _, l := range lis {
		go func() { errc <- gs.Serve(l) }()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	}
	// Stop at once: a sender still exporting gets an error, which is what a
	// vanished destination looks like.
	gs.Stop()
	return json.NewEncoder(os.Stdout).Encode(totals())
}

// services are the OTLP collector services and how to count their items.
var services = []struct {
	name  string
	count func([]byte) int64
}{
	{"opentelemetry.proto.collector.logs.v1.LogsService", countLogs},
	{"opentelemetry.proto.collector.metrics.v1.MetricsService", countMetrics},
	{"opentelemetry.proto.collector.trace.v1.TraceService", countSpans},
}

type sink struct {
	countItems bool
	bps        float64
	slot       chan struct{} // the one request a slow sink serves at a time

	requests, bytes, items atomic.Int64
}

func (s *sink) handler(count func([]byte) int64) func(any, context.Context, func(any) error, grpc.UnaryServerInterceptor) (any, error) {
	return func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
		var req raw
		if err := dec(&req); err != nil {
			return nil, err
		}
		if s.bps > 0 {
			select {
			case s.slot <- struct{}{}:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			t := time.NewTimer(time.Duration(float64(req.n) / s.bps * float64(time.Second)))
			select {
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
			<-s.slot
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		s.requests.Add(1)
		s.bytes.Add(int64(req.n))
		if s.countItems {
			s.items.Add(count(req.b))
		}
		return &raw{}, nil
	}
}

// raw is a message as bytes; the codec keeps the body only when items are
// counted, and otherwise just its size.
type raw struct {
	b []byte
	n int
}

// rawCodec moves raw messages; keep says whether request bodies are
// copied out (to count items) or only measured.
type rawCodec struct{ keep bool }

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	if _, ok := v.(*raw); !ok {
		return nil, fmt.Errorf("sink codec: cannot marshal %T", v)
	}
	return nil, nil // an empty Export*ServiceResponse
}

func (c rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(*raw)
	if !ok {
		return fmt.Errorf("sink codec: cannot unmarshal into %T", v)
	}
	m.n = data.Len()
	if c.keep {
		m.b = data.Materialize()
	}
	return nil
}

// Counting walks the OTLP nesting with protowire: request field 1 holds
// resource entries, whose field 2 holds scope entries, whose field 2 (logs,
// spans) or metrics hold the items.

func countLogs(b []byte) int64  { return walk(b, []protowire.Number{1, 2, 2}) }
func countSpans(b []byte) int64 { return walk(b, []protowire.Number{1, 2, 2}) }
func countMetrics(b []byte) int64 {
	var n int64
	each(b, 1, func(rm []byte) {
		each(rm, 2, func(sm []byte) {
			each(sm, 2, func(m []byte) { n += dataPoints(m) })
		})
	})
	return n
}

// dataPoints counts the points of a Metric: gauge (5), sum (7), histogram
// (9), exponential histogram (10) and summary (11) all keep them in field 1.
func dataPoints(m []byte) int64 {
	var n int64
	for _, f := range []protowire.Number{5, 7, 9, 10, 11} {
		each(m, f, func(data []byte) { each(data, 1, func([]byte) { n++ }) })
	}
	return n
}

// walk counts the innermost messages along path.
func walk(b []byte, path []protowire.Number) int64 {
	if len(path) == 0 {
		return 1
	}
	var n int64
	each(b, path[0], func(sub []byte) { n += walk(sub, path[1:]) })
	return n
}

// each calls fn with every length-delimited field num of message b.
func each(b []byte, num protowire.Number, fn func([]byte)) {
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return
		}
		b = b[l:]
		if n == num && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return
			}
			fn(v)
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(n, typ, b)
		if m < 0 {
			return
		}
		b = b[m:]
	}
}
