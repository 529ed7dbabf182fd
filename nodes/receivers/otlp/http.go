package otlp

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/mem"

	"github.com/ackflow/ackflow/otlp/otlpgrpc"
	"github.com/ackflow/ackflow/pdata"
)

// Media types of OTLP/HTTP. application/protobuf is not in the spec but
// some clients send it for the same bytes.
const (
	mediaProtobuf = "application/x-protobuf"
	mediaJSON     = "application/json"
)

// httpPaths maps the OTLP/HTTP paths to their signals.
var httpPaths = map[string]pdata.Signal{
	"/v1/logs":    pdata.Logs,
	"/v1/metrics": pdata.Metrics,
	"/v1/traces":  pdata.Traces,
}

// HTTP server limits that are not configurable: headers must arrive
// promptly (slowloris), bodies at a minimum pace, and idle keep-alive
// connections are reaped (idleTimeout applies to gRPC connections too).
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 1 << 20
	// A body must arrive within the timeout and, after bodyGrace, at
	// minBodyRate at least (on average since the headers): a client
	// trickling bytes is cut after about bodyGrace instead of holding its
	// connection for the whole timeout.
	bodyGrace   = 5 * time.Second
	minBodyRate = 16 << 10 // bytes per second
	// HTTP/2 receive windows (Go's defaults, made explicit): what a
	// connection can make the server buffer beyond what handlers read and
	// charge to max_in_flight_bytes.
	h2ConnWindow   = 1 << 20
	h2StreamWindow = 1 << 20
	// gzipDecoderMemory is the decoder state charged to
	// max_in_flight_bytes while a gzip body is read: flate's 32 KiB window,
	// its tables and gzip's bufio.Reader. (zstd: see zstdwatch.go.)
	gzipDecoderMemory = 64 << 10
)

// httpHandler serves OTLP/HTTP: POST /v1/{logs,metrics,traces} with
// protobuf or JSON bodies, answered in the request's encoding.
type httpHandler struct {
	core *core
	st   settings
	lim  limiter
}

// errTooLarge is returned by capReader past its limit.
var errTooLarge = errors.New("request body is larger than max_request_size")

func (h *httpHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	c := h.core
	c.serving.enter()
	defer c.serving.leave()
	s, ok := httpPaths[req.URL.Path]
	if !ok {
		closeUnread(w, req)
		http.Error(w, "unknown path: OTLP/HTTP serves POST /v1/logs, /v1/metrics and /v1/traces", http.StatusNotFound)
		return
	}
	if req.Method != http.MethodPost {
		closeUnread(w, req)
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "OTLP/HTTP accepts POST only", http.StatusMethodNotAllowed)
		return
	}
	media, ok := mediaType(req.Header.Get("Content-Type"))
	if !ok {
		h.refuseUnread(w, req, mediaProtobuf, s, result{vUnsupported, fmt.Sprintf(
			"unsupported Content-Type %q: use %s or %s", req.Header.Get("Content-Type"), mediaProtobuf, mediaJSON)})
		return
	}
	enc := strings.ToLower(strings.TrimSpace(req.Header.Get("Content-Encoding")))
	if !h.st.accepts(enc) {
		h.refuseUnread(w, req, media, s, result{vUnsupported, fmt.Sprintf(
			"unsupported Content-Encoding %q: accepted are %s or none", enc, strings.Join(h.st.compression, ", "))})
		return
	}
	// Refused before reading when that is already known; the slot is taken
	// once the body is in, so that slow uploads hold none.
	if h.lim.full() {
		h.refuseUnread(w, req, media, s, busyRefusal)
		return
	}
	if r, refused := c.refuseEarly(); refused {
		h.refuseUnread(w, req, media, s, r)
		return
	}
	if req.ContentLength > int64(h.st.maxSize) {
		h.refuseUnread(w, req, media, s, result{vTooLarge, fmt.Sprintf(
			"request body of %d bytes is larger than max_request_size (%d)", req.ContentLength, h.st.maxSize)})
		return
	}
	rsv := &reservation{c: c}
	defer rsv.release() // nothing left once admit took it over
	c.metrics.reading[protoHTTP][s].Add(1)
	body, err := h.readBody(w, req, enc, rsv)
	c.metrics.reading[protoHTTP][s].Add(-1)
	if err != nil {
		h.refuseUnread(w, req, media, s, h.readFailure(err))
		return
	}
	if !h.lim.tryAcquire() {
		h.answer(w, media, s, busyRefusal, -1)
		return
	}
	defer h.lim.release()
	p, err := decodeBody(s, media, body, h.st.maxSize)
	if err != nil {
		h.answer(w, media, s, decodeFailure(err), -1)
		return // rsv.release puts the body back
	}
	// The payload aliases a protobuf body: its buffer goes back to the
	// pool through a lease, at the outcome, where the pipeline lets the
	// receiver reuse buffers; else (and for JSON, decoded into pdata) to
	// the garbage collector.
	if buf := rsv.take(body); buf != nil && media == mediaProtobuf && c.reuseBuffers {
		p.Borrow(pdata.NewLease(func() { bodyPool().Put(buf) }))
	}
	c.admitting.enter()
	defer c.admitting.leave()
	res := c.admit(req.Context(), protoHTTP, &h.st, s, p, len(body), rsv)
	h.write(w, media, res)
	// Put the answer on the wire before leaving: at the shutdown deadline
	// the drain closes connections as soon as no request is admitting.
	_ = http.NewResponseController(w).Flush()
}

