package otlp

import (
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/otlp/otlpgrpc"
)

// Defaults.
const (
	// DefaultWaitForResult: the answer to a client means "delivered".
	DefaultWaitForResult = true
	// DefaultTimeout bounds a request from admission to outcome.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxConcurrentRequests bounds the requests each protocol holds
	// at once. With wait_for_result a request is held for the whole
	// pipeline latency: 1024 covers about 2.7 M logs/s of 1,000-log requests
	// at 400 ms end to end, while keeping memory bounded (1024 × the
	// average request) when a destination stalls.
	DefaultMaxConcurrentRequests = 1024
	// DefaultMaxConcurrentStreams bounds the requests one connection may
	// have open at once (gRPC and HTTP/2 streams), well below
	// DefaultMaxConcurrentRequests so that one client cannot take every
	// slot. Together with max_connections it bounds the requests being
	// read: a gRPC stream not yet read holds at most one stream window
	// (grpcStreamWindow), an HTTP/2 connection at most its receive window.
	DefaultMaxConcurrentStreams = 100
	// DefaultMaxConnections bounds the connections each protocol's
	// listener keeps open. At the limit a new connection first closes the
	// longest-idle one (no request in progress); if every connection is
	// busy it is closed at once. The receivers of a process together never
	// keep more than half of its file descriptor limit, whatever this key
	// says, so that a flood of connections cannot starve the admin server
	// and the exporters of file descriptors.
	DefaultMaxConnections = 1024
	// DefaultMaxInFlightBytes bounds the request bytes the receiver holds
	// (all protocols together): HTTP bodies as they are read (the buffers,
	// compressed and decompressed, and the decoders' state), then every
	// request's data from admission until its outcome. With
	// wait_for_result that bounds the memory its data takes in the whole
	// pipeline when a destination stalls. It is ~270 requests of 1,000
	// logs, several times what a healthy pipeline holds at millions of
	// logs per second.
	DefaultMaxInFlightBytes = 64 << 20
	// DefaultMaxRequestSize is the largest request body, after decompression.
	DefaultMaxRequestSize = 64 << 20
	// maxRequestSizeLimit is what gRPC can frame (int32 lengths).
	maxRequestSizeLimit = 2<<30 - 1
	// maxStreamsLimit is the most HTTP/2 streams a setting can announce
	// (net/http takes an int, grpc-go a uint32).
	maxStreamsLimit = 1<<31 - 1
)

// Compression methods a receiver can accept.
var knownCompressions = []string{otlpgrpc.Gzip, otlpgrpc.Zstd}

// Config is the `config` block of receiver:otlp. The keys below
// `protocols.*` other than listening_addr override the top-level ones for
// that protocol: the reference engine sets them per protocol, ackflow
// allows both.
type Config struct {
	Protocols Protocols `yaml:"protocols"`
	Settings  `yaml:",inline"`
}

// Protocols enables gRPC, HTTP or both.
type Protocols struct {
	GRPC *Protocol `yaml:"grpc"`
	HTTP *Protocol `yaml:"http"`
}

// Protocol is one protocol's listener and overrides.
type Protocol struct {
	ListeningAddr string `yaml:"listening_addr"`
	Overrides     `yaml:",inline"`
	// Transport tunes gRPC connections (protocols.grpc only): buffers and
	// HTTP/2 windows; unset fields keep the defaults (see grpc.go).
	Transport *otlpgrpc.Transport `yaml:"transport"`
	// Reference holds the reference engine's keys of a protocol that
	// ackflow spells otherwise (mapped onto the keys above by Load) or
	// does not need (accepted without effect and reported).
	Reference `yaml:",inline"`
}

