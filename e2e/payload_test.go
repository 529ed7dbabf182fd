package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/klauspost/compress/zstd"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

func itoa(n int) string { return strconv.Itoa(n) }

// signal names, as in the OTLP/HTTP paths.
const (
	sigLogs    = "logs"
	sigMetrics = "metrics"
	sigTraces  = "traces"
)

var signals = []string{sigLogs, sigMetrics, sigTraces}

// payload is one client request: the data, and the keys of its items.
type payload struct {
	signal  string
	logs    plog.Logs
	metrics pmetric.Metrics
	traces  ptrace.Traces
	keys    []string // one per item; unique across a test
}

func (p payload) items() int { return len(p.keys) }

// makePayload builds a request of signal with n items (n ≥ 4) spread over
// two resources, every item tagged with tag.
func makePayload(signal, tag string, n int) payload {
	p := payload{signal: signal}
	switch signal {
	case sigLogs:
		p.logs = genLogs(tag, n)
		p.keys = logKeys(p.logs)
	case sigMetrics:
		p.metrics = genMetrics(tag, n)
		p.keys = metricKeys(p.metrics)
	case sigTraces:
		p.traces = genTraces(tag, n)
		p.keys = traceKeys(p.traces)
	default:
		panic("unknown signal " + signal)
	}
	if len(p.keys) != n {
		panic(fmt.Sprintf("payload %s/%s has %d items, want %d", signal, tag, len(p.keys), n))
	}
	return p
}

func (p payload) proto() []byte {
	var b []byte
	var err error
	switch p.signal {
	case sigLogs:
		b, err = plogotlp.NewExportRequestFromLogs(p.logs).MarshalProto()
	case sigMetrics:
		b, err = pmetricotlp.NewExportRequestFromMetrics(p.metrics).MarshalProto()
	default:
		b, err = ptraceotlp.NewExportRequestFromTraces(p.traces).MarshalProto()
	}
	if err != nil {
		panic(err)
	}
	return b
}

func (p payload) json() []byte {
	var b []byte
	var err error
	switch p.signal {
	case sigLogs:
		b, err = plogotlp.NewExportRequestFromLogs(p.logs).MarshalJSON()
	case sigMetrics:
		b, err = pmetricotlp.NewExportRequestFromMetrics(p.metrics).MarshalJSON()
	default:
		b, err = ptraceotlp.NewExportRequestFromTraces(p.traces).MarshalJSON()
	}
	if err != nil {
		panic(err)
	}
	return b
}

// id16 and id8 derive stable trace and span ids from a string.
func id16(s string) pcommon.TraceID {
	h := sha256.Sum256([]byte(s))
	return pcommon.TraceID(h[:16])
}

func id8(s string) pcommon.SpanID {
	h := sha256.Sum256([]byte(s))
	return pcommon.SpanID(h[16:24])
}

func putResource(r pcommon.Resource, tag string, i int) {
	r.Attributes().PutStr("service.name", "e2e")
	r.Attributes().PutStr("request", tag)
	r.Attributes().PutInt("resource.index", int64(i))
}

func genLogs(tag string, n int) plog.Logs {
	ld := plog.NewLogs()
	for r := range 2 {
		rl := ld.ResourceLogs().AppendEmpty()
		putResource(rl.Resource(), tag, r)
		sl := rl.ScopeLogs().AppendEmpty()
		sl.Scope().SetName("e2e/scope-" + itoa(r))
		sl.Scope().SetVersion("1.0")
	}
	for i := range n {
		lr := ld.ResourceLogs().At(i % 2).ScopeLogs().At(0).LogRecords().AppendEmpty()
		lr.Body().SetStr(fmt.Sprintf("%s/log-%d", tag, i))
		lr.SetSeverityNumber(plog.SeverityNumberInfo + plog.SeverityNumber(i%4))
		lr.SetSeverityText("sev" + itoa(i%4))
		lr.SetTimestamp(pcommon.Timestamp(1_700_000_000_000_000_000 + int64(i)))
		lr.SetTraceID(id16(tag + itoa(i)))
		lr.Attributes().PutInt("i", int64(i))
		lr.Attributes().PutDouble("quarter", float64(i)/4)
		lr.Attributes().PutBool("even", i%2 == 0)
	}
	return ld
}

