package otlphttp

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/nodes/internal/exportdriver"
	iotlp "github.com/ackflow/ackflow/otlp/otlpgrpc"
	"github.com/ackflow/ackflow/pdata"
)

// Type is the node type.
const Type = "exporter:otlp_http"

// name prefixes nack reasons and logs.
const name = "otlp_http"

// Transport limits. Responses are small (empty, a partial success or a
// Status); a larger one is read only in part. The buffers are larger than
// net/http's 4 KiB defaults: requests are hundreds of KiB.
const (
	maxResponseBody = 64 << 10
	writeBufferSize = 64 << 10
	readBufferSize  = 32 << 10
	dialTimeout     = 10 * time.Second
	idleConnTimeout = 90 * time.Second
)

// NewFactory returns the factory of exporter:otlp_http.
func NewFactory() engine.Factory {
	f := engine.ProcessorFactory(Type, "sends OTLP/HTTP protobuf, bytes as received; acks on success, nacks (permanent or transient) on failure", Load,
		func(nc engine.NodeContext, cfg Config) (engine.Processor, error) { return New(nc, cfg) })
	f.Guarantee = declareGuarantee
	// An uncompressed body holds the payload's leases until net/http
	// closes it; a compressed one is a copy.
	f.ReleasesPayloads = true
	return f
}

// Exporter is the exporter: the shared in-flight driver over this
// package's transport.
type Exporter = exportdriver.Exporter

// New builds the exporter from a validated config.
func New(nc engine.NodeContext, cfg Config) (*Exporter, error) {
	t, err := newTransport(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", Type, nc.Node.Name, err)
	}
	return exportdriver.NewExporter(nc, name, "ackflow_exporter_otlp_http", time.Duration(cfg.Timeout), cfg.MaxInFlight, t), nil
}

// transport posts exports with one http.Client. Its header map is shared
// by every request, read-only: net/http copies a request before changing
// its headers.
type transport struct {
	client      *http.Client
	tr          *http.Transport
	urls        [3]string
	header      http.Header
	compression string
}

func newTransport(cfg Config) (*transport, error) {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment, // never used for loopback
		DialContext:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          cfg.MaxInFlight * 3,
		MaxIdleConnsPerHost:   cfg.MaxInFlight, // one per export in flight: no connection churn
		IdleConnTimeout:       idleConnTimeout,
		TLSHandshakeTimeout:   dialTimeout,
		ExpectContinueTimeout: time.Second,
		WriteBufferSize:       writeBufferSize,
		ReadBufferSize:        readBufferSize,
	}
	for _, u := range cfg.URLs() {
		if strings.HasPrefix(u, "https://") {
			tlsCfg, err := cfg.TLS.Load()
			if err != nil {
				return nil, err
			}
			tr.TLSClientConfig = tlsCfg
			break
		}
	}
	h := http.Header{}
	for k, v := range cfg.Headers {
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/x-protobuf")
	h.Set("User-Agent", "ackflow")
	if cfg.Compression != "none" {
		h.Set("Content-Encoding", cfg.Compression)
	}
	return &transport{
		client:      &http.Client{Transport: tr},
		tr:          tr,
		urls:        cfg.URLs(),
		header:      h,
		compression: cfg.Compression,
	}, nil
}

// Export implements exportdriver.Transport.
func (t *transport) Export(ctx context.Context, p *pdata.Payload) exportdriver.Result {
	s := p.Signal()
	chunks, err := p.Chunks()
	if err != nil {
		return exportdriver.EncodeFailure("OTLP", s, err)
	}
	url := t.urls[s]
	if url == "" {
		return exportdriver.Result{Status: "no_endpoint", Permanent: true,
			Err: fmt.Errorf("no endpoint for %s: set endpoint or %s", s, signalKeys[s])}
	}
	req, err := t.request(ctx, url, chunks, p.Leases())
	if err != nil {
		return exportdriver.Result{Status: "encode_error", Err: err, Permanent: true}
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return exportdriver.Result{Status: "connection_error", Err: err}
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBody)) // let the connection be reused
	_ = resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return exportdriver.Result{Status: "ok", Partial: partialSuccess(resp, body)}
	}
	return exportdriver.Result{
		Status:    strconv.Itoa(resp.StatusCode),
		Err:       httpError(resp, body),
		Permanent: !retryable(resp.StatusCode),
	}
}

// request builds the POST. An uncompressed body reads the chunks in
// place, holding their leases until net/http closes it (heldBody); a
// compressed one is built once, so that net/http can replay it (GetBody)
// on a connection that closed under it.
func (t *transport) request(ctx context.Context, url string, chunks [][]byte, leases pdata.Leases) (*http.Request, error) {
	var body io.Reader
	var length int64
	var getBody func() (io.ReadCloser, error)
	if t.compression == "none" {
		for _, c := range chunks {
			length += int64(len(c))
		}
		body = newHeldBody(chunks, leases)
		getBody = func() (io.ReadCloser, error) { return newHeldBody(chunks, leases), nil }
	} else {
		b, err := compress(t.compression, chunks)
		if err != nil {
			return nil, err
		}
		body, length = bytes.NewReader(b), int64(len(b))
		getBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, body)
	if err != nil {
		if c, ok := body.(io.Closer); ok {
			_ = c.Close() // no request: nothing else will
		}
		return nil, err
	}
	req.ContentLength = length
	req.GetBody = getBody
	req.Header = t.header
	return req, nil
}