// refuseUnread answers a request refused before its body was read: see
// closeUnread.
func (h *httpHandler) refuseUnread(w http.ResponseWriter, req *http.Request, media string, s pdata.Signal, r result) {
	closeUnread(w, req)
	h.answer(w, media, s, r, -1)
}

// closeUnread closes the connection of a request answered before its
// body was read, once the answer is written. net/http would otherwise
// read what is left of an HTTP/1 body (up to 256 KiB), before writing the
// answer or after it, to keep the connection: a client that stalls its
// upload would not be answered, or its connection not closed, until the
// read deadline, and a drain would wait for it. The expired read deadline
// makes that read end at once. (HTTP/2 resets the stream instead.)
func closeUnread(w http.ResponseWriter, req *http.Request) {
	if req.ProtoMajor == 1 && req.ContentLength != 0 {
		w.Header().Set("Connection", "close")
		_ = http.NewResponseController(w).SetReadDeadline(time.Unix(1, 0))
	}
}

// readBody reads the request body within its deadline (bodyPacer),
// reserving its buffers in rsv as they grow.
func (h *httpHandler) readBody(w http.ResponseWriter, req *http.Request, enc string, rsv *reservation) ([]byte, error) {
	rc := http.NewResponseController(w)
	pace := newBodyPacer(req.Body, rc, time.Now(), h.st.timeout)
	body, err := readBody(pace, enc, h.st.maxSize, req.ContentLength, rsv)
	// Answering may take up to the timeout again, and an expired read
	// deadline would make net/http cancel the request when its background
	// read (which watches for the client going away) fails.
	_ = rc.SetReadDeadline(time.Time{})
	return body, err
}

// readFailure is the answer to a body that could not be read.
func (h *httpHandler) readFailure(err error) result {
	switch {
	case errors.Is(err, errTooLarge):
		return result{vTooLarge, fmt.Sprintf("request body is larger than max_request_size (%d bytes)", h.st.maxSize)}
	case errors.Is(err, errBudget):
		return h.core.budgetRefusal()
	case errors.Is(err, os.ErrDeadlineExceeded):
		return result{vBodyTimeout, fmt.Sprintf(
			"request body not received in time (within %s, and at %d KiB/s at least after %s); retry",
			h.st.timeout, minBodyRate>>10, min(bodyGrace, h.st.timeout/2))}
	}
	return result{vMalformed, "read request body: " + err.Error()}
}

// bodyPacer is the read deadline of a request body: the whole body within
// the timeout, and at minBodyRate on average once a grace period has
// passed (bodyGrace, or half the timeout if that is shorter).
// It moves the deadline forward as bytes arrive, at most once a second.
type bodyPacer struct {
	r     io.Reader
	rc    *http.ResponseController
	from  time.Time // the handler started: headers are in
	end   time.Time // from + timeout
	set   time.Time // the deadline set now
	grace time.Duration
	n     int64
}

func newBodyPacer(r io.Reader, rc *http.ResponseController, now time.Time, timeout time.Duration) *bodyPacer {
	p := &bodyPacer{r: r, rc: rc, from: now, end: now.Add(timeout), grace: min(bodyGrace, timeout/2)}
	p.setDeadline(p.due())
	return p
}

// due is the deadline earned by the bytes read so far.
func (p *bodyPacer) due() time.Time {
	d := p.from.Add(p.grace + time.Duration(p.n)*time.Second/minBodyRate)
	if d.After(p.end) {
		return p.end
	}
	return d
}

func (p *bodyPacer) setDeadline(d time.Time) {
	p.set = d
	_ = p.rc.SetReadDeadline(d)
}

