package otlpgrpc_test

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ackflow/ackflow/engine/nodetest"
	exporter "github.com/ackflow/ackflow/nodes/exporters/otlpgrpc"
	"github.com/ackflow/ackflow/nodes/internal/otlptest"
	"github.com/ackflow/ackflow/otlp/otlpgrpc"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// backend is a loopback OTLP/gRPC server whose answers the test scripts.
type backend struct {
	addr  string
	calls chan *backendCall
}

type backendCall struct {
	signal pdata.Signal
	body   []byte
	md     metadata.MD
	ctx    context.Context
	reply  chan backendReply
}

type backendReply struct {
	partial otlpgrpc.PartialSuccess
	err     error
}

func (b *backend) Export(ctx context.Context, s pdata.Signal, read func(*otlpgrpc.Request) error) (*otlpgrpc.Response, error) {
	var req otlpgrpc.Request
	if err := read(&req); err != nil {
		return nil, err
	}
	md, _ := metadata.FromIncomingContext(ctx)
	c := &backendCall{signal: s, body: req.Bytes(), md: md, ctx: ctx, reply: make(chan backendReply, 1)}
	b.calls <- c
	select {
	case r := <-c.reply:
		if r.err != nil {
			return nil, r.err
		}
		return &otlpgrpc.Response{Body: otlpgrpc.AppendPartialSuccess(nil, r.partial)}, nil
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}

// newBackend serves on 127.0.0.1:0 until the test ends.
func newBackend(t testing.TB, opts ...grpc.ServerOption) *backend {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{addr: lis.Addr().String(), calls: make(chan *backendCall, 16)}
	gs := grpc.NewServer(append(otlpgrpc.ServerOptions(64<<20, otlpgrpc.Transport{}), opts...)...)
	otlpgrpc.RegisterServer(gs, b)
	done := make(chan struct{})
	go func() { defer close(done); _ = gs.Serve(lis) }()
	t.Cleanup(func() { gs.Stop(); <-done })
	return b
}

func (b *backend) next(t testing.TB) *backendCall {
	t.Helper()
	return otlptest.Recv(t, b.calls, "export at the backend")
}

func (c *backendCall) ok() { c.reply <- backendReply{} }

func newExporter(t testing.TB, cfg string) (*nodetest.Harness, *exporter.Exporter) {
	t.Helper()
	h := nodetest.New(t, exporter.NewFactory(), cfg)
	return h, h.Node.(*exporter.Exporter)
}

// settle delivers completions until no export is in flight.
func settle(t testing.TB, h *nodetest.Harness) {
	t.Helper()
	for h.Pending() > 0 {
		if h.WaitAsync(otlptest.Wait) == 0 {
			t.Fatalf("%d exports still in flight after %s", h.Pending(), otlptest.Wait)
		}
	}
}

func TestExportSendsBytesAsReceived(t *testing.T) {
	b := newBackend(t)
	h, _ := newExporter(t, "grpc_endpoint: http://"+b.addr+"\n")
	defer h.Shutdown(h.Clock.Now())
	one := pdatatest.LogsPayload("a", 3, 0, 8)
	two, err := pdata.Concat(pdata.Logs, pdatatest.LogsPayload("b", 2, 0, 8), pdatatest.LogsPayload("c", 4, 0, 8))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*pdata.Payload{one, two, pdatatest.Metrics(5), pdatatest.Traces(6)} {
		id := h.SendPData(pdatatest.Msg(p))
		c := b.next(t)
		want, _ := p.AppendOTLP(nil)
		if c.signal != p.Signal() || string(c.body) != string(want) {
			t.Fatalf("backend got %s %d bytes, want %s %d bytes", c.signal, len(c.body), p.Signal(), len(want))
		}
		c.ok()
		settle(t, h)
		h.RequireAcked(id)
	}
}

func TestStatusMapping(t *testing.T) {
	b := newBackend(t)
	h, e := newExporter(t, "grpc_endpoint: http://"+b.addr+"\n")
	defer h.Shutdown(h.Clock.Now())
	tests := []struct {
		code      codes.Code
		permanent bool
	}{
		{codes.Canceled, false},
		{codes.Unknown, true},
		{codes.InvalidArgument, true},
		{codes.DeadlineExceeded, false},
		{codes.NotFound, true},
		{codes.AlreadyExists, true},
		{codes.PermissionDenied, true},
		{codes.ResourceExhausted, false},
		{codes.FailedPrecondition, true},
		{codes.Aborted, false},
		{codes.OutOfRange, false},
		{codes.Unimplemented, true},
		{codes.Internal, true},
		{codes.Unavailable, false},
		{codes.DataLoss, false},
		{codes.Unauthenticated, true},
	}
	for _, tt := range tests {
		t.Run(tt.code.String(), func(t *testing.T) {
			id := h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
			b.next(t).reply <- backendReply{err: status.Error(tt.code, "backend says no")}
			settle(t, h)
			n := h.RequireNacked(id)[0].Nack
			if n.Permanent != tt.permanent || !strings.Contains(n.Reason, "otlp_grpc: ") || !strings.Contains(n.Reason, "backend says no") {
				t.Fatalf("nack %v, want permanent=%t with the backend's message", n, tt.permanent)
			}
		})
	}
	if got := e.Metrics().Requests(pdata.Logs, "unavailable"); got != 1 {
		t.Fatalf("requests{status=unavailable} = %d", got)
	}
	// A refusal for size is not load shedding: retrying the same bytes
	// would loop, so it is permanent.
	id := h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	b.next(t).reply <- backendReply{err: status.Error(codes.ResourceExhausted, "grpc: received message larger than max (5000000 vs. 4194304)")}
	settle(t, h)
	if n := h.RequireNacked(id)[0].Nack; !n.Permanent {
		t.Fatalf("oversize RESOURCE_EXHAUSTED: nack %v, want permanent", n)
	}
}

func TestRetryInfoIsReported(t *testing.T) {
	b := newBackend(t)
	h, _ := newExporter(t, "grpc_endpoint: http://"+b.addr+"\n")
	defer h.Shutdown(h.Clock.Now())
	id := h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	st, _ := status.New(codes.ResourceExhausted, "slow down").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(3 * time.Second)})
	b.next(t).reply <- backendReply{err: st.Err()}
	settle(t, h)
	n := h.RequireNacked(id)[0].Nack
	if n.Permanent || !strings.Contains(n.Reason, "retry after 3s") {
		t.Fatalf("nack %v, want transient with the retry delay", n)
	}
}

