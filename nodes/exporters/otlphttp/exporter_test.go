package otlphttp_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"go.uber.org/goleak"

	"github.com/ackflow/ackflow/engine/nodetest"
	exporter "github.com/ackflow/ackflow/nodes/exporters/otlphttp"
	"github.com/ackflow/ackflow/nodes/internal/otlptest"
	"github.com/ackflow/ackflow/otlp/otlpgrpc"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// backend is a loopback OTLP/HTTP server whose answers the test scripts.
type backend struct {
	srv   *httptest.Server
	calls chan *backendCall
}

type backendCall struct {
	req   *http.Request
	body  []byte // decompressed
	ctx   context.Context
	reply chan backendReply
}

type backendReply struct {
	status int
	header map[string]string
	body   []byte
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	body := raw
	switch r.Header.Get("Content-Encoding") {
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err == nil {
			body, err = io.ReadAll(zr)
		}
		if err != nil {
			w.WriteHeader(400)
			return
		}
	case "zstd":
		zr, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
		if err == nil {
			body, err = zr.DecodeAll(raw, nil)
			zr.Close()
		}
		if err != nil {
			w.WriteHeader(400)
			return
		}
	}
	c := &backendCall{req: r, body: body, ctx: r.Context(), reply: make(chan backendReply, 1)}
	b.calls <- c
	select {
	case rep := <-c.reply:
		for k, v := range rep.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(rep.status)
		_, _ = w.Write(rep.body)
	case <-r.Context().Done():
	}
}

func newBackend(t testing.TB, useTLS bool) *backend {
	t.Helper()
	b := &backend{calls: make(chan *backendCall, 16)}
	b.srv = httptest.NewUnstartedServer(b)
	if useTLS {
		b.srv.StartTLS()
	} else {
		b.srv.Start()
	}
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) next(t testing.TB) *backendCall {
	t.Helper()
	return otlptest.Recv(t, b.calls, "request at the backend")
}

func (c *backendCall) ok() { c.reply <- backendReply{status: 200} }

func newExporter(t testing.TB, cfg string) (*nodetest.Harness, *exporter.Exporter) {
	t.Helper()
	h := nodetest.New(t, exporter.NewFactory(), cfg)
	return h, h.Node.(*exporter.Exporter)
}

func settle(t testing.TB, h *nodetest.Harness) {
	t.Helper()
	for h.Pending() > 0 {
		if h.WaitAsync(otlptest.Wait) == 0 {
			t.Fatalf("%d exports still in flight after %s", h.Pending(), otlptest.Wait)
		}
	}
}

func TestExportPostsBytesToSignalPaths(t *testing.T) {
	b := newBackend(t, false)
	h, _ := newExporter(t, "endpoint: "+b.srv.URL+"/otlp/\n")
	defer h.Shutdown(h.Clock.Now())
	two, err := pdata.Concat(pdata.Logs, pdatatest.LogsPayload("b", 2, 0, 8), pdatatest.LogsPayload("c", 4, 0, 8))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		p    *pdata.Payload
		path string
	}{
		{pdatatest.Logs(3), "/otlp/v1/logs"},
		{two, "/otlp/v1/logs"},
		{pdatatest.Metrics(4), "/otlp/v1/metrics"},
		{pdatatest.Traces(5), "/otlp/v1/traces"},
	} {
		id := h.SendPData(pdatatest.Msg(tt.p))
		c := b.next(t)
		want, _ := tt.p.AppendOTLP(nil)
		if c.req.URL.Path != tt.path || c.req.Method != http.MethodPost || !bytes.Equal(c.body, want) {
			t.Fatalf("backend got %s %s with %d bytes, want POST %s with %d", c.req.Method, c.req.URL.Path, len(c.body), tt.path, len(want))
		}
		if ct := c.req.Header.Get("Content-Type"); ct != "application/x-protobuf" {
			t.Fatalf("Content-Type %q", ct)
		}
		if c.req.ContentLength != int64(len(want)) {
			t.Fatalf("Content-Length %d, want %d", c.req.ContentLength, len(want))
		}
		c.ok()
		settle(t, h)
		h.RequireAcked(id)
	}
}

func TestSignalEndpointsOverrideAndMissingOnesNack(t *testing.T) {
	b := newBackend(t, false)
	h, _ := newExporter(t, "traces_endpoint: "+b.srv.URL+"/custom/spans\n")
	defer h.Shutdown(h.Clock.Now())
	id := h.SendPData(pdatatest.Msg(pdatatest.Traces(1)))
	c := b.next(t)
	if c.req.URL.Path != "/custom/spans" {
		t.Fatalf("path %s, want the traces_endpoint as given", c.req.URL.Path)
	}
	c.ok()
	settle(t, h)
	h.RequireAcked(id)
	id = h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	settle(t, h)
	if n := h.RequireNacked(id)[0].Nack; !n.Permanent || !strings.Contains(n.Reason, "logs_endpoint") {
		t.Fatalf("nack %v, want permanent naming logs_endpoint", n)
	}
}

