package otap_test

import (
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/nodetest"
	exporter "github.com/ackflow/ackflow/nodes/exporters/otap"
	"github.com/ackflow/ackflow/nodes/internal/otlptest"
	"github.com/ackflow/ackflow/pdata"
	otapcodec "github.com/ackflow/ackflow/pdata/otap"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newExporter(t testing.TB, cfg string) (*nodetest.Harness, *exporter.Exporter) {
	t.Helper()
	h := nodetest.New(t, exporter.NewFactory(), cfg)
	return h, h.Node.(*exporter.Exporter)
}

// endpoint is the config line for a backend, plaintext and uncompressed
// unless the test says otherwise.
func endpoint(b *backend) string { return "grpc_endpoint: http://" + b.addr + "\n" }

// settle delivers completions until no export is in flight.
func settle(t testing.TB, h *nodetest.Harness) {
	t.Helper()
	for h.Pending() > 0 {
		if h.WaitAsync(otlptest.Wait) == 0 {
			t.Fatalf("%d exports still in flight after %s", h.Pending(), otlptest.Wait)
		}
	}
}

// waitOutcomes delivers outcomes until n reached upstream, without taking
// them.
func waitOutcomes(t testing.TB, h *nodetest.Harness, n int) {
	t.Helper()
	for len(h.Upstream()) < n {
		if h.WaitAsync(otlptest.Wait) == 0 {
			t.Fatalf("%d of %d outcomes after %s", len(h.Upstream()), n, otlptest.Wait)
		}
	}
}

// requireNoMore fails if any outcome reached upstream: each input got
// exactly one, already taken.
func requireNoMore(t testing.TB, h *nodetest.Harness) {
	t.Helper()
	h.DeliverAsync()
	if u := h.TakeUpstream(); len(u) != 0 {
		t.Fatalf("%d more outcomes upstream, first for input %d: %v", len(u), u[0].ID, u[0].Kind)
	}
}

// requireMixed takes every outcome upstream and fails unless they are
// exactly acks of acked and nacks of nacked; it returns the nacks by input.
func requireMixed(t testing.TB, h *nodetest.Harness, acked, nacked []uint64) map[uint64]pdata.Nack {
	t.Helper()
	want := map[uint64]engine.ControlKind{}
	for _, id := range acked {
		want[id] = engine.KindAck
	}
	for _, id := range nacked {
		want[id] = engine.KindNack
	}
	nacks := map[uint64]pdata.Nack{}
	got := h.TakeUpstream()
	for _, o := range got {
		if k, ok := want[o.ID]; !ok || k != o.Kind {
			t.Fatalf("upstream: %s for input %d (%v), want acks of %v and nacks of %v", o.Kind, o.ID, o.Nack, acked, nacked)
		}
		delete(want, o.ID)
		if o.Kind == engine.KindNack {
			nacks[o.ID] = o.Nack
		}
	}
	if len(want) != 0 {
		t.Fatalf("upstream: no outcome for %v", want)
	}
	return nacks
}

// logsEqual compares two logs by their OTLP encoding.
func logsEqual(t testing.TB, got any, want plog.Logs) {
	t.Helper()
	ld, ok := got.(plog.Logs)
	if !ok {
		t.Fatalf("backend decoded %T, want plog.Logs", got)
	}
	a, _ := (&plog.JSONMarshaler{}).MarshalLogs(ld)
	b, _ := (&plog.JSONMarshaler{}).MarshalLogs(want)
	if string(a) != string(b) {
		t.Fatalf("backend got logs\n%s\nwant\n%s", a, b)
	}
}

func TestSignalsDeliveredAndAcked(t *testing.T) {
	b := newBackend(t)
	h, e := newExporter(t, endpoint(b))
	defer h.Shutdown(h.Clock.Now())
	for _, p := range []*pdata.Payload{pdatatest.Logs(3), pdatatest.Metrics(5), pdatatest.Traces(7)} {
		id := h.SendPData(pdatatest.Msg(p))
		r := b.next(t)
		if r.stream.signal != p.Signal() || r.batch.Items() != p.Items() {
			t.Fatalf("backend got %s with %d items, want %s with %d", r.stream.signal, r.batch.Items(), p.Signal(), p.Items())
		}
		r.ok()
		settle(t, h)
		h.RequireAcked(id)
	}
	requireNoMore(t, h)
	m := e.StreamMetrics()
	for _, s := range pdata.Signals() {
		if m.StreamsOpened(s) != 1 || m.BatchesSent(s) != 1 || m.SentBytes(s) == 0 ||
			m.Encoded(s, pdata.FormOTLP) != 1 || m.Statuses(s, "ok") != 1 {
			t.Fatalf("%s: opened %d sent %d bytes %d encoded %d ok %d, want 1, 1, >0, 1, 1", s,
				m.StreamsOpened(s), m.BatchesSent(s), m.SentBytes(s), m.Encoded(s, pdata.FormOTLP), m.Statuses(s, "ok"))
		}
	}
	if got := e.Metrics().Requests(pdata.Traces, "ok"); got != 1 {
		t.Fatalf("driver requests{traces,ok} = %d", got)
	}
}

func TestConvertedDataArrivesEqual(t *testing.T) {
	b := newBackend(t)
	h, e := newExporter(t, endpoint(b))
	defer h.Shutdown(h.Clock.Now())

	// OTLP bytes, as a receiver took them in.
	want := pdatatest.LogsData("otlp", 20, 7, 40)
	raw, _ := (&plog.ProtoMarshaler{}).MarshalLogs(want)
	p, err := pdata.FromOTLP(pdata.Logs, raw)
	if err != nil {
		t.Fatal(err)
	}
	id := h.SendPData(pdatatest.Msg(p))
	r := b.next(t)
	got, err := r.batch.ToPdata()
	if err != nil {
		t.Fatal(err)
	}
	logsEqual(t, got, want)
	r.ok()

	// The decoded model, as a processor built it.
	md := pdatatest.MetricsData("decoded", 9)
	id2 := h.SendPData(pdatatest.Msg(pdata.FromMetrics(md)))
	r = b.next(t)
	gotm, err := r.batch.ToPdata()
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := gotm.(pmetric.Metrics); !ok || m.DataPointCount() != 9 || m.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Name() != "pdatatest.decoded" {
		t.Fatalf("backend got metrics %v", gotm)
	}
	r.ok()
	settle(t, h)
	h.RequireAcked(id, id2)
	if e.StreamMetrics().Encoded(pdata.Logs, pdata.FormOTLP) != 1 || e.StreamMetrics().Encoded(pdata.Metrics, pdata.FormDecoded) != 1 {
		t.Fatal("encoded batches not counted by form")
	}
}

// otapPayload returns the OTAP form of ld, as the OTAP receiver builds it:
// a batch decoded from a stream.
func otapPayload(t testing.TB, ld plog.Logs) *pdata.Payload {
	t.Helper()
	enc := otapcodec.NewEncoder(otapcodec.EncoderOptions{})
	defer enc.Close()
	bar, err := enc.Encode(pdata.FromLogs(ld))
	if err != nil {
		t.Fatal(err)
	}
	batch, err := otapcodec.NewDecoder(otapcodec.DecoderOptions{MaxBatchBytes: 64 << 20, MaxDictionaryBytes: 64 << 20}).Decode(pdata.Logs, bar)
	if err != nil {
		t.Fatal(err)
	}
	return otapcodec.Payload(batch)
}

func TestOTAPPayloadPassesWithoutConversion(t *testing.T) {
	b := newBackend(t)
	h, e := newExporter(t, endpoint(b))
	defer h.Shutdown(h.Clock.Now())
	want := pdatatest.LogsData("otap", 12, 5, 24)
	p := otapPayload(t, want)
	if p.Form() != pdata.FormOTAP {
		t.Fatalf("test payload is %s", p.Form())
	}
	beforeP, beforeI := pdata.OTAPConversions()
	id := h.SendPData(pdatatest.Msg(p))
	r := b.next(t)
	if r.batch.Items() != 12 {
		t.Fatalf("backend got %d items, want 12", r.batch.Items())
	}
	r.ok()
	settle(t, h)
	h.RequireAcked(id)
	if afterP, afterI := pdata.OTAPConversions(); afterP != beforeP || afterI != beforeI {
		t.Fatalf("the exporter converted the OTAP payload: conversions %d/%d -> %d/%d", beforeP, beforeI, afterP, afterI)
	}
	got, err := r.batch.ToPdata()
	if err != nil {
		t.Fatal(err)
	}
	logsEqual(t, got, want)
	if e.StreamMetrics().Encoded(pdata.Logs, pdata.FormOTAP) != 1 {
		t.Fatal("batch not counted as form=otap")
	}
}

func TestStatusMapping(t *testing.T) {
	b := newBackend(t)
	h, e := newExporter(t, endpoint(b))
	defer h.Shutdown(h.Clock.Now())
	tests := []struct {
		code      arrowpb.StatusCode
		ack       bool
		permanent bool
	}{
		{arrowpb.StatusCode_OK, true, false},
		{arrowpb.StatusCode_UNAVAILABLE, false, false},
		{arrowpb.StatusCode_RESOURCE_EXHAUSTED, false, false},
		{arrowpb.StatusCode_DEADLINE_EXCEEDED, false, false},
		{arrowpb.StatusCode_ABORTED, false, false},
		{arrowpb.StatusCode_CANCELED, false, false},
		{arrowpb.StatusCode_INTERNAL, false, true},
		{arrowpb.StatusCode_INVALID_ARGUMENT, false, true},
		{arrowpb.StatusCode_PERMISSION_DENIED, false, true},
		{arrowpb.StatusCode_UNAUTHENTICATED, false, true},
		{arrowpb.StatusCode(5), false, true},   // NOT_FOUND: outside OTAP's enum
		{arrowpb.StatusCode(15), false, false}, // DATA_LOSS: outside it, retryable in OTLP
	}
	for _, tt := range tests {
		t.Run(tt.code.String(), func(t *testing.T) {
			id := h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
			b.next(t).answer(tt.code, "backend says so")
			settle(t, h)
			if tt.ack {
				h.RequireAcked(id)
				return
			}
			n := h.RequireNacked(id)[0].Nack
			if n.Permanent != tt.permanent || !strings.HasPrefix(n.Reason, "otap: ") || !strings.Contains(n.Reason, "backend says so") {
				t.Fatalf("nack %v, want permanent=%t with the backend's message", n, tt.permanent)
			}
		})
	}
	m := e.StreamMetrics()
	if m.Statuses(pdata.Logs, "unavailable") != 1 || m.Statuses(pdata.Logs, "other") != 2 || m.StreamsOpened(pdata.Logs) != 1 {
		t.Fatalf("statuses{unavailable} %d, {other} %d, streams %d; want 1, 2, 1 (one stream for all)",
			m.Statuses(pdata.Logs, "unavailable"), m.Statuses(pdata.Logs, "other"), m.StreamsOpened(pdata.Logs))
	}
	if got := e.Metrics().Requests(pdata.Logs, "invalid_argument"); got != 1 {
		t.Fatalf("driver requests{invalid_argument} = %d", got)
	}
}

func TestAnswersInAnyOrder(t *testing.T) {
	b := newBackend(t)
	h, _ := newExporter(t, endpoint(b))
	defer h.Shutdown(h.Clock.Now())
	var ids []uint64
	var rs []*received
	for i := range 5 {
		ids = append(ids, h.SendPData(pdatatest.Msg(pdatatest.Logs(i+1))))
		rs = append(rs, b.next(t))
	}
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i].batch.Items() != i+1 {
			t.Fatalf("batch %d has %d items", i, rs[i].batch.Items())
		}
		rs[i].ok()
	}
	settle(t, h)
	h.RequireAcked(ids...)
	requireNoMore(t, h)
}

