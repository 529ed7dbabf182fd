package otap

import (
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"
	"github.com/open-telemetry/otel-arrow/go/pkg/config"
	"github.com/open-telemetry/otel-arrow/go/pkg/otel/arrow_record"
	"github.com/open-telemetry/otel-arrow/go/pkg/record_message"

	"github.com/ackflow/ackflow/pdata"
)

// EncoderOptions configures an Encoder.
type EncoderOptions struct {
	// Zstd compresses the Arrow IPC buffers (the reference's
	// arrow.payload_compression: zstd, its default).
	Zstd bool
	// ZstdLevel is the zstd level of the Arrow IPC buffers, as zstd's
	// command line counts them (1 to 22); 0 means DefaultZstdLevel.
	ZstdLevel int
}

// DefaultZstdLevel is the zstd level an Encoder compresses Arrow buffers
// at by default.
const DefaultZstdLevel = 1

// Caller errors of Encode.
var (
	errEncoderClosed = errors.New("otap: encoder is closed")
	errNilPayload    = errors.New("otap: encode a nil payload")
)

// Encoder holds one outbound stream's state: the library's Producer, whose
// IPC writers (one per SchemaId) send each dictionary once and then its
// deltas. One goroutine uses it.
type Encoder struct {
	producer *arrow_record.Producer // nil once closed; writes uncompressed IPC
	compress *ipcCompressor         // compresses its payloads; nil: none
	schemas  map[arrowpb.ArrowPayloadType]schemaID
	compact  compactor                                 // see recordMessages
	dicts    map[arrowpb.ArrowPayloadType]*recordDicts // the compactor's state per IPC stream
	keepDict bool                                      // tests: hand dictionaries over whole, as before compaction
	nextID   int
	batchID  int64
	failed   error // sticky: the producer's writers may hold half a batch
}

// schemaID is the SchemaId an encoder gives the records of one payload
// type that have schema.
type schemaID struct {
	schema *arrow.Schema
	id     string
}

// NewEncoder returns an encoder for one outbound stream.
func NewEncoder(o EncoderOptions) *Encoder {
	e := &Encoder{
		producer: arrow_record.NewProducerWithOptions(config.WithNoZstd()),
		schemas:  make(map[arrowpb.ArrowPayloadType]schemaID),
		dicts:    make(map[arrowpb.ArrowPayloadType]*recordDicts),
	}
	if o.Zstd {
		level := o.ZstdLevel
		if level <= 0 {
			level = DefaultZstdLevel
		}
		e.compress = newIPCCompressor(level)
	}
	return e
}

// Encode returns the stream's next BatchArrowRecords for p, with BatchId
// set (0, 1, 2, ... per encoder). A payload built by Payload has its
// records re-encoded without conversion to pdata or OTLP, each dictionary
// cut down to the values the record uses unless the stream can send it
// as a delta (see compactor): batches of several inbound streams then
// carry what they use, not their streams' whole dictionaries. Any other
// payload is converted through the pdata model with the library's
// producer. It never panics. After an error the caller discards the
// encoder (the stream restarts): Encode keeps failing with that error.
func (e *Encoder) Encode(p *pdata.Payload) (bar *arrowpb.BatchArrowRecords, err error) {
	switch {
	case e.producer == nil:
		return nil, errEncoderClosed
	case e.failed != nil:
		return nil, fmt.Errorf("otap: the stream failed earlier: %w", e.failed)
	case p == nil:
		return nil, errNilPayload
	}
	defer func() {
		if r := recover(); r != nil {
			bar, err = nil, recovered("encode", r)
		}
		if err != nil {
			bar, err = nil, fmt.Errorf("otap: encode %s batch %d: %w", p.Signal(), e.batchID, err)
			e.failed = err
			return
		}
		bar.BatchId = e.batchID
		e.batchID++
	}()
	if bar, err = e.produce(p); err != nil {
		return nil, err
	}
	return bar, e.compressPayloads(bar)
}

// produce has the producer write p's records, uncompressed.
func (e *Encoder) produce(p *pdata.Payload) (*arrowpb.BatchArrowRecords, error) {
	if b, ok := BatchOf(p); ok {
		msgs, err := e.recordMessages(b)
		if err != nil {
			return nil, err
		}
		return e.producer.Produce(msgs)
	}
	// The producer's own SchemaIds end this stream's IPC writers of the
	// payload types it encodes: what they held is gone.
	clear(e.dicts)
	return e.encodePdata(p)
}

