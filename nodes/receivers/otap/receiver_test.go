package otap_test

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"

	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/nodes/receivers/otap"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// Every signal: each batch enters the pipeline in the OTAP form, with its
// items, and is answered after its outcome: ack OK, transient nack
// UNAVAILABLE, permanent nack INVALID_ARGUMENT.
func TestBatchesAreAnsweredAfterTheirOutcome(t *testing.T) {
	f := start(t, "")
	for _, s := range pdata.Signals() {
		t.Run(s.String(), func(t *testing.T) {
			c := f.open(s)
			ids := make([]int64, 3)
			msgs := make([]*pdata.Message, 3)
			for i := range ids {
				want := payloadOf(s, "b", 5+i)
				ids[i] = c.send(want)
				msgs[i] = f.next()
				p := msgs[i].Payload()
				if p.Form() != pdata.FormOTAP || p.Signal() != s || p.Items() != want.Items() {
					t.Fatalf("batch %d reached the pipeline as %s %s with %d items, want otap %s with %d",
						i, p.Form(), p.Signal(), p.Items(), s, want.Items())
				}
			}
			// Answered in the order of the outcomes, not of the batches.
			f.nack(msgs[2], pdata.Nack{Reason: "bad data", Permanent: true})
			c.expect(ids[2], arrowpb.StatusCode_INVALID_ARGUMENT)
			f.ack(msgs[0])
			c.expect(ids[0], arrowpb.StatusCode_OK)
			f.nack(msgs[1], pdata.Nack{Reason: "destination down"})
			st := c.expect(ids[1], arrowpb.StatusCode_UNAVAILABLE)
			if !strings.Contains(st.StatusMessage, "destination down") {
				t.Errorf("nack reason lost: %q", st.StatusMessage)
			}
		})
	}
	if n := f.metric("ackflow_receiver_otap_batches_total", "outcome", "ok"); n != 3 {
		t.Errorf("batches ok = %v, want 3", n)
	}
	if n := f.metric("ackflow_receiver_otap_batches_in_flight"); n != 0 {
		t.Errorf("batches in flight after every outcome = %v", n)
	}
}

// The receiver does not convert: the payload stays Arrow until a node asks
// for pdata, and then holds the data the client sent.
func TestPayloadsStayArrowUntilAsked(t *testing.T) {
	f := start(t, "")
	c := f.open(pdata.Logs)
	want := pdatatest.LogsData("x", 7, 0, 16)
	id := c.send(pdata.FromLogs(want))
	before, _ := pdata.OTAPConversions()
	m := f.next()
	if after, _ := pdata.OTAPConversions(); after != before {
		t.Fatalf("the receiver converted the batch (%d conversions)", after-before)
	}
	got := pdatatest.LogBodies(t, m.Payload())
	wantBodies := pdatatest.LogBodies(t, pdata.FromLogs(want))
	if !slices.Equal(got, wantBodies) {
		t.Fatalf("bodies %q, want %q", got, wantBodies)
	}
	f.ack(m)
	c.expect(id, arrowpb.StatusCode_OK)
}

// Without an outcome within the timeout the batch is answered
// DEADLINE_EXCEEDED; the outcome that comes later is counted as late and
// still gives the batch's claims back.
func TestNoOutcomeWithinTheTimeout(t *testing.T) {
	f := start(t, "timeout: 5s")
	c := f.open(pdata.Logs)
	id := c.send(payloadOf(pdata.Logs, "t", 3))
	m := f.next()
	f.fx.clock.WaitTimers(1)
	f.fx.clock.Advance(5 * time.Second)
	c.expect(id, arrowpb.StatusCode_DEADLINE_EXCEEDED)
	f.ack(m)
	if n := f.metric("ackflow_receiver_otap_late_outcomes_total", "signal", "logs"); n != 1 {
		t.Errorf("late outcomes = %v, want 1", n)
	}
	if n := f.metric("ackflow_receiver_otap_batches_in_flight"); n != 0 {
		t.Errorf("batches in flight = %v, want 0", n)
	}
}

// wait_for_result: false answers OK at admission.
func TestWithoutWaitForResult(t *testing.T) {
	f := start(t, "wait_for_result: false")
	c := f.open(pdata.Traces)
	id := c.send(payloadOf(pdata.Traces, "w", 2))
	c.expect(id, arrowpb.StatusCode_OK)
	m := f.next()
	if n := f.metric("ackflow_receiver_otap_batches_in_flight"); n != 1 {
		t.Errorf("the batch no longer counts against max_concurrent_requests before its outcome: %v", n)
	}
	f.ack(m)
	if n := f.metric("ackflow_receiver_otap_batches_in_flight"); n != 0 {
		t.Errorf("batches in flight after the outcome = %v", n)
	}
}

