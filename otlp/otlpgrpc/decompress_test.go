package otlpgrpc_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"google.golang.org/grpc/codes"

	"github.com/ackflow/ackflow/otlp/otlpgrpc"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// rawExport sends one gRPC Export call of signal s over h2c with a message
// that is already compressed (grpc-go clients always compress themselves),
// and returns the status the server answered.
func rawExport(t *testing.T, addr string, s pdata.Signal, encoding string, msg []byte) (codes.Code, string) {
	t.Helper()
	tr := &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	defer tr.CloseIdleConnections()
	frame := make([]byte, 5, 5+len(msg))
	frame[0] = 1 // compressed
	binary.BigEndian.PutUint32(frame[1:], uint32(len(msg)))
	frame = append(frame, msg...)
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+otlpgrpc.FullMethod(s), bytes.NewReader(frame))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	req.Header.Set("Grpc-Encoding", encoding)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	st, m := resp.Trailer.Get("Grpc-Status"), resp.Trailer.Get("Grpc-Message")
	if st == "" { // a trailers-only answer
		st, m = resp.Header.Get("Grpc-Status"), resp.Header.Get("Grpc-Message")
	}
	code, err := strconv.Atoi(st)
	if err != nil {
		t.Fatalf("no grpc-status in the answer (HTTP %d)", resp.StatusCode)
	}
	return codes.Code(code), m
}

// A request that cannot be decompressed is the client's fault: the server
// answers INVALID_ARGUMENT (grpc-go alone would answer INTERNAL), and the
// handler does get to answer it.
func TestUndecompressableRequestIsInvalidArgument(t *testing.T) {
	srv := &echoServer{got: make(chan received, 1)}
	conn := serve(t, srv)
	addr := conn.Target()
	body := pdatatest.LogsBytes("z", 50, 0, 32)
	tests := []struct {
		name, enc string
		msg       []byte
		want      codes.Code
	}{
		{"zstd at the 8 MiB window cap", otlpgrpc.Zstd, otlpgrpc.ZstdFrame(t, body, otlpgrpc.Window8MiB), codes.OK},
		{"zstd over the window cap", otlpgrpc.Zstd, otlpgrpc.ZstdFrame(t, body, otlpgrpc.Window9MiB), codes.InvalidArgument},
		{"zstd garbage", otlpgrpc.Zstd, []byte("garbage"), codes.InvalidArgument},
		{"gzip garbage", otlpgrpc.Gzip, []byte("garbage"), codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, msg := rawExport(t, addr, pdata.Logs, tt.enc, tt.msg)
			if code != tt.want {
				t.Fatalf("answered %s (%q), want %s", code, msg, tt.want)
			}
			if code == codes.OK {
				if got := recv(t, srv.got, "request"); !bytes.Equal(got.body, body) {
					t.Fatal("server got other bytes than were compressed")
				}
				return
			}
			if !strings.Contains(msg, "decompress request: "+tt.enc) {
				t.Fatalf("message %q does not say the %s body could not be decompressed", msg, tt.enc)
			}
		})
	}
}
