package otlpgrpc

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/gzip" // registers grpc-go's "gzip", wrapped below
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
)

// Compression names, as they appear in grpc-encoding and Content-Encoding.
const (
	Gzip = "gzip"
	Zstd = "zstd"
)

// zstd limits. A 1 MiB window keeps a pooled encoder at a few MiB (the
// default level's 8 MiB window would cost tens of MiB per in-flight
// export) while compressing telemetry nearly as well.
const zstdEncoderWindow = 1 << 20

// ZstdMaxWindow is the largest window a zstd frame may declare to be
// decoded, on gRPC and HTTP alike: zstd's own recommended decoder limit.
// The window size is chosen by the sender and allocated up front, so a
// larger one would let a few hundred bytes of request pin tens of MiB. A
// frame declaring more is refused as malformed.
const ZstdMaxWindow = 8 << 20

// init registers ackflow's compressors with grpc-go. grpc-go only looks
// compressors up in a process-wide registry that must be filled at init
// time; there is no per-server or per-call way to add one, which is why
// this is an init and not an explicit registration.
//
// This package is the only place in ackflow that registers compressors,
// and it registers unconditionally, replacing anything registered before
// it: every gRPC server and client in the binary then decodes zstd with the
// pooled decoders and the ZstdMaxWindow cap of NewZstdReader. grpc-go's own
// gzip (imported above, so it is registered first) is kept for compressing
// and decompressing, only wrapped: see failSafeReader. A consequence is
// that grpc-go's gzip.SetLevel, which type-asserts the registered
// compressor, must not be called in an ackflow binary.
func init() {
	encoding.RegisterCompressor(compressor{
		name:       Zstd,
		compress:   NewZstdWriter,
		decompress: func(r io.Reader) (io.Reader, error) { return NewZstdReader(r) },
		gate:       &decompressing,
	})
	// The Collector's otelarrow exporter names its zstd by level,
	// zstdarrow1 to zstdarrow10 (zstdarrow5 by default): ordinary zstd
	// frames under another name. A server answers in the request's
	// encoding, so the same codec serves them all.
	for level := 1; level <= 10; level++ {
		encoding.RegisterCompressor(compressor{
			name:       fmt.Sprintf("zstdarrow%d", level),
			compress:   NewZstdWriter,
			decompress: func(r io.Reader) (io.Reader, error) { return NewZstdReader(r) },
			gate:       &decompressing,
		})
	}
	gz := encoding.GetCompressor(Gzip)
	encoding.RegisterCompressor(compressor{name: Gzip, compress: gz.Compress, decompress: gz.Decompress, gate: &decompressing})
}

// compressor is a grpc-go encoding.Compressor whose decompressing reader
// never fails (see failSafeReader) and charges what it decompresses to
// gate.
type compressor struct {
	name       string
	compress   func(io.Writer) (io.WriteCloser, error)
	decompress func(io.Reader) (io.Reader, error)
	gate       *byteGate
}

func (c compressor) Name() string { return c.name }

func (c compressor) Compress(w io.Writer) (io.WriteCloser, error) { return c.compress(w) }

func (c compressor) Decompress(r io.Reader) (io.Reader, error) {
	d, err := c.decompress(r)
	if err != nil {
		return &failSafeReader{tail: appendFailure(nil, failMalformed, c.name+": "+err.Error()), gate: c.gate}, nil
	}
	return &failSafeReader{r: d, name: c.name, gate: c.gate}, nil
}

// # Decompression memory
//
// grpc-go decompresses a message whole, after it arrived and before the
// method handler sees it, so the receiver cannot charge the decompressed
// bytes to its max_in_flight_bytes until they exist; a few KB of
// compression bomb on each of many streams would expand at once. So the
// decompressors charge every buffer they fill to one gate for the process
// before filling it, and give the charge back when grpc-go closes them
// (once the message is whole, just before it reaches the handler, which
// charges it to its own budget). A message that does not fit fails with a
// retryable failure (UNAVAILABLE). The gate's bound is decompressBase plus
// what the gRPC servers reserve (ReserveDecompression): each OTLP
// receiver its max_in_flight_bytes.

// decompressBase is the gate's bound without any reservation: for clients
// (export answers are small) and servers that reserve nothing.
const decompressBase = 4 << 20

// decompressing is the process's decompression gate.
var decompressing = byteGate{base: decompressBase}

