package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc/codes"
)

// zstdFrameWithWindow compresses b into one zstd frame whose header
// declares the window of descriptor (RFC 8878 §3.1.1.1.2: exponent<<3 |
// mantissa, for 2^(10+exponent) plus mantissa eighths of it). Any window
// at least as large as the encoder's (1 MiB) decodes the same data.
func zstdFrameWithWindow(t *testing.T, b []byte, descriptor byte) []byte {
	t.Helper()
	e, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20), zstd.WithSingleSegment(false))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	f := e.EncodeAll(b, nil)
	if f[4]&(1<<5) != 0 { // magic, then the frame header descriptor
		t.Fatal("single-segment frame: it has no window descriptor")
	}
	f[5] = descriptor
	return f
}

// One zstd decoder serves the whole binary, with the receiver's 8 MiB
// window cap, on gRPC as on HTTP. (The load generator, linked into the same
// binary, used to register its own unpooled 64 MiB-window decoder with
// grpc-go, which won because it initialised first.)
func TestZstdWindowCapIsTheSameOnGRPCAndHTTP(t *testing.T) {
	o := startOTLP(t)
	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("windowed")
	body, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		descriptor byte
		grpc       codes.Code
		http       int
	}{
		{"1 MiB", 10 << 3, codes.OK, http.StatusOK},
		{"8 MiB, the cap", 13 << 3, codes.OK, http.StatusOK},
		{"9 MiB", 13<<3 | 1, codes.InvalidArgument, http.StatusBadRequest},
		{"64 MiB", 16 << 3, codes.InvalidArgument, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frame := zstdFrameWithWindow(t, body, tt.descriptor)
			code, msg := rawGRPC(t, o.grpcAddr, logsService, "zstd", frame)
			if code != tt.grpc {
				t.Errorf("gRPC: %s %q, want %s", code, msg, tt.grpc)
			}
			if code != codes.OK && !strings.Contains(msg, "window") {
				t.Errorf("gRPC message %q does not name the window", msg)
			}
			status, answer := postOTLP(t, o.httpAddr, "/v1/logs", "application/x-protobuf", "zstd", frame)
			if status != tt.http {
				t.Errorf("HTTP: %d %q, want %d", status, answer, tt.http)
			}
			if status != http.StatusOK && !strings.Contains(answer, "window") {
				t.Errorf("HTTP answer %q does not name the window", answer)
			}
		})
	}
	o.requireServing(t)
}
