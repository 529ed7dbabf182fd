package trafficgen

import (
	"fmt"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ackflow/ackflow/pdata"
)

// poolSize is how many distinct payloads of each signal are generated at
// start and sent in turn: enough that consecutive messages differ, few
// enough to stay small. Payloads above poolBytesLimit get a pool of one.
const (
	poolSize       = 4
	poolBytesLimit = 16 << 20
)

// scopeName identifies the generator as the instrumentation scope.
const scopeName = "github.com/ackflow/ackflow/nodes/receivers/trafficgen"

// synth builds synthetic OTLP requests. Content is deterministic: variant
// and item index pick names, attributes and ids, so tests and benchmarks see
// the same bytes on every run. Timestamps are fixed at base: pre-generated
// payloads are replayed unchanged, as the reference engine's pre_generated
// strategy does.
type synth struct {
	base     pcommon.Timestamp
	node     string
	bodySize int
}

var (
	severities = []struct {
		num  plog.SeverityNumber
		text string
	}{{plog.SeverityNumberInfo, "INFO"}, {plog.SeverityNumberInfo, "INFO"}, {plog.SeverityNumberWarn, "WARN"},
		{plog.SeverityNumberDebug, "DEBUG"}, {plog.SeverityNumberInfo, "INFO"}, {plog.SeverityNumberError, "ERROR"}}
	routes  = []string{"/api/items", "/api/items/{id}", "/api/users", "/healthz", "/api/orders"}
	methods = []string{"GET", "GET", "POST", "GET", "PUT"}
	codes   = []int64{200, 200, 201, 404, 200, 500, 200}
	// filler is repeated to pad log bodies to their configured size.
	filler = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore "
)

// payload returns a request of signal sig with n items, variant v.
func (g synth) payload(sig pdata.Signal, v, n int) (*pdata.Payload, error) {
	var (
		b   []byte
		err error
	)
	switch sig {
	case pdata.Logs:
		b, err = (&plog.ProtoMarshaler{}).MarshalLogs(g.logs(v, n))
	case pdata.Metrics:
		b, err = (&pmetric.ProtoMarshaler{}).MarshalMetrics(g.metrics(v, n))
	default:
		b, err = (&ptrace.ProtoMarshaler{}).MarshalTraces(g.traces(v, n))
	}
	if err != nil {
		return nil, fmt.Errorf("encode %d synthetic %s: %w", n, sig, err)
	}
	p, err := pdata.FromOTLP(sig, b)
	if err != nil {
		return nil, fmt.Errorf("check %d synthetic %s: %w", n, sig, err)
	}
	return p, nil
}

func (g synth) resource(r pcommon.Resource) {
	r.Attributes().PutStr("service.name", "ackflow-traffic-generator")
	r.Attributes().PutStr("service.instance.id", g.node)
	r.Attributes().PutStr("host.name", "trafficgen.local")
}

func scope(s pcommon.InstrumentationScope) {
	s.SetName(scopeName)
	s.SetVersion("1")
}

func (g synth) at(i int) pcommon.Timestamp {
	return g.base + pcommon.Timestamp(i)*pcommon.Timestamp(time.Millisecond)
}

func (g synth) logs(v, n int) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	g.resource(rl.Resource())
	sl := rl.ScopeLogs().AppendEmpty()
	scope(sl.Scope())
	recs := sl.LogRecords()
	recs.EnsureCapacity(n)
	for i := range n {
		k := v*n + i
		lr := recs.AppendEmpty()
		lr.SetTimestamp(g.at(i))
		lr.SetObservedTimestamp(g.at(i))
		sev := severities[k%len(severities)]
		lr.SetSeverityNumber(sev.num)
		lr.SetSeverityText(sev.text)
		if g.bodySize > 0 {
			lr.Body().SetStr(body(k, routes[k%len(routes)], g.bodySize))
		}
		lr.Attributes().PutInt("thread.id", int64(k%16))
		lr.Attributes().PutStr("thread.name", "worker-"+strconv.Itoa(k%16))
	}
	return ld
}

// body returns a log message of exactly size bytes (ASCII).
func body(k int, route string, size int) string {
	b := make([]byte, 0, size+len(filler))
	b = fmt.Appendf(b, "request %d to %s handled in %d ms; ", k, route, 1+k%97)
	for len(b) < size {
		b = append(b, filler...)
	}
	return string(b[:size])
}

