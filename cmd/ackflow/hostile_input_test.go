package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/ackflow/ackflow/pdata/otlpwire"
)

// Hostile request bodies against the built binary: each is refused with a
// client error that says why, nothing of it enters the pipeline, and the
// process lives on and serves the next normal client. The pipeline behind
// the receiver decodes every message (otlpConfig), as any filter or
// transform would: a request that got through would be decoded.

// deepLogs is an ExportLogsServiceRequest whose one record's body nests
// levels AnyValues through array_value: built outside-in in one pass
// (wrapping level by level would copy the tail at every level).
func deepLogs(levels int) []byte {
	sizes := make([]int, levels) // payload of the AnyValue at level i+1
	for i := levels - 2; i >= 0; i-- {
		arr := 1 + protowire.SizeVarint(uint64(sizes[i+1])) + sizes[i+1]
		sizes[i] = 1 + protowire.SizeVarint(uint64(arr)) + arr
	}
	body := make([]byte, 0, sizes[0])
	for i := 0; i < levels-1; i++ {
		arr := 1 + protowire.SizeVarint(uint64(sizes[i+1])) + sizes[i+1]
		body = protowire.AppendVarint(append(body, 5<<3|2), uint64(arr))        // AnyValue.array_value
		body = protowire.AppendVarint(append(body, 1<<3|2), uint64(sizes[i+1])) // ArrayValue.values
	}
	wrap := func(num protowire.Number, b []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), b)
	}
	// request.resource_logs > scope_logs > log_records > body
	return wrap(1, wrap(2, wrap(2, wrap(5, body))))
}

