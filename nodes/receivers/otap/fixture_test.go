package otap_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/ackflow/ackflow/clock"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/nodes/receivers/otap"
	"github.com/ackflow/ackflow/pdata"
	pdotap "github.com/ackflow/ackflow/pdata/otap"
	"github.com/ackflow/ackflow/pdata/pdatatest"
	"github.com/ackflow/ackflow/telemetry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// receiverNode is the id the fake effects give the receiver's frames.
const receiverNode pdata.NodeID = 7

// wait bounds every wait of these tests for something the receiver does
// on its own goroutines (never a timing assertion).
const wait = 10 * time.Second

// fakeFx captures what the receiver sends; the test settles captured
// messages with the receiver's OnOutcome.
type fakeFx struct {
	clock   *clock.Fake
	sent    chan *pdata.Message
	full    atomic.Bool // TrySend fails with ErrFull, Send blocks until ctx ends
	aborted chan struct{}
	addrs   chan net.Addr
}

func newFakeFx() *fakeFx {
	return &fakeFx{
		clock:   clock.NewFake(nodetest.Start),
		sent:    make(chan *pdata.Message, 256),
		aborted: make(chan struct{}),
		addrs:   make(chan net.Addr, 1),
	}
}

var _ engine.ReceiverEffects = (*fakeFx)(nil)

func (f *fakeFx) Now() time.Time { return f.clock.Now() }

func (f *fakeFx) Send(ctx context.Context, m *pdata.Message) error {
	if !f.full.Load() {
		f.sent <- m
		return nil
	}
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-f.aborted:
		return engine.ErrAborted
	}
}

func (f *fakeFx) SendTo(ctx context.Context, _ string, m *pdata.Message) error { return f.Send(ctx, m) }

func (f *fakeFx) TrySend(m *pdata.Message) error {
	if f.full.Load() {
		return engine.ErrFull
	}
	f.sent <- m
	return nil
}

func (f *fakeFx) Subscribe(m *pdata.Message, in pdata.Interests, cd pdata.CallData) {
	m.Subscribe(receiverNode, in, cd)
}

func (f *fakeFx) Listen(ctx context.Context, network, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, network, addr)
	if err == nil {
		f.addrs <- l.Addr()
	}
	return l, err
}

func (f *fakeFx) Aborted() <-chan struct{}    { return f.aborted }
func (f *fakeFx) Drop(*pdata.Message, string) {}
func (f *fakeFx) Ports() []string             { return []string{"default"} }

// fixture is a running receiver on a loopback port.
type fixture struct {
	t      *testing.T
	fx     *fakeFx
	r      *otap.Receiver
	reg    *telemetry.Registry
	addr   string
	cancel context.CancelFunc
	done   chan error
	conn   *grpc.ClientConn
}

