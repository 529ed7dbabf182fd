package otlp

import (
	"context"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ackflow/ackflow/nodes/internal/otlpgrpc"
	"github.com/ackflow/ackflow/pdata"
)

// retryAfter is the retry hint of every retryable refusal: gRPC RetryInfo
// and HTTP Retry-After. OTLP clients back off exponentially from it.
const retryAfter = time.Second

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
	opts := otlpgrpc.ServerOptions(st.maxSize)
	if tlsCfg != nil {
		opts = append(opts, grpc.Creds(tlsCfg))
	}
	if st.maxConcurrent > 0 {
		// One connection cannot open more streams than the receiver admits.
		opts = append(opts, grpc.MaxConcurrentStreams(uint32(st.maxConcurrent)))
	}
	if g.checkEncoding {
		opts = append(opts, grpc.StatsHandler(encodingTagger{}))
	}
	gs := grpc.NewServer(opts...)
	otlpgrpc.RegisterServer(gs, g)
	return gs, g
}

// Export implements otlpgrpc.Server: refuse early what can be refused
// before reading, read, scan, admit.
func (g *grpcServer) Export(ctx context.Context, s pdata.Signal, read func(*otlpgrpc.Request) error) (*otlpgrpc.Response, error) {
	c := g.core
	c.serving.enter()
	defer c.serving.leave()
	if g.checkEncoding {
		if enc := requestEncoding(ctx); !g.st.accepts(enc) {
			c.metrics.answered(protoGRPC, s, vUnsupported, -1)
			return nil, status.Errorf(codes.Unimplemented, "request compression %q is not accepted; accepted: %s (or none)",
				enc, strings.Join(g.st.compression, ", "))
		}
	}
	if !g.lim.tryAcquire() {
		return nil, g.refuse(s, result{vBusy, "too many concurrent requests; retry later"})
	}
	defer g.lim.release()
	if c.overBudget() {
		return nil, g.refuse(s, c.budgetRefusal())
	}

	var req otlpgrpc.Request
	if err := read(&req); err != nil {
		return nil, g.readFailure(s, err)
	}
	p, err := pdata.FromOTLP(s, req.Body)
	if err != nil {
		return nil, g.refuse(s, result{vMalformed, err.Error()})
	}
	// grpc-go writes the answer after Export returns, so at the shutdown
	// deadline Stop may cut it; the client then sees UNAVAILABLE anyway.
	c.admitting.enter()
	defer c.admitting.leave()
	res := c.admit(ctx, protoGRPC, &g.st, s, p, len(req.Body))
	if res.v == vOK {
		return &otlpgrpc.Response{}, nil
	}
	return nil, grpcError(res)
}

// refuse counts a request refused before admission and returns its error.
func (g *grpcServer) refuse(s pdata.Signal, r result) error {
	g.core.metrics.answered(protoGRPC, s, r.v, -1)
	return grpcError(r)
}

// readFailure maps an error of grpc-go reading the request: over
// max_request_size, undecodable compression, or the client gone.
func (g *grpcServer) readFailure(s pdata.Signal, err error) error {
	st := status.Convert(err)
	switch st.Code() {
	case codes.ResourceExhausted:
		return g.refuse(s, result{vTooLarge, st.Message()})
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
