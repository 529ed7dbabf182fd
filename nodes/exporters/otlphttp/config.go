package otlphttp

import (
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/nodes/internal/exportdriver"
	iotlp "github.com/ackflow/ackflow/otlp/otlpgrpc"
	"github.com/ackflow/ackflow/pdata"
)

// Defaults.
const (
	// DefaultTimeout bounds one export, from its start to the answer.
	DefaultTimeout = 15 * time.Second
	// DefaultMaxInFlight is the most exports at once (and the idle
	// connections kept to the destination).
	DefaultMaxInFlight = 16
	// DefaultCompression sends bodies as they are (see exporter:otlp_grpc).
	DefaultCompression = "none"
)

// Config is the `config` block of exporter:otlp_http.
type Config struct {
	// Endpoint is the base URL; each signal is sent to Endpoint followed
	// by /v1/logs, /v1/metrics or /v1/traces.
	Endpoint string `yaml:"endpoint"`
	// LogsEndpoint, MetricsEndpoint and TracesEndpoint are full URLs that
	// replace Endpoint for one signal, used as given (no path appended).
	LogsEndpoint    string `yaml:"logs_endpoint"`
	MetricsEndpoint string `yaml:"metrics_endpoint"`
	TracesEndpoint  string `yaml:"traces_endpoint"`
	// Timeout bounds each export.
	Timeout config.Duration `yaml:"timeout"`
	// MaxInFlight is the most exports at once; beyond it pdata waits.
	MaxInFlight int `yaml:"max_in_flight"`
	// Compression is none, gzip or zstd (Content-Encoding).
	Compression string `yaml:"compression"`
	// Headers are sent with every export.
	Headers map[string]string `yaml:"headers"`
	// TLS configures https:// endpoints.
	TLS *iotlp.ClientTLS `yaml:"tls"`

	// HTTP is the reference engine's `http` block: the same settings
	// spelt its way, merged into the keys above by Load.
	HTTP *HTTPSettings `yaml:"http"`

	ClientPoolSize        any `yaml:"client_pool_size" ackflow:"ignored,not needed: ackflow sizes its connection pool itself (one connection per export in flight, max_in_flight)"`
	MaxResponseBodyLength any `yaml:"max_response_body_length" ackflow:"ignored,not needed: ackflow reads at most 64KiB of an answer (an OTLP answer is a few bytes)"`
}

// HTTPSettings is the reference engine's `http` block of exporter:otlp_http.
// compression, headers, timeout and tls are the top-level keys of the same
// names (giving one both ways is an error); the others are accepted
// without effect and reported.
type HTTPSettings struct {
	Compression *string           `yaml:"compression"`
	Headers     map[string]string `yaml:"headers"`
	Timeout     *config.Duration  `yaml:"timeout"`
	TLS         *iotlp.ClientTLS  `yaml:"tls"`

	ConcurrencyLimit     any `yaml:"concurrency_limit" ackflow:"ignored,not needed: max_in_flight bounds the exports at once"`
	ConnectTimeout       any `yaml:"connect_timeout" ackflow:"ignored,not taken: ackflow dials with a 10s timeout, within each export's timeout"`
	TCPNodelay           any `yaml:"tcp_nodelay" ackflow:"ignored,not needed: Go sets TCP_NODELAY on every TCP connection"`
	TCPKeepalive         any `yaml:"tcp_keepalive" ackflow:"ignored,not taken: ackflow's connections send TCP keep-alive probes after 30s idle"`
	TCPKeepaliveInterval any `yaml:"tcp_keepalive_interval" ackflow:"ignored,not taken: ackflow's connections send TCP keep-alive probes after 30s idle"`
	UserAgent            any `yaml:"user_agent" ackflow:"ignored,not taken: ackflow sends User-Agent: ackflow"`
}

// DefaultConfig returns the defaults; the endpoints have none.
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

// Load decodes and validates a node's config block, after merging the
// reference engine's `http` block into the top-level keys.
func Load(n *config.Node) (Config, error) {
	return config.DecodeNodeConfig(n, DefaultConfig(), func(c *Config, p config.Path) error {
		return errors.Join(c.mergeHTTP(n, p), c.Validate(p))
	})
}

