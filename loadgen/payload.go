package loadgen

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"math/rand/v2"

	"github.com/klauspost/compress/zstd"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// baseTime is the timestamp of the first item: fixed, so requests are the
// same bytes from one run to the next.
const baseTime = 1_700_000_000_000_000_000

// pointsPerMetric is how many data points each generated metric holds.
const pointsPerMetric = 10

// bodyAlphabet is what log bodies are made of: text-like, so compression
// ratios look like those of real logs rather than of zeros or noise.
const bodyAlphabet = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ0123456789 =:/.-_ "

// Pool is a set of pre-encoded export requests, sent in turn.
type Pool struct {
	// Signal is what the requests carry.
	Signal Signal
	// Items is the number of items in each request.
	Items int
	// Raw holds the serialized Export*ServiceRequest bodies.
	Raw [][]byte
	// Encoded holds the bodies as sent over HTTP: Raw compressed with
	// Compression, or Raw itself without compression.
	Encoded [][]byte
	// Compression is the encoding of Encoded.
	Compression Compression
}

// NewPool encodes cfg.Pool distinct requests of cfg.Items items. Request i
// is the same bytes for the same (signal, shape, items, body size, i),
// whatever the machine, so two systems under test receive identical load.
func NewPool(cfg Config) (*Pool, error) {
	p := &Pool{Signal: cfg.Signal, Items: cfg.Items, Compression: cfg.Compression}
	for i := range cfg.Pool {
		raw, err := encodeRequest(cfg.Signal, cfg.Shape, cfg.Items, cfg.BodySize, i)
		if err != nil {
			return nil, fmt.Errorf("loadgen: encode %s request %d: %w", cfg.Signal, i, err)
		}
		enc, err := compress(cfg.Compression, raw)
		if err != nil {
			return nil, fmt.Errorf("loadgen: %s-compress request %d: %w", cfg.Compression, i, err)
		}
		p.Raw = append(p.Raw, raw)
		p.Encoded = append(p.Encoded, enc)
	}
	return p, nil
}

// RequestBytes returns the mean size of the uncompressed requests.
func (p *Pool) RequestBytes() int {
	n := 0
	for _, r := range p.Raw {
		n += len(r)
	}
	return n / max(len(p.Raw), 1)
}

// EncodedBytes returns the mean size of the request bodies as sent over HTTP.
func (p *Pool) EncodedBytes() int {
	n := 0
	for _, r := range p.Encoded {
		n += len(r)
	}
	return n / max(len(p.Encoded), 1)
}

// encodeRequest builds request number seq of the signal.
func encodeRequest(s Signal, shape Shape, items, bodySize, seq int) ([]byte, error) {
	rng := rand.New(rand.NewPCG(uint64(seq)+1, 0x6c6f616467656e)) // "loadgen"
	switch {
	case s == Logs && shape == ShapeSDK:
		return (&plog.ProtoMarshaler{}).MarshalLogs(buildSDKLogs(rng, items, seq))
	case shape != "" && shape != ShapeBody:
		return nil, fmt.Errorf("shape %q is not one for %s", shape, s)
	}
	switch s {
	case Logs:
		return (&plog.ProtoMarshaler{}).MarshalLogs(buildLogs(rng, items, bodySize, seq))
	case Metrics:
		return (&pmetric.ProtoMarshaler{}).MarshalMetrics(buildMetrics(rng, items, seq))
	case Traces:
		return (&ptrace.ProtoMarshaler{}).MarshalTraces(buildTraces(rng, items, seq))
	}
	return nil, fmt.Errorf("unknown signal %q", s)
}

func setResource(r pcommon.Resource, seq int) {
	r.Attributes().PutStr("service.name", "loadgen")
	r.Attributes().PutStr("service.instance.id", fmt.Sprintf("loadgen-%d", seq))
	r.Attributes().PutStr("host.name", "localhost")
}

var severities = [...]struct {
	num  plog.SeverityNumber
	text string
}{
	{plog.SeverityNumberInfo, "INFO"},
	{plog.SeverityNumberInfo, "INFO"},
	{plog.SeverityNumberInfo, "INFO"},
	{plog.SeverityNumberDebug, "DEBUG"},
	{plog.SeverityNumberWarn, "WARN"},
	{plog.SeverityNumberError, "ERROR"},
}

// buildLogs makes one resource and one scope holding items records, each
// with timestamps, a severity, one attribute and a body of bodySize bytes.
func buildLogs(rng *rand.Rand, items, bodySize, seq int) plog.Logs {
	return buildRecords(rng, items, bodySize, seq, func(attrs pcommon.Map, i int) {
		attrs.PutInt("sequence", int64(i))
	})
}

// sdkMethods and sdkThreads are values of the SDK shape's attributes.
var (
	sdkMethods = [...]string{"GET", "GET", "GET", "POST", "PUT", "DELETE"}
	sdkThreads = [...]string{"main", "worker-1", "worker-2", "io"}
)

