package config

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// rawEngine is the `engine` block as written. The reference engine's keys
// that ackflow does not need are accepted and reported (see IgnoredKey).
type rawEngine struct {
	HTTPAdmin       *rawHTTPAdmin `yaml:"http_admin"`
	ShutdownTimeout *Duration     `yaml:"shutdown_timeout"`
	MemoryLimit     *Size         `yaml:"memory_limit"`

	Telemetry     any `yaml:"telemetry" ackflow:"ignored,not needed: ackflow's own telemetry is its Prometheus endpoint (GET /metrics on engine.http_admin) and its logs (run --log-format, --log-level)"`
	ObservedState any `yaml:"observed_state" ackflow:"ignored,not needed: ackflow keeps each node's state itself and serves it at GET /api/v1/status"`
	Topics        any `yaml:"topics" ackflow:"ignored,not needed: ackflow has no topics (receiver:topic, exporter:topic)"`
	Controller    any `yaml:"controller" ackflow:"ignored,not needed: ackflow has no controller extensions"`
	Observability any `yaml:"observability" ackflow:"ignored,not needed: ackflow has no internal observability pipeline; its metrics are at GET /metrics on engine.http_admin"`
	Custom        any `yaml:"custom" ackflow:"ignored,not needed: metadata for applications that embed the reference engine, which ackflow does not read"`
}

type rawHTTPAdmin struct {
	BindAddress   *string    `yaml:"bind_address"`
	AuthToken     *string    `yaml:"auth_token"`
	AuthTokenFile *string    `yaml:"auth_token_file"`
	PProf         *bool      `yaml:"pprof"`
	TLS           *rawTLSKey `yaml:"tls"`
}

type rawTLSKey struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

func (p *parser) engine(d *Document, e entry) {
	d.Engine = Engine{HTTPAdmin: HTTPAdmin{BindAddress: DefaultBindAddress}, ShutdownTimeout: DefaultShutdownTimeout}
	path := Path{}.Key("engine")
	var raw rawEngine
	p.decode(e.val, &raw, path)
	if raw.HTTPAdmin != nil {
		p.httpAdmin(&d.Engine.HTTPAdmin, raw.HTTPAdmin, path.Key("http_admin"))
	}
	if raw.MemoryLimit != nil {
		if *raw.MemoryLimit < MinMemoryLimit {
			p.errs.add(nil, ErrInvalidValue, path.Key("memory_limit"),
				"give the process room to run, such as 512MiB, or leave the key out for no limit",
				"memory_limit must be at least %s, got %s", MinMemoryLimit, *raw.MemoryLimit)
		} else {
			d.Engine.MemoryLimit = *raw.MemoryLimit
		}
	}
	if raw.ShutdownTimeout != nil {
		if *raw.ShutdownTimeout <= 0 {
			p.errs.add(nil, ErrInvalidValue, path.Key("shutdown_timeout"),
				"give the drain a positive deadline such as 30s",
				"shutdown_timeout must be greater than zero, got %s", *raw.ShutdownTimeout)
		} else {
			d.Engine.ShutdownTimeout = *raw.ShutdownTimeout
		}
	}
}