func TestPartialSuccessAcksAndCounts(t *testing.T) {
	b := newBackend(t)
	h, e := newExporter(t, "grpc_endpoint: http://"+b.addr+"\n")
	defer h.Shutdown(h.Clock.Now())
	id := h.SendPData(pdatatest.Msg(pdatatest.Logs(5)))
	b.next(t).reply <- backendReply{partial: otlpgrpc.PartialSuccess{Rejected: 2, Message: "too old"}}
	settle(t, h)
	h.RequireAcked(id)
	if got := e.Metrics().Rejected(pdata.Logs); got != 2 {
		t.Fatalf("rejected items %d, want 2", got)
	}
}

func TestTimeoutNacksTransient(t *testing.T) {
	b := newBackend(t)
	h, _ := newExporter(t, "grpc_endpoint: http://"+b.addr+"\ntimeout: 100ms\n")
	defer h.Shutdown(h.Clock.Now())
	id := h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	c := b.next(t) // the backend hangs; the call's deadline ends it
	settle(t, h)
	n := h.RequireNacked(id)[0].Nack
	if n.Permanent || n.Cause != pdata.CauseTimeout {
		t.Fatalf("nack %v, want transient timeout", n)
	}
	<-c.ctx.Done() // the deadline reached the backend too
}

func TestMaxInFlightGatesPData(t *testing.T) {
	b := newBackend(t)
	h, e := newExporter(t, "grpc_endpoint: http://"+b.addr+"\nmax_in_flight: 2\n")
	defer h.Shutdown(h.Clock.Now())
	var ids []uint64
	for range 3 {
		ids = append(ids, h.SendPData(pdatatest.Msg(pdatatest.Logs(1))))
	}
	first, second := b.next(t), b.next(t)
	if h.Pending() != 2 || h.Queued() != 1 || e.Metrics().InFlight() != 2 {
		t.Fatalf("pending %d queued %d in flight %d, want 2, 1, 2", h.Pending(), h.Queued(), e.Metrics().InFlight())
	}
	select {
	case c := <-b.calls:
		t.Fatalf("a third export started: %v", c.signal)
	default:
	}
	first.ok()
	for h.Queued() > 0 {
		if h.WaitAsync(otlptest.Wait) == 0 {
			t.Fatal("no completion")
		}
	}
	b.next(t).ok()
	second.ok()
	settle(t, h)
	h.RequireAcked(ids...)
}

func TestForcedShutdownNacksAndCancels(t *testing.T) {
	b := newBackend(t)
	h, _ := newExporter(t, "grpc_endpoint: http://"+b.addr+"\n")
	id := h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	c := b.next(t)
	h.Shutdown(h.Clock.Now().Add(time.Second))
	if h.Pending() != 1 {
		t.Fatal("graceful shutdown dropped the export in flight")
	}
	h.ForceShutdown()
	n := h.RequireNacked(id)[0].Nack
	if n.Cause != pdata.CauseNodeShutdown || n.Permanent {
		t.Fatalf("nack %v, want transient node_shutdown", n)
	}
	otlptest.Recv(t, c.ctx.Done(), "cancellation at the backend")
}

