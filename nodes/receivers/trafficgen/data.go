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

// synth builds the OTLP requests. Content is deterministic: variant and
// item index pick names, attributes and ids, so tests and benchmarks see
// the same bytes on every run. Timestamps are fixed at base: pre-generated
// payloads are replayed unchanged, as the reference engine's pre_generated
// strategy does (fresh payloads get the time they are built at).
type synth struct {
	base     pcommon.Timestamp
	node     string
	bodySize int
	shape    dataShape
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

// payload returns a request of signal sig with n items, variant v, whose
// resource also carries the attributes of res (nil: none).
func (g synth) payload(sig pdata.Signal, v, n int, res *resourceSet) (*pdata.Payload, error) {
	var (
		b   []byte
		err error
	)
	switch {
	case sig == pdata.Logs && g.shape.semconv:
		b, err = (&plog.ProtoMarshaler{}).MarshalLogs(g.semconvLogs(v, n, res))
	case sig == pdata.Logs:
		b, err = (&plog.ProtoMarshaler{}).MarshalLogs(g.logs(v, n, res))
	case sig == pdata.Metrics && g.shape.semconv:
		b, err = (&pmetric.ProtoMarshaler{}).MarshalMetrics(g.semconvMetrics(v, n, res))
	case sig == pdata.Metrics:
		b, err = (&pmetric.ProtoMarshaler{}).MarshalMetrics(g.metrics(v, n, res))
	case g.shape.semconv:
		b, err = (&ptrace.ProtoMarshaler{}).MarshalTraces(g.semconvTraces(v, n, res))
	default:
		b, err = (&ptrace.ProtoMarshaler{}).MarshalTraces(g.traces(v, n, res))
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

// resource fills a resource: the generator's identity, then the
// attributes of res, which override it.
func (g synth) resource(r pcommon.Resource, res *resourceSet) {
	r.Attributes().PutStr("service.name", "ackflow-traffic-generator")
	r.Attributes().PutStr("service.instance.id", g.node)
	r.Attributes().PutStr("host.name", "trafficgen.local")
	if res != nil {
		for _, kv := range res.attrs {
			r.Attributes().PutStr(kv[0], kv[1])
		}
	}
}

func scope(s pcommon.InstrumentationScope) {
	s.SetName(scopeName)
	s.SetVersion("1")
}

func (g synth) at(i int) pcommon.Timestamp {
	return g.base + pcommon.Timestamp(i)*pcommon.Timestamp(time.Millisecond)
}

func (g synth) logs(v, n int, res *resourceSet) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	g.resource(rl.Resource(), res)
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
		g.logAttributes(lr.Attributes(), k)
		if g.shape.traceContext {
			hi, lo := idBytes8(mix(uint64(k)<<2|2)), idBytes8(mix(uint64(k)<<2|3))
			var trace pcommon.TraceID
			copy(trace[:8], hi[:])
			copy(trace[8:], lo[:])
			lr.SetTraceID(trace)
			lr.SetSpanID(pcommon.SpanID(idBytes8(mix(uint64(k) << 2))))
		}
	}
	return ld
}

// logAttributes gives a synthetic log record its num_log_attributes
// attributes: thread.id and thread.name, then attr.N.
func (g synth) logAttributes(m pcommon.Map, k int) {
	n := g.shape.logAttrs
	m.EnsureCapacity(n)
	if n > 0 {
		m.PutInt("thread.id", int64(k%16))
	}
	if n > 1 {
		m.PutStr("thread.name", "worker-"+strconv.Itoa(k%16))
	}
	extraAttributes(m, 2, n, k)
}

// extraAttributes puts attr.from ... attr.(to-1), with values that vary
// with k.
func extraAttributes(m pcommon.Map, from, to, k int) {
	for a := from; a < to; a++ {
		m.PutStr("attr."+strconv.Itoa(a), "value-"+strconv.Itoa((k+a)%32))
	}
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
func (g synth) metrics(v, n int, res *resourceSet) pmetric.Metrics {
	pointsPerMetric := g.shape.pointsPerMetric
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	g.resource(rm.Resource(), res)
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
			g.metricAttributes(dp.Attributes(), k)
		}
	}
	return md
}

