package otap

import (
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"

	"github.com/ackflow/ackflow/pdata"
)

// Default decoder limits.
const (
	DefaultMaxBatchBytes      = 64 << 20
	DefaultMaxDictionaryBytes = 64 << 20
	// DefaultMaxExpandedBytes is 256 MiB, 4 × DefaultMaxBatchBytes: see
	// DecoderOptions.MaxExpandedBytes.
	DefaultMaxExpandedBytes = 4 * DefaultMaxBatchBytes
)

// minRowBytes is the least memory a row costs once converted to pdata (a
// pcommon attribute is about this size, a log record or span several
// times it). Decode refuses a batch declaring more rows than
// MaxBatchBytes/minRowBytes: arrow-go reads a record's row count from its
// metadata, so a few hostile bytes can declare billions of rows of
// absent (all-null) columns, which ToPdata would then allocate.
const minRowBytes = 32

// DecoderOptions bounds the memory an inbound stream may make a Decoder
// use. Zero values mean the defaults.
type DecoderOptions struct {
	// MaxBatchBytes bounds what decoding one batch may allocate (IPC
	// bodies, zstd-decompressed buffers, dictionary deltas); 0 means
	// DefaultMaxBatchBytes (64 MiB). It also bounds the rows a batch may
	// declare, at one per 32 bytes, so that converting it to pdata stays
	// within a small multiple of it. Over it: ErrTooLarge.
	MaxBatchBytes int64
	// MaxDictionaryBytes bounds the stream's dictionaries (their total
	// size after a batch); 0 means DefaultMaxDictionaryBytes (64 MiB).
	// Over it: ErrTooLarge ("dictionary overflow").
	MaxDictionaryBytes int64
	// MaxExpandedBytes bounds a batch's expanded size: the bytes of its
	// records' buffers with every dictionary reference, at any depth,
	// materialised (each non-null index counted as the value it
	// references), as the batch's OTLP form materialises them; 0 means
	// DefaultMaxExpandedBytes (256 MiB). Decoding and ToPdata stay cheap
	// whatever the references (pdata strings view the Arrow buffers), but
	// a node marshaling OTLP would build 126 TB from 2 M rows all
	// referencing one 60 MiB string: a few KiB of zstd on the wire. Over
	// it: ErrTooLarge ("expands to").
	//
	// The default is 4 × the OTLP receiver's default max_request_size
	// (64 MiB), which bounds the same data sent as OTLP. OTAP compresses
	// it several-fold, so a 64 MiB request arrives as far fewer bytes,
	// and expands back to 1.1-1.3 bytes per OTLP byte (the package's test
	// data of each signal); a batch that fills MaxBatchBytes expands,
	// with that data's dictionaries, to 1.3-2.2 times it. 4 × leaves room
	// for both; past it, the batch's OTLP form would in all likelihood be
	// refused by an OTLP receiver left at its default. Raise it if
	// MaxBatchBytes is raised.
	MaxExpandedBytes int64
}

func (o DecoderOptions) withDefaults() DecoderOptions {
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if o.MaxDictionaryBytes <= 0 {
		o.MaxDictionaryBytes = DefaultMaxDictionaryBytes
	}
	if o.MaxExpandedBytes <= 0 {
		o.MaxExpandedBytes = DefaultMaxExpandedBytes
	}
	return o
}

// errDecoderClosed is returned by Decode after Close: a caller bug, not
// something the stream sent.
var errDecoderClosed = errors.New("otap: decoder is closed")

// Decoder holds one inbound stream's state: an Arrow IPC reader per
// SchemaId, whose schema and dictionaries (with their deltas) carry over
// from batch to batch. One goroutine uses it.
type Decoder struct {
	opts    DecoderOptions
	alloc   *budgetAllocator
	streams map[string]*ipcStream // by SchemaId; nil once closed
	failed  error                 // sticky: the first error, after which the state is suspect
	// batchBytes is the size of the batch being decoded (its payloads'
	// bytes), which a dictionary batch kept as a view keeps alive.
	batchBytes int
}

// ipcStream is one Arrow IPC stream of an OTAP stream: the payloads of one
// payload type under one SchemaId.
type ipcStream struct {
	typ       arrowpb.ArrowPayloadType
	msgs      *payloadMessages // refilled with each payload's bytes
	reader    *ipc.Reader      // created from the first payload (the schema)
	dictBytes int64            // size of its dictionaries after its last record
	// readerDictBytes is the part of dictBytes arrow-go's reader holds.
	readerDictBytes int64
}

