package otlp

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/ackflow/ackflow/nodes/internal/otlpgrpc"
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
// promptly (slowloris), and idle keep-alive connections are reaped.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 1 << 20
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
		http.Error(w, "unknown path: OTLP/HTTP serves POST /v1/logs, /v1/metrics and /v1/traces", http.StatusNotFound)
		return
	}
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "OTLP/HTTP accepts POST only", http.StatusMethodNotAllowed)
		return
	}
	media, ok := mediaType(req.Header.Get("Content-Type"))
	if !ok {
		h.answer(w, mediaProtobuf, s, result{vUnsupported, fmt.Sprintf(
			"unsupported Content-Type %q: use %s or %s", req.Header.Get("Content-Type"), mediaProtobuf, mediaJSON)}, -1)
		return
	}
	enc := strings.ToLower(strings.TrimSpace(req.Header.Get("Content-Encoding")))
	if !h.st.accepts(enc) {
		h.answer(w, media, s, result{vUnsupported, fmt.Sprintf(
			"unsupported Content-Encoding %q: accepted are %s or none", enc, strings.Join(h.st.compression, ", "))}, -1)
		return
	}
	if !h.lim.tryAcquire() {
		h.answer(w, media, s, result{vBusy, "too many concurrent requests; retry later"}, -1)
		return
	}
	defer h.lim.release()
	if h.core.overBudget() {
		h.answer(w, media, s, h.core.budgetRefusal(), -1)
		return
	}
	if req.ContentLength > int64(h.st.maxSize) {
		h.answer(w, media, s, result{vTooLarge, fmt.Sprintf(
			"request body of %d bytes is larger than max_request_size (%d)", req.ContentLength, h.st.maxSize)}, -1)
		return
	}
	// A slow upload must not hold its slot forever; answering may take up
	// to the timeout again, so only the read gets a deadline.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(h.st.timeout))
	body, err := readBody(req.Body, enc, h.st.maxSize, req.ContentLength)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			h.answer(w, media, s, result{vTooLarge, fmt.Sprintf("request body is larger than max_request_size (%d bytes)", h.st.maxSize)}, -1)
		} else {
			h.answer(w, media, s, result{vMalformed, "read request body: " + err.Error()}, -1)
		}
		return
	}
	p, err := decodeBody(s, media, body)
	if err != nil {
		h.answer(w, media, s, result{vMalformed, err.Error()}, -1)
		return
	}
	c.admitting.enter()
	defer c.admitting.leave()
	res := c.admit(req.Context(), protoHTTP, &h.st, s, p, len(body))
	h.write(w, media, res)
	// Put the answer on the wire before leaving: at the shutdown deadline
	// the drain closes connections as soon as no request is admitting.
	_ = http.NewResponseController(w).Flush()
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
// the wire scan and kept as bytes, JSON is decoded into pdata once.
func decodeBody(s pdata.Signal, media string, body []byte) (*pdata.Payload, error) {
	if media == mediaProtobuf {
		return pdata.FromOTLP(s, body)
	}
	switch s {
	case pdata.Logs:
		r := plogotlp.NewExportRequest()
		if err := r.UnmarshalJSON(body); err != nil {
			return nil, fmt.Errorf("logs request: invalid JSON: %w", err)
		}
		return pdata.FromLogs(r.Logs()), nil
	case pdata.Metrics:
		r := pmetricotlp.NewExportRequest()
		if err := r.UnmarshalJSON(body); err != nil {
			return nil, fmt.Errorf("metrics request: invalid JSON: %w", err)
		}
		return pdata.FromMetrics(r.Metrics()), nil
	default:
		r := ptraceotlp.NewExportRequest()
		if err := r.UnmarshalJSON(body); err != nil {
			return nil, fmt.Errorf("traces request: invalid JSON: %w", err)
		}
		return pdata.FromTraces(r.Traces()), nil
	}
}

var gzipReaders sync.Pool // *gzip.Reader

// readBody reads a request body of at most limit bytes, both as sent and
// decompressed. length is the Content-Length, or -1. The returned slice is
// owned by the caller: the payload aliases it, so it is never pooled.
func readBody(r io.Reader, enc string, limit int, length int64) ([]byte, error) {
	raw := &capReader{r: r, left: int64(limit)}
	switch enc {
	case "", "identity":
		if length >= 0 && length <= preallocLimit {
			// The usual case: one exact allocation, no copy.
			b := make([]byte, length)
			if _, err := io.ReadFull(raw, b); err != nil {
				return nil, err
			}
			return b, nil
		}
		// A large declared length is not trusted before the bytes arrive:
		// a client sending headers only would otherwise pin the memory.
		return readAll(raw, int(min(length, preallocLimit)))
	case otlpgrpc.Gzip:
		zr, _ := gzipReaders.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(raw)
		} else {
			err = zr.Reset(raw)
		}
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		defer gzipReaders.Put(zr)
		b, err := readAll(&capReader{r: zr, left: int64(limit)}, guess(length, limit))
		if err != nil && !errors.Is(err, errTooLarge) {
			err = fmt.Errorf("gzip: %w", err)
		}
		return b, err
	case otlpgrpc.Zstd:
		zr, err := otlpgrpc.NewZstdReader(raw)
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		defer zr.Close()
		b, err := readAll(&capReader{r: zr, left: int64(limit)}, guess(length, limit))
		if err != nil && !errors.Is(err, errTooLarge) {
			err = fmt.Errorf("zstd: %w", err)
		}
		return b, err
	}
	return nil, fmt.Errorf("unsupported Content-Encoding %q", enc)
}

// guess sizes the buffer of a compressed body: telemetry compresses about
// 4 to 10 times.
func guess(length int64, limit int) int {
	if length <= 0 {
		return 0
	}
	return int(min(length*4, int64(limit), preallocLimit))
}

// readAll is io.ReadAll with a starting capacity.
// preallocLimit is the most a declared size may reserve before the body
// arrives; beyond it buffers grow with the bytes actually read.
const preallocLimit = 1 << 20

func readAll(r io.Reader, capacity int) ([]byte, error) {
	b := make([]byte, 0, max(capacity, 512))
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
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

// capReader reads at most left bytes and fails with errTooLarge if the
// source has more (unlike io.LimitReader, which would silently truncate).
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