// Reference is the reference engine's per-protocol keys that ackflow has
// under another name, or does not need.
type Reference struct {
	// MaxDecodingMessageSize (grpc) and MaxRequestBodySize (http) are
	// max_request_size.
	MaxDecodingMessageSize *config.Size `yaml:"max_decoding_message_size"`
	MaxRequestBodySize     *config.Size `yaml:"max_request_body_size"`
	// AcceptCompressedRequests (http): false is request_compression: [],
	// only uncompressed bodies.
	AcceptCompressedRequests *bool `yaml:"accept_compressed_requests"`
	// InitialStreamWindowSize and InitialConnectionWindowSize (grpc) are
	// transport.initial_stream_window and transport.initial_connection_window.
	InitialStreamWindowSize     *config.Size `yaml:"initial_stream_window_size"`
	InitialConnectionWindowSize *config.Size `yaml:"initial_connection_window_size"`

	ResponseCompression       any `yaml:"response_compression" ackflow:"ignored,not needed: an OTLP answer is a few bytes, sent uncompressed or as the client's request was"`
	TCPNodelay                any `yaml:"tcp_nodelay" ackflow:"ignored,not needed: Go sets TCP_NODELAY on every TCP connection"`
	TCPKeepalive              any `yaml:"tcp_keepalive" ackflow:"ignored,not taken: ackflow uses Go's TCP keep-alive on accepted connections (probes after 15s idle)"`
	TCPKeepaliveInterval      any `yaml:"tcp_keepalive_interval" ackflow:"ignored,not taken: ackflow uses Go's TCP keep-alive on accepted connections (probes after 15s idle)"`
	TCPKeepaliveRetries       any `yaml:"tcp_keepalive_retries" ackflow:"ignored,not taken: ackflow uses Go's TCP keep-alive on accepted connections (probes after 15s idle)"`
	TransportConcurrencyLimit any `yaml:"transport_concurrency_limit" ackflow:"ignored,not needed: max_concurrent_requests and max_concurrent_streams bound the requests at once"`
	LoadShed                  any `yaml:"load_shed" ackflow:"ignored,not needed: ackflow always refuses at its limits at once, with a retryable status"`
	HTTP2AdaptiveWindow       any `yaml:"http2_adaptive_window" ackflow:"ignored,not taken: ackflow's HTTP/2 windows are static (initial_stream_window_size, initial_connection_window_size)"`
	MaxFrameSize              any `yaml:"max_frame_size" ackflow:"ignored,not taken: ackflow keeps HTTP/2's default frame size"`
	HTTP2KeepaliveInterval    any `yaml:"http2_keepalive_interval" ackflow:"ignored,not taken: ackflow sends no HTTP/2 pings; max_connections evicts idle connections"`
	HTTP2KeepaliveTimeout     any `yaml:"http2_keepalive_timeout" ackflow:"ignored,not taken: ackflow sends no HTTP/2 pings; max_connections evicts idle connections"`
}

// Settings are the receiver's behaviour, set at the top level.
type Settings struct {
	// WaitForResult makes the answer wait for the pipeline's ack or nack.
	WaitForResult bool `yaml:"wait_for_result"`
	// Timeout bounds a request: admission (backpressure) plus outcome.
	Timeout config.Duration `yaml:"timeout"`
	// MaxConcurrentRequests bounds the requests a protocol holds at once;
	// 0 means unlimited. Beyond it requests are refused as retryable. A
	// request takes its slot once its body has been read, so slow or
	// stalled uploads hold none.
	MaxConcurrentRequests int `yaml:"max_concurrent_requests"`
	// MaxConcurrentStreams bounds the requests one connection may have
	// open at once (gRPC streams, HTTP/2 streams).
	MaxConcurrentStreams int `yaml:"max_concurrent_streams"`
	// MaxConnections bounds the open connections of each listener.
	MaxConnections int `yaml:"max_connections"`
	// MaxRequestSize bounds a request body, compressed and decompressed.
	MaxRequestSize config.Size `yaml:"max_request_size"`
	// MaxInFlightBytes bounds the decompressed bytes of the requests
	// admitted and not yet answered, all protocols together; 0 means
	// unlimited. Beyond it requests are refused as retryable. Top level
	// only.
	MaxInFlightBytes config.Size `yaml:"max_in_flight_bytes"`
	// RequestCompression lists the accepted request encodings.
	RequestCompression Compressions `yaml:"request_compression"`
	// TLS serves over TLS (mTLS with client_ca_file).
	TLS *otlpgrpc.ServerTLS `yaml:"tls"`
}