// NewDecoder returns a decoder for one inbound stream.
func NewDecoder(o DecoderOptions) *Decoder {
	return &Decoder{
		opts:    o.withDefaults(),
		alloc:   newBudgetAllocator(),
		streams: make(map[string]*ipcStream),
	}
}

// Decode decodes the next batch of the stream, which must carry signal s
// (payload types of another signal → ErrInvalid). An empty batch (no
// payloads) gives a Batch with 0 items. Errors wrap ErrInvalid or
// ErrTooLarge and name what was wrong (payload index, type, schema id);
// after an error the stream's state is suspect and the caller ends the
// stream (Decode keeps failing with that error). It never panics,
// whatever the input.
func (d *Decoder) Decode(s pdata.Signal, bar *arrowpb.BatchArrowRecords) (b *Batch, err error) {
	switch {
	case d.streams == nil:
		return nil, errDecoderClosed
	case d.failed != nil:
		return nil, fmt.Errorf("otap: the stream failed earlier: %w", d.failed)
	}
	d.alloc.reset(d.opts.MaxBatchBytes)
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, recovered("decode", r)
		}
		if err != nil {
			err = fmt.Errorf("otap %s batch %d: %w", s, bar.GetBatchId(), d.classify(err))
			d.failed = err
		}
	}()
	d.batchBytes = 0
	for _, p := range bar.GetArrowPayloads() {
		d.batchBytes += len(p.GetRecord())
	}
	recs, expanded, err := d.readPayloads(s, bar.GetArrowPayloads())
	if err != nil {
		return nil, err
	}
	if err := d.checkBatch(s, recs); err != nil {
		return nil, err
	}
	if err := expanded.check(d.opts.MaxExpandedBytes); err != nil {
		return nil, err
	}
	return newBatch(s, recs), nil
}

// readPayloads reads the record of each payload from its IPC stream, and
// sums their expanded sizes.
func (d *Decoder) readPayloads(s pdata.Signal, payloads []*arrowpb.ArrowPayload) ([]typedRecord, expansion, error) {
	recs := make([]typedRecord, 0, len(payloads))
	var expanded expansion
	for i, p := range payloads {
		rec, n, err := d.readPayload(s, p)
		if err != nil {
			return nil, expansion{}, fmt.Errorf("payload %d (%s, schema id %q): %w", i, p.GetType(), p.GetSchemaId(), d.classify(err))
		}
		recs = append(recs, rec)
		expanded.add(p.GetType(), n)
	}
	return recs, expanded, nil
}

// readPayload reads and checks p's record, and returns its expanded size.
func (d *Decoder) readPayload(s pdata.Signal, p *arrowpb.ArrowPayload) (typedRecord, int64, error) {
	r, err := roleOf(s, p.GetType())
	if err != nil {
		return typedRecord{}, 0, err
	}
	if err := checkFrames(p.GetRecord()); err != nil {
		return typedRecord{}, 0, err
	}
	st, err := d.stream(p)
	if err != nil {
		return typedRecord{}, 0, err
	}
	st.msgs.dictRoom = d.dictRoom(st)
	rec, err := st.next(p.GetRecord(), d.batchBytes, d.alloc)
	if err != nil {
		return typedRecord{}, 0, err
	}
	// The dictionaries the reader holds (those the decoder keeps are empty
	// there), and those the decoder keeps, once resolving the record has
	// grown them.
	st.readerDictBytes = dictionaryBytes(rec)
	if rec, err = st.msgs.resolve(rec); err != nil {
		return typedRecord{}, 0, err
	}
	st.dictBytes = st.readerDictBytes + st.msgs.heldBytes()
	expanded, err := checkRecord(rec)
	if err != nil {
		return typedRecord{}, 0, err
	}
	return typedRecord{typ: p.GetType(), role: r, rec: pinned{rec}}, expanded, nil
}

// stream returns the IPC stream of p's SchemaId. A SchemaId not seen
// before starts a new IPC stream and, as the library's Consumer does,
// ends the previous one of the same payload type: a producer changes a
// payload type's SchemaId when its schema changes.
func (d *Decoder) stream(p *arrowpb.ArrowPayload) (*ipcStream, error) {
	if st := d.streams[p.GetSchemaId()]; st != nil {
		if st.typ != p.GetType() {
			return nil, fmt.Errorf("%w: schema id already carries %s", ErrInvalid, st.typ)
		}
		return st, nil
	}
	for id, st := range d.streams {
		if st.typ == p.GetType() {
			delete(d.streams, id) // its records live on in their batches
		}
	}
	st := &ipcStream{typ: p.GetType(), msgs: &payloadMessages{alloc: d.alloc}}
	d.streams[p.GetSchemaId()] = st
	return st, nil
}

