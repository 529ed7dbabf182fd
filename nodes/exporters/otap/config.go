package otap

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ackflow/ackflow/config"
	iotlp "github.com/ackflow/ackflow/otlp/otlpgrpc"
)

// Defaults.
const (
	// DefaultCompression is the gRPC-level compression: zstd, as the
	// Collector's otelarrow exporter and the reference's compression_method
	// default. OTAP is chosen for expensive links, and whole-message zstd
	// is where most of its size reduction on the wire comes from.
	DefaultCompression = iotlp.Zstd
	// DefaultPayloadCompression is the Arrow IPC buffer compression: none,
	// unlike both peers (which compress twice). With gRPC zstd on by
	// default, compressing every Arrow buffer first costs a second zstd
	// pass for a few percent; set arrow.payload_compression: zstd with
	// compression: none to compress once, per buffer, instead.
	DefaultPayloadCompression = "none"
	// DefaultMaxStreamLifetime is the Collector otelarrow exporter's: a
	// stream's dictionaries stop paying off after some hundreds of
	// batches, and shorter streams spread the load when the destination
	// is a pool behind a balancer.
	DefaultMaxStreamLifetime = 30 * time.Second
	// DefaultStreamQueueCapacity is the reference's: batches waiting for
	// one stream.
	DefaultStreamQueueCapacity = 64
	// DefaultStreamsPerSignal is the reference's: one stream per signal.
	DefaultStreamsPerSignal = 1
	// DefaultTimeout bounds one export, from its start to its batch
	// status: exporter:otlp_grpc's.
	DefaultTimeout = 15 * time.Second
	// DefaultMaxInFlight is the most exports at once. Exports share their
	// stream (pipelined, answered in any order), so it is higher than
	// exporter:otlp_grpc's: as many as one stream's queue holds.
	DefaultMaxInFlight = 64
)

// Bounds that catch typos before they allocate.
const (
	maxStreamQueueCapacity = 1 << 16
	maxStreamsPerSignal    = 256
)

// Compressions are the values of compression and compression_method.
var Compressions = []string{"none", iotlp.Gzip, iotlp.Zstd}

// PayloadCompressions are the values of arrow.payload_compression.
var PayloadCompressions = []string{"none", "zstd"}

// Config is the `config` block of exporter:otap.
type Config struct {
	// GRPCEndpoint is http://host:port (plaintext) or https://host:port
	// (TLS). Without a port, 80 and 443 are used.
	GRPCEndpoint string `yaml:"grpc_endpoint"`
	// Compression is the gRPC message compression: none, gzip or zstd.
	// Empty: compression_method, else DefaultCompression.
	Compression string `yaml:"compression"`
	// CompressionMethod is the reference's legacy name for Compression.
	CompressionMethod string `yaml:"compression_method"`
	// Arrow configures the Arrow encoding and the streams' life.
	Arrow ArrowConfig `yaml:"arrow"`
	// StreamQueueCapacity is how many batches may wait for one stream.
	StreamQueueCapacity int `yaml:"stream_queue_capacity"`
	// StreamsPerSignal is how many streams each signal uses at once.
	StreamsPerSignal int `yaml:"streams_per_signal"`
	// Headers are sent once per stream, as its initial gRPC metadata.
	Headers map[string]string `yaml:"headers"`
	// Timeout bounds each export, from its start to its batch status.
	Timeout config.Duration `yaml:"timeout"`
	// MaxInFlight is the most exports at once; beyond it pdata waits.
	MaxInFlight int `yaml:"max_in_flight"`
	// TLS configures an https:// endpoint.
	TLS *iotlp.ClientTLS `yaml:"tls"`
	// Transport tunes the connection: buffers and HTTP/2 windows.
	Transport *iotlp.Transport `yaml:"transport"`

	// ClientReference holds the reference engine's other gRPC client keys:
	// the window sizes go into Transport, the rest is accepted without
	// effect.
	iotlp.ClientReference `yaml:",inline"`
}

// ArrowConfig is the `arrow` block.
type ArrowConfig struct {
	// PayloadCompression compresses the Arrow IPC buffers: zstd or none.
	PayloadCompression string `yaml:"payload_compression"`
	// MaxStreamLifetime is how long a stream takes new batches before it
	// is replaced; 0 keeps streams until they break.
	MaxStreamLifetime config.Duration `yaml:"max_stream_lifetime"`
}