func TestStatusMapping(t *testing.T) {
	b := newBackend(t, false)
	h, e := newExporter(t, "endpoint: "+b.srv.URL+"\n")
	defer h.Shutdown(h.Clock.Now())
	tests := []struct {
		status     int
		header     map[string]string
		body       []byte
		permanent  bool
		wantReason string
	}{
		{400, map[string]string{"Content-Type": "application/x-protobuf"}, otlpgrpc.AppendStatus(nil, 3, "bad schema"), true, "HTTP 400 Bad Request: bad schema"},
		{401, nil, nil, true, "HTTP 401"},
		{403, nil, nil, true, "HTTP 403"},
		{404, map[string]string{"Content-Type": "text/plain"}, []byte("no such path"), true, "HTTP 404 Not Found: no such path"},
		{413, nil, nil, true, "HTTP 413"},
		{500, map[string]string{"Content-Type": "application/json"}, []byte(`{"code":13,"message":"boom"}`), true, "boom"},
		{429, map[string]string{"Retry-After": "7"}, nil, false, "HTTP 429 Too Many Requests (retry after 7)"},
		{502, nil, nil, false, "HTTP 502"},
		{503, map[string]string{"Retry-After": "2"}, nil, false, "(retry after 2)"},
		{504, nil, nil, false, "HTTP 504"},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			id := h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
			b.next(t).reply <- backendReply{status: tt.status, header: tt.header, body: tt.body}
			settle(t, h)
			n := h.RequireNacked(id)[0].Nack
			if n.Permanent != tt.permanent || !strings.Contains(n.Reason, tt.wantReason) {
				t.Fatalf("nack %v, want permanent=%t containing %q", n, tt.permanent, tt.wantReason)
			}
			if got := e.Metrics().Requests(pdata.Logs, strconv.Itoa(tt.status)); got != 1 {
				t.Fatalf("requests{status=%d} = %d", tt.status, got)
			}
		})
	}
}

func TestPartialSuccessAcksAndCounts(t *testing.T) {
	b := newBackend(t, false)
	h, e := newExporter(t, "endpoint: "+b.srv.URL+"\n")
	defer h.Shutdown(h.Clock.Now())
	id := h.SendPData(pdatatest.Msg(pdatatest.Metrics(5)))
	b.next(t).reply <- backendReply{status: 200, header: map[string]string{"Content-Type": "application/x-protobuf"},
		body: otlpgrpc.AppendPartialSuccess(nil, otlpgrpc.PartialSuccess{Rejected: 3, Message: "stale"})}
	settle(t, h)
	h.RequireAcked(id)
	if got := e.Metrics().Rejected(pdata.Metrics); got != 3 {
		t.Fatalf("rejected %d, want 3", got)
	}
}

func TestTimeoutNacksTransient(t *testing.T) {
	b := newBackend(t, false)
	h, _ := newExporter(t, "endpoint: "+b.srv.URL+"\ntimeout: 100ms\n")
	defer h.Shutdown(h.Clock.Now())
	id := h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	c := b.next(t) // never answered
	settle(t, h)
	if n := h.RequireNacked(id)[0].Nack; n.Permanent || n.Cause != pdata.CauseTimeout {
		t.Fatalf("nack %v, want transient timeout", n)
	}
	otlptest.Recv(t, c.ctx.Done(), "the request's end at the backend")
}

func TestConnectionRefusedIsTransient(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	h, _ := newExporter(t, "endpoint: http://"+addr+"\n")
	defer h.Shutdown(h.Clock.Now())
	id := h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	settle(t, h)
	if n := h.RequireNacked(id)[0].Nack; n.Permanent || !strings.Contains(n.Reason, "refused") {
		t.Fatalf("nack %v, want transient connection refused", n)
	}
}

func TestMaxInFlightGatesPData(t *testing.T) {
	b := newBackend(t, false)
	h, _ := newExporter(t, "endpoint: "+b.srv.URL+"\nmax_in_flight: 2\n")
	defer h.Shutdown(h.Clock.Now())
	var ids []uint64
	for range 3 {
		ids = append(ids, h.SendPData(pdatatest.Msg(pdatatest.Logs(1))))
	}
	first, second := b.next(t), b.next(t)
	if h.Pending() != 2 || h.Queued() != 1 {
		t.Fatalf("pending %d queued %d, want 2 and 1", h.Pending(), h.Queued())
	}
	first.ok()
	for h.Queued() > 0 {
		if h.WaitAsync(otlptest.Wait) == 0 {
			t.Fatal("no completion")
		}
	}
	b.next(t).ok()
	second.ok()
	settle(t, h)
	h.RequireAcked(ids...)
}