func genMetrics(tag string, n int) pmetric.Metrics {
	md := pmetric.NewMetrics()
	for r := range 2 {
		rm := md.ResourceMetrics().AppendEmpty()
		putResource(rm.Resource(), tag, r)
		sm := rm.ScopeMetrics().AppendEmpty()
		sm.Scope().SetName("e2e/scope-" + itoa(r))
		g := sm.Metrics().AppendEmpty()
		g.SetName(tag + ".gauge")
		g.SetUnit("1")
		g.SetEmptyGauge()
		s := sm.Metrics().AppendEmpty()
		s.SetName(tag + ".sum")
		s.SetUnit("By")
		sum := s.SetEmptySum()
		sum.SetIsMonotonic(true)
		sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	}
	for i := range n {
		ms := md.ResourceMetrics().At(i % 2).ScopeMetrics().At(0).Metrics()
		var dp pmetric.NumberDataPoint
		if (i/2)%2 == 0 {
			dp = ms.At(0).Gauge().DataPoints().AppendEmpty()
			dp.SetDoubleValue(float64(i) + 0.25)
		} else {
			dp = ms.At(1).Sum().DataPoints().AppendEmpty()
			dp.SetIntValue(int64(1000 + i))
		}
		dp.SetStartTimestamp(pcommon.Timestamp(1_700_000_000_000_000_000))
		dp.SetTimestamp(pcommon.Timestamp(1_700_000_000_000_000_000 + int64(i)))
		dp.Attributes().PutInt("i", int64(i))
		dp.Attributes().PutStr("tag", tag)
	}
	return md
}

func genTraces(tag string, n int) ptrace.Traces {
	td := ptrace.NewTraces()
	for r := range 2 {
		rs := td.ResourceSpans().AppendEmpty()
		putResource(rs.Resource(), tag, r)
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("e2e/scope-" + itoa(r))
	}
	for i := range n {
		sp := td.ResourceSpans().At(i % 2).ScopeSpans().At(0).Spans().AppendEmpty()
		sp.SetName(fmt.Sprintf("%s/span-%d", tag, i))
		sp.SetTraceID(id16(tag))
		sp.SetSpanID(id8(tag + itoa(i)))
		if i > 0 {
			sp.SetParentSpanID(id8(tag + "0"))
		}
		sp.SetKind(ptrace.SpanKindServer)
		sp.SetStartTimestamp(pcommon.Timestamp(1_700_000_000_000_000_000 + int64(i)))
		sp.SetEndTimestamp(pcommon.Timestamp(1_700_000_000_000_001_000 + int64(i)))
		sp.Attributes().PutInt("i", int64(i))
		sp.Status().SetCode(ptrace.StatusCodeOk)
	}
	return td
}

// The keys of items: every field the generators set, with the item's
// resource and scope, so that two items have equal keys only if they are
// equal. fmt prints maps sorted by key.

func attrs(m pcommon.Map) string { return fmt.Sprint(m.AsRaw()) }

func logKeys(ld plog.Logs) []string {
	var out []string
	for i := range ld.ResourceLogs().Len() {
		rl := ld.ResourceLogs().At(i)
		res := attrs(rl.Resource().Attributes())
		for j := range rl.ScopeLogs().Len() {
			sl := rl.ScopeLogs().At(j)
			for k := range sl.LogRecords().Len() {
				lr := sl.LogRecords().At(k)
				out = append(out, fmt.Sprintf("L|%s|%s@%s|%s|%d|%s|%d|%s|%s",
					res, sl.Scope().Name(), sl.Scope().Version(), lr.Body().AsString(), lr.SeverityNumber(),
					lr.SeverityText(), lr.Timestamp(), lr.TraceID(), attrs(lr.Attributes())))
			}
		}
	}
	return out
}

func metricKeys(md pmetric.Metrics) []string {
	var out []string
	for i := range md.ResourceMetrics().Len() {
		rm := md.ResourceMetrics().At(i)
		res := attrs(rm.Resource().Attributes())
		for j := range rm.ScopeMetrics().Len() {
			sm := rm.ScopeMetrics().At(j)
			for k := range sm.Metrics().Len() {
				m := sm.Metrics().At(k)
				var dps pmetric.NumberDataPointSlice
				head := fmt.Sprintf("M|%s|%s|%s|%s|%s", res, sm.Scope().Name(), m.Name(), m.Unit(), m.Type())
				switch m.Type() {
				case pmetric.MetricTypeGauge:
					dps = m.Gauge().DataPoints()
				case pmetric.MetricTypeSum:
					dps = m.Sum().DataPoints()
					head += fmt.Sprintf("|%t|%s", m.Sum().IsMonotonic(), m.Sum().AggregationTemporality())
				default:
					out = append(out, head+"|unexpected type")
					continue
				}
				for d := range dps.Len() {
					dp := dps.At(d)
					var v string
					if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
						v = "int:" + strconv.FormatInt(dp.IntValue(), 10)
					} else {
						v = "double:" + strconv.FormatFloat(dp.DoubleValue(), 'g', -1, 64)
					}
					out = append(out, fmt.Sprintf("%s|%s|%d|%d|%s", head, v, dp.StartTimestamp(), dp.Timestamp(), attrs(dp.Attributes())))
				}
			}
		}
	}
	return out
}

