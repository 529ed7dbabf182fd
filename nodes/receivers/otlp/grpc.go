package otlp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ackflow/ackflow/otlp/otlpgrpc"
	"github.com/ackflow/ackflow/pdata"
)

// retryAfter is the retry hint of every retryable refusal: gRPC RetryInfo
// and HTTP Retry-After. OTLP clients back off exponentially from it.
const retryAfter = time.Second

// grpcTransport is the receiver's default gRPC tuning (protocols.grpc.
// transport): otlpgrpc's, but a stream window of grpcStreamWindow.
var grpcTransport = otlpgrpc.Transport{StreamWindow: grpcStreamWindow}.Or(otlpgrpc.DefaultTransport)

const (
	// grpcStreamWindow is the receiver's default initial flow-control
	// window per stream, smaller than otlpgrpc.StreamWindow (which clients
	// keep): it is all a stream whose body is not being read can make the
	// receiver buffer, so max_concurrent_streams × grpcStreamWindow bounds
	// a connection's waiting streams. A request that fits (most do)
	// arrives without waiting for a window update; a larger one gets its
	// whole size granted when its read starts (grpc-go's flow control).
	// The connection window stays otlpgrpc.ConnWindow: grpc-go replenishes
	// it as data arrives, so it bounds no memory.
	grpcStreamWindow = 256 << 10
	// grpcHandshakeTimeout bounds a new connection's TLS and HTTP/2
	// handshake (grpc-go's default is 120s).
	grpcHandshakeTimeout = readHeaderTimeout
)

// grpcServer serves the OTLP gRPC services. Request bodies stay bytes: the
// raw codec hands them over, the wire scan checks them, and they go into
// the pipeline as they are.
type grpcServer struct {
	core *core
	st   settings
	lim  limiter
	// checkEncoding is set when request_compression leaves out a
	// compressor that grpc-go has registered for the whole process.
	checkEncoding bool
}

var _ otlpgrpc.Server = (*grpcServer)(nil)

// newGRPCServer builds the gRPC server of settings st; tls may be nil.
func newGRPCServer(c *core, st settings, tlsCfg credentials.TransportCredentials) (*grpc.Server, *grpcServer) {
	g := &grpcServer{core: c, st: st, lim: limiter{max: int64(st.maxConcurrent)}}
	for _, name := range knownCompressions {
		if !st.accepts(name) {
			g.checkEncoding = true
		}
	}
	opts := append(otlpgrpc.ServerOptions(st.maxSize, st.transport), // MaxRecvMsgSize is max_request_size
		grpc.MaxConcurrentStreams(uint32(st.connStreams())),
		grpc.ConnectionTimeout(grpcHandshakeTimeout),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: idleTimeout}),
	)
	if tlsCfg != nil {
		opts = append(opts, grpc.Creds(tlsCfg))
	}
	if g.checkEncoding {
		opts = append(opts, grpc.StatsHandler(encodingTagger{}))
	}
	gs := grpc.NewServer(opts...)
	otlpgrpc.RegisterServer(gs, g)
	return gs, g
}

