package otlp_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ackflow/ackflow/nodes/internal/otlptest"
	"github.com/ackflow/ackflow/otlp/otlpgrpc"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

const (
	grpcOnly = "protocols:\n  grpc:\n    listening_addr: 127.0.0.1:0\n"
	httpOnly = "protocols:\n  http:\n    listening_addr: 127.0.0.1:0\n"
	both     = "protocols:\n  grpc:\n    listening_addr: 127.0.0.1:0\n  http:\n    listening_addr: 127.0.0.1:0\n"
)

// outcomeRow is one row of the outcome mapping: what the pipeline does
// with the request, and the answer each protocol must give.
type outcomeRow struct {
	name   string
	cfg    string // extra top-level keys
	full   bool   // the pipeline has no room
	play   func(f *fixture) *pdata.Message
	late   bool // resolve the message after the answer: must count as late
	code   codes.Code
	status int
	retry  bool   // retryable: RetryInfo / Retry-After
	msg    string // in the answer's message
	label  string // outcome label of requests_total
}

func outcomeRows() []outcomeRow {
	advance := func(f *fixture) {
		f.fx.clock.WaitTimers(1) // the request's timeout timer
		f.fx.clock.Advance(5 * time.Second)
	}
	return []outcomeRow{
		{name: "ack", play: func(f *fixture) *pdata.Message {
			m := f.next()
			f.resolve(m, true, pdata.Nack{})
			return m
		}, code: codes.OK, status: 200, label: "ok"},
		{name: "transient nack", play: func(f *fixture) *pdata.Message {
			m := f.next()
			f.resolve(m, false, pdata.Nack{Reason: "exporter down"})
			return m
		}, code: codes.Unavailable, status: 503, retry: true, msg: "exporter down", label: "nack_transient"},
		{name: "permanent nack", play: func(f *fixture) *pdata.Message {
			m := f.next()
			f.resolve(m, false, pdata.Nack{Reason: "schema violation", Permanent: true})
			return m
		}, code: codes.InvalidArgument, status: 400, msg: "schema violation", label: "nack_permanent"},
		{name: "no outcome within timeout", cfg: "timeout: 5s\n", play: func(f *fixture) *pdata.Message {
			m := f.next()
			advance(f)
			return m
		}, late: true, code: codes.DeadlineExceeded, status: 504, msg: "no outcome within 5s", label: "timeout"},
		{name: "pipeline full until timeout", cfg: "timeout: 5s\n", full: true, play: func(f *fixture) *pdata.Message {
			advance(f)
			return nil
		}, code: codes.Unavailable, status: 503, retry: true, msg: "pipeline full", label: "backpressure"},
		{name: "wait_for_result false answers once admitted", cfg: "wait_for_result: false\nmax_in_flight_bytes: 0\n", play: func(f *fixture) *pdata.Message {
			// With no byte budget to release, nothing needs the outcome.
			m := f.next()
			if m.Depth() != 0 {
				f.t.Fatalf("receiver subscribed without wait_for_result: %v", m)
			}
			return nil
		}, code: codes.OK, status: 200, label: "ok"},
	}
}

func TestOutcomeMappingGRPC(t *testing.T) {
	for _, row := range outcomeRows() {
		t.Run(row.name, func(t *testing.T) {
			f := start(t, grpcOnly+row.cfg)
			f.fx.full.Store(row.full)
			req := plogotlp.NewExportRequestFromLogs(pdatatest.LogsData("o", 3, 0, 8))
			client := plogotlp.NewGRPCClient(f.grpcConn())
			answer := async(func(ctx context.Context) error { _, err := client.Export(ctx, req); return err })
			m := row.play(f)
			err := otlptest.Recv(t, answer, "gRPC answer")
			st := status.Convert(err)
			if st.Code() != row.code || !strings.Contains(st.Message(), row.msg) {
				t.Fatalf("got %s %q, want %s containing %q", st.Code(), st.Message(), row.code, row.msg)
			}
			if hasRetryInfo(st) != row.retry {
				t.Fatalf("RetryInfo present = %t, want %t", hasRetryInfo(st), row.retry)
			}
			checkAfterAnswer(t, f, row, m, "grpc")
		})
	}
}