// start runs a receiver with the YAML config block cfg (listening_addr
// 127.0.0.1:0 is added).
func start(t *testing.T, cfg string) *fixture {
	t.Helper()
	fx := newFakeFx()
	n, err := nodetest.NodeConfig(otap.Type, "listening_addr: 127.0.0.1:0\n"+cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	fac := otap.NewFactory()
	if err := fac.Validate(n); err != nil {
		t.Fatalf("config rejected: %v", err)
	}
	reg := telemetry.NewRegistry()
	rcv, err := fac.NewReceiver(engine.NodeContext{
		Node: n, Pipeline: "test/main", Clock: fx.clock,
		Metrics: reg, Labels: telemetry.Labels("pipeline", "test/main", "node", "in"),
	})
	if err != nil {
		t.Fatal(err)
	}
	r := rcv.(*otap.Receiver)
	ctx, cancel := context.WithCancel(context.Background())
	f := &fixture{t: t, fx: fx, r: r, reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { f.done <- r.Run(ctx, fx) }()
	select {
	case a := <-fx.addrs:
		f.addr = a.String()
	case err := <-f.done:
		t.Fatalf("Run: %v", err)
	}
	f.conn, err = grpc.NewClient(f.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.stop)
	return f
}

// stop drains the receiver and waits for Run, once.
func (f *fixture) stop() {
	if f.cancel == nil {
		return
	}
	f.cancel()
	f.cancel = nil
	_ = f.conn.Close()
	select {
	case <-f.done:
	case <-time.After(wait):
		f.t.Errorf("Run did not return within %s", wait)
	}
}

// next returns the next message the receiver sent into the pipeline.
func (f *fixture) next() *pdata.Message {
	f.t.Helper()
	select {
	case m := <-f.fx.sent:
		return m
	case <-time.After(wait):
		f.t.Fatalf("no message reached the pipeline within %s", wait)
		return nil
	}
}

// none checks that nothing more reached the pipeline yet.
func (f *fixture) none() {
	f.t.Helper()
	select {
	case m := <-f.fx.sent:
		f.t.Fatalf("unexpected message in the pipeline: %d items", m.Items())
	default:
	}
}

func (f *fixture) ack(m *pdata.Message) { f.outcome(m, engine.KindAck, pdata.Nack{}) }

func (f *fixture) nack(m *pdata.Message, n pdata.Nack) { f.outcome(m, engine.KindNack, n) }

func (f *fixture) outcome(m *pdata.Message, k engine.ControlKind, n pdata.Nack) {
	f.t.Helper()
	fr, ok := m.Unwind(pdata.AcksAndNacks)
	if !ok || fr.Node != receiverNode {
		f.t.Fatalf("message carries no frame of the receiver")
	}
	f.r.OnOutcome(engine.Control{Kind: k, CallData: fr.CallData, Nack: n})
}

// metric returns the value of a series of the receiver.
func (f *fixture) metric(name string, labels ...string) float64 {
	f.t.Helper()
	var sum float64
	found := false
next:
	for _, s := range f.reg.Snapshot() {
		if s.Name != name {
			continue
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if !hasLabel(s.Labels, labels[i], labels[i+1]) {
				continue next
			}
		}
		sum += s.Value
		found = true
	}
	if !found {
		f.t.Fatalf("no series %s%v", name, labels)
	}
	return sum
}

func hasLabel(ls []telemetry.Label, name, value string) bool {
	for _, l := range ls {
		if l.Name == name && l.Value == value {
			return true
		}
	}
	return false
}

// client is one OTAP stream of a signal, with the encoder that keeps its
// dictionary state.
type client struct {
	t      *testing.T
	signal pdata.Signal
	stream grpc.ClientStream
	enc    *pdotap.Encoder
	cancel context.CancelFunc
}

func (f *fixture) open(s pdata.Signal, opts ...grpc.CallOption) *client {
	f.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var st grpc.ClientStream
	var err error
	switch s {
	case pdata.Logs:
		st, err = arrowpb.NewArrowLogsServiceClient(f.conn).ArrowLogs(ctx, opts...)
	case pdata.Metrics:
		st, err = arrowpb.NewArrowMetricsServiceClient(f.conn).ArrowMetrics(ctx, opts...)
	default:
		st, err = arrowpb.NewArrowTracesServiceClient(f.conn).ArrowTraces(ctx, opts...)
	}
	if err != nil {
		cancel()
		f.t.Fatal(err)
	}
	c := &client{t: f.t, signal: s, stream: st, enc: pdotap.NewEncoder(pdotap.EncoderOptions{Zstd: true}), cancel: cancel}
	f.t.Cleanup(func() { cancel(); c.enc.Close() })
	return c
}

// send encodes p on the stream and sends it; it returns the batch id.
func (c *client) send(p *pdata.Payload) int64 {
	c.t.Helper()
	bar, err := c.enc.Encode(p)
	if err != nil {
		c.t.Fatalf("encode: %v", err)
	}
	c.sendRaw(bar)
	return bar.BatchId
}

func (c *client) sendRaw(bar *arrowpb.BatchArrowRecords) {
	c.t.Helper()
	if err := c.stream.SendMsg(bar); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// recv returns the next BatchStatus, or the stream's end.
func (c *client) recv() (*arrowpb.BatchStatus, error) {
	st := new(arrowpb.BatchStatus)
	if err := c.stream.RecvMsg(st); err != nil {
		return nil, err
	}
	return st, nil
}

// expect reads the next status and checks it.
func (c *client) expect(batchID int64, code arrowpb.StatusCode) *arrowpb.BatchStatus {
	c.t.Helper()
	st, err := c.recv()
	if err != nil {
		c.t.Fatalf("waiting for batch %d's status: %v", batchID, err)
	}
	if st.BatchId != batchID || st.StatusCode != code {
		c.t.Fatalf("status %d %s %q, want batch %d %s", st.BatchId, st.StatusCode, st.StatusMessage, batchID, code)
	}
	return st
}

// payloads are one small payload of each signal.
func payloadOf(s pdata.Signal, tag string, n int) *pdata.Payload {
	switch s {
	case pdata.Metrics:
		return pdata.FromMetrics(pdatatest.MetricsData(tag, n))
	case pdata.Traces:
		return pdata.FromTraces(pdatatest.TracesData(tag, n))
	}
	return pdata.FromLogs(pdatatest.LogsData(tag, n, 0, 32))
}