// Read implements io.Reader.
func (p *bodyPacer) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.n += int64(n)
		if d := p.due(); d.Sub(p.set) >= time.Second || (d.Equal(p.end) && !p.set.Equal(p.end)) {
			p.setDeadline(d)
		}
	}
	return n, err
}

// answer counts a request refused before admission and writes its answer.
func (h *httpHandler) answer(w http.ResponseWriter, media string, s pdata.Signal, r result, items int) {
	h.core.metrics.answered(protoHTTP, s, r.v, items)
	h.write(w, media, r)
}

// httpStatus maps verdicts to HTTP status codes, following the OTLP/HTTP
// spec: 503 (with Retry-After) is retryable, 400 and 413 are not, 504 says
// the outcome is unknown.
var httpStatus = [numVerdicts]int{
	vOK:            http.StatusOK,
	vMalformed:     http.StatusBadRequest,
	vTooLarge:      http.StatusRequestEntityTooLarge,
	vUnsupported:   http.StatusUnsupportedMediaType,
	vBusy:          http.StatusServiceUnavailable,
	vBudget:        http.StatusServiceUnavailable,
	vMemory:        http.StatusServiceUnavailable,
	vBodyTimeout:   http.StatusServiceUnavailable, // 408 is not retried by OTLP clients
	vBackpressure:  http.StatusServiceUnavailable,
	vNackTransient: http.StatusServiceUnavailable,
	vNackPermanent: http.StatusBadRequest,
	vTimeout:       http.StatusGatewayTimeout,
	vShutdown:      http.StatusServiceUnavailable,
	vCanceled:      http.StatusServiceUnavailable, // nobody is listening any more
	vUnroutable:    http.StatusServiceUnavailable,
}

