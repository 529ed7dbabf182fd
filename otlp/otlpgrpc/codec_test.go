package otlpgrpc_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/ackflow/ackflow/otlp/otlpgrpc"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// recordingPool is a mem.BufferPool that records what comes back to it.
type recordingPool struct{ puts int }

func (p *recordingPool) Get(n int) *[]byte { b := make([]byte, n); return &b }
func (p *recordingPool) Put(*[]byte)       { p.puts++ }

func TestCodecMarshalSendsChunksUncopied(t *testing.T) {
	chunks := [][]byte{[]byte("abc"), {}, []byte("defg")}
	out, err := otlpgrpc.Codec{}.Marshal(&otlpgrpc.ExportRequest{Chunks: chunks})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 {
		t.Fatalf("got %d buffers, want 2 (empty chunks skipped)", len(out))
	}
	if &out[0].ReadOnlyData()[0] != &chunks[0][0] || &out[1].ReadOnlyData()[0] != &chunks[2][0] {
		t.Fatal("marshal copied the chunks")
	}
	if got := string(out.Materialize()); got != "abcdefg" {
		t.Fatalf("bytes %q, want abcdefg", got)
	}
	out.Free() // slice buffers: freeing must not touch the chunks
	if string(chunks[0]) != "abc" {
		t.Fatal("chunk changed after Free")
	}
}

func TestCodecMarshalEmptyResponseIsZeroBytes(t *testing.T) {
	out, err := otlpgrpc.Codec{}.Marshal(&otlpgrpc.Response{})
	if err != nil || out.Len() != 0 {
		t.Fatalf("got %d bytes, %v; want 0, nil", out.Len(), err)
	}
	out, err = otlpgrpc.Codec{}.Marshal(&otlpgrpc.Response{Body: []byte{1, 2}})
	if err != nil || !bytes.Equal(out.Materialize(), []byte{1, 2}) {
		t.Fatalf("got %v, %v", out.Materialize(), err)
	}
}

func TestCodecUnmarshalKeepsOneBufferWithoutCopy(t *testing.T) {
	pool := &recordingPool{}
	raw := make([]byte, 4096) // above grpc-go's pooling threshold
	copy(raw, "request")
	data := mem.BufferSlice{mem.NewBuffer(&raw, pool)}
	var req otlpgrpc.Request
	if err := (otlpgrpc.Codec{}).Unmarshal(data, &req); err != nil {
		t.Fatal(err)
	}
	data.Free() // what grpc-go does once Unmarshal returns
	if pool.puts != 0 {
		t.Fatal("buffer went back to the pool while the request still uses it")
	}
	if len(req.Body) != 1 || &req.Body[0][0] != &raw[0] || !strings.HasPrefix(string(req.Bytes()), "request") {
		t.Fatal("request body is not the received buffer")
	}
}

func TestCodecUnmarshalKeepsSeveralBuffersWithoutCopy(t *testing.T) {
	pool := &recordingPool{}
	a, b := bytes.Repeat([]byte("a"), 2048), bytes.Repeat([]byte("b"), 2048)
	data := mem.BufferSlice{mem.NewBuffer(&a, pool), mem.NewBuffer(&b, pool)}
	var req otlpgrpc.Request
	if err := (otlpgrpc.Codec{}).Unmarshal(data, &req); err != nil {
		t.Fatal(err)
	}
	data.Free()
	if pool.puts != 0 {
		t.Fatalf("pool got %d buffers back while the request still uses them", pool.puts)
	}
	if len(req.Body) != 2 || &req.Body[0][0] != &a[0] || &req.Body[1][0] != &b[0] || req.Len() != 4096 {
		t.Fatal("request body is not the received buffers")
	}
	if j := req.Bytes(); len(j) != 4096 || j[0] != 'a' || j[4095] != 'b' {
		t.Fatal("joined body is wrong")
	}
}

