package otlpgrpc

import (
	"context"

	"google.golang.org/grpc"

	"github.com/ackflow/ackflow/pdata"
)

// serviceNames are the fully qualified OTLP collector services, by signal.
var serviceNames = [...]string{
	pdata.Logs:    "opentelemetry.proto.collector.logs.v1.LogsService",
	pdata.Metrics: "opentelemetry.proto.collector.metrics.v1.MetricsService",
	pdata.Traces:  "opentelemetry.proto.collector.trace.v1.TraceService",
}

// FullMethod returns the gRPC method of signal s's Export call, such as
// "/opentelemetry.proto.collector.logs.v1.LogsService/Export".
func FullMethod(s pdata.Signal) string { return "/" + serviceNames[s] + "/Export" }

// Server serves the OTLP Export calls of all three signals.
type Server interface {
	// Export answers one call of signal s. read reads the request body;
	// the server calls it at most once and may refuse the call before
	// reading (for example when it is over its concurrency limit). read's
	// errors are gRPC status errors: INVALID_ARGUMENT when the body could
	// not be decompressed, RESOURCE_EXHAUSTED over the size limit, the
	// client's cancellation, or what grpc-go reports. A returned error
	// should be a gRPC status error.
	Export(ctx context.Context, s pdata.Signal, read func(*Request) error) (*Response, error)
}

// RegisterServer registers srv for the three OTLP services on gs. gs must
// use the raw codec (see ServerOptions).
func RegisterServer(gs *grpc.Server, srv Server) {
	for _, s := range pdata.Signals() {
		gs.RegisterService(serviceDesc(s), srv)
	}
}

func serviceDesc(s pdata.Signal) *grpc.ServiceDesc {
	return &grpc.ServiceDesc{
		ServiceName: serviceNames[s],
		HandlerType: (*Server)(nil),
		Methods:     []grpc.MethodDesc{{MethodName: "Export", Handler: exportHandler(s)}},
		Metadata:    "opentelemetry/proto/collector/" + s.String() + "/v1/" + s.String() + "_service.proto",
	}
}

// exportHandler adapts Server.Export to grpc-go's unary handler. Without an
// interceptor the body is read only when the server asks for it, so a call
// refused up front costs no read.
func exportHandler(s pdata.Signal) func(any, context.Context, func(any) error, grpc.UnaryServerInterceptor) (any, error) {
	return func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
		h := srv.(Server)
		if ic == nil {
			return h.Export(ctx, s, func(r *Request) error {
				if err := dec(r); err != nil {
					return err
				}
				return r.err()
			})
		}
		req := new(Request)
		if err := dec(req); err != nil {
			return nil, err
		}
		info := &grpc.UnaryServerInfo{Server: srv, FullMethod: FullMethod(s)}
		return ic(ctx, req, info, func(ctx context.Context, v any) (any, error) {
			return h.Export(ctx, s, func(r *Request) error { *r = *v.(*Request); return r.err() })
		})
	}
}

// err is why r's body could not be decompressed, as a status error:
// INVALID_ARGUMENT, or UNAVAILABLE (see compress.go).
func (r *Request) err() error { return r.failure }

// Client calls the OTLP Export methods with the raw codec.
type Client struct {
	cc   grpc.ClientConnInterface
	opts []grpc.CallOption
}

// NewClient returns a client on cc; opts (compression, ...) apply to every
// call, after the forced raw codec.
func NewClient(cc grpc.ClientConnInterface, opts ...grpc.CallOption) *Client {
	all := append([]grpc.CallOption{grpc.ForceCodecV2(Codec{})}, opts...)
	return &Client{cc: cc, opts: all}
}

// Export sends req as signal s's Export call and fills resp with the
// response body. Errors are gRPC status errors.
func (c *Client) Export(ctx context.Context, s pdata.Signal, req *ExportRequest, resp *Response) error {
	return c.cc.Invoke(ctx, FullMethod(s), req, resp, c.opts...)
}