// Close implements exportdriver.Transport.
func (t *transport) Close() error {
	t.tr.CloseIdleConnections()
	return nil
}

// retryable reports whether OTLP/HTTP lets a client retry after status:
// 429, 502, 503 and 504 per the specification. Everything else is
// permanent (400, 401, 403, 404, 413, 500, ...): the same request would
// fail again.
func retryable(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// partialSuccess reads the partial success of a 2xx protobuf response.
// Anything else (no body, another media type) is a full success.
func partialSuccess(resp *http.Response, body []byte) iotlp.PartialSuccess {
	if len(body) == 0 || !isProtobuf(resp) {
		return iotlp.PartialSuccess{}
	}
	ps, err := iotlp.ParsePartialSuccess(body)
	if err != nil {
		return iotlp.PartialSuccess{Message: "unreadable response: " + err.Error()}
	}
	return ps
}

func isProtobuf(resp *http.Response) bool {
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return err == nil && (mt == "application/x-protobuf" || mt == "application/protobuf")
}

// httpError describes a failed response for the nack reason: the status,
// the destination's message (a google.rpc.Status in protobuf or JSON, or
// the start of a text body) and the Retry-After it asked for, if any.
func httpError(resp *http.Response, body []byte) error {
	msg := fmt.Sprintf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	if detail := statusMessage(resp, body); detail != "" {
		msg += ": " + detail
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		msg += " (retry after " + ra + ")"
	}
	return errors.New(msg)
}

func statusMessage(resp *http.Response, body []byte) string {
	if len(body) == 0 {
		return ""
	}
	if isProtobuf(resp) {
		if _, m, err := iotlp.ParseStatus(body); err == nil {
			return m
		}
	}
	var js struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &js) == nil && js.Message != "" {
		return js.Message
	}
	const maxText = 256
	text := strings.TrimSpace(strings.ToValidUTF8(string(body[:min(len(body), maxText)]), "?"))
	return text
}

// compress encodes the concatenated chunks with the named compression.
func compress(name string, chunks [][]byte) ([]byte, error) {
	var buf bytes.Buffer
	var w io.WriteCloser
	switch name {
	case iotlp.Gzip:
		w = gzip.NewWriter(&buf)
	case iotlp.Zstd:
		zw, err := iotlp.NewZstdWriter(&buf)
		if err != nil {
			return nil, err
		}
		w = zw
	default:
		return nil, fmt.Errorf("unknown compression %q", name)
	}
	for _, c := range chunks {
		if _, err := w.Write(c); err != nil {
			_ = w.Close()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// chunkReader reads a list of chunks as one stream, without copying them
// into one buffer first. It never writes to the list: the chunks belong to
// a payload that other nodes may be reading.
type chunkReader struct {
	chunks [][]byte
	i, off int // next byte: chunks[i][off]
}

func newChunkReader(chunks [][]byte) *chunkReader { return &chunkReader{chunks: chunks} }

// heldBody is a request body reading chunks in place that holds their
// leases (pdata.Lease) until net/http closes it: the transport may read
// the body after Do returned (an early answer, a reset connection), and
// promises to close it once done, whatever happened. It may close it from
// another goroutine while a read runs: the lock makes the release wait
// for that read (a copy from memory: heldBody has no WriteTo, so no read
// holds it across a network write), and reads after Close fail.
type heldBody struct {
	mu     sync.Mutex
	r      *chunkReader
	leases pdata.Leases // nil once closed
	closed bool
}

// errBodyClosed is what a read of a closed heldBody returns.
var errBodyClosed = errors.New("request body read after net/http closed it")

func newHeldBody(chunks [][]byte, leases pdata.Leases) *heldBody {
	leases.Retain()
	return &heldBody{r: newChunkReader(chunks), leases: leases}
}

func (b *heldBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, errBodyClosed
	}
	return b.r.Read(p)
}

// Close releases the leases, once, after any read in progress.
func (b *heldBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		b.leases.Release()
		b.leases = nil
	}
	return nil
}

func (r *chunkReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && r.i < len(r.chunks) {
		c := copy(p[n:], r.chunks[r.i][r.off:])
		n += c
		r.off += c
		if r.off == len(r.chunks[r.i]) {
			r.i, r.off = r.i+1, 0
		}
	}
	if n == 0 && r.i >= len(r.chunks) {
		return 0, io.EOF
	}
	return n, nil
}
