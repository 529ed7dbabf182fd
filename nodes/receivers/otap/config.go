package otap

import (
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/otlp/otlpgrpc"
	"github.com/ackflow/ackflow/pdata/otap"
)

// Defaults. Where the reference engine has the key, its default.
const (
	// DefaultResponseStreamChannelSize is how many BatchStatus replies a
	// stream may have queued for sending.
	DefaultResponseStreamChannelSize = 128
	// DefaultMaxConcurrentRequests bounds the batches admitted into the
	// pipeline and not yet settled, all streams together.
	DefaultMaxConcurrentRequests = 1000
	// DefaultMaxConcurrentRequestsPerStream bounds the batches one stream
	// has awaiting their answer: past it the receiver stops reading the
	// stream (backpressure through HTTP/2 flow control).
	DefaultMaxConcurrentRequestsPerStream = 16
	// DefaultWaitForResult: a batch's status means "delivered".
	DefaultWaitForResult = true
	// DefaultTimeout bounds a batch from its arrival to its answer.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxInFlightBytes bounds the memory of the batches admitted
	// and not yet settled (their decoded Arrow records), as receiver:otlp's.
	DefaultMaxInFlightBytes = 64 << 20
	// DefaultMaxRequestSize is the largest BatchArrowRecords message, after
	// gRPC decompression.
	DefaultMaxRequestSize = 64 << 20
	// DefaultMaxStreams bounds the OTAP streams open at once. A stream is
	// long-lived (one per signal per client connection, usually), so this
	// is about the number of clients.
	DefaultMaxStreams = 1024
	// DefaultMaxStreamsPerConnection bounds the streams one connection may
	// open, so that one client cannot take every stream.
	DefaultMaxStreamsPerConnection = 100
	// DefaultMaxBatchBytes bounds what decoding one batch may allocate:
	// its IPC bodies, zstd-decompressed buffers and dictionary deltas.
	DefaultMaxBatchBytes = 64 << 20
	// DefaultMaxDictionaryBytes bounds one stream's Arrow dictionaries.
	DefaultMaxDictionaryBytes = 64 << 20
	// maxRequestSizeLimit is what gRPC can frame (int32 lengths).
	maxRequestSizeLimit = 2<<30 - 1
)

// compressionMethods are the values of compression_method.
var compressionMethods = []string{"none", otlpgrpc.Gzip, otlpgrpc.Zstd}

// Config is the `config` block of receiver:otap.
type Config struct {
	// ListeningAddr is the host:port of the gRPC server.
	ListeningAddr string `yaml:"listening_addr"`
	// CompressionMethod compresses the replies (BatchStatus). Requests may
	// come uncompressed, gzip or zstd whatever it says: refusing a client's
	// choice would only break interoperability.
	CompressionMethod string `yaml:"compression_method"`
	// ResponseStreamChannelSize bounds the replies queued on one stream; it
	// also caps max_concurrent_requests_per_stream, so that an outcome
	// never waits for room.
	ResponseStreamChannelSize int `yaml:"response_stream_channel_size"`
	// MaxConcurrentRequests bounds the batches in the pipeline, all streams
	// together; past it a batch is answered UNAVAILABLE.
	MaxConcurrentRequests int `yaml:"max_concurrent_requests"`
	// MaxConcurrentRequestsPerStream bounds the batches of one stream
	// awaiting their answer; past it the stream is not read.
	MaxConcurrentRequestsPerStream int `yaml:"max_concurrent_requests_per_stream"`
	// WaitForResult answers each batch after the pipeline's outcome; false
	// answers OK once the batch is admitted.
	WaitForResult bool `yaml:"wait_for_result"`
	// Timeout bounds a batch from its arrival to its answer.
	Timeout config.Duration `yaml:"timeout"`
	// MaxInFlightBytes bounds the decoded size of the batches admitted and
	// not yet settled; 0 means no bound.
	MaxInFlightBytes config.Size `yaml:"max_in_flight_bytes"`
	// MaxRequestSize bounds one BatchArrowRecords message.
	MaxRequestSize config.Size `yaml:"max_request_size"`
	// MaxStreams bounds the streams open at once; MaxStreamsPerConnection
	// those of one connection.
	MaxStreams              int `yaml:"max_streams"`
	MaxStreamsPerConnection int `yaml:"max_streams_per_connection"`
	// Arrow bounds the decoding of a stream (pdata/otap.DecoderOptions).
	Arrow ArrowLimits `yaml:"arrow"`
	// TLS serves over TLS (mTLS with client_ca_file).
	TLS *otlpgrpc.ServerTLS `yaml:"tls"`
	// Transport tunes the gRPC connections: buffers and HTTP/2 windows.
	Transport *otlpgrpc.Transport `yaml:"transport"`
}

// ArrowLimits are the `arrow` block: what decoding may hold.
type ArrowLimits struct {
	// MaxBatchBytes bounds what decoding one batch may allocate.
	MaxBatchBytes config.Size `yaml:"max_batch_bytes"`
	// MaxDictionaryBytes bounds a stream's Arrow dictionaries.
	MaxDictionaryBytes config.Size `yaml:"max_dictionary_bytes"`
	// MaxExpandedBytes bounds what a batch becomes once its dictionary
	// references are materialised (its OTLP size, about), against
	// batches of many rows pointing at one huge value.
	MaxExpandedBytes config.Size `yaml:"max_expanded_bytes"`
}

