package pdata

import (
	"fmt"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ackflow/ackflow/pdata/otlpwire"
)

// Signal is the kind of telemetry a payload carries.
type Signal uint8

// Signals.
const (
	Logs Signal = iota
	Metrics
	Traces
)

// Signals lists every signal.
func Signals() []Signal { return []Signal{Logs, Metrics, Traces} }

func (s Signal) String() string {
	switch s {
	case Logs:
		return "logs"
	case Metrics:
		return "metrics"
	case Traces:
		return "traces"
	}
	return fmt.Sprintf("signal(%d)", uint8(s))
}

func (s Signal) wire() otlpwire.Kind {
	switch s {
	case Metrics:
		return otlpwire.Metrics
	case Traces:
		return otlpwire.Traces
	}
	return otlpwire.Logs
}

// Form is the representation a payload was built from.
type Form uint8

// Payload forms.
const (
	// FormOTLP is serialized OTLP export request bytes.
	FormOTLP Form = iota
	// FormDecoded is the OpenTelemetry pdata model (plog, pmetric, ptrace).
	FormDecoded
	// FormOTAP is OpenTelemetry Arrow: the Arrow record batches an OTAP
	// stream carried, decoded from the stream's state so that they stand
	// alone (package pdata/otap; see Columnar).
	FormOTAP
)

func (f Form) String() string {
	switch f {
	case FormOTLP:
		return "otlp"
	case FormOTAP:
		return "otap"
	}
	return "decoded"
}

// Columnar is a payload's data in a columnar form: OTAP's Arrow records
// (package pdata/otap implements it; pdata itself knows no Arrow). It is
// immutable and safe for concurrent use.
type Columnar interface {
	// Items returns the number of log records, metric data points or
	// spans.
	Items() int
	// Size returns the bytes it holds in memory, for budgets.
	Size() int
	// ToPdata converts it to the pdata model of its signal: plog.Logs,
	// pmetric.Metrics or ptrace.Traces. It never panics: data a hostile
	// stream made inconsistent is an error.
	ToPdata() (any, error)
}

// conversions counts the payloads converted from the OTAP form to the
// pdata model (and from there, on demand, to OTLP bytes).
var conversions struct {
	payloads, items atomic.Uint64
}

// OTAPConversions returns how many OTAP payloads were converted to the
// pdata model since the process started, and the items they held: the
// cost a pipeline pays where a node needs OTLP behind an OTAP receiver.
func OTAPConversions() (payloads, items uint64) {
	return conversions.payloads.Load(), conversions.items.Load()
}

// Payload is an immutable batch of one signal. It is safe for concurrent
// use: lazy conversions are computed once and cached.
type Payload struct {
	signal Signal
	form   Form
	items  int

	// OTLP form: chunks whose concatenation is one export request. Each
	// chunk is a whole request, unless framed: then they are pieces of
	// requests as a transport received them (FromOTLPBuffers), and
	// Requests joins them into one.
	chunks [][]byte
	size   int
	framed bool
	leases Leases // memory the chunks may alias (see Lease)

	joinOnce sync.Once
	joined   []byte

	// OTAP form: the Arrow records, converted on demand by decode.
	columnar Columnar

	// Decoded form: exactly one of these is set for FormDecoded payloads,
	// or filled on demand by decode for FormOTLP and FormOTAP ones.
	decodeOnce sync.Once
	decoded    any
	decodeErr  error

	encodeOnce sync.Once
	encodeErr  error
}

// FromOTLP checks b with a wire scan (framing and item count, without
// decoding) and wraps it. The payload aliases b: the caller must not modify
// b afterwards. A malformed request returns an error wrapping
// otlpwire.ErrMalformed.
func FromOTLP(s Signal, b []byte) (*Payload, error) {
	st, err := otlpwire.Scan(s.wire(), b)
	if err != nil {
		return nil, fmt.Errorf("%s request: %w", s, err)
	}
	return FromOTLPChunks(s, [][]byte{b}, st.Items), nil
}

// FromOTLPBuffers checks the request whose encoding is the concatenation
// of bufs, the buffers a transport received it in, with the wire scan
// (otlpwire.ScanBuffers), and wraps them without joining or copying them:
// Chunks returns them as they are. The payload aliases bufs: the caller
// must not modify them afterwards.
func FromOTLPBuffers(s Signal, bufs [][]byte) (*Payload, error) {
	if len(bufs) == 1 {
		return FromOTLP(s, bufs[0])
	}
	st, err := otlpwire.ScanBuffers(s.wire(), bufs)
	if err != nil {
		return nil, fmt.Errorf("%s request: %w", s, err)
	}
	return FromOTLPFrames(s, bufs, st.Items), nil
}