func TestCodecRefusesOtherTypes(t *testing.T) {
	if _, err := (otlpgrpc.Codec{}).Marshal("x"); err == nil {
		t.Fatal("marshal of a string succeeded")
	}
	if err := (otlpgrpc.Codec{}).Unmarshal(nil, new(string)); err == nil {
		t.Fatal("unmarshal into a string succeeded")
	}
	if got := (otlpgrpc.Codec{}).Name(); got != "proto" {
		t.Fatalf("name %q, want proto (peers expect application/grpc+proto)", got)
	}
}

// TestPartialSuccessMatchesGeneratedCode checks the hand-written parser and
// encoder against the OpenTelemetry generated code, for every signal.
func TestPartialSuccessMatchesGeneratedCode(t *testing.T) {
	logs := plogotlp.NewExportResponse()
	logs.PartialSuccess().SetRejectedLogRecords(5)
	logs.PartialSuccess().SetErrorMessage("too old")
	metrics := pmetricotlp.NewExportResponse()
	metrics.PartialSuccess().SetRejectedDataPoints(7)
	traces := ptraceotlp.NewExportResponse()
	traces.PartialSuccess().SetErrorMessage("sampled")
	tests := []struct {
		name    string
		marshal func() ([]byte, error)
		want    otlpgrpc.PartialSuccess
	}{
		{"logs", logs.MarshalProto, otlpgrpc.PartialSuccess{Rejected: 5, Message: "too old"}},
		{"metrics", metrics.MarshalProto, otlpgrpc.PartialSuccess{Rejected: 7}},
		{"traces", traces.MarshalProto, otlpgrpc.PartialSuccess{Message: "sampled"}},
		{"empty", plogotlp.NewExportResponse().MarshalProto, otlpgrpc.PartialSuccess{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.marshal()
			if err != nil {
				t.Fatal(err)
			}
			got, err := otlpgrpc.ParsePartialSuccess(b)
			if err != nil || got != tt.want {
				t.Fatalf("parse: got %+v, %v; want %+v", got, err, tt.want)
			}
			if got.Partial() != (tt.want != otlpgrpc.PartialSuccess{}) {
				t.Fatalf("Partial() = %t", got.Partial())
			}
			// And back: what we write, the generated code reads.
			enc := otlpgrpc.AppendPartialSuccess(nil, tt.want)
			back := plogotlp.NewExportResponse()
			if err := back.UnmarshalProto(enc); err != nil {
				t.Fatal(err)
			}
			if back.PartialSuccess().RejectedLogRecords() != tt.want.Rejected || back.PartialSuccess().ErrorMessage() != tt.want.Message {
				t.Fatalf("generated code read %d %q", back.PartialSuccess().RejectedLogRecords(), back.PartialSuccess().ErrorMessage())
			}
		})
	}
}

func TestParsePartialSuccessSkipsUnknownAndRefusesGarbage(t *testing.T) {
	ok := append([]byte{0x10, 0x01, 0x1d, 1, 2, 3, 4}, otlpgrpc.AppendPartialSuccess(nil, otlpgrpc.PartialSuccess{Rejected: 3})...)
	if got, err := otlpgrpc.ParsePartialSuccess(ok); err != nil || got.Rejected != 3 {
		t.Fatalf("with unknown fields: %+v, %v", got, err)
	}
	for _, bad := range [][]byte{{0x0a, 0x05, 0x08}, {0xff}, {0x08, 0x01}} {
		if _, err := otlpgrpc.ParsePartialSuccess(bad); !errors.Is(err, otlpgrpc.ErrBadResponse) {
			t.Fatalf("%x: err %v, want ErrBadResponse", bad, err)
		}
	}
}

