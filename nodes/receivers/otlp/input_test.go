package otlp_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ackflow/ackflow/nodes/internal/otlptest"
	"github.com/ackflow/ackflow/otlp/otlpgrpc"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// Bad inputs. A valid request, cut short, is a truncated body; a field
// tag with a wrong wire type is malformed protobuf.
var (
	validLogs     = pdatatest.LogsBytes("bad", 5, 0, 16)
	truncatedLogs = validLogs[:len(validLogs)/2]
	malformedLogs = []byte{0x0a, 0x05, 0x0d, 0xff, 0xff, 0xff, 0xff} // resource_logs holding a fixed32 field 1
	notProtobuf   = []byte("this is not protobuf at all")
)

func TestBadInputGRPC(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		code codes.Code
		msg  string
	}{
		{"malformed protobuf", malformedLogs, codes.InvalidArgument, "malformed"},
		{"truncated body", truncatedLogs, codes.InvalidArgument, "malformed"},
		{"not protobuf", notProtobuf, codes.InvalidArgument, "malformed"},
		{"oversized", bytes.Repeat(validLogs, 10), codes.ResourceExhausted, "larger than max"},
	}
	f := start(t, grpcOnly+"max_request_size: 1KiB\n")
	client := otlpgrpc.NewClient(f.grpcConn())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var resp otlpgrpc.Response
			err := client.Export(context.Background(), pdata.Logs, &otlpgrpc.ExportRequest{Chunks: [][]byte{tt.body}}, &resp)
			st := status.Convert(err)
			if st.Code() != tt.code || !strings.Contains(st.Message(), tt.msg) {
				t.Fatalf("got %s %q, want %s containing %q", st.Code(), st.Message(), tt.code, tt.msg)
			}
			f.noneSent()
		})
	}
	// The process is unharmed: a good request still goes through.
	answer := async(func(ctx context.Context) error {
		return client.Export(ctx, pdata.Logs, &otlpgrpc.ExportRequest{}, &otlpgrpc.Response{})
	})
	if err := otlptest.Recv(t, answer, "answer"); err != nil {
		t.Fatalf("empty request after bad ones: %v", err)
	}
	if got := f.counter("ackflow_receiver_otlp_requests_total", "protocol", "grpc", "outcome", "malformed"); got != 3 {
		t.Fatalf("malformed requests counted %v, want 3", got)
	}
}

func TestBadInputHTTP(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(bytes.Repeat([]byte{0}, 64<<10)) // a small bomb: 64 KiB of zeros
	_ = zw.Close()
	tests := []struct {
		name, method, path, ctype, enc string
		body                           []byte
		chunked                        bool // send without Content-Length
		status                         int
		code                           codes.Code // of the Status body; 0: no Status body
		msg                            string
	}{
		{"malformed protobuf", "POST", "/v1/logs", "application/x-protobuf", "", malformedLogs, false, 400, codes.InvalidArgument, "malformed"},
		{"truncated body", "POST", "/v1/logs", "application/x-protobuf", "", truncatedLogs, false, 400, codes.InvalidArgument, "malformed"},
		{"invalid JSON", "POST", "/v1/logs", "application/json", "", []byte(`{"resourceLogs": [`), false, 400, codes.InvalidArgument, "invalid JSON"},
		{"wrong content type", "POST", "/v1/logs", "text/plain", "", validLogs, false, 415, codes.Unimplemented, "unsupported Content-Type"},
		{"oversized with length", "POST", "/v1/logs", "application/x-protobuf", "", bytes.Repeat(validLogs, 10), false, 413, codes.ResourceExhausted, "max_request_size"},
		{"oversized chunked", "POST", "/v1/logs", "application/x-protobuf", "", bytes.Repeat(validLogs, 10), true, 413, codes.ResourceExhausted, "max_request_size"},
		{"oversized after gzip", "POST", "/v1/logs", "application/x-protobuf", "gzip", gz.Bytes(), false, 413, codes.ResourceExhausted, "max_request_size"},
		{"corrupt gzip", "POST", "/v1/logs", "application/x-protobuf", "gzip", notProtobuf, false, 400, codes.InvalidArgument, "gzip"},
		{"corrupt zstd", "POST", "/v1/logs", "application/x-protobuf", "zstd", notProtobuf, false, 400, codes.InvalidArgument, "zstd"},
		{"unknown encoding", "POST", "/v1/logs", "application/x-protobuf", "br", validLogs, false, 415, codes.Unimplemented, "Content-Encoding"},
		{"GET", "GET", "/v1/logs", "application/x-protobuf", "", nil, false, 405, 0, ""},
		{"unknown path", "POST", "/v1/profiles", "application/x-protobuf", "", validLogs, false, 404, 0, ""},
	}
	f := start(t, httpOnly+"max_request_size: 1KiB\n")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body = bytes.NewReader(tt.body)
			req, err := http.NewRequest(tt.method, "http://"+f.httpAddr+tt.path, body)
			if err != nil {
				t.Fatal(err)
			}
			if tt.chunked {
				req.ContentLength = -1
				req.Body = io.NopCloser(body) // no Content-Length: chunked
			}
			req.Header.Set("Content-Type", tt.ctype)
			if tt.enc != "" {
				req.Header.Set("Content-Encoding", tt.enc)
			}
			res := otlptest.Recv(t, f.do(req), "answer")
			if res.err != nil || res.status != tt.status {
				t.Fatalf("got %d (%v), want %d", res.status, res.err, tt.status)
			}
			switch {
			case tt.code != 0 && tt.ctype == "application/json":
				var st struct {
					Code    codes.Code `json:"code"`
					Message string     `json:"message"`
				}
				if err := json.Unmarshal(res.body, &st); err != nil || st.Code != tt.code || !strings.Contains(st.Message, tt.msg) {
					t.Fatalf("JSON status body %q (%v), want %s containing %q", res.body, err, tt.code, tt.msg)
				}
			case tt.code != 0:
				code, msg, err := otlpgrpc.ParseStatus(res.body)
				if err != nil || codes.Code(code) != tt.code || !strings.Contains(msg, tt.msg) {
					t.Fatalf("status body %s %q (%v), want %s containing %q", codes.Code(code), msg, err, tt.code, tt.msg)
				}
			}
			f.noneSent()
		})
	}
}