// compressPayloads compresses the Arrow buffers of bar's payloads, which
// the producer wrote uncompressed, if the encoder compresses.
func (e *Encoder) compressPayloads(bar *arrowpb.BatchArrowRecords) error {
	if e.compress == nil {
		return nil
	}
	for _, p := range bar.GetArrowPayloads() {
		rec, err := e.compress.payload(p.Record)
		if err != nil {
			return fmt.Errorf("compress payload %s: %w", p.GetType(), err)
		}
		p.Record = rec
	}
	return nil
}

// recordMessages returns b's records as the producer takes them, with the
// SchemaId this stream gives their schema, and their dictionaries
// compacted (see compactor): b's dictionaries are its inbound stream's,
// and this stream may carry batches of other inbound streams.
func (e *Encoder) recordMessages(b *Batch) ([]*record_message.RecordMessage, error) {
	msgs := make([]*record_message.RecordMessage, len(b.records))
	for i, r := range b.records {
		id := e.schemaIDOf(r.typ, r.rec.Schema())
		var rec arrow.RecordBatch = r.rec
		if !e.keepDict {
			var err error
			if rec, err = e.compact.record(r.rec, e.dictsOf(r.typ, id)); err != nil {
				return nil, fmt.Errorf("payload %s: %w", r.typ, err)
			}
		}
		msgs[i] = record_message.NewRelatedDataMessage(id, rec, r.typ)
	}
	return msgs, nil
}

// dictsOf returns the compactor's state for the IPC stream of payload type
// t under SchemaId id, afresh when id is new: the producer then starts a
// new IPC writer, which holds no dictionary.
func (e *Encoder) dictsOf(t arrowpb.ArrowPayloadType, id string) *recordDicts {
	if d := e.dicts[t]; d != nil && d.schemaID == id {
		return d
	}
	d := &recordDicts{schemaID: id}
	e.dicts[t] = d
	return d
}

// schemaIDOf returns the SchemaId for a record of payload type t with
// schema s. The producer keys its IPC writers by SchemaId, and a writer
// refuses a record whose schema is not Equal to its own; records from a
// Decoder carry none. So a payload type keeps its SchemaId while its
// schema stays Equal (pointer first: records of one inbound IPC stream
// share theirs), and gets a new one when it changes, on which the
// producer ends that type's previous writer, as for its own schema
// changes. (arrow's Schema.Fingerprint ignores field metadata, which
// Equal compares, so it cannot serve as the key.)
func (e *Encoder) schemaIDOf(t arrowpb.ArrowPayloadType, s *arrow.Schema) string {
	cur, ok := e.schemas[t]
	if ok && (cur.schema == s || cur.schema.Equal(s)) {
		return cur.id
	}
	cur = schemaID{schema: s, id: fmt.Sprintf("ackflow-otap/%s/%d", t, e.nextID)}
	e.nextID++
	e.schemas[t] = cur
	return cur.id
}

// encodePdata encodes a payload of another form through the pdata model.
func (e *Encoder) encodePdata(p *pdata.Payload) (*arrowpb.BatchArrowRecords, error) {
	switch p.Signal() {
	case pdata.Logs:
		ld, err := p.Logs()
		if err != nil {
			return nil, err
		}
		return e.producer.BatchArrowRecordsFromLogs(ld)
	case pdata.Metrics:
		md, err := p.Metrics()
		if err != nil {
			return nil, err
		}
		return e.producer.BatchArrowRecordsFromMetrics(md)
	default:
		td, err := p.Traces()
		if err != nil {
			return nil, err
		}
		return e.producer.BatchArrowRecordsFromTraces(td)
	}
}

// Close releases the producer's builders and writers. Encode fails after
// Close; Close is idempotent.
func (e *Encoder) Close() {
	p := e.producer
	if p == nil {
		return
	}
	e.producer = nil
	e.dicts = nil
	defer func() { _ = recover() }() // the stream is over: nothing to report
	_ = p.Close()
}