// Overrides are Settings given per protocol; nil keeps the top-level value.
type Overrides struct {
	WaitForResult         *bool               `yaml:"wait_for_result"`
	Timeout               *config.Duration    `yaml:"timeout"`
	MaxConcurrentRequests *int                `yaml:"max_concurrent_requests"`
	MaxConcurrentStreams  *int                `yaml:"max_concurrent_streams"`
	MaxConnections        *int                `yaml:"max_connections"`
	MaxRequestSize        *config.Size        `yaml:"max_request_size"`
	RequestCompression    *Compressions       `yaml:"request_compression"`
	TLS                   *otlpgrpc.ServerTLS `yaml:"tls"`
}

// Compressions is a list of compression names; YAML may give one name as
// a plain string ("gzip") or a list ([gzip, zstd]). An empty list accepts
// only uncompressed requests.
type Compressions []string

// UnmarshalYAML reads a string or a list of strings.
func (c *Compressions) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*c = Compressions{n.Value}
		return nil
	}
	var list []string
	if err := n.Decode(&list); err != nil {
		return err
	}
	*c = list
	return nil
}

// DefaultConfig returns the defaults; no protocol is enabled.
func DefaultConfig() Config {
	return Config{Settings: Settings{
		WaitForResult:         DefaultWaitForResult,
		Timeout:               config.Duration(DefaultTimeout),
		MaxConcurrentRequests: DefaultMaxConcurrentRequests,
		MaxConcurrentStreams:  DefaultMaxConcurrentStreams,
		MaxConnections:        DefaultMaxConnections,
		MaxRequestSize:        DefaultMaxRequestSize,
		MaxInFlightBytes:      DefaultMaxInFlightBytes,
		RequestCompression:    slices.Clone(knownCompressions),
	}}
}

// Decode reads a node's config block over the defaults, without checking
// the values.
func Decode(n *config.Node) (Config, error) {
	return config.DecodeNodeConfig(n, DefaultConfig(), nil)
}

// Load decodes and validates a node's config block, after mapping the
// reference engine's per-protocol keys onto ackflow's.
func Load(n *config.Node) (Config, error) {
	return config.DecodeNodeConfig(n, DefaultConfig(), func(c *Config, p config.Path) error {
		pp := p.Key("protocols")
		return errors.Join(c.Protocols.GRPC.mapReference(pp.Key("grpc"), true),
			c.Protocols.HTTP.mapReference(pp.Key("http"), false), c.Validate(p))
	})
}