// TestCompressedRequests sends gzip and zstd over both protocols; the
// pipeline must get the uncompressed bytes exactly.
func TestCompressedRequests(t *testing.T) {
	f := start(t, both)
	req := plogotlp.NewExportRequestFromLogs(pdatatest.LogsData("c", 50, 10, 64))
	want, _ := req.MarshalProto()
	for _, enc := range []string{otlpgrpc.Gzip, otlpgrpc.Zstd} {
		t.Run("grpc "+enc, func(t *testing.T) {
			client := plogotlp.NewGRPCClient(f.grpcConn())
			answer := async(func(ctx context.Context) error {
				_, err := client.Export(ctx, req, grpc.UseCompressor(enc))
				return err
			})
			checkForwarded(t, f, pdata.Logs, want, 50)
			if err := otlptest.Recv(t, answer, "answer"); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("http "+enc, func(t *testing.T) {
			answer := f.post("/v1/logs", "application/x-protobuf", enc, compress(t, enc, want))
			checkForwarded(t, f, pdata.Logs, want, 50)
			if res := otlptest.Recv(t, answer, "answer"); res.status != http.StatusOK {
				t.Fatalf("status %d %v", res.status, res.err)
			}
		})
	}
}

func compress(t *testing.T, enc string, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch enc {
	case otlpgrpc.Gzip:
		w := gzip.NewWriter(&buf)
		_, _ = w.Write(b)
		_ = w.Close()
	case otlpgrpc.Zstd:
		w, err := zstd.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(b)
		_ = w.Close()
	}
	return buf.Bytes()
}

// TestRequestCompressionRestricts: with request_compression [gzip], zstd
// is refused on both protocols (grpc-go itself knows zstd).
func TestRequestCompressionRestricts(t *testing.T) {
	f := start(t, both+"request_compression: gzip\n")
	req := plogotlp.NewExportRequestFromLogs(pdatatest.LogsData("r", 2, 0, 8))
	body, _ := req.MarshalProto()
	_, err := plogotlp.NewGRPCClient(f.grpcConn()).Export(context.Background(), req, grpc.UseCompressor(otlpgrpc.Zstd))
	if st := status.Convert(err); st.Code() != codes.Unimplemented {
		t.Fatalf("grpc zstd: %s %q, want Unimplemented", st.Code(), st.Message())
	}
	res := otlptest.Recv(t, f.post("/v1/logs", "application/x-protobuf", otlpgrpc.Zstd, compress(t, otlpgrpc.Zstd, body)), "answer")
	if res.status != http.StatusUnsupportedMediaType {
		t.Fatalf("http zstd: %d, want 415", res.status)
	}
	f.noneSent()
	// gzip still works.
	answer := async(func(ctx context.Context) error {
		_, err := plogotlp.NewGRPCClient(f.grpcConn()).Export(ctx, req, grpc.UseCompressor(otlpgrpc.Gzip))
		return err
	})
	checkForwarded(t, f, pdata.Logs, body, 2)
	if err := otlptest.Recv(t, answer, "answer"); err != nil {
		t.Fatal(err)
	}
}

// TestJSONRoundTrip: a JSON request is decoded once, forwarded as pdata,
// and answered in JSON.
func TestJSONRoundTrip(t *testing.T) {
	f := start(t, httpOnly)
	ld := pdatatest.LogsData("j", 7, 3, 8)
	js, err := plogotlp.NewExportRequestFromLogs(ld).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	answer := f.post("/v1/logs", "application/json; charset=utf-8", "", js)
	m := f.next()
	p := m.Payload()
	if p.Form() != pdata.FormDecoded || p.Items() != 7 {
		t.Fatalf("forwarded %s form with %d items", p.Form(), p.Items())
	}
	// Re-encoding gives the records as sent.
	raw, err := p.AppendOTLP(nil)
	if err != nil {
		t.Fatal(err)
	}
	back, err := pdata.FromOTLP(pdata.Logs, raw)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := pdatatest.LogBodies(t, back), pdatatest.LogBodies(t, pdata.FromLogs(pdatatest.LogsData("j", 7, 3, 8))); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("bodies %v, want %v", got, want)
	}
	f.resolve(m, true, pdata.Nack{})
	res := otlptest.Recv(t, answer, "answer")
	if res.status != 200 || res.header.Get("Content-Type") != "application/json" || string(res.body) != "{}" {
		t.Fatalf("answer %d %q %q", res.status, res.header.Get("Content-Type"), res.body)
	}
	// Errors are JSON too.
	res = otlptest.Recv(t, f.post("/v1/logs", "application/json", "", []byte("{")), "answer")
	if res.status != 400 || !strings.Contains(string(res.body), `"code":3`) || res.header.Get("Content-Type") != "application/json" {
		t.Fatalf("JSON error answer %d %q", res.status, res.body)
	}
}