// DefaultConfig returns the defaults; listening_addr has none.
func DefaultConfig() Config {
	return Config{
		ResponseStreamChannelSize:      DefaultResponseStreamChannelSize,
		MaxConcurrentRequests:          DefaultMaxConcurrentRequests,
		MaxConcurrentRequestsPerStream: DefaultMaxConcurrentRequestsPerStream,
		WaitForResult:                  DefaultWaitForResult,
		Timeout:                        config.Duration(DefaultTimeout),
		MaxInFlightBytes:               DefaultMaxInFlightBytes,
		MaxRequestSize:                 DefaultMaxRequestSize,
		MaxStreams:                     DefaultMaxStreams,
		MaxStreamsPerConnection:        DefaultMaxStreamsPerConnection,
		Arrow: ArrowLimits{
			MaxBatchBytes:      DefaultMaxBatchBytes,
			MaxDictionaryBytes: DefaultMaxDictionaryBytes,
			MaxExpandedBytes:   otap.DefaultMaxExpandedBytes,
		},
	}
}

// Decode reads a node's config block over the defaults, without checking
// the values.
func Decode(n *config.Node) (Config, error) {
	return config.DecodeNodeConfig(n, DefaultConfig(), nil)
}

// Load decodes and validates a node's config block.
func Load(n *config.Node) (Config, error) {
	return config.DecodeNodeConfig(n, DefaultConfig(), (*Config).Validate)
}

// Validate reports every problem under its YAML path below p.
func (c *Config) Validate(p config.Path) error {
	errs := []error{validateAddr(p.Key("listening_addr"), c.ListeningAddr)}
	if c.CompressionMethod != "" && !slices.Contains(compressionMethods, c.CompressionMethod) {
		errs = append(errs, config.Errorf(p.Key("compression_method"), "use one of "+strings.Join(compressionMethods, ", "),
			"unknown compression %q", c.CompressionMethod))
	}
	positive := []struct {
		key string
		v   int
	}{
		{"response_stream_channel_size", c.ResponseStreamChannelSize},
		{"max_concurrent_requests", c.MaxConcurrentRequests},
		{"max_concurrent_requests_per_stream", c.MaxConcurrentRequestsPerStream},
		{"max_streams", c.MaxStreams},
		{"max_streams_per_connection", c.MaxStreamsPerConnection},
	}
	for _, f := range positive {
		if f.v < 1 {
			errs = append(errs, config.Errorf(p.Key(f.key), "use a positive count", "%s must be at least 1, got %d", f.key, f.v))
		}
	}
	if c.Timeout <= 0 {
		errs = append(errs, config.Errorf(p.Key("timeout"), "use a positive duration such as 30s", "timeout must be positive, got %s", c.Timeout))
	}
	if c.MaxInFlightBytes < 0 {
		errs = append(errs, config.Errorf(p.Key("max_in_flight_bytes"), "use 0 for no limit or a size such as 64MiB",
			"max_in_flight_bytes must not be negative, got %s", c.MaxInFlightBytes))
	}
	if c.MaxRequestSize < 1 || c.MaxRequestSize > maxRequestSizeLimit {
		errs = append(errs, config.Errorf(p.Key("max_request_size"), "use a size between 1B and 2GiB-1, such as 64MiB",
			"max_request_size %s is out of range", c.MaxRequestSize))
	}
	ap := p.Key("arrow")
	for _, f := range []struct {
		key string
		v   config.Size
	}{{"max_batch_bytes", c.Arrow.MaxBatchBytes}, {"max_dictionary_bytes", c.Arrow.MaxDictionaryBytes}, {"max_expanded_bytes", c.Arrow.MaxExpandedBytes}} {
		if f.v < 1<<10 {
			errs = append(errs, config.Errorf(ap.Key(f.key), "use a size of at least 1KiB, such as 64MiB",
				"%s %s is too small", f.key, f.v))
		}
	}
	if c.TLS != nil {
		errs = append(errs, c.TLS.Validate(p.Key("tls")))
	}
	errs = append(errs, c.Transport.Validate(p.Key("transport")))
	return errors.Join(errs...)
}

func validateAddr(p config.Path, addr string) error {
	if addr == "" {
		return config.Errorf(p, "set the address to listen on, such as 127.0.0.1:4317 (or 0.0.0.0:4317 for every interface)",
			"listening_addr is required")
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return config.Errorf(p, "write host:port, such as 127.0.0.1:4317 or [::1]:4317", "invalid address %q: %v", addr, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return config.Errorf(p, "the port is a number from 0 to 65535 (0 picks a free one)", "invalid port %q in %q", port, addr)
	}
	return nil
}

// perStream is the effective per-stream limit: the reply queue must hold
// every answer a stream can owe, so that an outcome never waits.
func (c *Config) perStream() int {
	return min(c.MaxConcurrentRequestsPerStream, c.ResponseStreamChannelSize, c.MaxConcurrentRequests)
}
