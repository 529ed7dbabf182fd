package otlpgrpc

import (
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/gzip" // registers "gzip" with grpc-go
)

// Compression names, as they appear in grpc-encoding and Content-Encoding.
const (
	Gzip = "gzip"
	Zstd = "zstd"
)

// zstd limits. A 1 MiB window keeps a pooled encoder at a few MiB (the
// default level's 8 MiB window would cost tens of MiB per in-flight
// export) while compressing telemetry nearly as well. The decoder accepts
// windows up to 8 MiB (zstd's own recommended decoder limit) and no more:
// the window size is chosen by the sender and allocated up front, so a
// larger one would let a few hundred bytes of request pin tens of MiB.
const (
	zstdEncoderWindow    = 1 << 20
	zstdDecoderMaxWindow = 8 << 20
)

// init registers the zstd compressor with grpc-go. grpc-go only looks
// compressors up in a process-wide registry that must be filled at init
// time; there is no per-server or per-call way to add one, which is why
// this is an init and not an explicit registration. An existing "zstd"
// registration (another package linked in) is left alone.
func init() {
	if encoding.GetCompressor(Zstd) == nil {
		encoding.RegisterCompressor(zstdCompressor{})
	}
}

// zstdCompressor is grpc-go's encoding.Compressor for zstd.
type zstdCompressor struct{}

func (zstdCompressor) Name() string { return Zstd }

func (zstdCompressor) Compress(w io.Writer) (io.WriteCloser, error) { return NewZstdWriter(w) }

func (zstdCompressor) Decompress(r io.Reader) (io.Reader, error) { return NewZstdReader(r) }

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
		d, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(zstdDecoderMaxWindow))
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