// ReserveDecompression raises the bound of the bytes gRPC messages may
// hold while they are being decompressed, all servers of the process
// together, by n until release is called. A message over it is refused
// with UNAVAILABLE and a retry hint.
func ReserveDecompression(n int64) (release func()) {
	decompressing.reserved.Add(n)
	var once sync.Once
	return func() { once.Do(func() { decompressing.reserved.Add(-n) }) }
}

// Decompressing returns the bytes gRPC messages hold while they are being
// decompressed, and the bound.
func Decompressing() (held, limit int64) {
	return decompressing.held.Load(), decompressing.limit()
}

// byteGate bounds a number of bytes held at once: base plus reserved.
type byteGate struct {
	base           int64
	held, reserved atomic.Int64
}

func (g *byteGate) limit() int64 { return g.base + g.reserved.Load() }

// take charges n bytes, or reports false if they do not fit.
func (g *byteGate) take(n int64) bool {
	for {
		h := g.held.Load()
		if h+n > g.limit() {
			return false
		}
		if g.held.CompareAndSwap(h, h+n) {
			return true
		}
	}
}

// give returns n bytes taken.
func (g *byteGate) give(n int64) { g.held.Add(-n) }

// # Decompression failures
//
// grpc-go turns any error of a compressor (opening the stream or reading
// it) into an INTERNAL status and writes it to the client itself, inside
// RecvMsg, before the method handler can say anything. A request that is
// not valid gzip or zstd, or declares a zstd window over ZstdMaxWindow, is
// the client's fault, and OTLP says INVALID_ARGUMENT (what the HTTP side
// answers with 400). So the gRPC decompressors never fail: on an error they
// end the decompressed stream with a failure trailer, which Codec.Unmarshal
// recognises and Request.failure carries to the service handler, which
// answers INVALID_ARGUMENT.
//
// The same way, a message refused by the decompression gate (see
// "Decompression memory" above) ends with a failure trailer the handler
// answers UNAVAILABLE: it was not the client's fault, and a retry later
// may fit.
//
// The trailer is | error text | its length, uint16 big-endian | kind |
// failMark |. failMark is 16 random bytes drawn at start, so no request
// can contain it by chance (2^-128) or on purpose (it is never sent
// anywhere).

// failMark ends every failure trailer.
var failMark = func() (m [16]byte) {
	_, _ = rand.Read(m[:]) // never fails (crypto/rand crashes the program instead)
	return m
}()

// maxFailureText bounds the error text a trailer carries.
const maxFailureText = 256

// trailerFixed is the trailer's size without its text.
const trailerFixed = 2 + 1 + len(failMark)

// failureKind says whose fault a failed decompression is.
type failureKind byte

const (
	failMalformed failureKind = iota + 1 // not valid gzip or zstd, or over a limit: INVALID_ARGUMENT
	failBusy                             // over the decompression gate: UNAVAILABLE
)

// appendFailure appends the failure trailer of msg.
func appendFailure(dst []byte, kind failureKind, msg string) []byte {
	if len(msg) > maxFailureText {
		msg = msg[:maxFailureText]
	}
	dst = append(dst, msg...)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(msg)))
	dst = append(dst, byte(kind))
	return append(dst, failMark[:]...)
}

// decompressFailure returns the failure of data, a message as grpc-go
// hands it to the codec, if it ends with a failure trailer: a gRPC status
// error, or nil.
func decompressFailure(data mem.BufferSlice) error {
	n := data.Len()
	if n < trailerFixed {
		return nil
	}
	var fixed [trailerFixed]byte
	readAt(data, n-trailerFixed, fixed[:])
	if [16]byte(fixed[3:]) != failMark {
		return nil
	}
	textLen := int(binary.BigEndian.Uint16(fixed[:2]))
	if textLen > n-trailerFixed {
		textLen = 0 // cannot happen: the mark is ours
	}
	text := make([]byte, textLen)
	readAt(data, n-trailerFixed-textLen, text)
	if failureKind(fixed[2]) == failBusy {
		return status.Error(codes.Unavailable, "decompress request: "+string(text))
	}
	return status.Error(codes.InvalidArgument, "decompress request: "+string(text))
}

// DecompressFailure returns the failure of data, a message as grpc-go
// hands it to a codec, if its decompression failed (see "Decompression
// failures"): a gRPC status error (INVALID_ARGUMENT, or UNAVAILABLE for
// the decompression gate), or nil. Codecs of generated messages call it
// before unmarshalling, since the registered decompressors never fail.
func DecompressFailure(data mem.BufferSlice) error { return decompressFailure(data) }

