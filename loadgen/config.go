package loadgen

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Protocol is the transport: OTLP over gRPC, OTLP over HTTP with protobuf
// bodies, or OTAP (OpenTelemetry Arrow streams over gRPC).
type Protocol string

// Protocols.
const (
	GRPC Protocol = "grpc"
	HTTP Protocol = "http"
	// OTAP sends each request as the next BatchArrowRecords of an Arrow
	// stream (ArrowLogs, ArrowMetrics or ArrowTraces), one stream per
	// connection, and counts each batch's BatchStatus as its answer.
	OTAP Protocol = "otap"
)

// Signal is the kind of telemetry sent.
type Signal string

// Signals.
const (
	Logs    Signal = "logs"
	Metrics Signal = "metrics"
	Traces  Signal = "traces"
)

// Compression is the request encoding.
type Compression string

// Compressions.
const (
	NoCompression Compression = "none"
	Gzip          Compression = "gzip"
	Zstd          Compression = "zstd"
)

// Shape is the make-up of each log record.
type Shape string

// Shapes of log requests. Both put every record under one resource and one
// scope.
const (
	// ShapeBody records carry a body of Config.BodySize bytes, timestamps,
	// a severity and one integer attribute: ackflow's own benchmark load
	// (1,000 × 185 B bodies by default).
	ShapeBody Shape = "body"
	// ShapeSDK records carry a 64-byte body, timestamps, a severity and
	// four short string attributes, about 185 B each on the wire: the shape
	// of many SDK batches, where attributes weigh as much as the body.
	// Config.BodySize does not apply.
	ShapeSDK Shape = "sdk"
)

// SDK shape constants.
const (
	// SDKBodySize is the body size of ShapeSDK records.
	SDKBodySize = 64
	// SDKAttributes is the number of string attributes of ShapeSDK records.
	SDKAttributes = 4
)

// Defaults.
const (
	// DefaultItems is the number of items (log records, data points or
	// spans) per request.
	DefaultItems = 1000
	// DefaultBodySize is the size of each log record's body, in bytes.
	DefaultBodySize = 185
	// DefaultWorkers is the number of concurrent senders.
	DefaultWorkers = 4
	// DefaultTimeout bounds one request, from send to answer.
	DefaultTimeout = 10 * time.Second
	// DefaultPool is the number of distinct pre-encoded requests.
	DefaultPool = 8
	// DefaultGRPCPort and DefaultHTTPPort are used when the endpoint has
	// no port: the OTLP ports.
	DefaultGRPCPort = "4317"
	DefaultHTTPPort = "4318"
)

// Limits that keep a mistyped flag from exhausting the machine.
const (
	maxWorkers  = 4096
	maxItems    = 1_000_000
	maxBodySize = 1 << 20
	maxPool     = 1024
	maxRing     = 4096
	// maxPoolBytes bounds the memory of the pre-encoded pool.
	maxPoolBytes = 1 << 30
)