func TestUnmatchedStatusIsCountedAndIgnored(t *testing.T) {
	b := newBackend(t)
	h, e := newExporter(t, endpoint(b))
	defer h.Shutdown(h.Clock.Now())
	id := h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	r := b.next(t)
	r.stream.send(&arrowpb.BatchStatus{BatchId: 999, StatusCode: arrowpb.StatusCode_OK}, false)
	r.stream.send(&arrowpb.BatchStatus{BatchId: 998, StatusCode: arrowpb.StatusCode_UNAVAILABLE}, false)
	r.ok()
	settle(t, h)
	h.RequireAcked(id)
	requireNoMore(t, h)
	if got := e.StreamMetrics().Unmatched(pdata.Logs); got != 2 {
		t.Fatalf("unmatched statuses %d, want 2", got)
	}
}

func TestStreamBreakNacksInFlightAndReopens(t *testing.T) {
	b := newBackend(t)
	h, e := newExporter(t, endpoint(b))
	defer h.Shutdown(h.Clock.Now())
	first := h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	s1 := b.nextStream(t)
	b.next(t).ok()
	settle(t, h)
	h.RequireAcked(first)

	a := h.SendPData(pdatatest.Msg(pdatatest.Logs(2)))
	bb := h.SendPData(pdatatest.Msg(pdatatest.Logs(3)))
	ra, rb := b.next(t), b.next(t)
	s1.brk(status.Error(codes.Unavailable, "going away"))
	otlptest.Recv(t, s1.ended, "end of the broken stream")
	waitOutcomes(t, h, 2)
	for _, o := range h.RequireNacked(a, bb) {
		if o.Nack.Permanent || !strings.Contains(o.Nack.Reason, "stream broke") || !strings.Contains(o.Nack.Reason, "going away") {
			t.Fatalf("nack %v, want transient, saying the stream broke and why", o.Nack)
		}
	}
	if ra.ok() || rb.ok() { // too late: the stream is gone
		t.Fatal("answered on a broken stream")
	}

	c := h.SendPData(pdatatest.Msg(pdatatest.Logs(4)))
	s2 := b.nextStream(t)
	r := b.next(t)
	if s2 == s1 || r.stream != s2 || r.bar.GetBatchId() != 0 {
		t.Fatalf("batch went on stream %d as batch %d, want a new stream from batch 0", r.stream.id, r.bar.GetBatchId())
	}
	r.ok()
	settle(t, h)
	h.RequireAcked(c)
	requireNoMore(t, h)
	m := e.StreamMetrics()
	if m.StreamsOpened(pdata.Logs) != 2 || m.StreamsEnded(pdata.Logs, "broken") != 1 || m.StreamsOpen(pdata.Logs) != 1 {
		t.Fatalf("opened %d, ended{broken} %d, open %d; want 2, 1, 1",
			m.StreamsOpened(pdata.Logs), m.StreamsEnded(pdata.Logs, "broken"), m.StreamsOpen(pdata.Logs))
	}
	if got := e.Metrics().Requests(pdata.Logs, "stream_broken"); got != 2 {
		t.Fatalf("driver requests{stream_broken} = %d, want 2", got)
	}
}