// httpAdmin reads `engine.http_admin` into h. The admin API can stop the
// engine and read its data, so it leaves the local host only behind a token.
func (p *parser) httpAdmin(h *HTTPAdmin, raw *rawHTTPAdmin, path Path) {
	if raw.AuthToken != nil && raw.AuthTokenFile != nil {
		p.errs.add(nil, ErrInvalidValue, path.Key("auth_token_file"),
			"keep one of them: auth_token_file keeps the secret out of the configuration",
			"auth_token and auth_token_file are both set")
	}
	if raw.AuthToken != nil {
		if strings.TrimSpace(*raw.AuthToken) == "" {
			p.errs.add(nil, ErrInvalidValue, path.Key("auth_token"),
				"set a long random secret, such as the output of: openssl rand -hex 32",
				"auth_token is empty")
		} else {
			h.AuthToken = strings.TrimSpace(*raw.AuthToken)
		}
	}
	if raw.AuthTokenFile != nil {
		if *raw.AuthTokenFile == "" {
			p.errs.add(nil, ErrInvalidValue, path.Key("auth_token_file"),
				"name a file holding the token, such as /etc/ackflow/admin-token",
				"auth_token_file is empty")
		} else {
			h.AuthTokenFile = *raw.AuthTokenFile
		}
	}
	if raw.PProf != nil {
		h.PProf = *raw.PProf
	}
	if raw.TLS != nil {
		tp := path.Key("tls")
		if raw.TLS.CertFile == "" || raw.TLS.KeyFile == "" {
			p.errs.add(nil, ErrInvalidValue, tp,
				"set cert_file (PEM certificate chain) and key_file (its PEM private key), or remove tls to serve HTTP",
				"tls needs both cert_file and key_file")
		} else {
			h.TLS = &AdminTLS{CertFile: raw.TLS.CertFile, KeyFile: raw.TLS.KeyFile}
		}
	}
	if raw.BindAddress == nil {
		return
	}
	addr := *raw.BindAddress
	bp := path.Key("bind_address")
	switch err := checkHostPort(addr); {
	case err != "":
		p.errs.add(nil, ErrInvalidValue, bp,
			"write host:port, such as 127.0.0.1:8080 or [::1]:8080; port 0 picks a free port",
			"bind_address %q is not host:port: %s", addr, err)
	case !loopbackAddress(addr) && raw.AuthToken == nil && raw.AuthTokenFile == nil:
		p.errs.add(nil, ErrInvalidValue, bp,
			"bind to 127.0.0.1:PORT, [::1]:PORT or localhost:PORT, or set engine.http_admin.auth_token_file (or auth_token) so that "+
				"only holders of the token can use the API (and set tls so that the token does not cross the network in clear)",
			"bind_address %q is not a loopback address, and the admin API (shutdown, status, metrics) is served off the local host only with an auth token", addr)
	default:
		h.BindAddress = addr
	}
}

// loopbackAddress reports whether host:port addr names a loopback host:
// localhost or an address in 127.0.0.0/8 or ::1. An empty host (":8080")
// or 0.0.0.0 means every interface, and any other name may resolve to one.
func loopbackAddress(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkHostPort returns why addr is not host:port with a numeric port, or "".
func checkHostPort(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		if ae, ok := err.(*net.AddrError); ok {
			return ae.Err
		}
		return err.Error()
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Sprintf("port %q is not a number from 0 to 65535", port)
	}
	return ""
}

// rawPolicies is a `policies` block as written: pointers tell "absent" from
// zero, so that an explicit 0 is reported rather than defaulted.
type rawPolicies struct {
	ChannelCapacity *rawChannelCapacity `yaml:"channel_capacity"`
	Telemetry       *rawTelemetry       `yaml:"telemetry"`
	Resources       *rawResources       `yaml:"resources"`

	Health           any `yaml:"health" ackflow:"ignored,not needed: ackflow's /livez and /readyz follow fixed rules (docs/RELIABILITY.md)"`
	RuntimeRecovery  any `yaml:"runtime_recovery" ackflow:"ignored,not needed: ackflow does not restart a failed pipeline in the process; a node failure drains and exits with code 1, for the supervisor (systemd, Kubernetes) to restart"`
	TransportHeaders any `yaml:"transport_headers" ackflow:"ignored,ackflow does not capture or propagate transport headers"`
}

type rawChannelCapacity struct {
	Control *rawControl `yaml:"control"`
	PData   *int        `yaml:"pdata"`
}

type rawControl struct {
	Node       *int `yaml:"node"`
	Pipeline   *int `yaml:"pipeline"`
	Completion *int `yaml:"completion"`
}

type rawTelemetry struct {
	RuntimeMetrics *string `yaml:"runtime_metrics"`

	PipelineMetrics any `yaml:"pipeline_metrics" ackflow:"ignored,not needed: ackflow always records its pipeline metrics"`
	TokioMetrics    any `yaml:"tokio_metrics" ackflow:"ignored,not needed: ackflow has no Tokio runtime"`
	FlowMetrics     any `yaml:"flow_metrics" ackflow:"ignored,not needed: ackflow has no flow metrics; its per-node counters (ackflow_node_*_items_total) measure each node"`
}

