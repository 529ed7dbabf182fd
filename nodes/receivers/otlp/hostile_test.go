package otlp_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/ackflow/ackflow/nodes/internal/otlptest"
	"github.com/ackflow/ackflow/nodes/receivers/otlp"
	"github.com/ackflow/ackflow/nodes/receivers/otlp/hostiletest"
	"github.com/ackflow/ackflow/otlp/otlpgrpc"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// Hostile clients: what a receiver must bound, and who it must still serve
// meanwhile. Time-based limits (body deadlines) run on the wall clock, as
// socket deadlines do, with short timeouts; every wait is bounded.

// gauge is the value of a gauge series whose labels include want.
func (f *fixture) gauge(name string, want ...string) float64 { return f.counter(name, want...) }

// eventually polls cond until it holds, failing after otlptest.Wait.
func (f *fixture) eventually(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(otlptest.Wait)
	for !cond() {
		if time.Now().After(deadline) {
			f.t.Fatalf("no %s within %s", what, otlptest.Wait)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// grpcExport starts a normal gRPC export of a small logs request on its own
// connection.
func (f *fixture) grpcExport() <-chan error {
	f.t.Helper()
	conn, err := grpc.NewClient(f.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { _ = conn.Close() })
	req := plogotlp.NewExportRequestFromLogs(pdatatest.LogsData("normal", 2, 0, 8))
	client := plogotlp.NewGRPCClient(conn)
	return async(func(ctx context.Context) error { _, err := client.Export(ctx, req); return err })
}

// Streams that send HEADERS and never DATA hold no max_concurrent_requests
// slot: with twice as many of them as slots, spread over two connections
// at the per-connection stream limit, a normal client is still admitted.
// Each is answered UNAVAILABLE (retryable) when its body deadline passes,
// and a connection cannot open more streams than max_concurrent_streams.
func TestGRPCStreamsWithoutDataHoldNoSlot(t *testing.T) {
	f := start(t, grpcOnly+"max_concurrent_requests: 4\nmax_concurrent_streams: 4\ntimeout: 2s\n")
	var stalled []struct {
		c  *hostiletest.GRPCConn
		id uint32
	}
	for range 2 {
		c := hostiletest.DialGRPC(t, f.grpcAddr)
		if got := c.MaxStreams(); got != 4 {
			t.Fatalf("SETTINGS_MAX_CONCURRENT_STREAMS %d, want 4", got)
		}
		for range 4 {
			stalled = append(stalled, struct {
				c  *hostiletest.GRPCConn
				id uint32
			}{c, c.Open(hostiletest.LogsExport)})
		}
	}
	f.eventually("8 streams reading", func() bool { return f.gauge("ackflow_receiver_otlp_requests_reading") == 8 })

	// One stream over the per-connection limit is refused by the transport.
	extra := stalled[0].c.Open(hostiletest.LogsExport)
	if a := stalled[0].c.WaitAnswer(extra); a.Status != -1 || a.Reset != http2.ErrCodeRefusedStream {
		t.Fatalf("stream over max_concurrent_streams: %+v, want REFUSED_STREAM", a)
	}

	answer := f.grpcExport()
	f.resolve(f.next(), true, pdata.Nack{})
	if err := otlptest.Recv(t, answer, "answer"); err != nil {
		t.Fatalf("normal client while 8 streams hold no data: %v", err)
	}

	for _, s := range stalled {
		a := s.c.WaitAnswer(s.id)
		if a.Status != int(codes.Unavailable) || !strings.Contains(a.Message, "not received") {
			t.Fatalf("stalled stream: %+v, want UNAVAILABLE: request body not received", a)
		}
	}
	if got := f.counter("ackflow_receiver_otlp_requests_total", "outcome", "body_timeout"); got != 8 {
		t.Fatalf("body_timeout requests %v, want 8", got)
	}
	f.noneSent()
}

// One connection reads one body at a time: a stream that declared a large
// message and stalls gets the window for its message, the connection's
// other streams only their initial window until it is done. What a
// connection can make the receiver buffer is one message plus a window per
// stream, not a message per stream.
func TestGRPCOneBodyReadAtATimePerConnection(t *testing.T) {
	f := start(t, grpcOnly+"max_request_size: 8MiB\n")
	const size = 4 << 20
	c := hostiletest.DialGRPC(t, f.grpcAddr)
	initial := c.InitialWindow()
	if initial > 1<<20 {
		t.Fatalf("initial stream window %d: a stalled stream could make the receiver buffer that much", initial)
	}
	first := c.Open(hostiletest.LogsExport)
	c.SendPrefix(first, size)
	c.WaitFor("the first stream's window", func() bool { return c.Granted(first) >= size-initial })
	c.Fill(first, size/2) // half the message, then it stalls

	others := []uint32{c.Open(hostiletest.LogsExport), c.Open(hostiletest.LogsExport)}
	for _, id := range others {
		c.SendPrefix(id, size)
		c.Fill(id, size)
	}
	c.Ping()
	c.Ping()
	for _, id := range others {
		if g := c.Granted(id); g != 0 {
			t.Fatalf("stream %d was granted %d bytes while another stream of its connection was read", id, g)
		}
		if sent := c.Sent(id); sent > initial {
			t.Fatalf("stream %d could send %d bytes, more than its initial window %d", id, sent, initial)
		}
	}

	// The first body ends (zeros: malformed), and the next stream's read
	// starts.
	c.Fill(first, size+5)
	c.SendData(first, nil, true)
	if a := c.WaitAnswer(first); a.Status != int(codes.InvalidArgument) {
		t.Fatalf("first stream: %+v, want INVALID_ARGUMENT", a)
	}
	c.WaitFor("a grant to the next stream", func() bool { return c.Granted(others[0]) > 0 || c.Granted(others[1]) > 0 })
}

// gRPC bodies are charged to max_in_flight_bytes as their bytes arrive
// (grpc-go would otherwise buffer every declared message whole): streams
// that declared 4 MiB and stall at 3 MiB, on four connections, with a
// 2 MiB budget, are each cut with a retryable UNAVAILABLE once their bytes
// would exceed it; the budget is never exceeded, and the request already
// in the pipeline is answered normally.
func TestGRPCBodiesChargedAsTheyArrive(t *testing.T) {
	const budget = 2 << 20
	f := start(t, grpcOnly+"max_in_flight_bytes: 2MiB\nmax_request_size: 8MiB\n")
	held := func() float64 { return f.gauge("ackflow_receiver_otlp_in_flight_bytes") }
	pending := f.grpcExport()
	m := f.next() // holds a few bytes: no request is alone with the budget now

	type stream struct {
		c  *hostiletest.GRPCConn
		id uint32
	}
	var streams []stream
	for range 4 {
		c := hostiletest.DialGRPC(t, f.grpcAddr)
		id := c.Open(hostiletest.LogsExport)
		c.SendPrefix(id, 4<<20)
		streams = append(streams, stream{c, id})
	}
	for _, s := range streams {
		s.c.WaitFor("the window for the declared message", func() bool { return s.c.Granted(s.id) > 0 })
		s.c.Fill(s.id, 3<<20)
		if h := held(); h > budget {
			t.Fatalf("%v bytes reserved, over max_in_flight_bytes", h)
		}
	}
	for _, s := range streams {
		a := s.c.WaitAnswer(s.id)
		if a.Status != int(codes.Unavailable) || !strings.Contains(a.Message, "max_in_flight_bytes") {
			t.Fatalf("stalled 4 MiB body: %+v, want UNAVAILABLE over max_in_flight_bytes", a)
		}
	}
	if got := f.counter("ackflow_receiver_otlp_requests_total", "outcome", "budget"); got != 4 {
		t.Fatalf("budget refusals %v, want 4", got)
	}
	f.resolve(m, true, pdata.Nack{})
	if err := otlptest.Recv(t, pending, "answer"); err != nil {
		t.Fatalf("the request in the pipeline: %v", err)
	}
	f.eventually("the budget freed", func() bool { return held() == 0 })
	answer := f.grpcExport()
	f.resolve(f.next(), true, pdata.Nack{})
	if err := otlptest.Recv(t, answer, "answer"); err != nil {
		t.Fatalf("a normal client after the stalled bodies: %v", err)
	}
}

// An HTTP body is charged to max_in_flight_bytes as it arrives, compressed
// and then decompressed: a stalled gzip upload holds only the compressed
// bytes it sent (it is decompressed once whole), so other uploads are
// served; one whose decompressed size would exceed the budget is cut with
// a retryable 503, the budget never exceeded; the stalled upload is
// answered 503 when its body deadline passes, and the budget is free again.
func TestHTTPBodyChargedAsItArrives(t *testing.T) {
	f := start(t, httpOnly+"max_in_flight_bytes: 1MiB\nmax_request_size: 16MiB\ntimeout: 6s\n")
	const budget = 1 << 20
	held := func() float64 { return f.gauge("ackflow_receiver_otlp_in_flight_bytes") }
	bomb, large := hostiletest.GzipBomb(16<<20), hostiletest.GzipBomb(2<<20)

	stalled := hostiletest.PostStalled(t, f.httpAddr, "/v1/logs", "gzip", bomb)
	f.eventually("the stalled upload's reservation", func() bool { return held() > 0 })
	if h := held(); h > float64(3*len(bomb)) {
		t.Fatalf("%v bytes reserved by a stalled upload that sent %d", h, len(bomb))
	}

	ok := f.post("/v1/logs", "application/x-protobuf", "gzip", compress(t, "gzip", pdatatest.LogsBytes("during", 2, 0, 8)))
	f.resolve(f.next(), true, pdata.Nack{})
	if res := otlptest.Recv(t, ok, "answer"); res.status != http.StatusOK {
		t.Fatalf("an upload beside the stalled one: %d %q", res.status, res.body)
	}

	res := otlptest.Recv(t, f.post("/v1/logs", "application/x-protobuf", "gzip", large), "answer")
	if res.status != http.StatusServiceUnavailable || res.header.Get("Retry-After") == "" || !strings.Contains(string(res.body), "max_in_flight_bytes") {
		t.Fatalf("upload over the budget: %d %q, want 503 with Retry-After", res.status, res.body)
	}
	if h := held(); h > budget {
		t.Fatalf("%v bytes reserved, over max_in_flight_bytes", h)
	}
	if got := f.counter("ackflow_receiver_otlp_requests_total", "outcome", "budget"); got != 1 {
		t.Fatalf("budget refusals %v, want 1", got)
	}

	r := otlptest.Recv(t, stalled.Result(), "the stalled upload's answer")
	if r.Err != nil || r.Status != http.StatusServiceUnavailable || r.RetryAfter == "" || !strings.Contains(r.Body, "not received in time") {
		t.Fatalf("stalled upload: %+v, want 503 with Retry-After", r)
	}
	f.eventually("the budget freed", func() bool { return held() == 0 })
	after := f.post("/v1/logs", "application/x-protobuf", "", pdatatest.LogsBytes("after", 2, 0, 8))
	f.resolve(f.next(), true, pdata.Nack{})
	if res := otlptest.Recv(t, after, "answer"); res.status != http.StatusOK {
		t.Fatalf("after the stalled upload: %d", res.status)
	}
	f.noneSent()
}

// HTTP bodies trickled a byte at a time hold no slot and are cut with a
// retryable 503 once below the minimum rate, long before the timeout: a
// normal client is served meanwhile, with more tricklers than slots.
func TestHTTPTrickledBodiesHoldNoSlot(t *testing.T) {
	f := start(t, httpOnly+"max_concurrent_requests: 2\ntimeout: 4s\n")
	var tricklers []*hostiletest.Trickler
	for range 6 {
		tricklers = append(tricklers, hostiletest.Trickle(t, f.httpAddr, "/v1/logs", 1000, 100*time.Millisecond))
	}
	f.eventually("6 bodies being read", func() bool { return f.gauge("ackflow_receiver_otlp_requests_reading") == 6 })

	start := time.Now()
	answer := f.post("/v1/logs", "application/x-protobuf", "", pdatatest.LogsBytes("normal", 2, 0, 8))
	f.resolve(f.next(), true, pdata.Nack{})
	if res := otlptest.Recv(t, answer, "answer"); res.status != http.StatusOK {
		t.Fatalf("normal client among tricklers: %d %s", res.status, res.body)
	}
	for _, tr := range tricklers {
		r := otlptest.Recv(t, tr.Result(), "a trickler's answer")
		if r.Err != nil || r.Status != http.StatusServiceUnavailable || r.RetryAfter != "1" {
			t.Fatalf("trickled body: %+v, want 503 with Retry-After: 1", r)
		}
	}
	if d := time.Since(start); d >= 4*time.Second {
		t.Fatalf("tricklers were cut after %s, not before the 4s timeout", d)
	}
	if got := f.counter("ackflow_receiver_otlp_requests_total", "outcome", "body_timeout"); got != 6 {
		t.Fatalf("body_timeout requests %v, want 6", got)
	}
	f.noneSent()
}

// At max_connections a new connection closes the longest-idle one, so idle
// connections cannot lock clients out; when every connection is busy the
// new one is closed at once. Both are counted.
func TestHTTPConnectionCap(t *testing.T) {
	f := start(t, httpOnly+"max_connections: 3\n")
	conns := func() float64 { return f.gauge("ackflow_receiver_otlp_connections", "protocol", "http") }
	closed := func(reason string) float64 {
		return f.counter("ackflow_receiver_otlp_connections_closed_total", "protocol", "http", "reason", reason)
	}
	idle, err := hostiletest.IdleConns(t, f.httpAddr, 5)
	if err != nil {
		t.Fatal(err)
	}
	f.eventually("3 connections and 2 evictions", func() bool { return conns() == 3 && closed("idle_evicted") == 2 })
	if !hostiletest.Closed(idle[0], otlptest.Wait) || !hostiletest.Closed(idle[1], otlptest.Wait) {
		t.Fatal("the two oldest idle connections are still open")
	}

	// Three requests awaiting their outcome: three busy connections (the
	// idle ones make room).
	var answers []<-chan httpResult
	var msgs []*pdata.Message
	for i := range 3 {
		client := &http.Client{Transport: &http.Transport{}}
		t.Cleanup(client.CloseIdleConnections)
		req, _ := http.NewRequest(http.MethodPost, "http://"+f.httpAddr+"/v1/logs", strings.NewReader(string(pdatatest.LogsBytes("busy", 1, i, 8))))
		req.Header.Set("Content-Type", "application/x-protobuf")
		f.client = client
		answers = append(answers, f.do(req))
		msgs = append(msgs, f.next())
	}
	over, err := net.Dial("tcp", f.httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	if !hostiletest.Closed(over, otlptest.Wait) {
		t.Fatal("a connection over max_connections stayed open while all others were busy")
	}
	f.eventually("the refusal counted", func() bool { return closed("connection_limit") >= 1 })
	for i, m := range msgs {
		f.resolve(m, true, pdata.Nack{})
		if res := otlptest.Recv(t, answers[i], "answer"); res.status != http.StatusOK {
			t.Fatalf("busy connection's request: %d", res.status)
		}
	}
	if got := conns(); got > 3 {
		t.Fatalf("%v connections open, max_connections is 3", got)
	}
}

// The same cap on gRPC: with every connection carrying a request, a new
// client's connection is closed at once and its call fails UNAVAILABLE.
func TestGRPCConnectionCap(t *testing.T) {
	f := start(t, grpcOnly+"max_connections: 2\n")
	var answers []<-chan error
	var msgs []*pdata.Message
	for range 2 {
		answers = append(answers, f.grpcExport())
		msgs = append(msgs, f.next())
	}
	conn, err := grpc.NewClient(f.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = plogotlp.NewGRPCClient(conn).Export(ctx, plogotlp.NewExportRequestFromLogs(pdatatest.LogsData("over", 1, 0, 8)))
	if code := status.Code(err); code != codes.Unavailable && code != codes.DeadlineExceeded {
		t.Fatalf("a third connection with two busy ones: %v, want it refused", err)
	}
	if got := f.counter("ackflow_receiver_otlp_connections_closed_total", "protocol", "grpc", "reason", "connection_limit"); got < 1 {
		t.Fatalf("connection_limit closes %v, want at least 1", got)
	}
	for i, m := range msgs {
		f.resolve(m, true, pdata.Nack{})
		if err := otlptest.Recv(t, answers[i], "answer"); err != nil {
			t.Fatal(err)
		}
	}
	f.noneSent()
}

func TestTransportKeysValidation(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr []string // nil: valid
	}{
		{"defaults", grpcOnly, nil},
		{"set", grpcOnly + "max_concurrent_streams: 16\nmax_connections: 64\n", nil},
		{"per protocol", "protocols:\n  http:\n    listening_addr: 127.0.0.1:0\n    max_connections: 10\n    max_concurrent_streams: 4\n", nil},
		{"zero streams", grpcOnly + "max_concurrent_streams: 0\n", []string{"nodes.in.config.max_concurrent_streams", "between 1 and", "such as 100"}},
		{"too many streams", grpcOnly + "max_concurrent_streams: 3000000000\n", []string{"max_concurrent_streams"}},
		{"zero connections", grpcOnly + "max_connections: 0\n", []string{"nodes.in.config.max_connections", "at least 1", "such as 1024"}},
		{"per-protocol override checked", "protocols:\n  grpc:\n    listening_addr: 127.0.0.1:0\n    max_connections: -1\n", []string{"protocols.grpc.max_connections"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			otlptest.RequireConfig(t, otlp.NewFactory(), "in", tt.yaml, tt.wantErr...)
		})
	}
	cfg := otlp.DefaultConfig()
	if cfg.MaxConcurrentStreams != otlp.DefaultMaxConcurrentStreams || cfg.MaxConnections != otlp.DefaultMaxConnections {
		t.Fatalf("defaults %d, %d", cfg.MaxConcurrentStreams, cfg.MaxConnections)
	}
}

// A running gRPC receiver adds its share to the process's decompression
// gate: its byte budget, but at least one message of max_request_size (one
// request alone may exceed the budget), so a compressed request larger
// than the budget is decompressed and admitted, not refused for ever.
func TestGRPCDecompressionShare(t *testing.T) {
	_, before := otlpgrpc.Decompressing()
	f := start(t, grpcOnly+"max_in_flight_bytes: 1MiB\nmax_request_size: 16MiB\n")
	f.eventually("the receiver's share of the gate", func() bool {
		_, limit := otlpgrpc.Decompressing()
		return limit == before+16<<20
	})
	conn, err := grpc.NewClient(f.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	req := plogotlp.NewExportRequestFromLogs(pdatatest.LogsData("big", 1000, 0, 10<<10)) // about 10 MiB
	answer := async(func(ctx context.Context) error {
		_, err := plogotlp.NewGRPCClient(conn).Export(ctx, req, grpc.UseCompressor("gzip"))
		return err
	})
	m := f.next()
	if m.Items() != 1000 {
		t.Fatalf("admitted %d items, want 1000", m.Items())
	}
	f.resolve(m, true, pdata.Nack{})
	if err := otlptest.Recv(t, answer, "answer"); err != nil {
		t.Fatalf("a 10 MiB gzip request with a 1 MiB budget: %v", err)
	}
}