// FromOTLPFrames wraps chunks whose concatenation is a valid export
// request of signal s holding items items, already scanned, where a chunk
// need not be a whole request (see FromOTLPBuffers): nodes that gather the
// chunks of several payloads, some built from a transport's buffers, use
// it. Requests joins the chunks.
func FromOTLPFrames(s Signal, chunks [][]byte, items int) *Payload {
	p := FromOTLPChunks(s, chunks, items)
	p.framed = len(chunks) > 1
	return p
}

// FromOTLPChunks wraps chunks that are each already known to be a valid
// export request of signal s, holding items items in total. Used by nodes
// that concatenate or split payloads they have already scanned.
func FromOTLPChunks(s Signal, chunks [][]byte, items int) *Payload {
	size := 0
	for _, c := range chunks {
		size += len(c)
	}
	return &Payload{signal: s, form: FormOTLP, chunks: chunks, size: size, items: items}
}

// FromLogs wraps decoded logs. The payload takes ownership: ld is marked
// read-only.
func FromLogs(ld plog.Logs) *Payload {
	ld.MarkReadOnly()
	return &Payload{signal: Logs, form: FormDecoded, decoded: ld, items: ld.LogRecordCount(), size: -1}
}

// FromMetrics wraps decoded metrics (items are data points).
func FromMetrics(md pmetric.Metrics) *Payload {
	md.MarkReadOnly()
	return &Payload{signal: Metrics, form: FormDecoded, decoded: md, items: md.DataPointCount(), size: -1}
}

// FromTraces wraps decoded traces (items are spans).
func FromTraces(td ptrace.Traces) *Payload {
	td.MarkReadOnly()
	return &Payload{signal: Traces, form: FormDecoded, decoded: td, items: td.SpanCount(), size: -1}
}

// FromColumnar wraps the OTAP form of a batch of signal s. The payload is
// converted to the pdata model, once, only when a node asks for it (Logs,
// Chunks, ...): OTAPConversions counts those.
func FromColumnar(s Signal, c Columnar) *Payload {
	return &Payload{signal: s, form: FormOTAP, columnar: c, items: c.Items(), size: -1}
}

// Columnar returns the payload's OTAP form, if it was built from one.
func (p *Payload) Columnar() (Columnar, bool) {
	return p.columnar, p.columnar != nil
}

// Signal returns the payload's signal.
func (p *Payload) Signal() Signal { return p.signal }

// Form returns the representation the payload was built from.
func (p *Payload) Form() Form { return p.form }

// Items returns the number of log records, metric data points or spans.
func (p *Payload) Items() int { return p.items }

// Bytes returns the size of the payload's OTLP encoding. For a decoded
// payload this encodes it once; for an OTAP one it converts it first.
func (p *Payload) Bytes() int {
	if err := p.encode(); err != nil {
		return 0
	}
	return p.size
}

// Chunks returns the OTLP encoding as chunks whose concatenation is one
// export request: whole requests, or the buffers a transport received one
// in (see Requests). The slices are shared: callers must not modify them.
func (p *Payload) Chunks() ([][]byte, error) {
	if err := p.encode(); err != nil {
		return nil, err
	}
	return p.chunks, nil
}

// Requests returns the OTLP encoding as chunks that are each a whole
// export request, for nodes that cut between requests. A payload built
// from a transport's buffers (FromOTLPBuffers, FromOTLPFrames) has its
// chunks joined into one request, once, on first use; any other returns
// its chunks.
func (p *Payload) Requests() ([][]byte, error) {
	if err := p.encode(); err != nil {
		return nil, err
	}
	if !p.framed {
		return p.chunks, nil
	}
	p.joinOnce.Do(func() { p.joined = join(p.chunks, p.size) })
	return [][]byte{p.joined}, nil
}

// Framed reports whether the chunks are pieces of requests rather than
// whole ones (see Requests): a node that cuts between requests calls
// Requests first.
func (p *Payload) Framed() bool { return p.framed }

// join concatenates chunks of size bytes in all.
func join(chunks [][]byte, size int) []byte {
	b := make([]byte, 0, size)
	for _, c := range chunks {
		b = append(b, c...)
	}
	return b
}

// AppendOTLP appends the payload's OTLP encoding to dst.
func (p *Payload) AppendOTLP(dst []byte) ([]byte, error) {
	chunks, err := p.Chunks()
	if err != nil {
		return dst, err
	}
	for _, c := range chunks {
		dst = append(dst, c...)
	}
	return dst, nil
}