// write sends the answer in the request's media type: an empty
// Export*ServiceResponse on success, a google.rpc.Status otherwise.
func (h *httpHandler) write(w http.ResponseWriter, media string, r result) {
	hdr := w.Header()
	hdr.Set("Content-Type", media)
	code := httpStatus[r.v]
	if code == http.StatusServiceUnavailable {
		hdr.Set("Retry-After", strconv.Itoa(int(retryAfter/time.Second)))
	}
	var body []byte
	switch {
	case r.v == vOK && media == mediaJSON:
		body = []byte("{}")
	case r.v == vOK:
		// An empty ExportServiceResponse is zero bytes.
	case media == mediaJSON:
		body, _ = json.Marshal(jsonStatus{Code: int32(grpcCodes[r.v]), Message: r.msg})
	default:
		body = otlpgrpc.AppendStatus(nil, int32(grpcCodes[r.v]), r.msg)
	}
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// jsonStatus is google.rpc.Status in its JSON mapping.
type jsonStatus struct {
	Code    int32  `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// mediaType returns the OTLP media type of a Content-Type header.
func mediaType(contentType string) (string, bool) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", false
	}
	switch mt {
	case mediaProtobuf, "application/protobuf":
		return mediaProtobuf, true
	case mediaJSON:
		return mediaJSON, true
	}
	return "", false
}

// decodeBody turns a request body into a payload: protobuf is checked by
// the wire scan and kept as bytes, JSON is checked and decoded into pdata
// once (decodeJSON), its decoded form bounded by limit (max_request_size).
func decodeBody(s pdata.Signal, media string, body []byte, limit int) (*pdata.Payload, error) {
	if media == mediaProtobuf {
		return fromProtobuf(s, [][]byte{body})
	}
	return decodeJSON(s, body, limit)
}

// errTooManyItems is a request over maxRequestItems: answered 413.
var errTooManyItems = errors.New("request too large")

// fromProtobuf checks a protobuf request, the concatenation of bufs, with
// the wire scan and bounds its items (maxRequestItems).
func fromProtobuf(s pdata.Signal, bufs [][]byte) (*pdata.Payload, error) {
	p, err := pdata.FromOTLPBuffers(s, bufs)
	if err != nil {
		return nil, err
	}
	if p.Items() > maxRequestItems {
		return nil, fmt.Errorf("%w: the request carries %d items, more than the %d one request may carry; send them in several requests",
			errTooManyItems, p.Items(), maxRequestItems)
	}
	return p, nil
}

// decodeFailure is the answer to a body decodeBody refused: 413 for a JSON
// request too large once decoded, 400 for anything malformed.
func decodeFailure(err error) result {
	if errors.Is(err, errJSONTooLarge) || errors.Is(err, errTooManyItems) {
		return result{vTooLarge, err.Error()}
	}
	return result{vMalformed, err.Error()}
}

var gzipReaders sync.Pool // *gzip.Reader

// readBody reads a request body of at most limit bytes, both as sent and
// decompressed. length is the Content-Length, or -1. Every buffer is
// reserved in rsv before it is allocated, and so is the decoder's state
// while a compressed body is decompressed: the budget is charged as bytes
// arrive,
// and a body that would exceed it fails with errBudget. On success rsv
// holds cap of the returned slice. The slice is owned by the caller: the
// payload aliases it, so it is never pooled.
func readBody(r io.Reader, enc string, limit int, length int64, rsv *reservation) ([]byte, error) {
	raw := &capReader{r: r, left: int64(limit)}
	switch enc {
	case "", "identity":
		return readPlain(raw, limit, length, rsv)
	case otlpgrpc.Gzip, otlpgrpc.Zstd:
		// The compressed body is read whole before it is decompressed, as
		// gRPC does: a client stalling mid-upload then holds only the
		// bytes it sent. Decompressed as it arrived, a few KB of a
		// compression bomb followed by silence would hold up to
		// max_request_size of the budget until the body deadline, and one
		// slow client could keep every other one out.
		compressed, err := readPlain(raw, limit, length, rsv)
		if err != nil {
			return nil, err
		}
		defer rsv.discard(compressed)
		size := guess(int64(len(compressed)), limit)
		if enc == otlpgrpc.Gzip {
			return gunzip(bytes.NewReader(compressed), size, limit, rsv)
		}
		return unzstd(bytes.NewReader(compressed), size, limit, rsv)
	}
	return nil, fmt.Errorf("unsupported Content-Encoding %q", enc)
}

// readPlain reads a body as it is sent: of length bytes (its
// Content-Length, or -1 if unknown), at most limit.
func readPlain(r io.Reader, limit int, length int64, rsv *reservation) ([]byte, error) {
	if length >= 0 {
		// net/http ends the body at its Content-Length, so the buffer
		// grows to exactly that size: no slack and no final copy. It
		// starts at preallocLimit at most: a large declared length is not
		// trusted before the bytes arrive, or a client sending headers
		// only would pin the memory.
		return readSized(r, int(min(length, preallocLimit)), int(length), rsv)
	}
	return readUnsized(r, minBuffer, limit, rsv)
}

// gunzip decompresses a gzip body of at most limit bytes, its first
// buffer size bytes, the decoder's state charged to rsv while it runs.
func gunzip(r io.Reader, size, limit int, rsv *reservation) ([]byte, error) {
	if !rsv.grow(gzipDecoderMemory) {
		return nil, errBudget
	}
	defer rsv.shrink(gzipDecoderMemory)
	zr, _ := gzipReaders.Get().(*gzip.Reader)
	var err error
	if zr == nil {
		zr, err = gzip.NewReader(r)
	} else {
		err = zr.Reset(r)
	}
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	defer gzipReaders.Put(zr)
	b, err := readUnsized(zr, size, limit, rsv)
	return b, decodeError("gzip", err)
}

// unzstd decompresses a zstd body like gunzip. The decoder's ring is
// charged as each frame declares its window, before the decoder allocates
// it (zstdWatch).
func unzstd(r io.Reader, size, limit int, rsv *reservation) ([]byte, error) {
	charged := int64(zstdDecoderBase)
	if !rsv.grow(charged) {
		return nil, errBudget
	}
	defer func() { rsv.shrink(charged) }()
	watch := newZstdWatch(r, func(window int64) error {
		if need := zstdDecoderBase + zstdRing(min(window, otlpgrpc.ZstdMaxWindow)); need > charged {
			if !rsv.grow(need - charged) {
				return errBudget
			}
			charged = need
		}
		return nil
	})
	zr, err := otlpgrpc.NewZstdReader(watch)
	if watch.err != nil {
		return nil, watch.err
	}
	if err != nil {
		return nil, fmt.Errorf("zstd: %w", err)
	}
	defer zr.Close()
	b, err := readUnsized(zr, size, limit, rsv)
	if watch.err != nil {
		return nil, watch.err
	}
	return b, decodeError("zstd", err)
}

// decodeError names the encoding in a decompression error; the limits'
// own errors stay as they are.
func decodeError(enc string, err error) error {
	if err == nil || errors.Is(err, errTooLarge) || errors.Is(err, errBudget) {
		return err
	}
	return fmt.Errorf("%s: %w", enc, err)
}

// guess sizes the buffer of a compressed body: telemetry compresses about
// 4 to 10 times.
func guess(length int64, limit int) int {
	if length <= 0 {
		return minBuffer
	}
	return int(min(length*4, int64(limit), preallocLimit))
}

// Buffer sizes of readSized and readUnsized. preallocLimit is the most a
// declared size may reserve before the body arrives, and the largest
// chunk of a body of unknown size.
const (
	minBuffer     = 512
	preallocLimit = 1 << 20
)

// readSized reads a body of exactly length bytes (its Content-Length: the
// server ends the body there) into one buffer of size bytes at first,
// doubled as it fills, the last one exactly length bytes: no slack. Each
// buffer is reserved in rsv before it is allocated, the one it replaces
// released once copied (errBudget if the budget is spent), so that the
// reservation follows the bytes that arrived (at most twice them) and
// peaks at 1.5 times the body. Doubling copies each byte about once.
func readSized(r io.Reader, size, length int, rsv *reservation) ([]byte, error) {
	b, err := regrow(nil, min(max(size, minBuffer), length), rsv)
	if err != nil {
		return nil, err
	}
	for {
		if len(b) == cap(b) {
			// Full: one more byte tells whether the body goes on.
			c, more, err := readByte(r)
			switch {
			case err != nil:
				return nil, err
			case !more:
				return b, nil
			case cap(b) >= length:
				return nil, errTooLarge // not from net/http, which ends the body
			}
			if b, err = regrow(b, min(2*cap(b), length), rsv); err != nil {
				return nil, err
			}
			b = append(b, c)
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// readUnsized reads a body of unknown size (chunked, or decompressed), at
// most limit bytes (errTooLarge beyond), into chunks: size bytes at first,
// doubled up to preallocLimit, each reserved in rsv before it is allocated
// (errBudget if the budget is spent). A body that fits in the first chunk
// is returned as it is; a larger one is copied once into a buffer of
// exactly its size, reserved too, and the chunks released. The reservation
// follows the bytes that arrived (plus at most one chunk), peaks at twice
// the body plus a chunk while it is assembled, and ends at the body's
// size. (Doubling one buffer would leave up to half of it unused for the
// data's whole life in the pipeline, and peak at three times the body.)
func readUnsized(r io.Reader, size, limit int, rsv *reservation) ([]byte, error) {
	var chunks [][]byte
	total, next := 0, min(max(size, minBuffer), limit)
	var carry []byte // a byte read to see whether the body goes on
	for {
		c, err := regrow(nil, next, rsv)
		if err != nil {
			return nil, err
		}
		c, carry = append(c, carry...), nil
		for len(c) < cap(c) && err == nil {
			var n int
			n, err = r.Read(c[len(c):cap(c)])
			c = c[:len(c)+n]
		}
		chunks = append(chunks, c)
		total += len(c)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		b, more, err := readByte(r)
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
		if total >= limit {
			return nil, errTooLarge
		}
		carry = []byte{b}
		next = min(2*cap(c), preallocLimit, limit-total)
	}
	if len(chunks) == 1 {
		return chunks[0], nil
	}
	body, err := regrow(nil, total, rsv)
	if err != nil {
		return nil, err
	}
	for _, c := range chunks {
		body = append(body, c...)
		rsv.discard(c)
	}
	return body, nil
}

// regrow returns a buffer of capacity n holding b, reserved in rsv; b's
// reservation and buffer are given back.
func regrow(b []byte, n int, rsv *reservation) ([]byte, error) {
	nb, err := rsv.alloc(n)
	if err != nil {
		return nil, err
	}
	nb = append(nb, b...)
	rsv.discard(b)
	return nb, nil
}

// bodyPool holds the buffers request bodies are read into, in powers of
// two from 512 B to 16 MiB (larger ones, and empty ones, in grpc-go's
// untiered fallback pool; every buffer is zeroed when taken out). A
// protobuf body goes back to it through its payload's lease once the
// pipeline is done with it (see leaseOf); any other buffer once the
// request no longer needs it.
var bodyPool = sync.OnceValue(func() mem.BufferPool {
	p, err := mem.NewBinaryTieredBufferPool(9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24)
	if err != nil {
		panic(err) // the exponents are constants
	}
	return p
})

// readByte reads one byte; more is false at the end of r.
func readByte(r io.Reader) (c byte, more bool, err error) {
	var one [1]byte
	for {
		n, err := r.Read(one[:])
		if n > 0 {
			return one[0], true, nil // an error with it comes again
		}
		if err == io.EOF {
			return 0, false, nil
		}
		if err != nil {
			return 0, false, err
		}
	}
}

// capReader reads at most left bytes and fails with errTooLarge if the
// source has more (unlike io.LimitReader, which would silently truncate).
// It bounds the compressed side of a body; readAll bounds the other.
type capReader struct {
	r    io.Reader
	left int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var probe [1]byte
		n, err := c.r.Read(probe[:])
		if n > 0 {
			return 0, errTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}
