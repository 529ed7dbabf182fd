package otap

import (
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"
	logsotlp "github.com/open-telemetry/otel-arrow/go/pkg/otel/logs/otlp"
	metricsotlp "github.com/open-telemetry/otel-arrow/go/pkg/otel/metrics/otlp"
	tracesarrow "github.com/open-telemetry/otel-arrow/go/pkg/otel/traces/arrow"
	tracesotlp "github.com/open-telemetry/otel-arrow/go/pkg/otel/traces/otlp"
	"github.com/open-telemetry/otel-arrow/go/pkg/record_message"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ackflow/ackflow/pdata"
)

// ErrInvalid means the stream sent something that is not valid OTAP: bad
// Arrow IPC, an unknown payload type, payload types of another signal, or
// records inconsistent with each other.
var ErrInvalid = errors.New("otap: invalid stream")

// ErrTooLarge means a batch, or the stream's dictionaries, needs more
// memory than the decoder allows.
var ErrTooLarge = errors.New("otap: over the memory limit")

// Batch is the Arrow records of one BatchArrowRecords, decoded from its
// stream's state so that they stand alone: each record holds the
// dictionaries it was read with, whatever the stream sends next.
// Immutable, safe for concurrent use. Implements pdata.Columnar.
type Batch struct {
	signal  pdata.Signal
	records []typedRecord
	items   int
	size    int
}

var _ pdata.Columnar = (*Batch)(nil)

// typedRecord is one payload's record with its payload type.
type typedRecord struct {
	typ  arrowpb.ArrowPayloadType
	role role
	rec  pinned
}

// pinned is a record a Batch keeps for its whole life, which ends with
// the GC: its Retain and Release do nothing. The library's converters
// (RelatedDataFrom) and producer (Produce) release the records they are
// given, and the batch may be converted and re-encoded any number of
// times, concurrently: a reference count reaching zero would make arrow
// nil buffers that other holders still read.
type pinned struct{ arrow.RecordBatch }

// Retain does nothing: see pinned.
func (pinned) Retain() {}

// Release does nothing: see pinned.
func (pinned) Release() {}

func newBatch(s pdata.Signal, recs []typedRecord) *Batch {
	b := &Batch{signal: s, records: recs}
	sizer := bufferSizer{}
	for _, r := range recs {
		if countsItems(s, r.role) {
			b.items += int(r.rec.NumRows())
		}
		for _, c := range r.rec.Columns() {
			b.size += int(sizer.data(c.Data()))
		}
	}
	return b
}

// Signal returns the batch's signal.
func (b *Batch) Signal() pdata.Signal { return b.signal }

// Items returns the number of log records (LOGS rows), spans (SPANS rows)
// or metric data points (rows of the NUMBER, SUMMARY, HISTOGRAM and
// EXP_HISTOGRAM data point payloads). ToPdata fails rather than return
// data holding another count.
func (b *Batch) Items() int { return b.items }

// Size returns the bytes the batch holds in memory: its records' buffers,
// dictionaries included. A dictionary is the values of the one dictionary
// batch of its stream holding all those the batch references, when there
// is one (its own, for values that do not repeat), else the stream's
// dictionary so far, which batches of one stream share: their sizes then
// overlap.
func (b *Batch) Size() int { return b.size }

// ToPdata converts the batch to plog.Logs, pmetric.Metrics or
// ptrace.Traces with the library's converters. It never panics: records
// the converters cannot read, or that convert to another number of items
// than Items, give an error wrapping ErrInvalid.
func (b *Batch) ToPdata() (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("otap: convert %s batch: %w: %w", b.signal, ErrInvalid, recovered("converter", r))
		}
	}()
	var n int
	switch b.signal {
	case pdata.Logs:
		v, n, err = toLogs(b.messages())
	case pdata.Metrics:
		v, n, err = toMetrics(b.messages())
	default:
		v, n, err = toTraces(b.messages())
	}
	if err == nil && n != b.items {
		err = fmt.Errorf("%w: the records convert to %d items, not %d: inconsistent records", ErrInvalid, n, b.items)
	}
	if err != nil {
		return nil, fmt.Errorf("otap: convert %s batch: %w", b.signal, err)
	}
	return v, nil
}

// messages returns the batch's records as the converters and the producer
// take them, keyed by payload type (no schema id).
func (b *Batch) messages() []*record_message.RecordMessage {
	msgs := make([]*record_message.RecordMessage, len(b.records))
	for i, r := range b.records {
		msgs[i] = record_message.NewRecordMessage(0, r.typ, r.rec)
	}
	return msgs
}

func toLogs(msgs []*record_message.RecordMessage) (any, int, error) {
	related, main, err := logsotlp.RelatedDataFrom(msgs)
	if err != nil {
		return nil, 0, invalid(err)
	}
	if main == nil { // an empty batch: Decode refuses records without a main one
		return plog.NewLogs(), 0, nil
	}
	ld, err := logsotlp.LogsFrom(main.Record(), related)
	if err != nil {
		return nil, 0, invalid(err)
	}
	return ld, ld.LogRecordCount(), nil
}

func toMetrics(msgs []*record_message.RecordMessage) (any, int, error) {
	related, main, err := metricsotlp.RelatedDataFrom(msgs)
	if err != nil {
		return nil, 0, invalid(err)
	}
	if main == nil { // an empty batch: Decode refuses records without a main one
		return pmetric.NewMetrics(), 0, nil
	}
	md, err := metricsotlp.MetricsFrom(main.Record(), related)
	if err != nil {
		return nil, 0, invalid(err)
	}
	return md, md.DataPointCount(), nil
}

func toTraces(msgs []*record_message.RecordMessage) (any, int, error) {
	related, main, err := tracesotlp.RelatedDataFrom(msgs, tracesarrow.DefaultConfig())
	if err != nil {
		return nil, 0, invalid(err)
	}
	if main == nil { // an empty batch: Decode refuses records without a main one
		return ptrace.NewTraces(), 0, nil
	}
	td, err := tracesotlp.TracesFrom(main.Record(), related)
	if err != nil {
		return nil, 0, invalid(err)
	}
	return td, td.SpanCount(), nil
}

func invalid(err error) error { return fmt.Errorf("%w: %w", ErrInvalid, err) }

// Payload wraps b as a pdata payload of the OTAP form (pdata.FromColumnar):
// it converts to pdata, once, only if a node asks for that form.
func Payload(b *Batch) *pdata.Payload { return pdata.FromColumnar(b.signal, b) }

// BatchOf returns the batch of a payload built by Payload.
func BatchOf(p *pdata.Payload) (*Batch, bool) {
	c, ok := p.Columnar()
	if !ok {
		return nil, false
	}
	b, ok := c.(*Batch)
	return b, ok
}