func TestOutcomeMappingHTTP(t *testing.T) {
	for _, row := range outcomeRows() {
		t.Run(row.name, func(t *testing.T) {
			f := start(t, httpOnly+row.cfg)
			f.fx.full.Store(row.full)
			body := pdatatest.LogsBytes("o", 3, 0, 8)
			answer := f.post("/v1/logs", "application/x-protobuf", "", body)
			m := row.play(f)
			res := otlptest.Recv(t, answer, "HTTP answer")
			if res.err != nil || res.status != row.status {
				t.Fatalf("got %d (%v), want %d", res.status, res.err, row.status)
			}
			if got := res.header.Get("Retry-After") != ""; got != row.retry {
				t.Fatalf("Retry-After present = %t, want %t", got, row.retry)
			}
			if res.header.Get("Content-Type") != "application/x-protobuf" {
				t.Fatalf("Content-Type %q", res.header.Get("Content-Type"))
			}
			if row.status == 200 {
				if len(res.body) != 0 {
					t.Fatalf("success body %x, want empty ExportLogsServiceResponse", res.body)
				}
			} else {
				code, msg, err := otlpgrpc.ParseStatus(res.body)
				if err != nil || codes.Code(code) != row.code || !strings.Contains(msg, row.msg) {
					t.Fatalf("status body %d %q (%v), want %s containing %q", code, msg, err, row.code, row.msg)
				}
			}
			checkAfterAnswer(t, f, row, m, "http")
		})
	}
}

// checkAfterAnswer checks what every row leaves behind: the outcome
// counted, nothing in flight, and a late outcome counted and ignored.
func checkAfterAnswer(t *testing.T, f *fixture, row outcomeRow, m *pdata.Message, proto string) {
	t.Helper()
	if got := f.counter("ackflow_receiver_otlp_requests_total", "protocol", proto, "signal", "logs", "outcome", row.label); got != 1 {
		t.Fatalf("requests_total{outcome=%s} = %v, want 1", row.label, got)
	}
	if got := f.counter("ackflow_receiver_otlp_requests_in_flight", "protocol", proto); got != 0 {
		t.Fatalf("requests_in_flight = %v after the answer", got)
	}
	if row.late {
		f.resolve(m, true, pdata.Nack{}) // the outcome arrives after all
		if got := f.counter("ackflow_receiver_otlp_late_outcomes_total", "protocol", proto, "signal", "logs"); got != 1 {
			t.Fatalf("late_outcomes_total = %v, want 1", got)
		}
	}
	if row.full {
		f.noneSent()
	}
	wantItems := 3.0
	if row.full {
		wantItems = 0
	}
	if got := f.counter("ackflow_receiver_otlp_items_received_total", "protocol", proto); got != wantItems {
		t.Fatalf("items_received_total = %v, want %v", got, wantItems)
	}
}

func hasRetryInfo(st *status.Status) bool {
	for _, d := range st.Details() {
		if _, ok := d.(*errdetails.RetryInfo); ok {
			return true
		}
	}
	return false
}