type rawResources struct {
	CoreAllocation *rawCoreAllocation `yaml:"core_allocation"`

	MemoryLimiter any `yaml:"memory_limiter" ackflow:"ignored,not taken: set engine.memory_limit, ackflow's process memory limit, above 80% of which its receivers refuse new requests"`
	RateLimiters  any `yaml:"rate_limiters" ackflow:"ignored,ackflow has no rate limiters; its receivers refuse new requests at their own limits (max_concurrent_requests, max_in_flight_bytes)"`
}

// rawCoreAllocation is `core_allocation`. The reference engine names the
// strategy `strategy` and accepts `type` as an alias; so does ackflow.
type rawCoreAllocation struct {
	Type     string          `yaml:"type"`
	Strategy string          `yaml:"strategy"`
	Count    *int            `yaml:"count"`
	Set      *[]rawCoreRange `yaml:"set"`
}

// rawCoreRange is one inclusive range of CPU core ids in a core_set.
type rawCoreRange struct {
	Start *int `yaml:"start"`
	End   *int `yaml:"end"`
}

// policies reads a `policies` block. A family that is present is filled
// with defaults for what it omits; an absent (or null) family stays nil.
func (p *parser) policies(n *yaml.Node, path Path) Policies {
	var raw rawPolicies
	var out Policies
	p.decode(n, &raw, path)
	if c := raw.ChannelCapacity; c != nil {
		cc := DefaultChannelCapacity()
		cp := path.Key("channel_capacity")
		p.capacity(&cc.PData, c.PData, cp.Key("pdata"))
		if c.Control != nil {
			ctl := cp.Key("control")
			p.capacity(&cc.Control.Node, c.Control.Node, ctl.Key("node"))
			p.capacity(&cc.Control.Pipeline, c.Control.Pipeline, ctl.Key("pipeline"))
			p.capacity(&cc.Control.Completion, c.Control.Completion, ctl.Key("completion"))
		}
		out.ChannelCapacity = &cc
	}
	if t := raw.Telemetry; t != nil {
		tp := TelemetryPolicy{RuntimeMetrics: DefaultRuntimeMetrics}
		if t.RuntimeMetrics != nil {
			level := MetricsLevel(*t.RuntimeMetrics)
			if slices.Contains(levelNames(), string(level)) {
				tp.RuntimeMetrics = level
			} else {
				p.errs.add(nil, ErrInvalidValue, path.Key("telemetry").Key("runtime_metrics"),
					suggest(string(level), levelNames())+"use one of "+strings.Join(levelNames(), ", "),
					"unknown runtime_metrics level %q", level)
			}
		}
		out.Telemetry = &tp
	}
	if r := raw.Resources; r != nil {
		out.Resources = &Resources{}
		if ca := r.CoreAllocation; ca != nil {
			out.Resources.CoreAllocation = p.coreAllocation(ca, path.Key("resources").Key("core_allocation"))
		}
	}
	return out
}

// capacity stores v into dst when given, refusing values below 1.
func (p *parser) capacity(dst *int, v *int, path Path) {
	if v == nil {
		return
	}
	if *v < 1 {
		p.errs.add(nil, ErrInvalidValue, path,
			"channels must hold at least one message: use a positive number such as 128",
			"capacity must be at least 1, got %d", *v)
		return
	}
	*dst = *v
}

func levelNames() []string {
	out := make([]string, len(metricsLevels))
	for i, l := range metricsLevels {
		out[i] = string(l)
	}
	return out
}

