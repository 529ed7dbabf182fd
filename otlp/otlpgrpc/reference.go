package otlpgrpc

import (
	"errors"
	"fmt"

	"github.com/ackflow/ackflow/config"
)

// ClientReference is the part of the reference engine's gRPC client
// settings that ackflow's gRPC exporters have no key of their own for:
// embed it inline in an exporter's config. The two window sizes are
// implemented, as the exporter's transport windows (see Apply); the other
// keys are accepted without effect and reported (config.IgnoredKey).
type ClientReference struct {
	// InitialStreamWindowSize is transport.initial_stream_window, spelt
	// as the reference engine does.
	InitialStreamWindowSize *config.Size `yaml:"initial_stream_window_size"`
	// InitialConnectionWindowSize is transport.initial_connection_window.
	InitialConnectionWindowSize *config.Size `yaml:"initial_connection_window_size"`

	ConcurrencyLimit       any `yaml:"concurrency_limit" ackflow:"ignored,not needed: max_in_flight bounds the exports at once"`
	ConnectTimeout         any `yaml:"connect_timeout" ackflow:"ignored,not taken: each export's timeout bounds its connection attempt too"`
	TCPNodelay             any `yaml:"tcp_nodelay" ackflow:"ignored,not needed: Go sets TCP_NODELAY on every TCP connection"`
	TCPKeepalive           any `yaml:"tcp_keepalive" ackflow:"ignored,not taken: ackflow uses Go's TCP keep-alive (probes after 15s idle)"`
	TCPKeepaliveInterval   any `yaml:"tcp_keepalive_interval" ackflow:"ignored,not taken: ackflow uses Go's TCP keep-alive (probes after 15s idle)"`
	TCPKeepaliveRetries    any `yaml:"tcp_keepalive_retries" ackflow:"ignored,not taken: ackflow uses Go's TCP keep-alive (probes after 15s idle)"`
	HTTP2AdaptiveWindow    any `yaml:"http2_adaptive_window" ackflow:"ignored,not taken: ackflow's HTTP/2 windows are static (initial_stream_window_size, initial_connection_window_size)"`
	HTTP2KeepaliveInterval any `yaml:"http2_keepalive_interval" ackflow:"ignored,not taken: ackflow sends no HTTP/2 pings; a dead connection shows as export timeouts and is dialled again"`
	HTTP2KeepaliveTimeout  any `yaml:"http2_keepalive_timeout" ackflow:"ignored,not taken: ackflow sends no HTTP/2 pings; a dead connection shows as export timeouts and is dialled again"`
	KeepAliveWhileIdle     any `yaml:"keep_alive_while_idle" ackflow:"ignored,not taken: ackflow sends no HTTP/2 pings; a dead connection shows as export timeouts and is dialled again"`
	BufferSize             any `yaml:"buffer_size" ackflow:"ignored,not needed: max_in_flight bounds what waits for the connection"`
	StartupCheck           any `yaml:"startup_check" ackflow:"ignored,not taken: ackflow connects at the first export; a destination that is down shows as transient nacks"`
	Proxy                  any `yaml:"proxy" ackflow:"ignored,not taken: ackflow's gRPC client follows the HTTPS_PROXY and NO_PROXY environment variables"`
	UserAgent              any `yaml:"user_agent" ackflow:"ignored,not taken: ackflow sends its own user agent"`
}

// Apply returns t with the window sizes of r, and an error at p (the
// node's config path) for a window out of range or given under both
// spellings with different values. t may be nil; it is returned as it is
// when r sets no window.
func (r *ClientReference) Apply(t *Transport, p config.Path) (*Transport, error) {
	if r.InitialStreamWindowSize == nil && r.InitialConnectionWindowSize == nil {
		return t, nil
	}
	var out Transport
	if t != nil {
		out = *t
	}
	var errs []error
	set := func(dst *config.Size, v *config.Size, key, ours string) {
		switch {
		case v == nil:
		case *v < minWindow || *v > maxWindow:
			errs = append(errs, config.Errorf(p.Key(key), fmt.Sprintf("use a size from %s to %s, or leave it out for the default", config.Size(minWindow), config.Size(maxWindow)),
				"%s %s is out of range", key, *v))
		case *dst != 0 && *dst != *v:
			errs = append(errs, config.Errorf(p.Key(key), "keep one of them: "+key+" is the reference engine's name of transport."+ours,
				"%s and transport.%s disagree", key, ours))
		default:
			*dst = *v
		}
	}
	set(&out.StreamWindow, r.InitialStreamWindowSize, "initial_stream_window_size", "initial_stream_window")
	set(&out.ConnWindow, r.InitialConnectionWindowSize, "initial_connection_window_size", "initial_connection_window")
	return &out, errors.Join(errs...)
}