// deepJSON is the same request in OTLP/JSON.
func deepJSON(levels int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":`)
	for range levels - 1 {
		b.WriteString(`{"arrayValue":{"values":[`)
	}
	b.WriteString(`{"stringValue":"x"}`)
	for range levels - 1 {
		b.WriteString(`]}}`)
	}
	b.WriteString(`}]}]}]}`)
	return b.Bytes()
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// receivedItems sums the receiver's items_received_total series.
func (o *otlpProcess) receivedItems(t *testing.T) int {
	t.Helper()
	total := 0
	re := regexp.MustCompile(`(?m)^ackflow_receiver_otlp_items_received_total\{[^}]*\} (\d+)`)
	for _, m := range re.FindAllStringSubmatch(get(t, o.admin+"/metrics", http.StatusOK), -1) {
		n, _ := strconv.Atoi(m[1])
		total += n
	}
	return total
}

// TestDeeplyNestedValuesAreRefused: the report's request (a body nested
// 2.5 M levels, 25 MB, 8 MB gzipped) used to pass the receiver and kill the
// process with "fatal error: stack overflow" in the first node that decoded
// it. It is refused over gRPC and HTTP, protobuf and JSON, naming the path
// and the limit; the limit itself passes.
func TestDeeplyNestedValuesAreRefused(t *testing.T) {
	o := startOTLP(t)
	const path = "resource_logs[0].scope_logs[0].log_records[0].body"
	limit := fmt.Sprintf("more than %d levels deep", otlpwire.MaxValueDepth)

	deep := deepLogs(2_500_000)
	code, msg := rawGRPC(t, o.grpcAddr, logsService, "", deep)
	if code != codes.InvalidArgument || !strings.Contains(msg, path) || !strings.Contains(msg, limit) {
		t.Errorf("gRPC, %d MB: %s %q; want InvalidArgument naming %s and the limit", len(deep)>>20, code, msg, path)
	}
	code, msg = rawGRPC(t, o.grpcAddr, logsService, "gzip", gzipped(t, deep))
	if code != codes.InvalidArgument || !strings.Contains(msg, limit) {
		t.Errorf("gRPC gzip: %s %q", code, msg)
	}
	status, answer := postOTLP(t, o.httpAddr, "/v1/logs", "application/x-protobuf", "gzip", gzipped(t, deep))
	if status != http.StatusBadRequest || !strings.Contains(answer, path) || !strings.Contains(answer, limit) {
		t.Errorf("HTTP protobuf gzip: %d %q", status, answer)
	}
	status, answer = postOTLP(t, o.httpAddr, "/v1/logs", "application/json", "gzip", gzipped(t, deepJSON(1_000_000)))
	if status != http.StatusBadRequest || !strings.Contains(answer, "levels deep") {
		t.Errorf("HTTP JSON, 1 M levels: %d %q", status, answer)
	}

	// One level over the limit, and the limit itself.
	over, at := otlpwire.MaxValueDepth+1, otlpwire.MaxValueDepth
	if code, msg := rawGRPC(t, o.grpcAddr, logsService, "", deepLogs(over)); code != codes.InvalidArgument {
		t.Errorf("gRPC, %d levels: %s %q", over, code, msg)
	}
	if status, answer := postOTLP(t, o.httpAddr, "/v1/logs", "application/json", "", deepJSON(over)); status != http.StatusBadRequest ||
		!strings.Contains(answer, "resourceLogs[0].scopeLogs[0].logRecords[0].body") || !strings.Contains(answer, limit) {
		t.Errorf("HTTP JSON, %d levels: %d %q", over, status, answer)
	}
	if got := o.receivedItems(t); got != 0 {
		t.Errorf("%d items of refused requests entered the pipeline", got)
	}
	if code, msg := rawGRPC(t, o.grpcAddr, logsService, "", deepLogs(at)); code != codes.OK {
		t.Errorf("gRPC, %d levels: %s %q", at, code, msg)
	}
	if status, answer := postOTLP(t, o.httpAddr, "/v1/logs", "application/json", "", deepJSON(at)); status != http.StatusOK {
		t.Errorf("HTTP JSON, %d levels: %d %q", at, status, answer)
	}
	o.requireAlive(t)
	o.requireServing(t)
}

// TestJSONAmplificationIsRefused: 61 KB of gzip holding 60 MiB of `{}`
// records would decode into 21 M records (3 GB, 12-18 s of CPU). It is
// refused with 413 before anything is decoded.
func TestJSONAmplificationIsRefused(t *testing.T) {
	o := startOTLP(t)
	n := 20 << 20 // 60 MiB of "{},"
	var b bytes.Buffer
	b.WriteString(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[`)
	b.WriteString(strings.Repeat("{},", n-1))
	b.WriteString(`{}]}]}]}`)
	body := gzipped(t, b.Bytes())
	status, answer := postOTLP(t, o.httpAddr, "/v1/logs", "application/json", "gzip", body)
	if status != http.StatusRequestEntityTooLarge || !strings.Contains(answer, "max_request_size") {
		t.Fatalf("%d KB gzipped, %d MiB of records: %d %q; want 413 naming max_request_size", len(body)>>10, b.Len()>>20, status, answer)
	}
	if got := o.receivedItems(t); got != 0 {
		t.Errorf("%d items entered the pipeline", got)
	}
	o.requireAlive(t)
	o.requireServing(t)
}

// TestJSONMustBeOneDocumentOfUTF8: concatenated documents used to be
// answered `200 {}` with only the first admitted, and invalid UTF-8 was
// forwarded. Both are 400 now, and none of it is admitted.
func TestJSONMustBeOneDocumentOfUTF8(t *testing.T) {
	o := startOTLP(t)
	one := `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"a"}}]}]}]}`
	tests := []struct{ name, body, want string }{
		{"two documents", one + one, "after the JSON document"},
		{"two documents, newline-delimited", one + "\n" + one + "\n", "after the JSON document"},
		{"trailing garbage", one + "garbage", "after the JSON document"},
		{"truncated", one[:len(one)-3], "ends early"},
		{"invalid UTF-8", strings.Replace(one, `"a"`, "\"\xff\xfe\"", 1), "not valid UTF-8"},
	}
	for _, tt := range tests {
		status, answer := postOTLP(t, o.httpAddr, "/v1/logs", "application/json", "", []byte(tt.body))
		if status != http.StatusBadRequest || !strings.Contains(answer, tt.want) {
			t.Errorf("%s: %d %q, want 400 with %q", tt.name, status, answer, tt.want)
		}
	}
	if got := o.receivedItems(t); got != 0 {
		t.Errorf("%d items of refused requests entered the pipeline", got)
	}
	o.requireAlive(t)
	o.requireServing(t)
}

// TestUndecompressableGRPCIsInvalidArgument: a gRPC request whose body is
// not the gzip or zstd it claims was answered INTERNAL by grpc-go itself;
// it is the client's error, INVALID_ARGUMENT, as the HTTP side says 400.
func TestUndecompressableGRPCIsInvalidArgument(t *testing.T) {
	o := startOTLP(t)
	for _, enc := range []string{"gzip", "zstd"} {
		code, msg := rawGRPC(t, o.grpcAddr, tracesService, enc, []byte("this is not compressed"))
		if code != codes.InvalidArgument || !strings.Contains(msg, "decompress request: "+enc) {
			t.Errorf("gRPC %s: %s %q, want InvalidArgument", enc, code, msg)
		}
		status, answer := postOTLP(t, o.httpAddr, "/v1/traces", "application/x-protobuf", enc, []byte("this is not compressed"))
		if status != http.StatusBadRequest {
			t.Errorf("HTTP %s: %d %q, want 400", enc, status, answer)
		}
	}
	// Truncated in the middle of a valid stream.
	full := gzipped(t, bytes.Repeat([]byte("x"), 10000))
	if code, msg := rawGRPC(t, o.grpcAddr, metricsService, "gzip", full[:len(full)/2]); code != codes.InvalidArgument {
		t.Errorf("gRPC truncated gzip: %s %q", code, msg)
	}
	o.requireAlive(t)
	o.requireServing(t)
}