// readAt copies len(dst) bytes of data from offset off; they must exist.
func readAt(data mem.BufferSlice, off int, dst []byte) {
	for _, buf := range data {
		b := buf.ReadOnlyData()
		if off >= len(b) {
			off -= len(b)
			continue
		}
		n := copy(dst, b[off:])
		dst, off = dst[n:], 0
		if len(dst) == 0 {
			return
		}
	}
}

// failSafeReader reads a decompressed stream for grpc-go and, instead of
// returning an error, ends the stream with the error's failure trailer
// (see "Decompression failures" above). Each buffer it fills is charged to
// gate first, all of it given back on Close (see "Decompression memory").
// It closes the decompressor (which returns it to its pool) at the end of
// the stream or on Close.
type failSafeReader struct {
	r       io.Reader // nil once the stream ended or failed
	name    string
	tail    []byte // the failure trailer still to be read
	gate    *byteGate
	charged int64
}

func (f *failSafeReader) Read(p []byte) (int, error) {
	if f.r != nil {
		if !f.gate.take(int64(len(p))) {
			f.closeSource()
			f.tail = appendFailure(nil, failBusy, fmt.Sprintf(
				"messages being decompressed would hold more than %d bytes at once; retry later", f.gate.limit()))
			return f.Read(p)
		}
		n, err := f.r.Read(p)
		f.gate.give(int64(len(p) - n))
		f.charged += int64(n)
		if err == nil {
			return n, nil
		}
		f.closeSource()
		if err == io.EOF {
			return n, io.EOF
		}
		f.tail = appendFailure(nil, failMalformed, f.name+": "+err.Error())
		if n > 0 {
			return n, nil
		}
	}
	if len(f.tail) == 0 {
		return 0, io.EOF
	}
	n := copy(p, f.tail)
	f.tail = f.tail[n:]
	return n, nil
}

// Close closes the decompressor and gives back the reader's charge.
func (f *failSafeReader) Close() error {
	f.closeSource()
	f.gate.give(f.charged)
	f.charged = 0
	return nil
}

func (f *failSafeReader) closeSource() {
	if c, ok := f.r.(io.Closer); ok {
		_ = c.Close()
	}
	f.r = nil
}

// The coders are pooled: building one allocates its tables and history.
// Concurrency 1 makes them synchronous, so a pooled coder owns no
// goroutine and an abandoned one is simply collected.
var (
	zstdEncoders sync.Pool // *zstd.Encoder
	zstdDecoders sync.Pool // *zstd.Decoder
)

// NewZstdWriter returns a zstd compressor writing to w. Close flushes the
// frame and returns the coder to a pool; the writer is unusable afterwards.
func NewZstdWriter(w io.Writer) (io.WriteCloser, error) {
	e, _ := zstdEncoders.Get().(*zstd.Encoder)
	if e == nil {
		var err error
		e, err = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(zstdEncoderWindow))
		if err != nil {
			return nil, err
		}
	}
	e.Reset(w)
	return &zstdWriter{e: e}, nil
}

type zstdWriter struct{ e *zstd.Encoder }

func (z *zstdWriter) Write(b []byte) (int, error) {
	if z.e == nil {
		return 0, io.ErrClosedPipe
	}
	return z.e.Write(b)
}

func (z *zstdWriter) Close() error {
	if z.e == nil {
		return nil
	}
	err := z.e.Close()
	z.e.Reset(nil) // drop the reference to the destination
	zstdEncoders.Put(z.e)
	z.e = nil
	return err
}

// NewZstdReader returns a zstd decompressor reading from r. The coder goes
// back to a pool at the end of the stream or on Close.
func NewZstdReader(r io.Reader) (io.ReadCloser, error) {
	d, _ := zstdDecoders.Get().(*zstd.Decoder)
	if d == nil {
		var err error
		d, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(ZstdMaxWindow))
		if err != nil {
			return nil, err
		}
	}
	if err := d.Reset(r); err != nil {
		zstdDecoders.Put(d)
		return nil, err
	}
	return &zstdReader{d: d}, nil
}

type zstdReader struct{ d *zstd.Decoder }

func (z *zstdReader) Read(b []byte) (int, error) {
	if z.d == nil {
		return 0, io.EOF
	}
	n, err := z.d.Read(b)
	if err == io.EOF {
		z.release()
	}
	return n, err
}

func (z *zstdReader) Close() error {
	z.release()
	return nil
}

func (z *zstdReader) release() {
	if z.d != nil {
		_ = z.d.Reset(nil) // drop the reference to the source; cannot fail
		zstdDecoders.Put(z.d)
		z.d = nil
	}
}
