package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/ackflow/ackflow/loadgen"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// msg appends field num holding payload, length-delimited.
func msg(b []byte, num protowire.Number, payload []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), payload)
}

// request builds an ExportLogsServiceRequest of resources × scopes ×
// records, with every wire type and unknown fields at every level, so the
// walk must skip what it does not enter.
func request(resources, scopes, records int) (body []byte, count int) {
	for r := range resources {
		res := msg(nil, 1, msg(nil, 1, []byte("service.name=x"))) // resource
		for s := range scopes {
			sc := msg(nil, 1, []byte("scope"))
			for i := range records + r + s {
				rec := protowire.AppendTag(nil, 1, protowire.Fixed64Type)
				rec = protowire.AppendFixed64(rec, uint64(1700000000000000000+i))
				rec = protowire.AppendTag(rec, 2, protowire.VarintType)
				rec = protowire.AppendVarint(rec, uint64(i)<<40) // a long varint
				rec = protowire.AppendTag(rec, 12, protowire.Fixed32Type)
				rec = protowire.AppendFixed32(rec, 1)
				rec = msg(rec, 5, []byte(strings.Repeat("log line ", i%7)))
				sc = msg(sc, 2, rec)
				count++
			}
			sc = msg(sc, 3, []byte("https://schema"))
			res = msg(res, 2, sc)
		}
		res = protowire.AppendTag(res, 1000, protowire.VarintType) // unknown to the walk
		res = protowire.AppendVarint(res, 7)
		body = msg(body, 1, res)
	}
	body = protowire.AppendTag(body, 99, protowire.Fixed32Type) // unknown field of the request
	return protowire.AppendFixed32(body, 42), count
}

// split cuts b at the given offsets, as the transport hands over frames.
func split(b []byte, cuts ...int) mem.BufferSlice {
	var s mem.BufferSlice
	prev := 0
	for _, c := range append(cuts, len(b)) {
		s = append(s, mem.SliceBuffer(b[prev:c]))
		prev = c
	}
	return s
}

// chunks cuts b into pieces of n bytes.
func chunks(b []byte, n int) mem.BufferSlice {
	var cuts []int
	for c := n; c < len(b); c += n {
		cuts = append(cuts, c)
	}
	return split(b, cuts...)
}