// An empty batch is answered OK and never enters the pipeline.
func TestEmptyBatch(t *testing.T) {
	f := start(t, "")
	c := f.open(pdata.Logs)
	c.sendRaw(&arrowpb.BatchArrowRecords{BatchId: 42})
	c.expect(42, arrowpb.StatusCode_OK)
	f.none()
}

// A batch that is not valid OTAP is answered INVALID_ARGUMENT and ends the
// stream (its dictionaries are suspect); the receiver serves on.
func TestInvalidBatchEndsTheStream(t *testing.T) {
	f := start(t, "")
	c := f.open(pdata.Logs)
	c.sendRaw(&arrowpb.BatchArrowRecords{BatchId: 9, ArrowPayloads: []*arrowpb.ArrowPayload{
		{SchemaId: "0", Type: arrowpb.ArrowPayloadType_LOGS, Record: []byte("not arrow at all")},
	}})
	c.expect(9, arrowpb.StatusCode_INVALID_ARGUMENT)
	if _, err := c.recv(); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("stream end = %v, want INVALID_ARGUMENT", err)
	}
	f.none()
	if n := f.metric("ackflow_receiver_otap_streams_ended_total", "reason", "malformed"); n != 1 {
		t.Errorf("streams ended malformed = %v", n)
	}
	// A new stream works.
	c2 := f.open(pdata.Logs)
	id := c2.send(payloadOf(pdata.Logs, "ok", 1))
	f.ack(f.next())
	c2.expect(id, arrowpb.StatusCode_OK)
}

// A batch of another signal's payload types is refused the same way.
func TestBatchOfAnotherSignal(t *testing.T) {
	f := start(t, "")
	logs := f.open(pdata.Logs)
	// Encode traces with a logs stream's client encoder, then send them
	// on the logs stream.
	logs.send(payloadOf(pdata.Traces, "x", 1))
	st, err := logs.recv()
	if err != nil || st.StatusCode != arrowpb.StatusCode_INVALID_ARGUMENT {
		t.Fatalf("traces on a logs stream: %v %v, want INVALID_ARGUMENT", st, err)
	}
	f.none()
}

// A message that is not a BatchArrowRecords at all ends the stream with
// INVALID_ARGUMENT.
func TestNotABatchMessage(t *testing.T) {
	f := start(t, "")
	c := f.open(pdata.Logs, grpc.ForceCodecV2(rawCodec{}))
	if err := c.stream.SendMsg([]byte{0xff, 0xff, 0xff}); err != nil {
		t.Fatal(err)
	}
	if err := c.stream.RecvMsg(new([]byte)); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("stream end = %v, want INVALID_ARGUMENT", err)
	}
}

// At max_concurrent_requests_per_stream the receiver stops reading the
// stream: later batches wait in flow control until answers free slots.
func TestPerStreamLimitHoldsTheClientBack(t *testing.T) {
	f := start(t, "max_concurrent_requests_per_stream: 2")
	c := f.open(pdata.Logs)
	var ids []int64
	for i := range 4 {
		ids = append(ids, c.send(payloadOf(pdata.Logs, "p", i+1)))
	}
	first, second := f.next(), f.next()
	f.none()
	f.ack(first)
	c.expect(ids[0], arrowpb.StatusCode_OK)
	third := f.next() // a slot came free
	f.ack(second)
	f.ack(third)
	c.expect(ids[1], arrowpb.StatusCode_OK)
	c.expect(ids[2], arrowpb.StatusCode_OK)
	f.ack(f.next())
	c.expect(ids[3], arrowpb.StatusCode_OK)
}

// Past max_concurrent_requests (all streams together) a batch is answered
// UNAVAILABLE, and its items counted as refused.
func TestMaxConcurrentRequests(t *testing.T) {
	f := start(t, "max_concurrent_requests: 1")
	a, b := f.open(pdata.Logs), f.open(pdata.Logs)
	idA := a.send(payloadOf(pdata.Logs, "a", 1))
	m := f.next()
	idB := b.send(payloadOf(pdata.Logs, "b", 4))
	st := b.expect(idB, arrowpb.StatusCode_UNAVAILABLE)
	if !strings.Contains(st.StatusMessage, "max_concurrent_requests") {
		t.Errorf("refusal does not say why: %q", st.StatusMessage)
	}
	if n := f.metric("ackflow_receiver_otap_items_refused_total", "reason", "busy"); n != 4 {
		t.Errorf("items refused busy = %v, want 4", n)
	}
	f.ack(m)
	a.expect(idA, arrowpb.StatusCode_OK)
	idB = b.send(payloadOf(pdata.Logs, "b", 4)) // the same data again: dictionaries still in step
	f.ack(f.next())
	b.expect(idB, arrowpb.StatusCode_OK)
}