func TestStatusMatchesGeneratedCode(t *testing.T) {
	b := otlpgrpc.AppendStatus(nil, 14, "pipeline full")
	var st spb.Status
	if err := proto.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if st.GetCode() != 14 || st.GetMessage() != "pipeline full" {
		t.Fatalf("generated code read %d %q", st.GetCode(), st.GetMessage())
	}
	back, err := proto.Marshal(&spb.Status{Code: 3, Message: "bad"})
	if err != nil {
		t.Fatal(err)
	}
	code, msg, err := otlpgrpc.ParseStatus(back)
	if err != nil || code != 3 || msg != "bad" {
		t.Fatalf("ParseStatus: %d %q %v", code, msg, err)
	}
}

func TestZstdRoundTripAndGRPCRegistration(t *testing.T) {
	c := encoding.GetCompressor(otlpgrpc.Zstd)
	if c == nil {
		t.Fatal("zstd is not registered with grpc-go")
	}
	if encoding.GetCompressor(otlpgrpc.Gzip) == nil {
		t.Fatal("gzip is not registered with grpc-go")
	}
	in := pdatatest.LogsBytes("z", 200, 0, 64)
	for range 3 { // the second and third round reuse pooled coders
		var buf bytes.Buffer
		w, err := c.Compress(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(in); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		// Standard zstd: another implementation reads it.
		dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		plain, err := dec.DecodeAll(buf.Bytes(), nil)
		dec.Close()
		if err != nil || !bytes.Equal(plain, in) {
			t.Fatalf("DecodeAll: %v, equal %t", err, bytes.Equal(plain, in))
		}
		r, err := c.Decompress(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("decompress: %v, equal %t", err, bytes.Equal(out, in))
		}
	}
}

func TestCodecRequestLeaseGivesTheBuffersBack(t *testing.T) {
	pool := &recordingPool{}
	a, b := bytes.Repeat([]byte("a"), 2048), bytes.Repeat([]byte("b"), 2048)
	data := mem.BufferSlice{mem.NewBuffer(&a, pool), mem.NewBuffer(&b, pool)}
	var req otlpgrpc.Request
	if err := (otlpgrpc.Codec{}).Unmarshal(data, &req); err != nil {
		t.Fatal(err)
	}
	data.Free()
	req.Lease.Retain() // a second holder, as an exporter's send
	req.Lease.Release()
	if pool.puts != 0 {
		t.Fatalf("pool got %d buffers back while a holder remains", pool.puts)
	}
	req.Lease.Release()
	if pool.puts != 2 {
		t.Fatalf("pool got %d buffers back once the last holder let go, want 2", pool.puts)
	}
}

// TestCodecSendHoldsLeasesUntilGRPCFreesEveryBuffer: a request's leases
// are retained while grpc-go holds any of its buffers, which may be after
// the call returned, and a chunk too short to be pooled is copied so that
// its Free need not be tracked.
func TestCodecSendHoldsLeasesUntilGRPCFreesEveryBuffer(t *testing.T) {
	freed := 0
	lease := pdata.NewLease(func() { freed++ })
	big := bytes.Repeat([]byte("x"), 4096)
	small := make([]byte, 10, 10) // at the end of its buffer: cap below the pooling threshold
	req := &otlpgrpc.ExportRequest{Chunks: [][]byte{big[:2048], big[2048:], small}, Leases: []*pdata.Lease{lease}}
	out, err := (otlpgrpc.Codec{}).Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 3 || out.Len() != 4106 {
		t.Fatalf("%d buffers of %d bytes, want 3 of 4106", len(out), out.Len())
	}
	if &out[0].ReadOnlyData()[0] != &big[0] || &out[2].ReadOnlyData()[0] == &small[0] {
		t.Fatal("a long chunk was copied, or the short one was not")
	}
	lease.Release() // the receiver's reference: the send still holds one
	out[0].Ref()    // grpc-go's writer takes its own reference
	out.Free()      // the call returns
	if freed != 0 {
		t.Fatal("lease given back while grpc-go still holds a buffer")
	}
	out[0].Free() // the writer is done with the last one
	if freed != 1 {
		t.Fatalf("lease given back %d times once every buffer was freed, want once", freed)
	}
}