func TestUnansweredBrokenStreamBacksOff(t *testing.T) {
	b := newBackend(t)
	h, e := newExporter(t, endpoint(b)+"arrow: {max_stream_lifetime: 0s}\n")
	defer h.Shutdown(h.Clock.Now())
	a := h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	b.next(t)
	b.nextStream(t).brk(status.Error(codes.Unimplemented, "no OTAP here"))
	waitOutcomes(t, h, 1)
	h.RequireNacked(a)

	// The stream never answered: the next open waits 10ms on the clock.
	c := h.SendPData(pdatatest.Msg(pdatatest.Logs(2)))
	h.Clock.WaitTimers(1)
	if e.StreamMetrics().StreamsOpened(pdata.Logs) != 1 {
		t.Fatal("reopened without a backoff")
	}
	h.Clock.Advance(10 * time.Millisecond)
	b.next(t).ok()
	settle(t, h)
	h.RequireAcked(c)
}

func TestOpenFailureNacksAndBacksOff(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // nothing listens there any more
	h, e := newExporter(t, "grpc_endpoint: http://"+addr+"\ntimeout: 1m\n")
	defer h.Shutdown(h.Clock.Now())

	a := h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	waitOutcomes(t, h, 1)
	n := h.RequireNacked(a)[0].Nack
	if n.Permanent || !strings.Contains(n.Reason, "open logs stream: unavailable") {
		t.Fatalf("nack %v, want transient, saying the stream could not be opened", n)
	}
	// Each failure doubles the wait before the next attempt: 10ms, 20ms.
	for _, wait := range []time.Duration{10 * time.Millisecond, 20 * time.Millisecond} {
		id := h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
		h.Clock.WaitTimers(1)
		h.Clock.Advance(wait - time.Millisecond)
		if h.DeliverAsync() != 0 {
			t.Fatalf("attempt before its %s backoff", wait)
		}
		h.Clock.Advance(time.Millisecond)
		waitOutcomes(t, h, 1)
		if n := h.RequireNacked(id)[0].Nack; n.Permanent {
			t.Fatalf("nack %v, want transient", n)
		}
	}
	settle(t, h)
	if got := e.StreamMetrics().OpenFailures(pdata.Logs); got != 3 {
		t.Fatalf("open failures %d, want 3", got)
	}
}