// Past max_in_flight_bytes a batch is answered UNAVAILABLE; one batch
// alone is always let through.
func TestMaxInFlightBytes(t *testing.T) {
	f := start(t, "max_in_flight_bytes: 1KiB")
	c := f.open(pdata.Logs)
	id1 := c.send(payloadOf(pdata.Logs, "big", 50)) // alone: over the budget, still admitted
	m := f.next()
	id2 := c.send(payloadOf(pdata.Logs, "more", 50))
	c.expect(id2, arrowpb.StatusCode_UNAVAILABLE)
	f.ack(m)
	c.expect(id1, arrowpb.StatusCode_OK)
	if n := f.metric("ackflow_receiver_otap_in_flight_bytes"); n != 0 {
		t.Errorf("in-flight bytes after the outcome = %v", n)
	}
}

// A full pipeline holds the batch until the timeout: UNAVAILABLE.
func TestBackpressureUntilTheTimeout(t *testing.T) {
	f := start(t, "timeout: 2s")
	f.fx.full.Store(true)
	c := f.open(pdata.Logs)
	id := c.send(payloadOf(pdata.Logs, "bp", 1))
	f.fx.clock.WaitTimers(1)
	f.fx.clock.Advance(2 * time.Second)
	st := c.expect(id, arrowpb.StatusCode_UNAVAILABLE)
	if !strings.Contains(st.StatusMessage, "pipeline full") {
		t.Errorf("status %q does not say the pipeline was full", st.StatusMessage)
	}
}

// max_streams refuses a stream over it with RESOURCE_EXHAUSTED.
func TestMaxStreams(t *testing.T) {
	f := start(t, "max_streams: 1")
	a := f.open(pdata.Logs)
	id := a.send(payloadOf(pdata.Logs, "a", 1)) // the stream is registered once its handler runs
	m := f.next()
	b := f.open(pdata.Metrics)
	if _, err := b.recv(); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("second stream: %v, want RESOURCE_EXHAUSTED", err)
	}
	f.ack(m)
	a.expect(id, arrowpb.StatusCode_OK)
}

// A client that half-closes gets every answer it is owed, then the end of
// the stream (OK).
func TestHalfCloseGetsEveryAnswer(t *testing.T) {
	f := start(t, "")
	c := f.open(pdata.Logs)
	id := c.send(payloadOf(pdata.Logs, "h", 2))
	m := f.next()
	if err := c.stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	f.ack(m)
	c.expect(id, arrowpb.StatusCode_OK)
	if _, err := c.recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last answer: %v, want the end of the stream", err)
	}
}

// A client that goes away with a batch in flight: the outcome still
// settles it and the stream is forgotten.
func TestClientGoneWithABatchInFlight(t *testing.T) {
	f := start(t, "")
	c := f.open(pdata.Logs)
	c.send(payloadOf(pdata.Logs, "g", 2))
	m := f.next()
	c.cancel()
	waitFor(t, "the stream to end", func() bool {
		return f.metric("ackflow_receiver_otap_streams_ended_total", "reason", "client_gone") == 1
	})
	f.ack(m)
	if n := f.metric("ackflow_receiver_otap_batches_in_flight"); n != 0 {
		t.Errorf("batches in flight = %v", n)
	}
	if n := f.metric("ackflow_receiver_otap_late_outcomes_total"); n != 1 {
		t.Errorf("late outcomes = %v, want 1", n)
	}
}

// Drain: the stream answers what it holds, then ends UNAVAILABLE; Run
// returns.
func TestDrainAnswersThenEnds(t *testing.T) {
	f := start(t, "")
	c := f.open(pdata.Logs)
	id := c.send(payloadOf(pdata.Logs, "d", 2))
	m := f.next()
	f.cancel()
	f.cancel = nil
	waitFor(t, "the drain", func() bool { return f.metric("ackflow_receiver_otap_streams", "signal", "logs") == 1 })
	f.ack(m)
	c.expect(id, arrowpb.StatusCode_OK)
	if _, err := c.recv(); status.Code(err) != codes.Unavailable {
		t.Fatalf("end of a drained stream: %v, want UNAVAILABLE", err)
	}
	select {
	case err := <-f.done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(wait):
		t.Fatal("Run did not return after the drain")
	}
	_ = f.conn.Close()
}

// At the shutdown deadline a batch still waiting is answered UNAVAILABLE
// at once and Run returns.
func TestAbortAnswersWhatWaits(t *testing.T) {
	f := start(t, "")
	c := f.open(pdata.Logs)
	id := c.send(payloadOf(pdata.Logs, "a", 2))
	f.next()
	f.cancel()
	f.cancel = nil
	close(f.fx.aborted)
	c.expect(id, arrowpb.StatusCode_UNAVAILABLE)
	select {
	case <-f.done:
	case <-time.After(wait):
		t.Fatal("Run did not return at the shutdown deadline")
	}
	_ = f.conn.Close()
}