// TestAllSignalsBothProtocols sends each signal over each protocol and
// checks that the pipeline gets exactly the bytes the client sent.
func TestAllSignalsBothProtocols(t *testing.T) {
	f := start(t, both)
	logs := plogotlp.NewExportRequestFromLogs(pdatatest.LogsData("s", 4, 2, 8))
	metrics := pmetricotlp.NewExportRequestFromMetrics(pdatatest.MetricsData("s", 5))
	traces := ptraceotlp.NewExportRequestFromTraces(pdatatest.TracesData("s", 6))
	type signalCase struct {
		signal pdata.Signal
		path   string
		items  int
		bytes  func() ([]byte, error)
		grpc   func(ctx context.Context) error
	}
	cases := []signalCase{
		{pdata.Logs, "/v1/logs", 4, logs.MarshalProto, func(ctx context.Context) error {
			_, err := plogotlp.NewGRPCClient(f.grpcConn()).Export(ctx, logs)
			return err
		}},
		{pdata.Metrics, "/v1/metrics", 5, metrics.MarshalProto, func(ctx context.Context) error {
			_, err := pmetricotlp.NewGRPCClient(f.grpcConn()).Export(ctx, metrics)
			return err
		}},
		{pdata.Traces, "/v1/traces", 6, traces.MarshalProto, func(ctx context.Context) error {
			_, err := ptraceotlp.NewGRPCClient(f.grpcConn()).Export(ctx, traces)
			return err
		}},
	}
	for _, c := range cases {
		want, err := c.bytes()
		if err != nil {
			t.Fatal(err)
		}
		answer := async(c.grpc)
		checkForwarded(t, f, c.signal, want, c.items)
		if err := otlptest.Recv(t, answer, "gRPC answer"); err != nil {
			t.Fatalf("%s over gRPC: %v", c.signal, err)
		}
		httpAnswer := f.post(c.path, "application/x-protobuf", "", want)
		checkForwarded(t, f, c.signal, want, c.items)
		if res := otlptest.Recv(t, httpAnswer, "HTTP answer"); res.status != http.StatusOK {
			t.Fatalf("%s over HTTP: %d %v", c.signal, res.status, res.err)
		}
	}
}

// checkForwarded takes the next message, checks its signal, bytes and
// items, and acks it.
func checkForwarded(t *testing.T, f *fixture, s pdata.Signal, want []byte, items int) {
	t.Helper()
	m := f.next()
	p := m.Payload()
	got, err := p.AppendOTLP(nil)
	if err != nil || p.Signal() != s || p.Items() != items || string(got) != string(want) {
		t.Fatalf("forwarded %s with %d items (%v), want %s with %d, bytes equal %t", p.Signal(), p.Items(), err, s, items, string(got) == string(want))
	}
	if p.Form() != pdata.FormOTLP {
		t.Fatalf("protobuf request was decoded (form %s)", p.Form())
	}
	f.resolve(m, true, pdata.Nack{})
}

// TestEmptyRequestIsAnsweredWithoutForwarding: nothing to deliver.
func TestEmptyRequestIsAnsweredWithoutForwarding(t *testing.T) {
	f := start(t, httpOnly)
	res := otlptest.Recv(t, f.post("/v1/traces", "application/x-protobuf", "", nil), "HTTP answer")
	if res.status != http.StatusOK {
		t.Fatalf("status %d", res.status)
	}
	f.noneSent()
}

// TestFullPipelineThatFreesUpAdmits: a request blocked on a full pipeline
// goes in when room appears before its timeout, with and without
// wait_for_result.
func TestFullPipelineThatFreesUpAdmits(t *testing.T) {
	for _, wait := range []bool{true, false} {
		t.Run(fmt.Sprintf("wait_for_result=%t", wait), func(t *testing.T) {
			f := start(t, grpcOnly+fmt.Sprintf("wait_for_result: %t\n", wait))
			f.fx.full.Store(true)
			req := plogotlp.NewExportRequestFromLogs(pdatatest.LogsData("f", 2, 0, 8))
			client := plogotlp.NewGRPCClient(f.grpcConn())
			answer := async(func(ctx context.Context) error { _, err := client.Export(ctx, req); return err })
			f.fx.clock.WaitTimers(1) // the request is blocked, its timeout armed
			close(f.fx.unblock)      // room appears
			m := f.next()
			if wait {
				f.resolve(m, true, pdata.Nack{})
			}
			if err := otlptest.Recv(t, answer, "answer"); err != nil {
				t.Fatalf("answer: %v", err)
			}
		})
	}
}