// buildSDKLogs makes one resource and one scope holding items records in
// the SDK shape: timestamps, a severity, a 64-byte body and four short
// string attributes (~185 B per record encoded; sizes are fixed per record
// but for the method and thread names, so the mean stays put).
func buildSDKLogs(rng *rand.Rand, items, seq int) plog.Logs {
	return buildRecords(rng, items, SDKBodySize, seq, func(attrs pcommon.Map, _ int) {
		attrs.EnsureCapacity(SDKAttributes)
		attrs.PutStr("http.method", sdkMethods[rng.IntN(len(sdkMethods))])
		attrs.PutStr("user.id", fmt.Sprintf("u%05d", rng.IntN(100_000)))
		attrs.PutStr("region", "us-east")
		attrs.PutStr("thread", sdkThreads[rng.IntN(len(sdkThreads))])
	})
}

// buildRecords makes one resource and one scope holding items records with
// timestamps, a severity and a body of bodySize bytes; attributes fills
// each record's attributes, after its body.
func buildRecords(rng *rand.Rand, items, bodySize, seq int, attributes func(attrs pcommon.Map, i int)) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	setResource(rl.Resource(), seq)
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("github.com/ackflow/ackflow/loadgen")
	recs := sl.LogRecords()
	recs.EnsureCapacity(items)
	body := make([]byte, bodySize)
	for i := range items {
		lr := recs.AppendEmpty()
		ts := pcommon.Timestamp(baseTime + int64(seq)*1e9 + int64(i)*1000)
		lr.SetTimestamp(ts)
		lr.SetObservedTimestamp(ts + 1000)
		sev := severities[rng.IntN(len(severities))]
		lr.SetSeverityNumber(sev.num)
		lr.SetSeverityText(sev.text)
		fillBody(rng, body, seq, i)
		lr.Body().SetStr(string(body))
		attributes(lr.Attributes(), i)
	}
	return ld
}

// fillBody writes "request <seq> record <i> " then text-like filler.
func fillBody(rng *rand.Rand, b []byte, seq, i int) {
	head := fmt.Appendf(nil, "request %d record %d ", seq, i)
	n := copy(b, head)
	for j := n; j < len(b); j++ {
		b[j] = bodyAlphabet[rng.IntN(len(bodyAlphabet))]
	}
}

// buildMetrics makes items gauge and sum data points, pointsPerMetric per
// metric, each point with one attribute.
func buildMetrics(rng *rand.Rand, items, seq int) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	setResource(rm.Resource(), seq)
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("github.com/ackflow/ackflow/loadgen")
	var dps pmetric.NumberDataPointSlice
	for i := range items {
		if i%pointsPerMetric == 0 {
			m := sm.Metrics().AppendEmpty()
			m.SetName(fmt.Sprintf("loadgen.metric.%d", i/pointsPerMetric))
			m.SetUnit("1")
			if (i/pointsPerMetric)%2 == 0 {
				dps = m.SetEmptyGauge().DataPoints()
			} else {
				sum := m.SetEmptySum()
				sum.SetIsMonotonic(true)
				sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
				dps = sum.DataPoints()
			}
		}
		dp := dps.AppendEmpty()
		dp.SetStartTimestamp(pcommon.Timestamp(baseTime))
		dp.SetTimestamp(pcommon.Timestamp(baseTime + int64(seq)*1e9 + int64(i)*1000))
		dp.Attributes().PutStr("point", fmt.Sprintf("p%d", i%pointsPerMetric))
		if i%2 == 0 {
			dp.SetIntValue(rng.Int64N(1_000_000))
		} else {
			dp.SetDoubleValue(rng.Float64() * 1000)
		}
	}
	return md
}

// buildTraces makes items spans in traces of 10 spans, each with two
// attributes.
func buildTraces(rng *rand.Rand, items, seq int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	setResource(rs.Resource(), seq)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("github.com/ackflow/ackflow/loadgen")
	spans := ss.Spans()
	spans.EnsureCapacity(items)
	var traceID pcommon.TraceID
	var root pcommon.SpanID
	for i := range items {
		sp := spans.AppendEmpty()
		if i%10 == 0 {
			fillRandom(rng, traceID[:])
		}
		var id pcommon.SpanID
		fillRandom(rng, id[:])
		sp.SetTraceID(traceID)
		sp.SetSpanID(id)
		if i%10 == 0 {
			root = id
		} else {
			sp.SetParentSpanID(root)
		}
		sp.SetName(fmt.Sprintf("operation-%d", i%10))
		sp.SetKind(ptrace.SpanKindServer)
		start := pcommon.Timestamp(baseTime + int64(seq)*1e9 + int64(i)*1000)
		sp.SetStartTimestamp(start)
		sp.SetEndTimestamp(start + pcommon.Timestamp(rng.IntN(1_000_000)))
		sp.Attributes().PutStr("http.route", fmt.Sprintf("/api/v1/items/%d", i%10))
		sp.Attributes().PutInt("http.status_code", 200)
	}
	return td
}

func fillRandom(rng *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
}

// compress returns raw encoded with c; without compression, raw itself.
func compress(c Compression, raw []byte) ([]byte, error) {
	var buf bytes.Buffer
	switch c {
	case NoCompression, "":
		return raw, nil
	case Gzip:
		w := gzip.NewWriter(&buf)
		if _, err := w.Write(raw); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
	case Zstd:
		// EncodeAll knows the whole input, so the frame records its size
		// and uses a window no larger than the request.
		w, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		defer w.Close()
		return w.EncodeAll(raw, nil), nil
	default:
		return nil, fmt.Errorf("unknown compression %q", c)
	}
	return buf.Bytes(), nil
}