// metricAttributes gives a synthetic data point its
// num_metric_attributes attributes: method, route and status code, then
// attr.N.
func (g synth) metricAttributes(m pcommon.Map, k int) {
	n := g.shape.metricAttrs
	m.EnsureCapacity(n)
	if n > 0 {
		m.PutStr("http.request.method", methods[k%len(methods)])
	}
	if n > 1 {
		m.PutStr("http.route", routes[k%len(routes)])
	}
	if n > 2 {
		m.PutInt("http.response.status_code", codes[k%len(codes)])
	}
	extraAttributes(m, 3, n, k)
}

// traces returns n spans in traces of up to spansPerTrace spans: a server
// root and its children.
func (g synth) traces(v, n int, res *resourceSet) ptrace.Traces {
	const spansPerTrace = 8
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	g.resource(rs.Resource(), res)
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

// pool gives the generator its payloads: with pre_generated, a few built
// at start per signal and resource set and replayed in turn (payloads are
// immutable, so every message can share them); with fresh, one built per
// message. Resource sets are taken in turn in proportion to their weights.
//
// It is not safe for concurrent use; the Run goroutine owns it.
type pool struct {
	payloads [3][][]*pdata.Payload // by signal, resource set, variant
	next     [3][]int              // next variant, by signal and set
	synth    synth
	batch    int
	fresh    bool
	variant  int // fresh: the next variant, so that ids never repeat
	sets     []*resourceSet
	rot      rotation
}

// newPool prepares the payloads of every signal with a positive weight.
func newPool(g synth, s settings) (*pool, error) {
	g.shape = s.data
	if g.shape.pointsPerMetric < 1 {
		g.shape.pointsPerMetric = DefaultPointsPerMetric
	}
	p := &pool{synth: g, batch: s.batch, fresh: s.fresh}
	weights := []int{1}
	p.sets = []*resourceSet{nil}
	if len(s.data.resources) > 0 {
		p.sets, weights = nil, nil
		for i := range s.data.resources {
			p.sets = append(p.sets, &s.data.resources[i])
			weights = append(weights, s.data.resources[i].weight)
		}
	}
	p.rot = newRotation(weights)
	if s.fresh {
		return p, nil
	}
	for _, sig := range s.signals {
		p.payloads[sig] = make([][]*pdata.Payload, len(p.sets))
		p.next[sig] = make([]int, len(p.sets))
		for j, set := range p.sets {
			first, err := g.payload(sig, 0, s.batch, set)
			if err != nil {
				return nil, err
			}
			p.payloads[sig][j] = append(p.payloads[sig][j], first)
			n := poolSize
			if first.Bytes() > poolBytesLimit || len(p.sets) > 1 {
				n = 1 // bound the memory: big payloads, or many sets
			}
			for v := 1; v < n; v++ {
				pl, err := g.payload(sig, v, s.batch, set)
				if err != nil {
					return nil, err
				}
				p.payloads[sig][j] = append(p.payloads[sig][j], pl)
			}
		}
	}
	return p, nil
}

// get returns a payload of sig with n items, made at now: with fresh a new
// one, else the next one of the pool for a full batch, or a new one for
// the shorter last message before the limit, which happens once per run.
func (p *pool) get(sig pdata.Signal, n int, now time.Time) (*pdata.Payload, error) {
	j := p.rot.next()
	if p.fresh {
		g := p.synth
		g.base = pcommon.NewTimestampFromTime(now)
		p.variant++
		return g.payload(sig, p.variant, n, p.sets[j])
	}
	if n != p.batch {
		return p.synth.payload(sig, 0, n, p.sets[j])
	}
	ps := p.payloads[sig][j]
	i := p.next[sig][j]
	p.next[sig][j] = (i + 1) % len(ps)
	return ps[i], nil
}

// rotation picks indexes in proportion to their weights, spread out
// (smooth weighted round robin): weights 3 and 1 give 0, 0, 1, 0, then
// again. Deterministic, O(len(weights)) per pick.
type rotation struct {
	weights, current []int
	total            int
}

func newRotation(weights []int) rotation {
	r := rotation{weights: weights, current: make([]int, len(weights))}
	for _, w := range weights {
		r.total += w
	}
	return r
}

// next returns the next index.
func (r *rotation) next() int {
	if len(r.weights) == 1 {
		return 0
	}
	best := 0
	for i, w := range r.weights {
		r.current[i] += w
		if r.current[i] > r.current[best] {
			best = i
		}
	}
	r.current[best] -= r.total
	return best
}
