package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/klauspost/compress/zstd"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/ackflow/ackflow/internal/testsink"
)

// signal names, as in the OTLP/HTTP paths.
const (
	sigLogs    = testsink.SignalLogs
	sigMetrics = testsink.SignalMetrics
	sigTraces  = testsink.SignalTraces
)

var signals = []string{sigLogs, sigMetrics, sigTraces}

// payload is one client request: the data of one signal, and the keys of
// its items as the sinks record them (see package testsink).
type payload = testsink.Request

// makePayload builds a request of signal with n items (n ≥ 4) spread over
// two resources, every item tagged with tag; keys are unique to the tag.
func makePayload(signal, tag string, n int) payload { return testsink.NewRequest(signal, tag, n) }

// ---------------------------------------------------------------------------
// Clients

// dialGRPC returns a client connection to addr, closed at the end of the
// test.
func dialGRPC(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// Media types of OTLP/HTTP.
const (
	mediaProto = "application/x-protobuf"
	mediaJSON  = "application/json"
)

// httpClient returns a client for p's receiver. Its idle connections are
// closed when the test ends and before p shuts down: net/http's transport
// may keep a spare connection on which it never sent a request, and such a
// connection holds the receiver's drain (see
// TestShutdownNotHeldByIdleConnections).
func httpClient(t *testing.T, p *pipe) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	p.beforeStop = append(p.beforeStop, tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// h2cClient is httpClient speaking HTTP/2 without TLS (prior knowledge).
func h2cClient(t *testing.T, p *pipe) *http.Client {
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(tr.CloseIdleConnections)
	p.beforeStop = append(p.beforeStop, tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// httpAnswer is an OTLP/HTTP response.
type httpAnswer struct {
	proto      int // HTTP major version
	code       int
	media      string
	retryAfter string
	body       []byte
}

func (a httpAnswer) String() string {
	return fmt.Sprintf("HTTP %d (%s, Retry-After %q): %.200q", a.code, a.media, a.retryAfter, a.body)
}

// encodeBody compresses b with enc ("", "gzip" or "zstd").
func encodeBody(b []byte, enc string) []byte {
	switch enc {
	case "":
		return b
	case "gzip":
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(b)
		_ = zw.Close()
		return buf.Bytes()
	case "zstd":
		zw, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		if err != nil {
			panic(err)
		}
		defer zw.Close()
		return zw.EncodeAll(b, nil)
	}
	panic("unknown encoding " + enc)
}

// postRaw posts body to base + "/v1/" + signal.
func postRaw(ctx context.Context, c *http.Client, base, signal, media, enc string, body []byte) (httpAnswer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/"+signal, bytes.NewReader(encodeBody(body, enc)))
	if err != nil {
		return httpAnswer{}, err
	}
	req.Header.Set("Content-Type", media)
	if enc != "" {
		req.Header.Set("Content-Encoding", enc)
	}
	resp, err := c.Do(req)
	if err != nil {
		return httpAnswer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return httpAnswer{proto: resp.ProtoMajor, code: resp.StatusCode, media: resp.Header.Get("Content-Type"),
		retryAfter: resp.Header.Get("Retry-After"), body: b}, err
}

// postHTTP sends p as media (protobuf or JSON) compressed with enc.
func postHTTP(ctx context.Context, c *http.Client, base string, p payload, media, enc string) (httpAnswer, error) {
	body := p.Proto()
	if media == mediaJSON {
		body = p.JSON()
	}
	return postRaw(ctx, c, base, p.Signal, media, enc, body)
}