// Export implements otlpgrpc.Server: refuse early what can be refused
// before reading, read (one body at a time per connection, within the
// timeout), take a slot, scan, admit. The slot (max_concurrent_requests)
// is taken only once the body is in, so streams that send headers and
// no data hold none.
func (g *grpcServer) Export(ctx context.Context, s pdata.Signal, read func(*otlpgrpc.Request) error) (*otlpgrpc.Response, error) {
	c := g.core
	c.serving.enter()
	defer c.serving.leave()
	var conn *trackedConn
	if pr, ok := peer.FromContext(ctx); ok {
		conn = connOf(pr.Addr)
	}
	conn.enter()
	defer conn.leave()
	if g.checkEncoding {
		if enc := requestEncoding(ctx); !g.st.accepts(enc) {
			c.metrics.answered(protoGRPC, s, vUnsupported, -1)
			return nil, status.Errorf(codes.Unimplemented, "request compression %q is not accepted; accepted: %s (or none)",
				enc, strings.Join(g.st.compression, ", "))
		}
	}
	if g.lim.full() {
		return nil, g.refuse(s, busyRefusal)
	}
	if r, refused := c.refuseEarly(); refused {
		return nil, g.refuse(s, r)
	}

	c.metrics.reading[protoGRPC][s].Add(1)
	req, err := g.readTurn(ctx, conn, read)
	c.metrics.reading[protoGRPC][s].Add(-1)
	if errors.Is(err, errNoTurn) {
		r := sendFailure(err, false, 0) // shutdown or canceled
		c.metrics.answered(protoGRPC, s, r.v, -1)
		return nil, grpcError(r)
	}
	if errors.Is(err, errBodyTimeout) {
		return nil, g.refuse(s, result{vBodyTimeout, fmt.Sprintf("request body not received within %s; retry", g.st.timeout)})
	}
	if errors.Is(err, errBudget) {
		return nil, g.refuse(s, c.budgetRefusal())
	}
	if err != nil {
		return nil, g.readFailure(s, err)
	}
	lease := c.leaseOf(req.Lease)
	if !g.lim.tryAcquire() {
		lease.Release()
		return nil, g.refuse(s, busyRefusal)
	}
	defer g.lim.release()
	p, err := fromProtobuf(s, req.Body)
	if err != nil {
		lease.Release()
		return nil, g.refuse(s, decodeFailure(err))
	}
	p.Borrow(lease) // admit releases it, now or at the outcome
	// grpc-go writes the answer after Export returns, so at the shutdown
	// deadline Stop may cut it; the client then sees UNAVAILABLE anyway.
	c.admitting.enter()
	defer c.admitting.leave()
	res := c.admit(ctx, protoGRPC, &g.st, s, p, req.Len(), nil)
	if res.v == vOK {
		return &otlpgrpc.Response{}, nil
	}
	return nil, grpcError(res)
}

// errBodyTimeout is a body that did not arrive within the timeout.
var errBodyTimeout = errors.New("request body not received in time")

// busyRefusal answers a request over max_concurrent_requests.
var busyRefusal = result{vBusy, "too many concurrent requests; retry later"}

// errNoTurn wraps why a request stopped waiting for its connection's turn.
var errNoTurn = errors.New("no turn to read")

// readTurn reads the request body in the connection's turn (see
// trackedConn.takeTurn), both within the timeout from the request's start:
// past it the body is refused with errBodyTimeout, so that no stream,
// stalled or queued behind a stalled one, lives longer. (Wall-clock time:
// a transport deadline, like HTTP's read deadlines.)
func (g *grpcServer) readTurn(ctx context.Context, conn *trackedConn, read func(*otlpgrpc.Request) error) (otlpgrpc.Request, error) {
	timer := time.NewTimer(g.st.timeout)
	defer timer.Stop()
	over, err := conn.takeTurn(ctx, g.core.fx.Aborted(), timer.C, &reservation{c: g.core})
	if errors.Is(err, errBodyTimeout) {
		return otlpgrpc.Request{}, err
	} else if err != nil {
		return otlpgrpc.Request{}, fmt.Errorf("%w: %w", errNoTurn, err)
	}
	defer conn.endTurn()
	return readRequest(read, timer.C, over)
}

// readRequest reads the request body, giving up with errBodyTimeout when
// expired fires, or with errBudget when over is closed (the body would
// exceed max_in_flight_bytes). grpc-go has no read deadline for a stream,
// so the read runs on its own goroutine; when the handler gives up and
// returns, grpc-go ends the stream, which ends that read too.
func readRequest(read func(*otlpgrpc.Request) error, expired <-chan time.Time, over <-chan struct{}) (otlpgrpc.Request, error) {
	type readResult struct {
		req otlpgrpc.Request
		err error
	}
	done := make(chan readResult, 1)
	go func() {
		var r readResult
		r.err = read(&r.req)
		done <- r
	}()
	select {
	case r := <-done:
		return r.req, r.err
	case <-expired:
		return otlpgrpc.Request{}, errBodyTimeout
	case <-over:
		return otlpgrpc.Request{}, errBudget
	}
}