// next reads the record that b, the stream's next payload, carries
// (preceded by the schema for a new stream, and by dictionary batches).
// The record is retained so that the reader's next Next leaves it alive;
// it is never released. It may reference b (see payloadMessages).
func (st *ipcStream) next(b []byte, batchBytes int, alloc *budgetAllocator) (arrow.RecordBatch, error) {
	st.msgs.reset(b, batchBytes)
	if st.reader == nil {
		r, err := ipc.NewReaderFromMessageReader(st.msgs, ipc.WithAllocator(alloc))
		if err != nil {
			return nil, fmt.Errorf("read IPC schema: %w", err)
		}
		st.reader = r
	}
	if !st.reader.Next() {
		if err := st.reader.Err(); err != nil {
			return nil, fmt.Errorf("read IPC record: %w", err)
		}
		return nil, fmt.Errorf("%w: payload holds no record batch", ErrInvalid)
	}
	rec := st.reader.RecordBatch()
	rec.Retain()
	return rec, nil
}

// dictRoom returns what MaxDictionaryBytes leaves the dictionaries st's
// decoder keeps: the limit less the other IPC streams' dictionaries and
// those st's reader holds, as of their last records. Room a kept
// dictionary reserves to grow stays within it (dictArena.grow), so that
// it never takes a stream whose dictionaries fit over the limit.
func (d *Decoder) dictRoom(st *ipcStream) int64 {
	room := d.opts.MaxDictionaryBytes - st.readerDictBytes
	for _, o := range d.streams {
		if o != st {
			room -= o.dictBytes
		}
	}
	return room
}

// checkBatch checks what the records must be together: each payload type
// once, a main record if there is any record, rows within the budget, and
// the stream's dictionaries within theirs.
func (d *Decoder) checkBatch(s pdata.Signal, recs []typedRecord) error {
	seen := make(map[arrowpb.ArrowPayloadType]bool, len(recs))
	hasMain := false
	var rows int64
	for _, r := range recs {
		if seen[r.typ] {
			return fmt.Errorf("%w: payload type %s appears twice", ErrInvalid, r.typ)
		}
		seen[r.typ] = true
		hasMain = hasMain || r.role == roleMain
		rows += r.rec.NumRows()
	}
	if len(recs) > 0 && !hasMain {
		return fmt.Errorf("%w: related records without a %s main record", ErrInvalid, s)
	}
	if maxRows := d.opts.MaxBatchBytes / minRowBytes; rows > maxRows {
		return fmt.Errorf("%w: %d rows, more than %d (max batch bytes %d / %d)",
			ErrTooLarge, rows, maxRows, d.opts.MaxBatchBytes, minRowBytes)
	}
	var dicts int64
	for _, st := range d.streams {
		dicts += st.dictBytes
	}
	if dicts > d.opts.MaxDictionaryBytes {
		return fmt.Errorf("%w: dictionary overflow: the stream's dictionaries hold %d bytes, more than %d",
			ErrTooLarge, dicts, d.opts.MaxDictionaryBytes)
	}
	return nil
}

// classify makes err wrap exactly one of ErrTooLarge and ErrInvalid:
// ErrTooLarge if the allocation budget was hit (arrow-go recovers the
// allocator's panic, and may keep it only as text), else ErrInvalid for an
// arrow-go error, which wraps neither.
func (d *Decoder) classify(err error) error {
	switch {
	case errors.Is(err, ErrTooLarge):
		return err
	case d.alloc.exceeded.Load():
		return fmt.Errorf("%w: %w", ErrTooLarge, err)
	case errors.Is(err, ErrInvalid):
		return err
	}
	return fmt.Errorf("%w: %w", ErrInvalid, err)
}

// Close drops the stream's state. Batches already decoded stay valid:
// their records are the GC's. Decode fails after Close.
func (d *Decoder) Close() {
	d.streams = nil
}

// recovered turns a recovered panic into an error, keeping an error
// value's chain (the allocator panics with one wrapping ErrTooLarge).
func recovered(what string, r any) error {
	if err, ok := r.(error); ok {
		return fmt.Errorf("%s: panic: %w", what, err)
	}
	return fmt.Errorf("%s: panic: %v", what, r)
}