func (p *parser) coreAllocation(ca *rawCoreAllocation, path Path) CoreAllocation {
	typ, tp := ca.Type, path.Key("type")
	switch {
	case ca.Strategy != "" && ca.Type != "" && ca.Strategy != ca.Type:
		p.errs.add(nil, ErrInvalidValue, path.Key("strategy"), "keep one of them: type is the usual spelling",
			"strategy %q and type %q disagree", ca.Strategy, ca.Type)
		return CoreAllocation{}
	case ca.Strategy != "":
		typ, tp = ca.Strategy, path.Key("strategy")
	}
	if typ != CoreSet && ca.Set != nil {
		p.errs.add(nil, ErrInvalidValue, path.Key("set"),
			"remove set, or use type: core_set to run one copy per core of the set",
			"set is only used with type core_set")
	}
	switch typ {
	case AllCores:
		if ca.Count != nil {
			p.errs.add(nil, ErrInvalidValue, path.Key("count"),
				"remove count, or use type: core_count to run exactly count copies",
				"count is only used with type core_count")
		}
		return CoreAllocation{Type: AllCores}
	case CoreCount:
		switch {
		case ca.Count == nil:
			p.errs.add(nil, ErrMissing, path.Key("count"), "add count: N (N >= 1) copies of the pipeline",
				"core_count needs a count")
		case *ca.Count < 0:
			p.errs.add(nil, ErrInvalidValue, path.Key("count"),
				"count is the number of pipeline copies: use 1 or more, or 0 for one per CPU",
				"count must not be negative, got %d", *ca.Count)
		case *ca.Count == 0:
			// The reference engine's "every unreserved core": ackflow
			// reserves none, so every CPU.
			return CoreAllocation{Type: AllCores}
		default:
			return CoreAllocation{Type: CoreCount, Count: *ca.Count}
		}
	case CoreSet:
		return p.coreSet(ca, path)
	case "":
		p.errs.add(nil, ErrMissing, tp, "add type: all_cores, type: core_count or type: core_set",
			"core_allocation needs a type")
	default:
		p.errs.add(nil, ErrInvalidValue, tp,
			suggest(typ, []string{AllCores, CoreCount, CoreSet})+"use all_cores, core_count with a count, or core_set with a set",
			"unknown core_allocation type %q", typ)
	}
	return CoreAllocation{}
}

// coreSet reads a core_set allocation: one pipeline copy per core of the
// set. The copies are not pinned to those cores (the Go scheduler places
// goroutines), which is reported as an ignored part of the key.
func (p *parser) coreSet(ca *rawCoreAllocation, path Path) CoreAllocation {
	sp := path.Key("set")
	if ca.Count != nil {
		p.errs.add(nil, ErrInvalidValue, path.Key("count"),
			"remove count: a core_set runs one copy per core of its set",
			"count is only used with type core_count")
	}
	if ca.Set == nil || len(*ca.Set) == 0 {
		p.errs.add(nil, ErrMissing, sp, "add set: [{start: 0, end: 3}], inclusive ranges of core ids",
			"core_set needs a non-empty set")
		return CoreAllocation{}
	}
	type span struct{ start, end, index int }
	var spans []span
	ok := true
	for i, r := range *ca.Set {
		rp := sp.Index(i)
		switch {
		case r.Start == nil || r.End == nil:
			p.errs.add(nil, ErrMissing, rp, "write each range as {start: FIRST, end: LAST}, both inclusive",
				"a core range needs start and end")
			ok = false
		case *r.Start < 0 || *r.End < *r.Start:
			p.errs.add(nil, ErrInvalidValue, rp, "use core ids from 0, with start <= end",
				"invalid core range %d-%d", *r.Start, *r.End)
			ok = false
		default:
			spans = append(spans, span{*r.Start, *r.End, i})
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
	cores := 0
	for i, s := range spans {
		if i > 0 && s.start <= spans[i-1].end {
			p.errs.add(nil, ErrInvalidValue, sp.Index(s.index), "list each core once: merge or split the ranges",
				"core range %d-%d overlaps range %d-%d", s.start, s.end, spans[i-1].start, spans[i-1].end)
			ok = false
		}
		cores += s.end - s.start + 1
	}
	if !ok {
		return CoreAllocation{}
	}
	p.ignore(sp, fmt.Sprintf("ackflow runs one pipeline copy per core of the set (%d) but does not pin the copies to those cores: the Go scheduler places them", cores))
	return CoreAllocation{Type: CoreSet, Count: cores}
}