// Compressed streams are accepted, under every name the peers use.
func TestCompressedStream(t *testing.T) {
	f := start(t, "")
	for _, comp := range []string{"gzip", "zstd", "zstdarrow5"} { // zstdarrow5: the Collector otelarrow exporter's default
		c := f.open(pdata.Metrics, grpc.UseCompressor(comp))
		id := c.send(payloadOf(pdata.Metrics, comp, 3))
		f.ack(f.next())
		c.expect(id, arrowpb.StatusCode_OK)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ cfg, want string }{
		{"{}", "listening_addr is required"},
		{"listening_addr: nowhere", "invalid address"},
		{"listening_addr: 127.0.0.1:0\nresponse_stream_channel_size: 0", "response_stream_channel_size must be at least 1"},
		{"listening_addr: 127.0.0.1:0\nmax_concurrent_requests_per_stream: 0", "max_concurrent_requests_per_stream must be at least 1"},
		{"listening_addr: 127.0.0.1:0\ntimeout: 0s", "timeout must be positive"},
		{"listening_addr: 127.0.0.1:0\ncompression_method: lz4", `unknown compression "lz4"`},
		{"listening_addr: 127.0.0.1:0\nmax_request_size: 0B", "max_request_size"},
		{"listening_addr: 127.0.0.1:0\narrow: { max_batch_bytes: 10B }", "max_batch_bytes"},
		{"listening_addr: 127.0.0.1:0\nmax_streams: 0", "max_streams must be at least 1"},
		{"listening_addr: 127.0.0.1:0\nresponse_stream_chanel_size: 4", "response_stream_chanel_size"},
	} {
		err := nodetest.ValidateConfig(otap.NewFactory(), tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to mention %q", tc.cfg, err, tc.want)
		}
	}
	if err := nodetest.ValidateConfig(otap.NewFactory(), "listening_addr: 127.0.0.1:4317\nresponse_stream_channel_size: 256"); err != nil {
		t.Errorf("the reference's example config: %v", err)
	}
}

// waitFor polls cond (state the receiver reaches on its own goroutines).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, wait)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rawCodec sends and receives raw bytes.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.([]byte))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*(v.(*[]byte)) = data.Materialize()
	return nil
}

// A client that does not read its replies: once the answers it owes stay
// unwritten for the timeout (HTTP/2 flow control holds them), the stream
// ends DEADLINE_EXCEEDED and its batches stop holding anything.
func TestClientThatDoesNotReadItsReplies(t *testing.T) {
	f := start(t, "timeout: 5s")
	// Fixed 64 KiB windows (no BDP growth): a few large answers fill them.
	conn, err := grpc.NewClient(f.addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	f.conn, conn = conn, f.conn
	defer func() { f.conn = conn }()
	c := f.open(pdata.Logs)
	reason := strings.Repeat("r", 16<<10)
	for i := range 12 {
		c.send(payloadOf(pdata.Logs, "n", i+1))
		f.nack(f.next(), pdata.Nack{Reason: reason})
	}
	f.fx.clock.WaitTimers(1)
	f.fx.clock.Advance(5 * time.Second)
	waitFor(t, "the stream to end", func() bool {
		return f.metric("ackflow_receiver_otap_streams_ended_total", "reason", "replies_not_read") == 1
	})
	if n := f.metric("ackflow_receiver_otap_batches_in_flight"); n != 0 {
		t.Errorf("batches in flight = %v", n)
	}
	// Reading now: some answers, then the stream's end.
	for {
		if _, err := c.recv(); err != nil {
			if status.Code(err) != codes.DeadlineExceeded {
				t.Fatalf("end of the stream: %v, want DEADLINE_EXCEEDED", err)
			}
			break
		}
	}
}

// An unknown payload type is refused like any invalid batch.
func TestUnknownPayloadType(t *testing.T) {
	f := start(t, "")
	c := f.open(pdata.Logs)
	bar, err := c.enc.Encode(payloadOf(pdata.Logs, "u", 2))
	if err != nil {
		t.Fatal(err)
	}
	bar.ArrowPayloads[len(bar.ArrowPayloads)-1].Type = 999
	c.sendRaw(bar)
	st := c.expect(bar.BatchId, arrowpb.StatusCode_INVALID_ARGUMENT)
	if !strings.Contains(st.StatusMessage, "999") {
		t.Errorf("the refusal does not name the payload type: %q", st.StatusMessage)
	}
	f.none()
}