func TestForcedShutdownNacksAndCancels(t *testing.T) {
	b := newBackend(t, false)
	h, _ := newExporter(t, "endpoint: "+b.srv.URL+"\n")
	id := h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	c := b.next(t)
	h.Shutdown(h.Clock.Now().Add(time.Second))
	h.ForceShutdown()
	if n := h.RequireNacked(id)[0].Nack; n.Cause != pdata.CauseNodeShutdown || n.Permanent {
		t.Fatalf("nack %v, want transient node_shutdown", n)
	}
	otlptest.Recv(t, c.ctx.Done(), "cancellation at the backend")
}

func TestCompressionAndHeaders(t *testing.T) {
	b := newBackend(t, false)
	for _, comp := range []string{"none", "gzip", "zstd"} {
		t.Run(comp, func(t *testing.T) {
			h, _ := newExporter(t, "endpoint: "+b.srv.URL+"\ncompression: "+comp+"\nheaders:\n  X-Tenant: acme\n")
			defer h.Shutdown(h.Clock.Now())
			p := pdatatest.LogsPayload("z", 100, 10, 64)
			id := h.SendPData(pdatatest.Msg(p))
			c := b.next(t)
			want, _ := p.AppendOTLP(nil)
			if !bytes.Equal(c.body, want) {
				t.Fatal("backend got other bytes")
			}
			wantEnc := comp
			if comp == "none" {
				wantEnc = ""
			}
			if got := c.req.Header.Get("Content-Encoding"); got != wantEnc {
				t.Fatalf("Content-Encoding %q, want %q", got, wantEnc)
			}
			if got := c.req.Header.Get("X-Tenant"); got != "acme" {
				t.Fatalf("X-Tenant %q", got)
			}
			c.ok()
			settle(t, h)
			h.RequireAcked(id)
		})
	}
}

func TestTLS(t *testing.T) {
	b := newBackend(t, true)
	// httptest's certificate is for 127.0.0.1 but signed by nobody we know.
	h, _ := newExporter(t, "endpoint: "+b.srv.URL+"\ntls:\n  insecure_skip_verify: true\n")
	defer h.Shutdown(h.Clock.Now())
	id := h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	c := b.next(t)
	if c.req.TLS == nil {
		t.Fatal("request was not over TLS")
	}
	c.ok()
	settle(t, h)
	h.RequireAcked(id)

	h2, _ := newExporter(t, "endpoint: "+b.srv.URL+"\n")
	defer h2.Shutdown(h2.Clock.Now())
	id2 := h2.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	settle(t, h2)
	if n := h2.RequireNacked(id2)[0].Nack; !strings.Contains(n.Reason, "certificate") {
		t.Fatalf("nack %v, want a certificate error", n)
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr []string
	}{
		{"endpoint", "endpoint: http://127.0.0.1:4318\n", nil},
		{"signal endpoint only", "logs_endpoint: https://h/v1/logs\n", nil},
		{"full", "endpoint: https://h:4318\ntimeout: 5s\nmax_in_flight: 8\ncompression: gzip\nheaders: {Authorization: Bearer x}\ntls: {ca_file: ca.pem}\n", nil},
		{"no endpoint", "timeout: 5s\n", []string{"config.endpoint", "no endpoint"}},
		{"no scheme", "endpoint: 127.0.0.1:4318\n", []string{"endpoint"}},
		{"ftp", "metrics_endpoint: ftp://h/x\n", []string{"metrics_endpoint", "http or https"}},
		{"tls on plaintext", "endpoint: http://h:1\ntls: {ca_file: ca.pem}\n", []string{"config.tls", "plaintext"}},
		{"zero timeout", "endpoint: http://h:1\ntimeout: 0s\n", []string{"timeout must be positive"}},
		{"zero in flight", "endpoint: http://h:1\nmax_in_flight: 0\n", []string{"max_in_flight"}},
		{"bad compression", "endpoint: http://h:1\ncompression: br\n", []string{"compression"}},
		{"owned header", "endpoint: http://h:1\nheaders: {Content-Type: text/plain}\n", []string{"cannot be set"}},
		{"bad header name", "endpoint: http://h:1\nheaders: {\"bad name\": x}\n", []string{"invalid header name"}},
		{"unknown key", "endpoint: http://h:1\ngrpc_endpoint: x\n", []string{"grpc_endpoint"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			otlptest.RequireConfig(t, exporter.NewFactory(), "out", tt.yaml, tt.wantErr...)
		})
	}
}
