package otlphttp

import (
	"errors"
	"net/http"
	"net/url"
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
}

// DefaultConfig returns the defaults; the endpoints have none.
func DefaultConfig() Config {
	return Config{
		Timeout:     config.Duration(DefaultTimeout),
		MaxInFlight: DefaultMaxInFlight,
		Compression: DefaultCompression,
	}
}

// Decode reads a node's config block over the defaults.
func Decode(n *config.Node) (Config, error) {
	cfg := DefaultConfig()
	err := config.DecodeStrict(n.Config, &cfg, n.Path.Key("config"))
	return cfg, err
}

// Load decodes and validates a node's config block.
func Load(n *config.Node) (Config, error) {
	cfg, err := Decode(n)
	if err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate(n.Path.Key("config"))
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
	if c.TLS != nil && anySet && !secure {
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