// mergeHTTP moves the `http` block's settings to the top-level keys. A
// setting given both ways (a header by name, case-insensitively) is an
// error: the two spellings would compete.
func (c *Config) mergeHTTP(n *config.Node, p config.Path) error {
	h := c.HTTP
	if h == nil {
		return nil
	}
	var errs []error
	hp := p.Key("http")
	twice := func(key string) error {
		return config.Errorf(hp.Key(key), "keep one of them: http."+key+" is the reference engine's spelling of "+key,
			"%s is set both at the top level and in the http block", key)
	}
	// A bad value is reported under http, where it was written; the
	// top-level key keeps its default so that it is not reported again.
	switch {
	case h.Compression == nil:
	case n.ConfigHas("compression"):
		errs = append(errs, twice("compression"))
	case !slices.Contains(exportdriver.ExportCompressions, *h.Compression):
		errs = append(errs, config.Errorf(hp.Key("compression"), "use one of "+strings.Join(exportdriver.ExportCompressions, ", "),
			"unknown compression %q", *h.Compression))
	default:
		c.Compression = *h.Compression
	}
	switch {
	case h.Timeout == nil:
	case n.ConfigHas("timeout"):
		errs = append(errs, twice("timeout"))
	case *h.Timeout <= 0:
		errs = append(errs, config.Errorf(hp.Key("timeout"), "use a positive duration such as 15s", "timeout must be positive, got %s", *h.Timeout))
	default:
		c.Timeout = *h.Timeout
	}
	if h.TLS != nil {
		if c.TLS != nil {
			errs = append(errs, twice("tls"))
		} else {
			c.TLS = h.TLS
		}
	}
	if len(h.Headers) > 0 && c.Headers == nil {
		c.Headers = make(map[string]string, len(h.Headers))
	}
	for _, k := range slices.Sorted(maps.Keys(h.Headers)) {
		if dup := headerNamed(c.Headers, k); dup != "" {
			errs = append(errs, config.Errorf(hp.Key("headers").Key(k), "set each header once, in headers or in http.headers",
				"header %q is also set in headers (as %q)", k, dup))
			continue
		}
		c.Headers[k] = h.Headers[k]
	}
	return errors.Join(errs...)
}

// headerNamed returns the key of h that names the same header as k, or "".
func headerNamed(h map[string]string, k string) string {
	for name := range h {
		if strings.EqualFold(name, k) {
			return name
		}
	}
	return ""
}

// signalKeys are the per-signal endpoint keys, by signal.
var signalKeys = [...]string{pdata.Logs: "logs_endpoint", pdata.Metrics: "metrics_endpoint", pdata.Traces: "traces_endpoint"}

func (c *Config) signalEndpoint(s pdata.Signal) string {
	return [...]string{c.LogsEndpoint, c.MetricsEndpoint, c.TracesEndpoint}[s]
}

// URLs returns the URL each signal is sent to; "" for a signal with no
// endpoint (its messages are nacked permanently).
func (c *Config) URLs() [3]string {
	var out [3]string
	for _, s := range pdata.Signals() {
		switch {
		case c.signalEndpoint(s) != "":
			out[s] = c.signalEndpoint(s)
		case c.Endpoint != "":
			out[s] = strings.TrimRight(c.Endpoint, "/") + "/v1/" + s.String()
		}
	}
	return out
}

// Validate reports every problem under its YAML path below p.
func (c *Config) Validate(p config.Path) error {
	var errs []error
	anySet, secure := false, false
	check := func(key, value string) {
		if value == "" {
			return
		}
		anySet = true
		u, err := url.Parse(value)
		switch {
		case err != nil:
			errs = append(errs, config.Errorf(p.Key(key), "write a URL such as http://127.0.0.1:4318", "invalid URL %q: %v", value, err))
		case u.Scheme != "http" && u.Scheme != "https":
			errs = append(errs, config.Errorf(p.Key(key), "use http:// (plaintext) or https:// (TLS)", "%q has no http or https scheme", value))
		case u.Host == "":
			errs = append(errs, config.Errorf(p.Key(key), "write a URL such as http://127.0.0.1:4318", "%q has no host", value))
		default:
			secure = secure || u.Scheme == "https"
		}
	}
	check("endpoint", c.Endpoint)
	for _, s := range pdata.Signals() {
		check(signalKeys[s], c.signalEndpoint(s))
	}
	if !anySet {
		errs = append(errs, config.Errorf(p.Key("endpoint"),
			"set endpoint (base URL, such as http://127.0.0.1:4318) or logs_endpoint, metrics_endpoint, traces_endpoint (full URLs)",
			"no endpoint is set"))
	}
	if !c.TLS.Plaintext() && anySet && !secure {
		errs = append(errs, config.Errorf(p.Key("tls"), "use https:// endpoints, or remove tls", "tls is set but every endpoint is plaintext http://"))
	}
	errs = append(errs, exportdriver.ValidateExport(p, c.Timeout, c.MaxInFlight, c.Compression)...)
	for k, v := range c.Headers {
		switch {
		case !httpguts.ValidHeaderFieldName(k):
			errs = append(errs, config.Errorf(p.Key("headers").Key(k), "use a valid HTTP header name", "invalid header name %q", k))
		case !httpguts.ValidHeaderFieldValue(v):
			errs = append(errs, config.Errorf(p.Key("headers").Key(k), "remove control characters from the value", "invalid value for header %q", k))
		case reservedHeader(k):
			errs = append(errs, config.Errorf(p.Key("headers").Key(k), "the exporter sets this header itself", "header %q cannot be set", k))
		}
	}
	errs = append(errs, c.TLS.Validate(p.Key("tls")))
	return errors.Join(errs...)
}

// reservedHeader reports headers the exporter owns.
func reservedHeader(k string) bool {
	switch http.CanonicalHeaderKey(k) {
	case "Content-Type", "Content-Encoding", "Content-Length", "Host", "Transfer-Encoding", "Connection":
		return true
	}
	return false
}
