package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/ackflow/ackflow/otlp/otlpgrpc"
	"github.com/ackflow/ackflow/pdata"
)

// maxResponseSize bounds an export response (normally empty).
const maxResponseSize = 4 << 20

// pdataSignal is the OTLP service of the generator's signal s (a signal
// Config.Validate accepts).
func pdataSignal(s Signal) pdata.Signal {
	switch s {
	case Metrics:
		return pdata.Metrics
	case Traces:
		return pdata.Traces
	}
	return pdata.Logs
}

// grpcTransport sends the pool over a few gRPC connections, with the raw
// codec, compressors and transport tuning of ackflow's own OTLP nodes
// (package otlp/otlpgrpc): requests go out as the bytes they are.
type grpcTransport struct {
	conns   []*grpc.ClientConn
	clients []*otlpgrpc.Client
	signal  pdata.Signal
	pool    *Pool
}

func newGRPCTransport(cfg Config, t target, pool *Pool) (*grpcTransport, error) {
	d := &dialer{allowAny: cfg.AllowNonLoopback}
	// Windows and buffers larger than grpc-go's defaults, so the generator
	// spends little CPU per byte and never throttles the system under test
	// through flow control.
	dopts := append(otlpgrpc.DialOptions(otlpgrpc.Transport{}),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", addr)
		}),
	)
	tr := &grpcTransport{signal: pdataSignal(cfg.Signal), pool: pool}
	copts := []grpc.CallOption{grpc.MaxCallRecvMsgSize(maxResponseSize)}
	if cfg.Compression != NoCompression {
		// gzip and zstd are registered by otlp/otlpgrpc, the only place in
		// ackflow that registers compressors with grpc-go.
		copts = append(copts, grpc.UseCompressor(string(cfg.Compression)))
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
		tr.clients = append(tr.clients, otlpgrpc.NewClient(cc, copts...))
	}
	return tr, nil
}

// send sends pool request i from worker w and classifies the answer.
func (tr *grpcTransport) send(ctx context.Context, w, i int) result {
	req := otlpgrpc.ExportRequest{Chunks: [][]byte{tr.pool.Raw[i]}}
	var resp otlpgrpc.Response
	err := tr.clients[w%len(tr.clients)].Export(ctx, tr.signal, &req, &resp)
	if err == nil {
		return result{rejected: rejectedItems(resp.Body)}
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

// rejectedItems reads partial_success.rejected_<items> from an export
// response; 0 when the response is empty or unreadable.
func rejectedItems(b []byte) int64 {
	ps, err := otlpgrpc.ParsePartialSuccess(b)
	if err != nil {
		return 0
	}
	return ps.Rejected
}