func TestTimeoutNacksAndLateStatusIsIgnored(t *testing.T) {
	b := newBackend(t)
	h, e := newExporter(t, endpoint(b)+"timeout: 100ms\n")
	defer h.Shutdown(h.Clock.Now())
	events := make(chan string, 64)
	exporter.SetHook(e, func(ev string) { events <- ev })
	id := h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	r := b.next(t) // never answered in time
	settle(t, h)
	n := h.RequireNacked(id)[0].Nack
	if n.Permanent || n.Cause != pdata.CauseTimeout {
		t.Fatalf("nack %v, want transient timeout", n)
	}
	// The answer comes after all: it is late, and settles nothing.
	r.ok()
	for otlptest.Recv(t, events, "late status") != "late" {
	}
	requireNoMore(t, h)
	if e.StreamMetrics().Late(pdata.Logs) != 1 || e.StreamMetrics().Unmatched(pdata.Logs) != 0 {
		t.Fatalf("late %d unmatched %d, want 1, 0", e.StreamMetrics().Late(pdata.Logs), e.StreamMetrics().Unmatched(pdata.Logs))
	}
}

func TestMaxStreamLifetimeRollsOver(t *testing.T) {
	b := newBackend(t)
	h, e := newExporter(t, endpoint(b)+"timeout: 30s\narrow: {max_stream_lifetime: 1m}\n")
	defer h.Shutdown(h.Clock.Now())
	a := h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	bb := h.SendPData(pdatatest.Msg(pdatatest.Logs(2)))
	c := h.SendPData(pdatatest.Msg(pdatatest.Logs(3)))
	s1 := b.nextStream(t)
	byItems := map[int]*received{}
	for range 3 { // the exports race to the lane: find each by its size
		r := b.next(t)
		byItems[r.batch.Items()] = r
	}
	ra, rb, rc := byItems[1], byItems[2], byItems[3]

	h.Clock.Advance(time.Minute) // the lifetime timer was armed before the first send
	otlptest.Recv(t, s1.halfClosed, "CloseSend of the old stream")

	// A new stream takes new batches while the old one finishes.
	d := h.SendPData(pdatatest.Msg(pdatatest.Logs(4)))
	s2 := b.nextStream(t)
	rd := b.next(t)
	if rd.stream != s2 || s2 == s1 {
		t.Fatal("a batch went on the retired stream")
	}
	ra.ok()
	rd.ok()
	rb.answer(arrowpb.StatusCode_UNAVAILABLE, "busy")
	waitOutcomes(t, h, 3)
	if n := requireMixed(t, h, []uint64{a, d}, []uint64{bb})[bb]; n.Permanent || !strings.Contains(n.Reason, "busy") {
		t.Fatalf("nack %v", n)
	}

	// c never gets an answer: the retired stream waits for it at most the
	// timeout, on the clock, then nacks it and ends.
	h.Clock.Advance(30 * time.Second)
	waitOutcomes(t, h, 1)
	n := h.RequireNacked(c)[0].Nack
	if n.Permanent || !strings.Contains(n.Reason, "retired (max_lifetime)") {
		t.Fatalf("nack %v, want transient, saying the retired stream had no answer", n)
	}
	otlptest.Recv(t, s1.ended, "end of the old stream")
	if rc.ok() {
		t.Fatal("the old stream is still open")
	}
	settle(t, h)
	requireNoMore(t, h)
	m := e.StreamMetrics()
	if m.StreamsEnded(pdata.Logs, "max_lifetime") != 1 || m.StreamsOpened(pdata.Logs) != 2 || m.StreamsOpen(pdata.Logs) != 1 {
		t.Fatalf("ended{max_lifetime} %d opened %d open %d; want 1, 2, 1",
			m.StreamsEnded(pdata.Logs, "max_lifetime"), m.StreamsOpened(pdata.Logs), m.StreamsOpen(pdata.Logs))
	}
}

