package otlp_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/ackflow/ackflow/clock"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/nodes/internal/otlptest"
	"github.com/ackflow/ackflow/nodes/receivers/otlp"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/telemetry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// receiverNode is the id the fake effects give the receiver's frames.
const receiverNode pdata.NodeID = 7

// fakeFx is a ReceiverEffects written for these tests: it captures what
// the receiver sends, can play a full pipeline, and lets the test close
// Aborted. The test resolves captured messages with OnOutcome.
type fakeFx struct {
	clock   *clock.Fake
	sent    chan *pdata.Message
	full    atomic.Bool   // TrySend fails with ErrFull, Send blocks
	unblock chan struct{} // a blocked Send goes through when this is closed
	aborted chan struct{}
	addrs   chan net.Addr // every listener opened, in order
}

func newFakeFx() *fakeFx {
	return &fakeFx{
		clock:   clock.NewFake(nodetest.Start),
		sent:    make(chan *pdata.Message, 64),
		unblock: make(chan struct{}),
		aborted: make(chan struct{}),
		addrs:   make(chan net.Addr, 2),
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
	case <-f.unblock:
		f.sent <- m
		return nil
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

func (f *fakeFx) Aborted() <-chan struct{} { return f.aborted }

func (f *fakeFx) Drop(*pdata.Message, string) {}

func (f *fakeFx) Ports() []string { return []string{"default"} }

// fixture is a running receiver on loopback ports.
type fixture struct {
	t        testing.TB
	fx       *fakeFx
	r        *otlp.Receiver
	reg      *telemetry.Registry
	grpcAddr string
	httpAddr string
	cancel   context.CancelFunc
	done     chan error
	conn     *grpc.ClientConn
	client   *http.Client
	ran      bool // Run returned with runErr
	runErr   error
}

// start runs a receiver with the YAML config block cfg. Ports should be 0.
func start(t testing.TB, cfg string) *fixture {
	t.Helper()
	return startWith(t, cfg, newFakeFx())
}

func startWith(t testing.TB, cfg string, fx *fakeFx) *fixture {
	t.Helper()
	n, err := nodetest.NodeConfig(otlp.Type, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := otlp.NewFactory()
	if err := f.Validate(n); err != nil {
		t.Fatalf("config rejected: %v", err)
	}
	reg := telemetry.NewRegistry()
	rcv, err := f.NewReceiver(engine.NodeContext{
		Node: n, Pipeline: "test/main", Clock: fx.clock,
		Metrics: reg, Labels: telemetry.Labels("pipeline", "test/main", "node", "in"),
	})
	if err != nil {
		t.Fatal(err)
	}
	fix := &fixture{t: t, fx: fx, r: rcv.(*otlp.Receiver), reg: reg, done: make(chan error, 1),
		client: &http.Client{Transport: &http.Transport{}}}
	ctx, cancel := context.WithCancel(context.Background())
	fix.cancel = cancel
	go func() { fix.done <- rcv.Run(ctx, fx) }()
	cfgd, _ := otlp.Decode(n)
	if cfgd.Protocols.GRPC != nil {
		fix.grpcAddr = otlptest.Recv(t, fx.addrs, "grpc listener").String()
	}
	if cfgd.Protocols.HTTP != nil {
		fix.httpAddr = otlptest.Recv(t, fx.addrs, "http listener").String()
	}
	t.Cleanup(fix.stop)
	return fix
}

// stop drains the receiver (aborting at once) and waits for Run. It may
// be called more than once.
func (f *fixture) stop() {
	if f.conn != nil {
		_ = f.conn.Close()
		f.conn = nil
	}
	f.client.CloseIdleConnections()
	f.cancel()
	f.abort()
	if err := f.waitRun(); err != nil {
		f.t.Errorf("Run: %v", err)
	}
}

// abort plays the shutdown deadline.
func (f *fixture) abort() {
	select {
	case <-f.fx.aborted:
	default:
		close(f.fx.aborted)
	}
}

// waitRun waits for Run to return and returns its error.
func (f *fixture) waitRun() error {
	f.t.Helper()
	if !f.ran {
		f.runErr = otlptest.Recv(f.t, f.done, "Run to return")
		f.ran = true
	}
	return f.runErr
}

// grpcConn returns a client connection to the gRPC listener.
func (f *fixture) grpcConn() *grpc.ClientConn {
	f.t.Helper()
	if f.conn == nil {
		conn, err := grpc.NewClient(f.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			f.t.Fatal(err)
		}
		f.conn = conn
	}
	return f.conn
}

// next returns the next message the receiver sent into the pipeline.
func (f *fixture) next() *pdata.Message {
	f.t.Helper()
	return otlptest.Recv(f.t, f.fx.sent, "message sent into the pipeline")
}

// noneSent fails if the receiver sent anything.
func (f *fixture) noneSent() {
	f.t.Helper()
	select {
	case m := <-f.fx.sent:
		f.t.Fatalf("the receiver forwarded %v", m)
	default:
	}
}

// resolve plays the pipeline's answer for m, as the engine would: an ack
// or nack with the call data of the receiver's frame.
func (f *fixture) resolve(m *pdata.Message, ack bool, n pdata.Nack) {
	f.t.Helper()
	top, ok := m.Top()
	if !ok || top.Node != receiverNode {
		f.t.Fatalf("message has no receiver frame: %v", m)
	}
	c := engine.Control{Kind: engine.KindNack, Msg: m, CallData: top.CallData, Nack: n}
	if ack {
		c.Kind = engine.KindAck
	}
	f.r.OnOutcome(c)
}

// counter returns the value of the series name whose labels include want.
func (f *fixture) counter(name string, want ...string) float64 {
	f.t.Helper()
	total := 0.0
	for _, s := range f.reg.Snapshot() {
		if s.Name != name {
			continue
		}
		if matches(s.Labels, want) {
			total += s.Value
		}
	}
	return total
}

func matches(ls []telemetry.Label, want []string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		found := false
		for _, l := range ls {
			if l.Name == want[i] && l.Value == want[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// httpResult is an HTTP answer as the tests inspect it.
type httpResult struct {
	status int
	header http.Header
	body   []byte
	err    error
}

// post sends an HTTP request in the background; the result arrives on the
// returned channel.
func (f *fixture) post(path, contentType, encoding string, body []byte) <-chan httpResult {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+f.httpAddr+path, bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	return f.do(req)
}

func (f *fixture) do(req *http.Request) <-chan httpResult {
	ch := make(chan httpResult, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), otlptest.Wait)
		defer cancel()
		resp, err := f.client.Do(req.WithContext(ctx))
		if err != nil {
			ch <- httpResult{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		ch <- httpResult{status: resp.StatusCode, header: resp.Header, body: b, err: err}
	}()
	return ch
}

// async runs a blocking client call in the background.
func async(call func(ctx context.Context) error) <-chan error {
	ch := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), otlptest.Wait)
		defer cancel()
		ch <- call(ctx)
	}()
	return ch
}