func TestCountRecordsAcrossEverySplit(t *testing.T) {
	synthetic, want := request(3, 2, 4)
	if got, err := countRecords(split(synthetic)); err != nil || got != want {
		t.Fatalf("whole: %d, %v; want %d", got, err, want)
	}
	for n := 1; n <= len(synthetic); n++ {
		if got, err := countRecords(chunks(synthetic, n)); err != nil || got != want {
			t.Fatalf("chunks of %d: %d, %v; want %d", n, got, err, want)
		}
	}
	for c := 0; c <= len(synthetic); c++ {
		// An empty buffer at the cut as well: the walk must step over it.
		if got, err := countRecords(split(synthetic, c, c)); err != nil || got != want {
			t.Fatalf("cut at %d: %d, %v; want %d", c, got, err, want)
		}
	}
	if got, err := countRecords(nil); err != nil || got != 0 {
		t.Fatalf("empty request: %d, %v; want 0, nil", got, err)
	}
	// The benchmark's own requests, both shapes, in HTTP/2-frame-sized
	// pieces and odd ones.
	for _, shape := range []loadgen.Shape{loadgen.ShapeBody, loadgen.ShapeSDK} {
		cfg := loadgen.DefaultConfig()
		cfg.Shape, cfg.Pool = shape, 1
		pool, err := loadgen.NewPool(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{1, 7, 1000, 16384, len(pool.Raw[0])} {
			if got, err := countRecords(chunks(pool.Raw[0], n)); err != nil || got != cfg.Items {
				t.Errorf("%s shape in chunks of %d: %d, %v; want %d", shape, n, got, err, cfg.Items)
			}
		}
	}
}

func TestCountRecordsRefusesBadFraming(t *testing.T) {
	one, _ := request(1, 2, 3)                   // one resource entry: every proper prefix cuts it
	one = one[:len(one)-protowire.SizeTag(99)-4] // without the unknown field after it
	for c := 1; c < len(one); c++ {
		if _, err := countRecords(chunks(one[:c], 3)); !errors.Is(err, errFraming) {
			t.Fatalf("truncated at %d of %d: %v, want a framing error", c, len(one), err)
		}
	}
	long := func(n int, last byte) []byte { // key 0x18 (field 3, unknown), then an n-byte varint
		return append(append([]byte{0x18}, bytes.Repeat([]byte{0xff}, n-1)...), last)
	}
	tests := []struct {
		name string
		b    []byte
	}{
		{"group", []byte{0x0b}},
		{"end group", []byte{0x0c}},
		{"wire type 7", []byte{0x0f}},
		{"field 0", []byte{0x02, 0x00}},
		{"resource entry as a varint", []byte{0x08, 0x01}},
		{"log record as fixed32", []byte{0x0a, 0x07, 0x12, 0x05, 0x15, 1, 2, 3, 4}},
		{"11-byte varint", long(11, 0x01)},
		{"10-byte varint over 64 bits", long(10, 0x02)},
		{"length past the request", []byte{0x0a, 0x05, 0x00}},
		{"huge length", []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"inner length past its parent", []byte{0x0a, 0x03, 0x12, 0x05, 0x00, 0x00, 0x00, 0x00}},
		{"fixed64 past its parent", []byte{0x0a, 0x04, 0x09, 1, 2, 3}},
		{"varint past its parent", []byte{0x0a, 0x02, 0x18, 0x80, 0x01}},
		{"truncated key", []byte{0x80}},
	}
	for _, tt := range tests {
		for _, n := range []int{1, len(tt.b)} {
			if got, err := countRecords(chunks(tt.b, n)); !errors.Is(err, errFraming) {
				t.Errorf("%s (chunks of %d): %d, %v; want a framing error", tt.name, n, got, err)
			}
		}
	}
	// The long varint that is valid: 10 bytes, the last one 1.
	if _, err := countRecords(split(long(10, 0x01))); err != nil {
		t.Errorf("10-byte varint of 64 bits: %v", err)
	}
}

func TestParseFlags(t *testing.T) {
	good := [][]string{
		{},
		{"-mode", "ack", "-listen", "127.0.0.1:0", "-admin", "[::1]:0"},
		{"-mode", "forward", "-to", "127.0.0.1:5317"},
	}
	for _, args := range good {
		if _, err := parseFlags(args); err != nil {
			t.Errorf("%q: %v", args, err)
		}
	}
	bad := [][]string{
		{"-listen", "0.0.0.0:4317"},
		{"-listen", ":4317"},
		{"-listen", "localhost:4317"}, // a name could resolve anywhere
		{"-admin", "10.0.0.1:8080"},
		{"-mode", "forward", "-to", "192.168.1.1:4317"},
		{"-mode", "forward"},
		{"-to", "127.0.0.1:5317"},
		{"-mode", "sink"},
	}
	for _, args := range bad {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("%q: accepted", args)
		}
	}
}

// serve starts a baseline on a fresh loopback port and returns it and its
// address; it stops at the end of the test.
func serve(t *testing.T, cfg config) (*baseline, string) {
	t.Helper()
	b, err := newBaseline(cfg)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = b.srv.Serve(lis) }()
	t.Cleanup(b.close)
	return b, lis.Addr().String()
}

// send exports body to addr with the raw codec and returns the answer's
// bytes.
func send(ctx context.Context, t *testing.T, addr string, body []byte) ([]byte, error) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(rawCodec{})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req, resp := mem.BufferSlice{mem.SliceBuffer(body)}, mem.BufferSlice{}
	err = conn.Invoke(ctx, exportMethod, &req, &resp)
	defer resp.Free()
	return resp.Materialize(), err
}

func pool(t *testing.T, items, n int) [][]byte {
	t.Helper()
	cfg := loadgen.DefaultConfig()
	cfg.Items, cfg.Pool = items, n
	p, err := loadgen.NewPool(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p.Raw
}

func TestAckMode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, addr := serve(t, config{mode: "ack"})
	reqs := pool(t, 100, 4)
	for _, r := range reqs {
		if resp, err := send(ctx, t, addr, r); err != nil || len(resp) != 0 {
			t.Fatalf("export: %x, %v; want an empty answer", resp, err)
		}
	}
	if _, err := send(ctx, t, addr, []byte{0x0a, 0x05, 0x00}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("bad framing: %v, want InvalidArgument", err)
	}
	rec := httptest.NewRecorder()
	b.adminMux().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{"baseline_requests_total 5\n", "baseline_items_total 400\n", "baseline_rejected_total 1\n"} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, rec.Body.String())
		}
	}
}

// downstream is a destination that keeps what it receives and answers as
// told.
type downstream struct {
	mu     sync.Mutex
	got    [][]byte
	answer func() ([]byte, error)
}