func TestRetiredStreamEndsCleanlyWhenAllAnswered(t *testing.T) {
	b := newBackend(t)
	h, _ := newExporter(t, endpoint(b)+"arrow: {max_stream_lifetime: 1m}\n")
	defer h.Shutdown(h.Clock.Now())
	a := h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	s1 := b.nextStream(t)
	r := b.next(t)
	h.Clock.Advance(time.Minute)
	otlptest.Recv(t, s1.halfClosed, "CloseSend")
	r.ok()
	otlptest.Recv(t, s1.ended, "the server ending the stream with OK")
	settle(t, h)
	h.RequireAcked(a)
	requireNoMore(t, h)
}

func TestStreamsPerSignalSpread(t *testing.T) {
	b := newBackend(t)
	h, e := newExporter(t, endpoint(b)+"streams_per_signal: 2\n")
	defer h.Shutdown(h.Clock.Now())
	var ids []uint64
	per := map[int32]int{}
	var rs []*received
	for i := range 6 {
		ids = append(ids, h.SendPData(pdatatest.Msg(pdatatest.Logs(i+1))))
		r := b.next(t) // held: the lane keeps its load until answered
		per[r.stream.id]++
		rs = append(rs, r)
	}
	if len(per) != 2 {
		t.Fatalf("batches per stream %v, want 2 streams", per)
	}
	for id, n := range per {
		if n != 3 {
			t.Fatalf("stream %d got %d batches, want 3 (%v)", id, n, per)
		}
	}
	for _, r := range rs {
		r.ok()
	}
	settle(t, h)
	h.RequireAcked(ids...)
	if e.StreamMetrics().StreamsOpened(pdata.Logs) != 2 {
		t.Fatal("want two logs streams")
	}
}