// mapReference moves the reference engine's spellings of a protocol's
// settings to ackflow's keys: an error when a setting is given both ways,
// or under the other protocol.
func (pr *Protocol) mapReference(p config.Path, grpc bool) error {
	if pr == nil {
		return nil
	}
	var errs []error
	r := &pr.Reference
	wrongProtocol := func(key, other string) {
		errs = append(errs, config.Errorf(p.Key(key), "move it to protocols."+other+", or remove it",
			"%s is a setting of protocols.%s", key, other))
	}
	twice := func(key, ours string) {
		errs = append(errs, config.Errorf(p.Key(key), "keep one of them: "+key+" is the reference engine's name of "+ours,
			"%s and %s are both set", key, ours))
	}
	size := func(key string, v *config.Size, forGRPC bool) {
		switch {
		case v == nil:
		case forGRPC != grpc:
			wrongProtocol(key, map[bool]string{true: "grpc", false: "http"}[forGRPC])
		case pr.MaxRequestSize != nil:
			twice(key, "max_request_size")
		default:
			pr.MaxRequestSize = v
		}
	}
	size("max_decoding_message_size", r.MaxDecodingMessageSize, true)
	size("max_request_body_size", r.MaxRequestBodySize, false)
	if a := r.AcceptCompressedRequests; a != nil {
		switch {
		case grpc:
			wrongProtocol("accept_compressed_requests", "http")
		case pr.RequestCompression != nil:
			twice("accept_compressed_requests", "request_compression")
		case !*a:
			pr.RequestCompression = &Compressions{}
		}
	}
	if r.InitialStreamWindowSize != nil || r.InitialConnectionWindowSize != nil {
		if !grpc {
			key := "initial_stream_window_size"
			if r.InitialStreamWindowSize == nil {
				key = "initial_connection_window_size"
			}
			wrongProtocol(key, "grpc")
		} else {
			ref := otlpgrpc.ClientReference{InitialStreamWindowSize: r.InitialStreamWindowSize, InitialConnectionWindowSize: r.InitialConnectionWindowSize}
			t, err := ref.Apply(pr.Transport, p)
			pr.Transport = t
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Validate reports every problem, each under its YAML path below p (the
// node's `config` path).
func (c *Config) Validate(p config.Path) error {
	var errs []error
	pp := p.Key("protocols")
	if c.Protocols.GRPC == nil && c.Protocols.HTTP == nil {
		errs = append(errs, config.Errorf(pp,
			"add protocols.grpc.listening_addr (OTLP/gRPC, usually port 4317) and/or protocols.http.listening_addr (OTLP/HTTP, usually 4318)",
			"enable at least one protocol"))
	}
	errs = append(errs, c.Settings.validate(p))
	for _, pr := range []struct {
		name string
		p    *Protocol
	}{{"grpc", c.Protocols.GRPC}, {"http", c.Protocols.HTTP}} {
		if pr.p != nil {
			errs = append(errs, pr.p.validate(pp.Key(pr.name)))
		}
	}
	if h := c.Protocols.HTTP; h != nil && h.Transport != nil {
		errs = append(errs, config.Errorf(pp.Key("http").Key("transport"),
			"move it to protocols.grpc, or remove it", "transport tunes gRPC connections only"))
	}
	if g, h := c.Protocols.GRPC, c.Protocols.HTTP; g != nil && h != nil && conflict(g.ListeningAddr, h.ListeningAddr) {
		errs = append(errs, config.Errorf(pp.Key("http").Key("listening_addr"),
			"give gRPC and HTTP different ports (4317 and 4318 by convention)",
			"%q conflicts with protocols.grpc.listening_addr %q", h.ListeningAddr, g.ListeningAddr))
	}
	return errors.Join(errs...)
}

func (s *Settings) validate(p config.Path) error {
	o := Overrides{
		Timeout: &s.Timeout, MaxConcurrentRequests: &s.MaxConcurrentRequests,
		MaxConcurrentStreams: &s.MaxConcurrentStreams, MaxConnections: &s.MaxConnections,
		MaxRequestSize: &s.MaxRequestSize, RequestCompression: &s.RequestCompression, TLS: s.TLS,
	}
	err := o.validate(p)
	if s.MaxInFlightBytes < 0 {
		err = errors.Join(err, config.Errorf(p.Key("max_in_flight_bytes"), "use 0 for no limit or a size such as 64MiB",
			"max_in_flight_bytes cannot be negative, got %d", int64(s.MaxInFlightBytes)))
	}
	return err
}

func (o *Overrides) validate(p config.Path) error {
	var errs []error
	if o.Timeout != nil && *o.Timeout <= 0 {
		errs = append(errs, config.Errorf(p.Key("timeout"), "use a positive duration such as 30s",
			"timeout must be positive, got %s", *o.Timeout))
	}
	if o.MaxConcurrentRequests != nil && *o.MaxConcurrentRequests < 0 {
		errs = append(errs, config.Errorf(p.Key("max_concurrent_requests"), "use 0 for no limit or a positive count",
			"max_concurrent_requests cannot be negative, got %d", *o.MaxConcurrentRequests))
	}
	if o.MaxConcurrentStreams != nil && (*o.MaxConcurrentStreams < 1 || *o.MaxConcurrentStreams > maxStreamsLimit) {
		errs = append(errs, config.Errorf(p.Key("max_concurrent_streams"),
			"use a count such as 100: the requests one connection may have open at once",
			"max_concurrent_streams must be between 1 and %d, got %d", maxStreamsLimit, *o.MaxConcurrentStreams))
	}
	if o.MaxConnections != nil && *o.MaxConnections < 1 {
		errs = append(errs, config.Errorf(p.Key("max_connections"),
			"use a count such as 1024 (there is no unlimited: connections cost file descriptors and memory)",
			"max_connections must be at least 1, got %d", *o.MaxConnections))
	}
	if o.MaxRequestSize != nil && (*o.MaxRequestSize <= 0 || *o.MaxRequestSize > maxRequestSizeLimit) {
		errs = append(errs, config.Errorf(p.Key("max_request_size"), "use a size between 1B and 2GiB-1, such as 64MiB",
			"max_request_size %s is out of range", *o.MaxRequestSize))
	}
	if o.RequestCompression != nil {
		for i, name := range *o.RequestCompression {
			if !slices.Contains(knownCompressions, name) {
				errs = append(errs, config.Errorf(p.Key("request_compression").Index(i),
					"accepted values are "+strings.Join(knownCompressions, ", ")+" (uncompressed requests are always accepted)",
					"unknown compression %q", name))
			}
		}
	}
	errs = append(errs, o.TLS.Validate(p.Key("tls")))
	return errors.Join(errs...)
}

func (pr *Protocol) validate(p config.Path) error {
	errs := []error{pr.Overrides.validate(p), pr.Transport.Validate(p.Key("transport"))}
	ap := p.Key("listening_addr")
	if pr.ListeningAddr == "" {
		errs = append(errs, config.Errorf(ap, "set the address to listen on, such as 127.0.0.1:4317 (or 0.0.0.0:4317 for every interface)",
			"listening_addr is required"))
	} else if _, port, err := net.SplitHostPort(pr.ListeningAddr); err != nil {
		errs = append(errs, config.Errorf(ap, "write host:port, such as 127.0.0.1:4317 or [::1]:4317",
			"invalid address %q: %v", pr.ListeningAddr, err))
	} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		errs = append(errs, config.Errorf(ap, "the port is a number from 0 to 65535 (0 picks a free one)",
			"invalid port %q in %q", port, pr.ListeningAddr))
	}
	return errors.Join(errs...)
}

// conflict reports whether two listening addresses would claim the same
// socket: same port, and the same host or either one all interfaces.
// Port 0 never conflicts (each listener gets a free port).
func conflict(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb || pa == "0" {
		return false
	}
	all := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ha == hb || all(ha) || all(hb)
}

// settings are one protocol's effective settings.
type settings struct {
	addr          string
	waitForResult bool
	timeout       time.Duration
	maxConcurrent int
	maxStreams    int // per connection
	maxConns      int // per listener
	maxSize       int
	compression   []string
	tls           *otlpgrpc.ServerTLS
	transport     otlpgrpc.Transport // gRPC: the tuning, defaults filled in
}

// resolve returns the effective settings of protocol pr.
func (c *Config) resolve(pr *Protocol) settings {
	s := settings{
		addr:          pr.ListeningAddr,
		waitForResult: c.WaitForResult,
		timeout:       time.Duration(c.Timeout),
		maxConcurrent: c.MaxConcurrentRequests,
		maxStreams:    c.MaxConcurrentStreams,
		maxConns:      c.MaxConnections,
		maxSize:       int(c.MaxRequestSize),
		compression:   c.RequestCompression,
		tls:           c.TLS,
	}
	if pr.Transport != nil {
		s.transport = *pr.Transport
	}
	s.transport = s.transport.Or(grpcTransport)
	o := pr.Overrides
	if o.WaitForResult != nil {
		s.waitForResult = *o.WaitForResult
	}
	if o.Timeout != nil {
		s.timeout = time.Duration(*o.Timeout)
	}
	if o.MaxConcurrentRequests != nil {
		s.maxConcurrent = *o.MaxConcurrentRequests
	}
	if o.MaxConcurrentStreams != nil {
		s.maxStreams = *o.MaxConcurrentStreams
	}
	if o.MaxConnections != nil {
		s.maxConns = *o.MaxConnections
	}
	if o.MaxRequestSize != nil {
		s.maxSize = int(*o.MaxRequestSize)
	}
	if o.RequestCompression != nil {
		s.compression = *o.RequestCompression
	}
	if o.TLS != nil {
		s.tls = o.TLS
	}
	return s
}

// accepts reports whether the settings accept requests encoded with enc
// ("" and "identity" mean uncompressed).
func (s *settings) accepts(enc string) bool {
	return enc == "" || enc == "identity" || slices.Contains(s.compression, enc)
}

// connStreams is the stream limit announced to each connection: never more
// than the requests the protocol admits at once.
func (s *settings) connStreams() int {
	if s.maxConcurrent > 0 {
		return min(s.maxStreams, s.maxConcurrent)
	}
	return s.maxStreams
}
