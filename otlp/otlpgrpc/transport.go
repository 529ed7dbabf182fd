package otlpgrpc

import (
	"errors"
	"fmt"

	"google.golang.org/grpc"

	"github.com/ackflow/ackflow/config"
)

// Transport tuning shared by the OTLP gRPC server and client: the
// defaults of Transport. grpc-go's own (64 KiB windows grown by BDP
// probing, 32 KiB read and write buffers) cost up to a quarter of the
// throughput on large OTLP requests here (docs/ENGINE.md, "Bytes, not
// objects"). Static windows stop the BDP pings too. Memory is only used by
// data actually in flight; the windows are allowances.
const (
	// StreamWindow is the initial HTTP/2 flow-control window per stream.
	StreamWindow = 4 << 20
	// ConnWindow is the initial HTTP/2 flow-control window per connection.
	ConnWindow = 16 << 20
	// ReadBufferSize is the size of each connection's read buffer.
	ReadBufferSize = 128 << 10
	// WriteBufferSize is how much a connection batches before writing.
	WriteBufferSize = 128 << 10
)

// Bounds of the Transport settings. HTTP/2 windows below 64 KiB are
// ignored by grpc-go, and cannot exceed 2^31-1 bytes.
const (
	minWindow     = 64 << 10
	maxWindow     = 1<<31 - 1
	maxBufferSize = 64 << 20
)

// Transport is the `transport` block of an OTLP gRPC server or client: the
// connection's read and write buffers and the HTTP/2 flow-control windows
// it announces. A zero field takes the default.
type Transport struct {
	// ReadBufferSize is each connection's read buffer: how much one read
	// system call may take in.
	ReadBufferSize config.Size `yaml:"read_buffer_size"`
	// WriteBufferSize is how much a connection gathers before one write
	// system call.
	WriteBufferSize config.Size `yaml:"write_buffer_size"`
	// StreamWindow is how much a peer may send on one stream before this
	// side reads it.
	StreamWindow config.Size `yaml:"initial_stream_window"`
	// ConnWindow is how much a peer may send on one connection, all its
	// streams together, before this side reads it.
	ConnWindow config.Size `yaml:"initial_connection_window"`
}

// DefaultTransport is the tuning a zero Transport takes.
var DefaultTransport = Transport{
	ReadBufferSize:  ReadBufferSize,
	WriteBufferSize: WriteBufferSize,
	StreamWindow:    StreamWindow,
	ConnWindow:      ConnWindow,
}

// ExporterWriteBufferSize is the write buffer of an exporter's
// connection: requests of a few hundred KiB then go out in one write
// system call instead of several (6–8 % more items per CPU-second with
// three exporters, docs/BENCHMARKS.md). An exporter has one connection,
// so the memory is small; a server keeps WriteBufferSize per client.
const ExporterWriteBufferSize = 1 << 20

// ExporterTransport is the tuning of an exporter's connection: the zero
// fields of its `transport` block take these.
var ExporterTransport = Transport{WriteBufferSize: ExporterWriteBufferSize}.Or(DefaultTransport)

// Or returns t with its zero fields taken from d.
func (t Transport) Or(d Transport) Transport {
	pick := func(v, dv config.Size) config.Size {
		if v == 0 {
			return dv
		}
		return v
	}
	return Transport{
		ReadBufferSize:  pick(t.ReadBufferSize, d.ReadBufferSize),
		WriteBufferSize: pick(t.WriteBufferSize, d.WriteBufferSize),
		StreamWindow:    pick(t.StreamWindow, d.StreamWindow),
		ConnWindow:      pick(t.ConnWindow, d.ConnWindow),
	}
}

// Validate reports every setting out of its bounds under its path below p.
// A nil Transport is valid.
func (t *Transport) Validate(p config.Path) error {
	if t == nil {
		return nil
	}
	var errs []error
	for _, f := range []struct {
		key      string
		v        config.Size
		min, max config.Size
	}{
		{"read_buffer_size", t.ReadBufferSize, 1, maxBufferSize},
		{"write_buffer_size", t.WriteBufferSize, 1, maxBufferSize},
		{"initial_stream_window", t.StreamWindow, minWindow, maxWindow},
		{"initial_connection_window", t.ConnWindow, minWindow, maxWindow},
	} {
		if f.v != 0 && (f.v < f.min || f.v > f.max) {
			errs = append(errs, config.Errorf(p.Key(f.key), fmt.Sprintf("use a size from %s to %s, or leave it out for the default", f.min, f.max),
				"%s %s is out of range", f.key, f.v))
		}
	}
	return errors.Join(errs...)
}

// ServerOptions are the options every OTLP gRPC server of ackflow uses:
// the raw codec, the message size limit and the transport tuning t (its
// zero fields the defaults).
func ServerOptions(maxRecvMsgSize int, t Transport) []grpc.ServerOption {
	t = t.Or(DefaultTransport)
	return []grpc.ServerOption{
		grpc.ForceServerCodecV2(Codec{}),
		grpc.MaxRecvMsgSize(maxRecvMsgSize),
		grpc.InitialWindowSize(int32(t.StreamWindow)),
		grpc.InitialConnWindowSize(int32(t.ConnWindow)),
		grpc.ReadBufferSize(int(t.ReadBufferSize)),
		grpc.WriteBufferSize(int(t.WriteBufferSize)),
	}
}

// DialOptions are the transport tuning options of an OTLP gRPC client
// (zero fields of t the defaults).
func DialOptions(t Transport) []grpc.DialOption {
	t = t.Or(DefaultTransport)
	return []grpc.DialOption{
		grpc.WithInitialWindowSize(int32(t.StreamWindow)),
		grpc.WithInitialConnWindowSize(int32(t.ConnWindow)),
		grpc.WithReadBufferSize(int(t.ReadBufferSize)),
		grpc.WithWriteBufferSize(int(t.WriteBufferSize)),
	}
}