func TestHeadersAreTheStreamMetadata(t *testing.T) {
	b := newBackend(t)
	h, _ := newExporter(t, endpoint(b)+"headers: {x-tenant: acme, authorization: Basic dXNlcjpwYXNz}\n")
	defer h.Shutdown(h.Clock.Now())
	id := h.SendPData(pdatatest.Msg(pdatatest.Traces(1)))
	s := b.nextStream(t)
	if got := s.md.Get("x-tenant"); len(got) != 1 || got[0] != "acme" {
		t.Fatalf("x-tenant %v", got)
	}
	if got := s.md.Get("authorization"); len(got) != 1 || got[0] != "Basic dXNlcjpwYXNz" {
		t.Fatalf("authorization %v", got)
	}
	b.next(t).ok()
	settle(t, h)
	h.RequireAcked(id)
}

// randomLogs returns n logs with incompressible bodies of size bytes.
func randomLogs(n, size int) plog.Logs {
	ld := plog.NewLogs()
	sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	r := rand.New(rand.NewPCG(1, uint64(n)))
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	buf := make([]byte, size)
	for range n {
		for i := range buf {
			buf[i] = letters[r.IntN(len(letters))]
		}
		sl.LogRecords().AppendEmpty().Body().SetStr(string(buf))
	}
	return ld
}

func TestCompression(t *testing.T) {
	b := newBackend(t)
	sizes := map[string]uint64{}
	for _, tc := range []struct{ name, cfg, want string }{
		{"default zstd", "", "zstd"},
		{"none", "compression: none\n", ""},
		{"gzip", "compression: gzip\n", "gzip"},
		{"legacy compression_method", "compression_method: gzip\n", "gzip"},
		{"both agreeing", "compression: none\ncompression_method: none\n", ""},
		{"arrow zstd", "compression: none\narrow: {payload_compression: zstd}\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, e := newExporter(t, endpoint(b)+tc.cfg)
			defer h.Shutdown(h.Clock.Now())
			want := pdatatest.LogsData("z", 200, 0, 200)
			id := h.SendPData(pdatatest.Msg(pdata.FromLogs(want)))
			r := b.next(t)
			got, err := r.batch.ToPdata()
			if err != nil {
				t.Fatal(err)
			}
			logsEqual(t, got, want)
			r.ok()
			settle(t, h)
			h.RequireAcked(id)
			encs := b.encodings()
			if last := encs[len(encs)-1]; last != tc.want {
				t.Fatalf("stream compression %q, want %q", last, tc.want)
			}
			sizes[tc.name] = e.StreamMetrics().SentBytes(pdata.Logs)
		})
	}
	// Arrow IPC compression shows in the protobuf size (gRPC's does not).
	if sizes["arrow zstd"] >= sizes["none"] {
		t.Logf("arrow zstd %d bytes, none %d bytes", sizes["arrow zstd"], sizes["none"])
		t.Error("arrow.payload_compression: zstd did not shrink the batch")
	}
}

