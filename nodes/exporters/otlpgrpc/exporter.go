package otlpgrpc

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/nodes/internal/exportdriver"
	iotlp "github.com/ackflow/ackflow/otlp/otlpgrpc"
	"github.com/ackflow/ackflow/pdata"
)

// Type is the node type.
const Type = "exporter:otlp_grpc"

// name prefixes nack reasons and logs.
const name = "otlp_grpc"

// NewFactory returns the factory of exporter:otlp_grpc.
func NewFactory() engine.Factory {
	f := engine.ProcessorFactory(Type, "sends OTLP over gRPC, bytes as received; acks on success, nacks (permanent or transient) on failure", Load,
		func(nc engine.NodeContext, cfg Config) (engine.Processor, error) { return New(nc, cfg) })
	f.Guarantee = declareGuarantee
	// Sends hold the payload's leases until grpc-go freed every buffer
	// (otlpgrpc.ExportRequest.Leases); the outcome waits for the call.
	f.ReleasesPayloads = true
	return f
}

// Exporter is the exporter: the shared in-flight driver over this
// package's transport.
type Exporter = exportdriver.Exporter

// New builds the exporter from a validated config. The connection is
// made lazily, at the first export.
func New(nc engine.NodeContext, cfg Config) (*Exporter, error) {
	t, err := newTransport(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", Type, nc.Node.Name, err)
	}
	return exportdriver.NewExporter(nc, name, "ackflow_exporter_otlp_grpc", time.Duration(cfg.Timeout), cfg.MaxInFlight, t), nil
}

// transport sends exports over one gRPC client connection, which
// multiplexes every concurrent export on HTTP/2 streams.
type transport struct {
	conn   *grpc.ClientConn
	client *iotlp.Client
	md     metadata.MD // the configured headers; nil if none
}

func newTransport(cfg Config) (*transport, error) {
	target, secure, err := parseEndpoint(cfg.GRPCEndpoint)
	if err != nil {
		return nil, fmt.Errorf("grpc_endpoint: %w", err)
	}
	creds := insecure.NewCredentials()
	if secure {
		tlsCfg, err := cfg.TLS.Load()
		if err != nil {
			return nil, err
		}
		creds = credentials.NewTLS(tlsCfg)
	}
	var tuning iotlp.Transport
	if cfg.Transport != nil {
		tuning = *cfg.Transport
	}
	opts := append(iotlp.DialOptions(tuning.Or(iotlp.ExporterTransport)),
		grpc.WithTransportCredentials(creds),
		grpc.WithUserAgent("ackflow"),
	)
	conn, err := grpc.NewClient(target, opts...)
	if err != nil {
		return nil, fmt.Errorf("grpc client for %s: %w", target, err)
	}
	var callOpts []grpc.CallOption
	if cfg.Compression != "none" {
		callOpts = append(callOpts, grpc.UseCompressor(cfg.Compression))
	}
	t := &transport{conn: conn, client: iotlp.NewClient(conn, callOpts...)}
	if len(cfg.Headers) > 0 {
		t.md = metadata.New(cfg.Headers)
	}
	return t, nil
}

// Export implements exportdriver.Transport: one Export call with the chunks as
// they are, the response's partial success read without generated code.
func (t *transport) Export(ctx context.Context, p *pdata.Payload) exportdriver.Result {
	s := p.Signal()
	chunks, err := p.Chunks()
	if err != nil {
		return exportdriver.EncodeFailure("OTLP", s, err)
	}
	if t.md != nil {
		ctx = metadata.NewOutgoingContext(ctx, t.md)
	}
	var resp iotlp.Response
	err = t.client.Export(ctx, s, &iotlp.ExportRequest{Chunks: chunks, Leases: p.Leases()}, &resp)
	if err == nil {
		ps, perr := iotlp.ParsePartialSuccess(resp.Body)
		if perr != nil {
			// The destination accepted the request; only its details are
			// unreadable. Say so in the partial-success warning.
			ps = iotlp.PartialSuccess{Message: "unreadable response: " + perr.Error()}
		}
		return exportdriver.Result{Status: "ok", Partial: ps}
	}
	st := status.Convert(err)
	return exportdriver.Result{
		Status:    codeName(st.Code()),
		Err:       statusError{st},
		Permanent: !retryable(st.Code()) || tooLarge(st),
	}
}

// tooLarge reports a RESOURCE_EXHAUSTED that refuses the request for its
// size rather than for load: grpc-go's "message larger than max" and
// ackflow's own max_request_size answers carry no RetryInfo. Retrying the
// same bytes could only loop, so it is permanent.
func tooLarge(st *status.Status) bool {
	if st.Code() != codes.ResourceExhausted {
		return false
	}
	for _, d := range st.Details() {
		if _, ok := d.(*errdetails.RetryInfo); ok {
			return false
		}
	}
	msg := strings.ToLower(st.Message())
	return strings.Contains(msg, "larger than max") || strings.Contains(msg, "max_request_size") || strings.Contains(msg, "too large")
}

// Close implements exportdriver.Transport.
func (t *transport) Close() error { return t.conn.Close() }

// retryable reports whether OTLP lets a client retry after code. The OTLP
// specification's list: CANCELLED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED
// (the spec asks for RetryInfo; a destination that sheds load without it
// is still better retried than dropped, unless it refused the request for
// its size: see tooLarge), ABORTED, OUT_OF_RANGE,
// UNAVAILABLE and DATA_LOSS. Everything else (INVALID_ARGUMENT,
// PERMISSION_DENIED, UNAUTHENTICATED, NOT_FOUND, UNIMPLEMENTED, INTERNAL,
// UNKNOWN, ...) is permanent: the same request would fail again.
func retryable(c codes.Code) bool {
	switch c {
	case codes.Canceled, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted,
		codes.OutOfRange, codes.Unavailable, codes.DataLoss:
		return true
	}
	return false
}

// codeNames are the status label values, one per gRPC code.
var codeNames = map[codes.Code]string{
	codes.OK: "ok", codes.Canceled: "canceled", codes.Unknown: "unknown",
	codes.InvalidArgument: "invalid_argument", codes.DeadlineExceeded: "deadline_exceeded",
	codes.NotFound: "not_found", codes.AlreadyExists: "already_exists",
	codes.PermissionDenied: "permission_denied", codes.ResourceExhausted: "resource_exhausted",
	codes.FailedPrecondition: "failed_precondition", codes.Aborted: "aborted",
	codes.OutOfRange: "out_of_range", codes.Unimplemented: "unimplemented",
	codes.Internal: "internal", codes.Unavailable: "unavailable", codes.DataLoss: "data_loss",
	codes.Unauthenticated: "unauthenticated",
}

// codeName returns the label of c.
func codeName(c codes.Code) string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return fmt.Sprintf("code_%d", uint32(c))
}

// statusError renders a gRPC status for a nack reason, with the retry
// delay the destination asked for, if any: it is for people and retry
// processors to read, the driver does not wait on it.
type statusError struct{ st *status.Status }

func (e statusError) Error() string {
	msg := fmt.Sprintf("%s: %s", codeName(e.st.Code()), e.st.Message())
	for _, d := range e.st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			msg += fmt.Sprintf(" (retry after %s)", ri.GetRetryDelay().AsDuration())
		}
	}
	return msg
}
