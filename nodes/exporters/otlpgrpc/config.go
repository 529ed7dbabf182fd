package otlpgrpc

import (
	"errors"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/nodes/internal/exportdriver"
	iotlp "github.com/ackflow/ackflow/otlp/otlpgrpc"
)

// Defaults.
const (
	// DefaultTimeout bounds one export, from its start to the answer.
	DefaultTimeout = 15 * time.Second
	// DefaultMaxInFlight is the most exports at once.
	DefaultMaxInFlight = 16
	// DefaultCompression sends requests as they are: ackflow's
	// destinations are usually near, and compression costs more CPU than
	// everything else on the forwarding path.
	DefaultCompression = "none"
)

// Config is the `config` block of exporter:otlp_grpc.
type Config struct {
	// GRPCEndpoint is http://host:port (plaintext) or https://host:port
	// (TLS). Without a port, 80 and 443 are used.
	GRPCEndpoint string `yaml:"grpc_endpoint"`
	// Timeout bounds each export.
	Timeout config.Duration `yaml:"timeout"`
	// MaxInFlight is the most exports at once; beyond it pdata waits.
	MaxInFlight int `yaml:"max_in_flight"`
	// Compression is none, gzip or zstd.
	Compression string `yaml:"compression"`
	// Headers are sent as gRPC metadata with every export.
	Headers map[string]string `yaml:"headers"`
	// TLS configures an https:// endpoint.
	TLS *iotlp.ClientTLS `yaml:"tls"`
	// Transport tunes the connection: buffers and HTTP/2 windows; unset
	// fields keep otlpgrpc's defaults.
	Transport *iotlp.Transport `yaml:"transport"`

	// CompressionMethod is the reference engine's other name of
	// Compression.
	CompressionMethod string `yaml:"compression_method"`
	// ClientReference holds the reference engine's other gRPC client keys:
	// the window sizes go into Transport, the rest is accepted without
	// effect.
	iotlp.ClientReference `yaml:",inline"`
	NumConnections        any `yaml:"num_connections" ackflow:"ignored,not needed: ackflow multiplexes its exports on one HTTP/2 connection (max_in_flight streams)"`
}

// DefaultConfig returns the defaults; grpc_endpoint has none.
func DefaultConfig() Config {
	return Config{
		Timeout:     config.Duration(DefaultTimeout),
		MaxInFlight: DefaultMaxInFlight,
		Compression: DefaultCompression,
	}
}

// Decode reads a node's config block over the defaults, without checking
// the values.
func Decode(n *config.Node) (Config, error) {
	return config.DecodeNodeConfig(n, DefaultConfig(), nil)
}

// Load decodes and validates a node's config block.
func Load(n *config.Node) (Config, error) {
	return config.DecodeNodeConfig(n, DefaultConfig(), func(c *Config, p config.Path) error {
		var err error
		switch {
		case c.CompressionMethod == "":
		case n.ConfigHas("compression") && c.CompressionMethod != c.Compression:
			err = config.Errorf(p.Key("compression_method"), "keep only compression: compression_method is the reference engine's other name of it",
				"compression_method %q and compression %q disagree", c.CompressionMethod, c.Compression)
		default:
			c.Compression = c.CompressionMethod
		}
		return errors.Join(err, c.Validate(p))
	})
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
			"set the destination, such as http://127.0.0.1:4317 (plaintext) or https://collector.example.com:4317 (TLS)",
			"grpc_endpoint is required"))
	} else if _, _, err := parseEndpoint(c.GRPCEndpoint); err != nil {
		errs = append(errs, config.Errorf(ep, "write http://host:port or https://host:port, without a path",
			"invalid grpc_endpoint %q: %v", c.GRPCEndpoint, err))
	} else if !c.TLS.Plaintext() && strings.HasPrefix(c.GRPCEndpoint, "http://") {
		errs = append(errs, config.Errorf(p.Key("tls"), "use an https:// grpc_endpoint, or remove tls",
			"tls is set but grpc_endpoint %q is plaintext", c.GRPCEndpoint))
	}
	errs = append(errs, exportdriver.ValidateExport(p, c.Timeout, c.MaxInFlight, c.Compression)...)
	for k := range c.Headers {
		if reason := badHeader(k); reason != "" {
			errs = append(errs, config.Errorf(p.Key("headers").Key(k), "use a lower-case name of letters, digits, '-', '_' or '.', not starting with grpc-",
				"header %q %s", k, reason))
		}
	}
	errs = append(errs, c.TLS.Validate(p.Key("tls")), c.Transport.Validate(p.Key("transport")))
	return errors.Join(errs...)
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