// refuse counts a request refused before admission and returns its error.
func (g *grpcServer) refuse(s pdata.Signal, r result) error {
	g.core.metrics.answered(protoGRPC, s, r.v, -1)
	return grpcError(r)
}

// readFailure maps an error of grpc-go reading the request: over
// max_request_size, undecodable compression, no room to decompress, or the
// client gone. A body that cannot be decompressed (corrupt, or a zstd
// window over otlpgrpc.ZstdMaxWindow) comes as INVALID_ARGUMENT from
// otlpgrpc's decompressors, one that would not fit in their gate as
// UNAVAILABLE; grpc-go alone would have answered INTERNAL.
func (g *grpcServer) readFailure(s pdata.Signal, err error) error {
	st := status.Convert(err)
	switch st.Code() {
	case codes.InvalidArgument:
		return g.refuse(s, result{vMalformed, st.Message()})
	case codes.ResourceExhausted:
		return g.refuse(s, result{vTooLarge, st.Message()})
	case codes.Unavailable:
		// The process's decompression gate was full (otlpgrpc).
		return g.refuse(s, result{vBudget, st.Message()})
	case codes.Unimplemented:
		return g.refuse(s, result{vUnsupported, st.Message()})
	case codes.Canceled, codes.DeadlineExceeded:
		g.core.metrics.answered(protoGRPC, s, vCanceled, -1)
		return err
	}
	return g.refuse(s, result{vMalformed, "read request: " + st.Message()})
}

// grpcCodes maps verdicts to gRPC status codes. Everything retryable is
// UNAVAILABLE: OTLP clients retry it without conditions (RESOURCE_EXHAUSTED
// only with RetryInfo), and it is what the reference engine answers.
var grpcCodes = [numVerdicts]codes.Code{
	vOK:            codes.OK,
	vMalformed:     codes.InvalidArgument,
	vTooLarge:      codes.ResourceExhausted,
	vUnsupported:   codes.Unimplemented,
	vBusy:          codes.Unavailable,
	vBudget:        codes.Unavailable,
	vMemory:        codes.Unavailable,
	vBodyTimeout:   codes.Unavailable,
	vBackpressure:  codes.Unavailable,
	vNackTransient: codes.Unavailable,
	vNackPermanent: codes.InvalidArgument,
	vTimeout:       codes.DeadlineExceeded,
	vShutdown:      codes.Unavailable,
	vCanceled:      codes.Canceled,
	vUnroutable:    codes.Unavailable,
}

// grpcError returns r as a status error; UNAVAILABLE carries RetryInfo.
func grpcError(r result) error {
	code := grpcCodes[r.v]
	st := status.New(code, r.msg)
	if code == codes.Unavailable {
		if withRetry, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(retryAfter)}); err == nil {
			st = withRetry
		}
	}
	return st.Err()
}

// encodingKey holds, in an RPC's context, where encodingTagger writes the
// request's grpc-encoding.
type encodingKey struct{}

// encodingTagger is a stats.Handler that records each RPC's grpc-encoding.
// grpc-go keeps that header out of the metadata and decompresses with any
// compressor registered in the process, so this is the only way for a
// server to accept fewer encodings than the process knows. It is installed
// only when request_compression asks for that.
type encodingTagger struct{}

func (encodingTagger) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	return context.WithValue(ctx, encodingKey{}, new(string))
}

func (encodingTagger) HandleRPC(ctx context.Context, s stats.RPCStats) {
	// InHeader is handled before the method handler runs, on the context
	// the handler gets.
	if h, ok := s.(*stats.InHeader); ok {
		if p, ok := ctx.Value(encodingKey{}).(*string); ok {
			*p = h.Compression
		}
	}
}

func (encodingTagger) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }

func (encodingTagger) HandleConn(context.Context, stats.ConnStats) {}

func requestEncoding(ctx context.Context) string {
	if p, ok := ctx.Value(encodingKey{}).(*string); ok {
		return *p
	}
	return ""
}