// Config describes one run. The zero value is not valid: start from
// [DefaultConfig].
type Config struct {
	// Endpoint is host:port, or http://host:port[/path]. For HTTP the path
	// defaults to /v1/<signal>.
	Endpoint string
	// Protocol is grpc or http.
	Protocol Protocol
	// Signal is logs, metrics or traces.
	Signal Signal
	// Workers is the number of concurrent senders.
	Workers int
	// Connections is the number of gRPC connections the workers share
	// (0: one per worker). HTTP keeps one connection per busy worker; OTAP
	// opens one Arrow stream per connection, so workers sharing a
	// connection have several batches in flight on its stream.
	Connections int
	// Rate is the total request rate, in requests per second; 0 sends as
	// fast as the workers can.
	Rate float64
	// Duration bounds the measured run; 0 leaves it to Requests.
	Duration time.Duration
	// Requests bounds the number of requests of the measured run; 0 leaves
	// it to Duration.
	Requests int64
	// Warmup runs this long before the measurement, with the same
	// connections and rate; its requests are not reported.
	Warmup time.Duration
	// Items is the number of items per request.
	Items int
	// BodySize is the size of each log record's body (ShapeBody only).
	BodySize int
	// Shape is the make-up of log records (logs only); empty means
	// ShapeBody.
	Shape Shape
	// Pool is the number of distinct pre-encoded requests.
	Pool int
	// Compression is none, gzip or zstd: of the HTTP bodies or of the
	// gRPC messages (OTLP or OTAP).
	Compression Compression
	// ArrowCompression is the compression of the Arrow IPC buffers inside
	// each OTAP batch (OTEL Arrow's payload compression): none or zstd.
	// OTAP only; empty means none.
	ArrowCompression Compression
	// OTAPRing, when above 0, has each OTAP stream encode this many
	// batches before the run (a ring) instead of each batch as it is sent:
	// the stream sends its ring, ends, and sends it again on a new stream.
	// The generator's CPU then goes to sending alone. OTAP only.
	OTAPRing int
	// Timeout bounds each request.
	Timeout time.Duration
	// AllowNonLoopback permits endpoints that are not on this machine.
	AllowNonLoopback bool
	// Ready, when set, is called once the generator is ready to send (the
	// pool encoded, with OTAPRing the rings too), just before its first
	// request: a caller measuring the system under test starts there.
	Ready func()
}

// DefaultConfig returns the defaults: 4 workers sending 1,000 logs of 185 B
// per request over gRPC to 127.0.0.1:4317, as fast as possible for 10 s.
func DefaultConfig() Config {
	return Config{
		Endpoint:    "127.0.0.1:" + DefaultGRPCPort,
		Protocol:    GRPC,
		Signal:      Logs,
		Workers:     DefaultWorkers,
		Duration:    10 * time.Second,
		Items:       DefaultItems,
		BodySize:    DefaultBodySize,
		Shape:       ShapeBody,
		Pool:        DefaultPool,
		Compression: NoCompression,
		Timeout:     DefaultTimeout,
	}
}

// ErrConfig is wrapped by every validation error.
var ErrConfig = errors.New("loadgen: invalid configuration")