func traceKeys(td ptrace.Traces) []string {
	var out []string
	for i := range td.ResourceSpans().Len() {
		rs := td.ResourceSpans().At(i)
		res := attrs(rs.Resource().Attributes())
		for j := range rs.ScopeSpans().Len() {
			ss := rs.ScopeSpans().At(j)
			for k := range ss.Spans().Len() {
				sp := ss.Spans().At(k)
				out = append(out, fmt.Sprintf("T|%s|%s|%s|%s|%s|%s|%s|%d|%d|%s|%s",
					res, ss.Scope().Name(), sp.Name(), sp.TraceID(), sp.SpanID(), sp.ParentSpanID(), sp.Kind(),
					sp.StartTimestamp(), sp.EndTimestamp(), sp.Status().Code(), attrs(sp.Attributes())))
			}
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// Clients

// dialGRPC returns a client connection to addr, closed at the end of the
// test.
func dialGRPC(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// exportGRPC sends p with the signal's pdata gRPC client.
func exportGRPC(ctx context.Context, conn *grpc.ClientConn, p payload, opts ...grpc.CallOption) error {
	var err error
	switch p.signal {
	case sigLogs:
		_, err = plogotlp.NewGRPCClient(conn).Export(ctx, plogotlp.NewExportRequestFromLogs(p.logs), opts...)
	case sigMetrics:
		_, err = pmetricotlp.NewGRPCClient(conn).Export(ctx, pmetricotlp.NewExportRequestFromMetrics(p.metrics), opts...)
	default:
		_, err = ptraceotlp.NewGRPCClient(conn).Export(ctx, ptraceotlp.NewExportRequestFromTraces(p.traces), opts...)
	}
	return err
}

// Media types of OTLP/HTTP.
const (
	mediaProto = "application/x-protobuf"
	mediaJSON  = "application/json"
)

// httpClient returns a client for p's receiver. Its idle connections are
// closed when the test ends and before p shuts down: net/http's transport
// may keep a spare connection on which it never sent a request, and such a
// connection holds the receiver's drain (see
// TestShutdownNotHeldByIdleConnections).
func httpClient(t *testing.T, p *pipe) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	p.beforeStop = append(p.beforeStop, tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// h2cClient is httpClient speaking HTTP/2 without TLS (prior knowledge).
func h2cClient(t *testing.T, p *pipe) *http.Client {
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(tr.CloseIdleConnections)
	p.beforeStop = append(p.beforeStop, tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// httpAnswer is an OTLP/HTTP response.
type httpAnswer struct {
	proto      int // HTTP major version
	code       int
	media      string
	retryAfter string
	body       []byte
}

func (a httpAnswer) String() string {
	return fmt.Sprintf("HTTP %d (%s, Retry-After %q): %.200q", a.code, a.media, a.retryAfter, a.body)
}

// encodeBody compresses b with enc ("", "gzip" or "zstd").
func encodeBody(b []byte, enc string) []byte {
	switch enc {
	case "":
		return b
	case "gzip":
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(b)
		_ = zw.Close()
		return buf.Bytes()
	case "zstd":
		zw, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		if err != nil {
			panic(err)
		}
		defer zw.Close()
		return zw.EncodeAll(b, nil)
	}
	panic("unknown encoding " + enc)
}

// postRaw posts body to base + "/v1/" + signal.
func postRaw(ctx context.Context, c *http.Client, base, signal, media, enc string, body []byte) (httpAnswer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/"+signal, bytes.NewReader(encodeBody(body, enc)))
	if err != nil {
		return httpAnswer{}, err
	}
	req.Header.Set("Content-Type", media)
	if enc != "" {
		req.Header.Set("Content-Encoding", enc)
	}
	resp, err := c.Do(req)
	if err != nil {
		return httpAnswer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return httpAnswer{proto: resp.ProtoMajor, code: resp.StatusCode, media: resp.Header.Get("Content-Type"),
		retryAfter: resp.Header.Get("Retry-After"), body: b}, err
}

// postHTTP sends p as media (protobuf or JSON) compressed with enc.
func postHTTP(ctx context.Context, c *http.Client, base string, p payload, media, enc string) (httpAnswer, error) {
	body := p.proto()
	if media == mediaJSON {
		body = p.json()
	}
	return postRaw(ctx, c, base, p.signal, media, enc, body)
}