func (d *downstream) start(t *testing.T) string {
	t.Helper()
	srv := grpc.NewServer(grpc.ForceServerCodecV2(rawCodec{}))
	srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: "opentelemetry.proto.collector.logs.v1.LogsService",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{MethodName: "Export", Handler: func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			var req mem.BufferSlice
			if err := dec(&req); err != nil {
				return nil, err
			}
			d.mu.Lock()
			d.got = append(d.got, req.Materialize())
			answer := d.answer
			d.mu.Unlock()
			req.Free()
			resp, err := answer()
			return &mem.BufferSlice{mem.SliceBuffer(resp)}, err
		}}},
	}, struct{}{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

func (d *downstream) set(answer func() ([]byte, error)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.answer = answer
}

func TestForwardMode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := &downstream{answer: func() ([]byte, error) { return nil, nil }}
	b, addr := serve(t, config{mode: "forward", to: d.start(t)})

	// Concurrent exports over the one downstream connection arrive intact.
	reqs := pool(t, 100, 8)
	var wg sync.WaitGroup
	for _, r := range reqs {
		wg.Go(func() {
			if resp, err := send(ctx, t, addr, r); err != nil || len(resp) != 0 {
				t.Errorf("export: %x, %v; want an empty answer", resp, err)
			}
		})
	}
	wg.Wait()
	d.mu.Lock()
	if len(d.got) != len(reqs) {
		t.Fatalf("downstream got %d requests, want %d", len(d.got), len(reqs))
	}
	for _, r := range reqs {
		found := false
		for _, g := range d.got {
			found = found || bytes.Equal(g, r)
		}
		if !found {
			t.Errorf("a request did not reach the downstream byte for byte")
		}
	}
	d.mu.Unlock()
	if n := b.records.Load(); n != 800 {
		t.Errorf("%d records answered, want 800", n)
	}

	// The downstream's partial success and its errors come back as they were.
	partial := []byte{0x0a, 0x02, 0x08, 0x07} // partial_success{rejected_log_records: 7}
	d.set(func() ([]byte, error) { return partial, nil })
	if resp, err := send(ctx, t, addr, reqs[0]); err != nil || !bytes.Equal(resp, partial) {
		t.Errorf("partial success: %x, %v; want %x", resp, err, partial)
	}
	d.set(func() ([]byte, error) { return nil, status.Error(codes.ResourceExhausted, "downstream is full") })
	_, err := send(ctx, t, addr, reqs[0])
	if st := status.Convert(err); st.Code() != codes.ResourceExhausted || st.Message() != "downstream is full" {
		t.Errorf("downstream error: %v, want ResourceExhausted: downstream is full", err)
	}
	// Bad framing never reaches the downstream.
	before := len(d.got)
	if _, err := send(ctx, t, addr, []byte{0x0b}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("bad framing: %v, want InvalidArgument", err)
	}
	if d.mu.Lock(); len(d.got) != before {
		t.Error("a malformed request was forwarded")
	}
	d.mu.Unlock()
	if n := b.forwardErrors.Load(); n != 1 {
		t.Errorf("%d forward errors, want 1", n)
	}
}

func TestForwardToNowhereFailsInTime(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := lis.Addr().String()
	lis.Close() // nothing listens there now
	_, addr := serve(t, config{mode: "forward", to: dead})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err = send(ctx, t, addr, pool(t, 10, 1)[0])
	if c := status.Code(err); c != codes.Unavailable && c != codes.DeadlineExceeded {
		t.Errorf("forward to a closed port: %v, want Unavailable or DeadlineExceeded", err)
	}
}

func TestRunStopsAndReports(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-listen", addr}, &out) }()
	sendCtx, cancelSend := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelSend()
	for {
		_, err := send(sendCtx, t, addr, pool(t, 10, 1)[0])
		if err == nil {
			break
		}
		if sendCtx.Err() != nil {
			t.Fatalf("the baseline never answered: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil || !strings.Contains(out.String(), "baseline_items_total 10\n") {
			t.Errorf("run: %v, printed %q", err, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
	if err := run(context.Background(), []string{"-listen", "0.0.0.0:0"}, &out); err == nil {
		t.Error("a non-loopback listen address was accepted")
	}
}

// BenchmarkCountRecords walks the benchmark's default request (1,000 logs ×
// 185 B bodies) in 16 KiB buffers, as grpc-go receives it.
func BenchmarkCountRecords(b *testing.B) {
	cfg := loadgen.DefaultConfig()
	cfg.Pool = 1
	p, err := loadgen.NewPool(cfg)
	if err != nil {
		b.Fatal(err)
	}
	req := chunks(p.Raw[0], 16384)
	b.SetBytes(int64(len(p.Raw[0])))
	for b.Loop() {
		if n, err := countRecords(req); err != nil || n != cfg.Items {
			b.Fatal(n, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*cfg.Items), "ns/record")
}