// Validate reports every problem of c, each naming the flag to fix. It does
// not resolve the endpoint (see CheckLoopback).
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	if _, err := c.target(); err != nil {
		bad("--endpoint %q: %v", c.Endpoint, err)
	}
	switch c.Protocol {
	case GRPC, HTTP, OTAP:
	default:
		bad("--protocol %q: use grpc, http or otap", c.Protocol)
	}
	switch c.Signal {
	case Logs, Metrics, Traces:
	default:
		bad("--signal %q: use logs, metrics or traces", c.Signal)
	}
	switch c.Compression {
	case NoCompression, Gzip, Zstd:
	default:
		bad("--compression %q: use none, gzip or zstd", c.Compression)
	}
	switch {
	case c.ArrowCompression != "" && c.ArrowCompression != NoCompression && c.ArrowCompression != Zstd:
		bad("--arrow-compression %q: use none or zstd", c.ArrowCompression)
	case c.ArrowCompression == Zstd && c.Protocol != OTAP:
		bad("--arrow-compression applies to --protocol otap only")
	}
	switch {
	case c.OTAPRing < 0 || c.OTAPRing > maxRing:
		bad("--otap-ring %d: use 0 (encode each batch as it is sent) to %d", c.OTAPRing, maxRing)
	case c.OTAPRing > 0 && c.Protocol != OTAP:
		bad("--otap-ring applies to --protocol otap only")
	case c.OTAPRing > 0 && int64(c.OTAPRing)*int64(c.connections())*int64(c.Items)*int64(c.BodySize+64) > maxPoolBytes:
		bad("the rings would take about %d MiB: lower --otap-ring, --connections, --items or --body-size",
			int64(c.OTAPRing)*int64(c.connections())*int64(c.Items)*int64(c.BodySize+64)>>20)
	}
	if c.Workers < 1 || c.Workers > maxWorkers {
		bad("--workers %d: use 1 to %d", c.Workers, maxWorkers)
	}
	if c.Connections < 0 || c.Connections > maxWorkers {
		bad("--connections %d: use 0 (one per worker) to %d", c.Connections, maxWorkers)
	}
	if c.Rate < 0 {
		bad("--rate %g: use a positive rate, or 0 for as fast as possible", c.Rate)
	}
	if c.Duration < 0 || c.Requests < 0 || c.Warmup < 0 {
		bad("--duration, --requests and --warmup cannot be negative")
	}
	if c.Duration == 0 && c.Requests == 0 {
		bad("set --duration, --requests or both: every run is bounded")
	}
	if c.Items < 1 || c.Items > maxItems {
		bad("--items %d: use 1 to %d", c.Items, maxItems)
	}
	if c.BodySize < 0 || c.BodySize > maxBodySize {
		bad("--body-size %d: use 0 to %d", c.BodySize, maxBodySize)
	}
	switch {
	case c.Shape != "" && c.Shape != ShapeBody && c.Shape != ShapeSDK:
		bad("--shape %q: use body or sdk", c.Shape)
	case c.Shape == ShapeSDK && c.Signal != Logs:
		bad("--shape sdk shapes log records: use it with --signal logs")
	}
	if c.Pool < 1 || c.Pool > maxPool {
		bad("--pool %d: use 1 to %d", c.Pool, maxPool)
	}
	perItem := int64(c.BodySize + 64)
	if c.Shape == ShapeSDK {
		perItem = 256
	}
	if est := int64(c.Pool) * int64(c.Items) * perItem; est > maxPoolBytes {
		bad("the request pool would take about %d MiB: lower --pool, --items or --body-size", est>>20)
	}
	if c.Timeout <= 0 {
		bad("--timeout %s: use a positive duration", c.Timeout)
	}
	return errors.Join(errs...)
}

// target is a parsed endpoint.
type target struct {
	host, port string
	path       string // HTTP only; empty means /v1/<signal>
}

func (t target) hostPort() string { return net.JoinHostPort(t.host, t.port) }

// target parses c.Endpoint: host:port, [v6]:port, or an http:// URL.
func (c *Config) target() (target, error) {
	ep := strings.TrimSpace(c.Endpoint)
	if ep == "" {
		return target{}, errors.New("empty endpoint")
	}
	var t target
	if strings.Contains(ep, "://") {
		u, err := url.Parse(ep)
		if err != nil {
			return target{}, err
		}
		if u.Scheme != "http" {
			return target{}, fmt.Errorf("scheme %q is not supported: use http:// (plaintext) or host:port", u.Scheme)
		}
		if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return target{}, errors.New("no user, query or fragment allowed")
		}
		t.host, t.port = u.Hostname(), u.Port()
		if u.Path != "" && u.Path != "/" {
			t.path = u.Path
		}
	} else {
		h, p, err := net.SplitHostPort(ep)
		if err != nil {
			// No port: the whole thing is a host.
			h, p = strings.Trim(ep, "[]"), ""
		}
		t.host, t.port = h, p
	}
	if t.host == "" {
		return target{}, errors.New("no host")
	}
	if t.port == "" {
		t.port = DefaultGRPCPort
		if c.Protocol == HTTP {
			t.port = DefaultHTTPPort
		}
	}
	if n, err := strconv.Atoi(t.port); err != nil || n < 1 || n > 65535 {
		return target{}, fmt.Errorf("invalid port %q", t.port)
	}
	if t.path != "" && c.Protocol != HTTP {
		return target{}, errors.New("a gRPC endpoint has no path")
	}
	return t, nil
}

// connections is the number of gRPC connections to open (OTAP: of
// streams, one per connection).
func (c *Config) connections() int {
	if c.Connections == 0 || c.Connections > c.Workers {
		return c.Workers
	}
	return c.Connections
}