func TestStreamQueueCapacityBackpressure(t *testing.T) {
	var release func()
	b := newBackend(t, gated(&release))
	h, e := newExporter(t, endpoint(b)+"compression: none\nstream_queue_capacity: 2\nmax_in_flight: 10\ntimeout: 1m\n")
	defer h.Shutdown(h.Clock.Now())
	events := make(chan string, 64)
	exporter.SetHook(e, func(ev string) { events <- ev })
	wait := func(want string, n int) {
		t.Helper()
		for n > 0 {
			if ev := otlptest.Recv(t, events, want); ev == want {
				n--
			}
		}
	}
	// 1 MB of incompressible bodies: far more than the backend's 64 KiB
	// windows. gRPC takes it whole, and its write quota (64 KiB, refilled
	// only as flow control lets bytes out) then holds the next Send.
	ids := []uint64{h.SendPData(pdatatest.Msg(pdata.FromLogs(randomLogs(100, 10_000))))}
	wait("dequeued", 1)
	ids = append(ids, h.SendPData(pdatatest.Msg(pdatatest.Logs(1))))
	wait("dequeued", 1) // the lane is now stuck sending this one
	for range 4 {
		ids = append(ids, h.SendPData(pdatatest.Msg(pdatatest.Logs(1))))
	}
	wait("queue_full", 2) // two fit in the queue, two wait for room
	m := e.StreamMetrics()
	if m.Queued(pdata.Logs) != 2 || m.QueueFull(pdata.Logs) != 2 || h.Pending() != 6 || len(h.Upstream()) != 0 {
		t.Fatalf("queued %d, queue full %d, pending %d, outcomes %d; want 2, 2, 6, 0",
			m.Queued(pdata.Logs), m.QueueFull(pdata.Logs), h.Pending(), len(h.Upstream()))
	}
	release()
	got := map[int]int{}
	for range ids {
		r := b.next(t)
		got[r.batch.Items()]++
		r.ok()
	}
	if got[100] != 1 || got[1] != 5 {
		t.Fatalf("backend got batches by items %v", got)
	}
	settle(t, h)
	h.RequireAcked(ids...)
	if m.Queued(pdata.Logs) != 0 {
		t.Fatalf("queued %d after the drain", m.Queued(pdata.Logs))
	}
}

func TestUndecodablePayloadIsPermanent(t *testing.T) {
	b := newBackend(t)
	h, e := newExporter(t, endpoint(b))
	defer h.Shutdown(h.Clock.Now())
	bad := pdata.FromOTLPChunks(pdata.Logs, [][]byte{{0x0a, 0x05, 0xff}}, 1) // claims a scan it never passed
	id := h.SendPData(pdatatest.Msg(bad))
	settle(t, h)
	if n := h.RequireNacked(id)[0].Nack; !n.Permanent || !strings.Contains(n.Reason, "encode logs as OTAP") {
		t.Fatalf("nack %v, want permanent encode failure", n)
	}
	if e.StreamMetrics().StreamsOpened(pdata.Logs) != 0 {
		t.Fatal("a stream was opened for nothing")
	}
}

func TestGracefulDrainWaitsForStatuses(t *testing.T) {
	b := newBackend(t)
	h, _ := newExporter(t, endpoint(b))
	a := h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	bb := h.SendPData(pdatatest.Msg(pdatatest.Metrics(1)))
	ra, rb := b.next(t), b.next(t)
	if ra.stream.signal != pdata.Logs {
		ra, rb = rb, ra
	}
	h.Shutdown(h.Clock.Now().Add(time.Minute))
	if h.Pending() != 2 {
		t.Fatal("shutdown did not wait for the batches in flight")
	}
	ra.ok()
	rb.answer(arrowpb.StatusCode_INVALID_ARGUMENT, "bad")
	settle(t, h)
	if n := requireMixed(t, h, []uint64{a}, []uint64{bb})[bb]; !n.Permanent {
		t.Fatalf("nack %v", n)
	}
	otlptest.Recv(t, ra.stream.ended, "logs stream closed by the exporter")
	otlptest.Recv(t, rb.stream.ended, "metrics stream closed by the exporter")
}