func TestConnectionRefusedIsTransient(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // nothing listens there any more
	h, _ := newExporter(t, "grpc_endpoint: http://"+addr+"\n")
	defer h.Shutdown(h.Clock.Now())
	id := h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	settle(t, h)
	n := h.RequireNacked(id)[0].Nack
	if n.Permanent || !strings.Contains(n.Reason, "unavailable") {
		t.Fatalf("nack %v, want transient unavailable", n)
	}
}

func TestCompressionAndHeaders(t *testing.T) {
	b := newBackend(t)
	for _, comp := range []string{"none", "gzip", "zstd"} {
		t.Run(comp, func(t *testing.T) {
			h, _ := newExporter(t, "grpc_endpoint: http://"+b.addr+"\ncompression: "+comp+"\nheaders:\n  x-tenant: acme\n")
			defer h.Shutdown(h.Clock.Now())
			p := pdatatest.LogsPayload("z", 100, 10, 64)
			id := h.SendPData(pdatatest.Msg(p))
			c := b.next(t)
			want, _ := p.AppendOTLP(nil)
			if string(c.body) != string(want) {
				t.Fatal("backend got other bytes")
			}
			if got := c.md.Get("x-tenant"); len(got) != 1 || got[0] != "acme" {
				t.Fatalf("x-tenant %v", got)
			}
			c.ok()
			settle(t, h)
			h.RequireAcked(id)
		})
	}
}

func TestTLS(t *testing.T) {
	certs := otlptest.NewCerts(t)
	serverCert, err := tls.LoadX509KeyPair(certs.ServerCert, certs.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	b := newBackend(t, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{serverCert}})))
	h, _ := newExporter(t, "grpc_endpoint: https://"+b.addr+"\ntls:\n  ca_file: "+certs.CAFile+"\n")
	defer h.Shutdown(h.Clock.Now())
	id := h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	b.next(t).ok()
	settle(t, h)
	h.RequireAcked(id)

	// Without the CA the server is not trusted: the handshake fails, which
	// gRPC reports as UNAVAILABLE.
	h2, _ := newExporter(t, "grpc_endpoint: https://"+b.addr+"\n")
	defer h2.Shutdown(h2.Clock.Now())
	id2 := h2.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	settle(t, h2)
	if n := h2.RequireNacked(id2)[0].Nack; !strings.Contains(n.Reason, "certificate") {
		t.Fatalf("nack %v, want a certificate error", n)
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr []string
	}{
		{"minimal", "grpc_endpoint: http://127.0.0.1:4317\n", nil},
		{"full", "grpc_endpoint: https://collector:4317\ntimeout: 5s\nmax_in_flight: 64\ncompression: zstd\nheaders: {x-tenant: a}\ntls: {ca_file: ca.pem, cert_file: c.pem, key_file: k.pem}\n", nil},
		{"no endpoint", "timeout: 5s\n", []string{"grpc_endpoint", "required"}},
		{"no scheme", "grpc_endpoint: 127.0.0.1:4317\n", []string{"grpc_endpoint", "http://"}},
		{"path", "grpc_endpoint: http://127.0.0.1:4317/v1\n", []string{"no path"}},
		{"tls on plaintext", "grpc_endpoint: http://127.0.0.1:4317\ntls: {ca_file: ca.pem}\n", []string{"config.tls", "plaintext"}},
		{"zero timeout", "grpc_endpoint: http://h:1\ntimeout: 0s\n", []string{"timeout must be positive"}},
		{"zero in flight", "grpc_endpoint: http://h:1\nmax_in_flight: 0\n", []string{"max_in_flight"}},
		{"bad compression", "grpc_endpoint: http://h:1\ncompression: brotli\n", []string{"compression", "brotli"}},
		{"reserved header", "grpc_endpoint: http://h:1\nheaders: {grpc-timeout: 1s}\n", []string{"reserved"}},
		{"half a client cert", "grpc_endpoint: https://h:1\ntls: {cert_file: c.pem}\n", []string{"together"}},
		{"unknown key", "grpc_endpoint: http://h:1\nendpoint: x\n", []string{"endpoint"}},
		{"transport", "grpc_endpoint: http://h:1\ntransport: {read_buffer_size: 1MiB, write_buffer_size: 512KiB, initial_stream_window: 8MiB, initial_connection_window: 32MiB}\n", nil},
		{"buffer too large", "grpc_endpoint: http://h:1\ntransport: {write_buffer_size: 1GiB}\n", []string{"config.transport.write_buffer_size", "out of range"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			otlptest.RequireConfig(t, exporter.NewFactory(), "out", tt.yaml, tt.wantErr...)
		})
	}
}