// metrics returns n data points: metrics of up to pointsPerMetric points
// each, alternating a monotonic cumulative sum and a gauge.
func (g synth) metrics(v, n int) pmetric.Metrics {
	const pointsPerMetric = 10
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	g.resource(rm.Resource())
	sm := rm.ScopeMetrics().AppendEmpty()
	scope(sm.Scope())
	for m := 0; m*pointsPerMetric < n; m++ {
		metric := sm.Metrics().AppendEmpty()
		var dps pmetric.NumberDataPointSlice
		if m%2 == 0 {
			metric.SetName("http.server.request.count")
			metric.SetUnit("{request}")
			sum := metric.SetEmptySum()
			sum.SetIsMonotonic(true)
			sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			dps = sum.DataPoints()
		} else {
			metric.SetName("http.server.active_requests")
			metric.SetUnit("{request}")
			dps = metric.SetEmptyGauge().DataPoints()
		}
		for i := m * pointsPerMetric; i < min(n, (m+1)*pointsPerMetric); i++ {
			k := v*n + i
			dp := dps.AppendEmpty()
			dp.SetStartTimestamp(g.base)
			dp.SetTimestamp(g.at(i))
			dp.SetIntValue(int64(k%1000 + 1))
			dp.Attributes().PutStr("http.request.method", methods[k%len(methods)])
			dp.Attributes().PutStr("http.route", routes[k%len(routes)])
			dp.Attributes().PutInt("http.response.status_code", codes[k%len(codes)])
		}
	}
	return md
}

// traces returns n spans in traces of up to spansPerTrace spans: a server
// root and its children.
func (g synth) traces(v, n int) ptrace.Traces {
	const spansPerTrace = 8
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	g.resource(rs.Resource())
	ss := rs.ScopeSpans().AppendEmpty()
	scope(ss.Scope())
	spans := ss.Spans()
	spans.EnsureCapacity(n)
	var trace pcommon.TraceID
	var root pcommon.SpanID
	for i := range n {
		k := v*n + i
		sp := spans.AppendEmpty()
		id := pcommon.SpanID(idBytes8(mix(uint64(k)<<1 | 1)))
		if i%spansPerTrace == 0 {
			hi, lo := idBytes8(mix(uint64(k))), idBytes8(mix(^uint64(k)))
			copy(trace[:8], hi[:])
			copy(trace[8:], lo[:])
			root = id
			sp.SetKind(ptrace.SpanKindServer)
			sp.SetName(methods[k%len(methods)] + " " + routes[k%len(routes)])
		} else {
			sp.SetParentSpanID(root)
			sp.SetKind(ptrace.SpanKindInternal)
			sp.SetName("step-" + strconv.Itoa(i%spansPerTrace))
		}
		sp.SetTraceID(trace)
		sp.SetSpanID(id)
		sp.SetStartTimestamp(g.at(i))
		sp.SetEndTimestamp(g.at(i) + pcommon.Timestamp((1+k%50)*int(time.Millisecond)))
		code := codes[k%len(codes)]
		if code >= 500 {
			sp.Status().SetCode(ptrace.StatusCodeError)
		}
		sp.Attributes().PutStr("http.request.method", methods[k%len(methods)])
		sp.Attributes().PutStr("http.route", routes[k%len(routes)])
		sp.Attributes().PutInt("http.response.status_code", code)
	}
	return td
}

// mix is splitmix64's finalizer: distinct, well-spread ids from a counter.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func idBytes8(x uint64) [8]byte {
	var b [8]byte
	for i := range b {
		b[i] = byte(x >> (56 - 8*i))
	}
	return b
}

// pool is the pre-generated payloads of each signal, replayed in turn.
// Payloads are immutable, so every message can share them.
type pool struct {
	payloads [3][]*pdata.Payload
	next     [3]int
	synth    synth
	batch    int
}

// newPool generates the payloads of every signal with a positive weight.
func newPool(g synth, s settings) (*pool, error) {
	p := &pool{synth: g, batch: s.batch}
	for _, sig := range s.signals {
		first, err := g.payload(sig, 0, s.batch)
		if err != nil {
			return nil, err
		}
		p.payloads[sig] = append(p.payloads[sig], first)
		n := poolSize
		if first.Bytes() > poolBytesLimit {
			n = 1
		}
		for v := 1; v < n; v++ {
			pl, err := g.payload(sig, v, s.batch)
			if err != nil {
				return nil, err
			}
			p.payloads[sig] = append(p.payloads[sig], pl)
		}
	}
	return p, nil
}

// get returns a payload of sig with n items: the next one of the pool for
// a full batch, or a new one for the shorter last message before the
// limit, which happens once per run.
func (p *pool) get(sig pdata.Signal, n int) (*pdata.Payload, error) {
	if n != p.batch {
		return p.synth.payload(sig, 0, n)
	}
	ps := p.payloads[sig]
	i := p.next[sig]
	p.next[sig] = (i + 1) % len(ps)
	return ps[i], nil
}