func TestForcedShutdownNacksWhatIsLeft(t *testing.T) {
	var release func()
	b := newBackend(t, gated(&release))
	h, e := newExporter(t, endpoint(b)+"compression: none\nstream_queue_capacity: 1\n")
	events := make(chan string, 64)
	exporter.SetHook(e, func(ev string) { events <- ev })
	// One batch sent but unanswered, one stuck in Send (see
	// TestStreamQueueCapacityBackpressure), one queued, one waiting for
	// queue room.
	ids := []uint64{h.SendPData(pdatatest.Msg(pdata.FromLogs(randomLogs(100, 10_000))))}
	for otlptest.Recv(t, events, "dequeue") != "dequeued" {
	}
	ids = append(ids, h.SendPData(pdatatest.Msg(pdatatest.Logs(1))))
	for otlptest.Recv(t, events, "dequeue") != "dequeued" {
	}
	ids = append(ids, h.SendPData(pdatatest.Msg(pdatatest.Logs(2))), h.SendPData(pdatatest.Msg(pdatatest.Logs(3))))
	for otlptest.Recv(t, events, "queue_full") != "queue_full" {
	}
	h.Shutdown(h.Clock.Now().Add(time.Second))
	if h.Pending() != 4 {
		t.Fatalf("pending %d after graceful shutdown, want 4", h.Pending())
	}
	h.ForceShutdown()
	for _, o := range h.RequireNacked(ids...) {
		if o.Nack.Cause != pdata.CauseNodeShutdown || o.Nack.Permanent {
			t.Fatalf("nack %v, want transient node_shutdown", o.Nack)
		}
	}
	h.DeliverAsync()
	requireNoMore(t, h)
	if h.Pending() != 0 || e.StreamMetrics().StreamsEnded(pdata.Logs, "shutdown") != 1 {
		t.Fatalf("pending %d, ended{shutdown} %d", h.Pending(), e.StreamMetrics().StreamsEnded(pdata.Logs, "shutdown"))
	}
	release()
}

func TestTLS(t *testing.T) {
	certs := otlptest.NewCerts(t)
	serverCert, err := tls.LoadX509KeyPair(certs.ServerCert, certs.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	b := newBackend(t, autoOK(), withServerOptions(grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{serverCert}}))))
	for _, cfg := range []string{
		"tls: {ca_file: " + certs.CAFile + "}\n",
		"tls: {ca_file: " + certs.CAFile + ", include_system_ca_certs_pool: true}\n",
	} {
		h, _ := newExporter(t, "grpc_endpoint: https://"+b.addr+"\n"+cfg)
		id := h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
		settle(t, h)
		h.RequireAcked(id)
		h.Shutdown(h.Clock.Now())
	}

	// Without the CA the server is not trusted: the stream cannot open.
	h, _ := newExporter(t, "grpc_endpoint: https://"+b.addr+"\n")
	defer h.Shutdown(h.Clock.Now())
	id := h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	settle(t, h)
	if n := h.RequireNacked(id)[0].Nack; n.Permanent || !strings.Contains(n.Reason, "certificate") {
		t.Fatalf("nack %v, want a transient certificate error", n)
	}
}

func TestManySignalsAndBatchesUnderRace(t *testing.T) {
	b := newBackend(t, autoOK())
	h, _ := newExporter(t, endpoint(b)+"streams_per_signal: 3\nmax_in_flight: 32\n")
	defer h.Shutdown(h.Clock.Now())
	var ids []uint64
	for i := range 90 {
		var p *pdata.Payload
		switch i % 3 {
		case 0:
			p = pdatatest.Logs(i%7 + 1)
		case 1:
			p = pdata.FromMetrics(pdatatest.MetricsData(fmt.Sprint(i), i%5+1))
		default:
			p = pdata.FromTraces(pdatatest.TracesData(fmt.Sprint(i), i%4+1))
		}
		ids = append(ids, h.SendPData(pdatatest.Msg(p)))
	}
	settle(t, h)
	h.RequireAcked(ids...)
	requireNoMore(t, h)
}
