package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/klauspost/compress/zstd"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/gzip" // registers "gzip" with grpc-go
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
)

// Transport tuning: windows and buffers larger than grpc-go's defaults, so
// the generator spends little CPU per byte and never throttles the system
// under test through flow control.
const (
	grpcStreamWindow = 4 << 20
	grpcConnWindow   = 16 << 20
	grpcBufferSize   = 128 << 10
	// maxResponseSize bounds an export response (normally empty).
	maxResponseSize = 4 << 20
)

// grpcMethods are the OTLP Export methods, by signal.
var grpcMethods = map[Signal]string{
	Logs:    "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
	Metrics: "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
	Traces:  "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
}

// init registers a zstd compressor with grpc-go unless another package
// already did (ackflow's OTLP nodes register one too when linked in the
// same binary). grpc-go only looks compressors up in a process-wide
// registry filled at init time.
func init() {
	if encoding.GetCompressor(string(Zstd)) == nil {
		encoding.RegisterCompressor(zstdCompressor{})
	}
}

type zstdCompressor struct{}

func (zstdCompressor) Name() string { return string(Zstd) }

func (zstdCompressor) Compress(w io.Writer) (io.WriteCloser, error) {
	return zstd.NewWriter(w, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20))
}

func (zstdCompressor) Decompress(r io.Reader) (io.Reader, error) {
	d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(64<<20))
	if err != nil {
		return nil, err
	}
	return d.IOReadCloser(), nil
}

// rawMessage is a protobuf message as bytes: the request sent as it is, or
// the response as received.
type rawMessage struct{ b []byte }

// rawCodec is a grpc-go CodecV2 that moves rawMessage bytes without
// (un)marshalling. It announces itself as "proto" because the bytes are
// protobuf and OTLP servers expect application/grpc(+proto).
type rawCodec struct{}

var _ encoding.CodecV2 = rawCodec{}

func (rawCodec) Name() string { return "proto" }

// Marshal returns the request bytes uncopied. grpc-go only reads them (to
// write or compress), and a SliceBuffer's Free is a no-op, so several
// calls may send the same pool entry at once.
func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(*rawMessage)
	if !ok {
		return nil, fmt.Errorf("loadgen codec: cannot marshal %T", v)
	}
	if len(m.b) == 0 {
		return nil, nil
	}
	return mem.BufferSlice{mem.SliceBuffer(m.b)}, nil
}

// Unmarshal copies the response bytes.
func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(*rawMessage)
	if !ok {
		return fmt.Errorf("loadgen codec: cannot unmarshal into %T", v)
	}
	m.b = data.Materialize()
	return nil
}

// grpcTransport sends the pool over a few gRPC connections.
type grpcTransport struct {
	conns  []*grpc.ClientConn
	method string
	pool   *Pool
	opts   []grpc.CallOption
}

func newGRPCTransport(cfg Config, t target, pool *Pool) (*grpcTransport, error) {
	d := &dialer{allowAny: cfg.AllowNonLoopback}
	dopts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", addr)
		}),
		grpc.WithInitialWindowSize(grpcStreamWindow),
		grpc.WithInitialConnWindowSize(grpcConnWindow),
		grpc.WithReadBufferSize(grpcBufferSize),
		grpc.WithWriteBufferSize(grpcBufferSize),
	}
	tr := &grpcTransport{method: grpcMethods[cfg.Signal], pool: pool}
	tr.opts = []grpc.CallOption{grpc.ForceCodecV2(rawCodec{}), grpc.MaxCallRecvMsgSize(maxResponseSize)}
	if cfg.Compression != NoCompression {
		tr.opts = append(tr.opts, grpc.UseCompressor(string(cfg.Compression)))
	}
	// "passthrough" hands the address to the dialer as it is: the dialer
	// resolves and checks it.
	for range cfg.connections() {
		cc, err := grpc.NewClient("passthrough:///"+t.hostPort(), dopts...)
		if err != nil {
			_ = tr.close()
			return nil, fmt.Errorf("loadgen: gRPC client for %s: %w", t.hostPort(), err)
		}
		tr.conns = append(tr.conns, cc)
	}
	return tr, nil
}

// send sends pool request i from worker w and classifies the answer.
func (tr *grpcTransport) send(ctx context.Context, w, i int) result {
	req := rawMessage{b: tr.pool.Raw[i]}
	var resp rawMessage
	err := tr.conns[w%len(tr.conns)].Invoke(ctx, tr.method, &req, &resp, tr.opts...)
	if err == nil {
		return result{rejected: rejectedItems(resp.b)}
	}
	// grpc-go may see the deadline (and report DEADLINE_EXCEEDED or, when
	// its reset races the answer, CANCELLED) a moment before ctx's timer.
	if dl, ok := ctx.Deadline(); errors.Is(ctx.Err(), context.DeadlineExceeded) || ok && !time.Now().Before(dl) {
		return result{status: StatusTimeout}
	}
	st, ok := status.FromError(err)
	if !ok {
		return result{status: StatusTransport}
	}
	if st.Code() == codes.OK {
		return result{}
	}
	return result{status: st.Code().String()}
}

func (tr *grpcTransport) close() error {
	var errs []error
	for _, cc := range tr.conns {
		errs = append(errs, cc.Close())
	}
	return errors.Join(errs...)
}

// rejectedItems reads partial_success.rejected_<items> (field 1 of field 1,
// the same shape for the three signals) from an export response; 0 when
// the response is empty or unreadable.
func rejectedItems(b []byte) int64 {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			ps, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return 0
			}
			return rejectedInPartialSuccess(ps)
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return 0
		}
		b = b[m:]
	}
	return 0
}

func rejectedInPartialSuccess(b []byte) int64 {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0
		}
		b = b[n:]
		if num == 1 && typ == protowire.VarintType {
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return 0
			}
			return int64(v)
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return 0
		}
		b = b[m:]
	}
	return 0
}