// Logs returns the decoded logs (read-only), decoding the bytes on first
// use. It fails for a payload of another signal.
func (p *Payload) Logs() (plog.Logs, error) {
	v, err := p.decode(Logs)
	if err != nil {
		return plog.Logs{}, err
	}
	return v.(plog.Logs), nil
}

// Metrics returns the decoded metrics (read-only).
func (p *Payload) Metrics() (pmetric.Metrics, error) {
	v, err := p.decode(Metrics)
	if err != nil {
		return pmetric.Metrics{}, err
	}
	return v.(pmetric.Metrics), nil
}

// Traces returns the decoded traces (read-only).
func (p *Payload) Traces() (ptrace.Traces, error) {
	v, err := p.decode(Traces)
	if err != nil {
		return ptrace.Traces{}, err
	}
	return v.(ptrace.Traces), nil
}

func (p *Payload) decode(want Signal) (any, error) {
	if p.signal != want {
		return nil, fmt.Errorf("payload holds %s, not %s", p.signal, want)
	}
	if p.form == FormDecoded {
		return p.decoded, nil
	}
	p.decodeOnce.Do(func() {
		if p.form == FormOTAP {
			p.decoded, p.decodeErr = fromColumnar(p.columnar)
			return
		}
		var buf []byte
		if len(p.chunks) == 1 {
			buf = p.chunks[0]
		} else {
			buf = join(p.chunks, p.size)
		}
		p.decoded, p.decodeErr = unmarshal(p.signal, buf)
	})
	return p.decoded, p.decodeErr
}

// fromColumnar converts an OTAP payload to the pdata model, read-only,
// and counts the conversion.
func fromColumnar(c Columnar) (any, error) {
	v, err := c.ToPdata()
	if err != nil {
		return nil, fmt.Errorf("convert OTAP to pdata: %w", err)
	}
	switch v := v.(type) {
	case plog.Logs:
		v.MarkReadOnly()
	case pmetric.Metrics:
		v.MarkReadOnly()
	case ptrace.Traces:
		v.MarkReadOnly()
	default:
		return nil, fmt.Errorf("convert OTAP to pdata: got %T", v)
	}
	conversions.payloads.Add(1)
	conversions.items.Add(uint64(c.Items()))
	return v, nil
}

func unmarshal(s Signal, b []byte) (any, error) {
	switch s {
	case Logs:
		ld, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(b)
		if err == nil {
			ld.MarkReadOnly()
		}
		return ld, err
	case Metrics:
		md, err := (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(b)
		if err == nil {
			md.MarkReadOnly()
		}
		return md, err
	default:
		td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(b)
		if err == nil {
			td.MarkReadOnly()
		}
		return td, err
	}
}

// encode fills the OTLP form of a decoded or OTAP payload once.
func (p *Payload) encode() error {
	if p.form == FormOTLP {
		return nil
	}
	p.encodeOnce.Do(func() {
		v, err := p.decode(p.signal)
		if err != nil {
			p.encodeErr = err
			return
		}
		var b []byte
		switch v := v.(type) {
		case plog.Logs:
			b, p.encodeErr = (&plog.ProtoMarshaler{}).MarshalLogs(v)
		case pmetric.Metrics:
			b, p.encodeErr = (&pmetric.ProtoMarshaler{}).MarshalMetrics(v)
		case ptrace.Traces:
			b, p.encodeErr = (&ptrace.ProtoMarshaler{}).MarshalTraces(v)
		}
		if p.encodeErr == nil {
			p.chunks, p.size = [][]byte{b}, len(b)
		}
	})
	return p.encodeErr
}

// Concat returns one OTLP payload holding every item of ps, which must all
// carry signal s (framed if one of them is: see Requests). OTLP payloads contribute their chunks without copying;
// decoded ones are encoded first.
func Concat(s Signal, ps ...*Payload) (*Payload, error) {
	n := 0
	for _, p := range ps {
		if err := p.encode(); err != nil {
			return nil, err
		}
		n += len(p.chunks)
	}
	chunks := make([][]byte, 0, n)
	items, framed := 0, false
	for _, p := range ps {
		if p.signal != s {
			return nil, fmt.Errorf("concat %s: payload holds %s", s, p.signal)
		}
		chunks = append(chunks, p.chunks...)
		items += p.items
		framed = framed || p.framed
	}
	var out *Payload
	if framed {
		out = FromOTLPFrames(s, chunks, items)
	} else {
		out = FromOTLPChunks(s, chunks, items)
	}
	for _, p := range ps {
		out.Borrow(p.leases...)
	}
	return out, nil
}