// DefaultConfig returns the defaults; grpc_endpoint has none, and the
// compression keys stay empty so that Validate can tell which one the user
// set (GRPCCompression resolves them).
func DefaultConfig() Config {
	return Config{
		Arrow: ArrowConfig{
			PayloadCompression: DefaultPayloadCompression,
			MaxStreamLifetime:  config.Duration(DefaultMaxStreamLifetime),
		},
		StreamQueueCapacity: DefaultStreamQueueCapacity,
		StreamsPerSignal:    DefaultStreamsPerSignal,
		Timeout:             config.Duration(DefaultTimeout),
		MaxInFlight:         DefaultMaxInFlight,
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

// GRPCCompression is the gRPC compression in force: compression, else
// compression_method, else DefaultCompression.
func (c *Config) GRPCCompression() string {
	switch {
	case c.Compression != "":
		return c.Compression
	case c.CompressionMethod != "":
		return c.CompressionMethod
	}
	return DefaultCompression
}

// Validate reports every problem under its YAML path below p. It also
// moves the reference engine's window sizes into Transport.
func (c *Config) Validate(p config.Path) error {
	var errs []error
	t, err := c.ClientReference.Apply(c.Transport, p)
	c.Transport = t
	errs = append(errs, err)
	ep := p.Key("grpc_endpoint")
	if c.GRPCEndpoint == "" {
		errs = append(errs, config.Errorf(ep,
			"set the destination, such as http://127.0.0.1:4317 (plaintext) or https://gateway.example.com:4317 (TLS)",
			"grpc_endpoint is required"))
	} else if _, _, err := parseEndpoint(c.GRPCEndpoint); err != nil {
		errs = append(errs, config.Errorf(ep, "write http://host:port or https://host:port, without a path",
			"invalid grpc_endpoint %q: %v", c.GRPCEndpoint, err))
	} else if !c.TLS.Plaintext() && strings.HasPrefix(c.GRPCEndpoint, "http://") {
		errs = append(errs, config.Errorf(p.Key("tls"), "use an https:// grpc_endpoint, or remove tls",
			"tls is set but grpc_endpoint %q is plaintext", c.GRPCEndpoint))
	}
	errs = append(errs, oneOf(p.Key("compression"), "compression", c.Compression, Compressions, true))
	errs = append(errs, oneOf(p.Key("compression_method"), "compression_method", c.CompressionMethod, Compressions, true))
	if c.Compression != "" && c.CompressionMethod != "" && c.Compression != c.CompressionMethod &&
		slices.Contains(Compressions, c.Compression) && slices.Contains(Compressions, c.CompressionMethod) {
		errs = append(errs, config.Errorf(p.Key("compression_method"),
			"compression_method is the legacy name of compression: keep only compression",
			"compression_method %q and compression %q disagree", c.CompressionMethod, c.Compression))
	}
	ap := p.Key("arrow")
	errs = append(errs, oneOf(ap.Key("payload_compression"), "payload_compression", c.Arrow.PayloadCompression, PayloadCompressions, false))
	if c.Arrow.MaxStreamLifetime < 0 {
		errs = append(errs, config.Errorf(ap.Key("max_stream_lifetime"),
			"use a positive duration such as 30s, or 0 to keep streams until they break",
			"max_stream_lifetime must not be negative, got %s", c.Arrow.MaxStreamLifetime))
	}
	if c.StreamQueueCapacity < 1 || c.StreamQueueCapacity > maxStreamQueueCapacity {
		errs = append(errs, config.Errorf(p.Key("stream_queue_capacity"),
			fmt.Sprintf("use 1 to %d (default %d)", maxStreamQueueCapacity, DefaultStreamQueueCapacity),
			"stream_queue_capacity must be from 1 to %d, got %d", maxStreamQueueCapacity, c.StreamQueueCapacity))
	}
	if c.StreamsPerSignal < 1 || c.StreamsPerSignal > maxStreamsPerSignal {
		errs = append(errs, config.Errorf(p.Key("streams_per_signal"),
			fmt.Sprintf("use 1 to %d (default %d)", maxStreamsPerSignal, DefaultStreamsPerSignal),
			"streams_per_signal must be from 1 to %d, got %d", maxStreamsPerSignal, c.StreamsPerSignal))
	}
	if c.Timeout <= 0 {
		errs = append(errs, config.Errorf(p.Key("timeout"), "use a positive duration such as 15s",
			"timeout must be positive, got %s", c.Timeout))
	}
	if c.MaxInFlight < 1 {
		errs = append(errs, config.Errorf(p.Key("max_in_flight"), fmt.Sprintf("use 1 or more (default %d)", DefaultMaxInFlight),
			"max_in_flight must be at least 1, got %d", c.MaxInFlight))
	}
	for _, k := range slices.Sorted(maps.Keys(c.Headers)) {
		hp := p.Key("headers").Key(k)
		if reason := badHeader(k); reason != "" {
			errs = append(errs, config.Errorf(hp, "use a lower-case name of letters, digits, '-', '_' or '.', not starting with grpc-",
				"header %q %s", k, reason))
		} else if !strings.HasSuffix(strings.ToLower(k), "-bin") && !printableASCII(c.Headers[k]) {
			errs = append(errs, config.Errorf(hp, "use printable ASCII, or a name ending in -bin for binary values",
				"header %q has a value gRPC metadata does not allow", k))
		}
	}
	errs = append(errs, c.TLS.Validate(p.Key("tls")), c.Transport.Validate(p.Key("transport")))
	return errors.Join(errs...)
}

// oneOf checks that v is one of allowed; empty passes if it may be unset.
func oneOf(p config.Path, key, v string, allowed []string, mayBeEmpty bool) error {
	if (v == "" && mayBeEmpty) || slices.Contains(allowed, v) {
		return nil
	}
	return config.Errorf(p, "use one of "+strings.Join(allowed, ", "), "unknown %s %q", key, v)
}

// badHeader says why k cannot be gRPC metadata, or "".
func badHeader(k string) string {
	if k == "" {
		return "is empty"
	}
	if strings.HasPrefix(strings.ToLower(k), "grpc-") {
		return "is reserved by gRPC"
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return "has a character gRPC metadata does not allow"
		}
	}
	return ""
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// parseEndpoint returns the dial target (host:port) of an endpoint URL
// and whether it uses TLS.
func parseEndpoint(endpoint string) (target string, secure bool, err error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", false, err
	}
	switch u.Scheme {
	case "http":
	case "https":
		secure = true
	default:
		return "", false, errors.New("the scheme must be http:// (plaintext) or https:// (TLS)")
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", false, errors.New("no host")
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", false, errors.New("gRPC endpoints have no path, query, fragment or user")
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if secure {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port), secure, nil
}
