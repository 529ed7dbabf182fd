package exportdriver_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/nodes/internal/exportdriver"
	"github.com/ackflow/ackflow/nodes/internal/otlptest"
	"github.com/ackflow/ackflow/otlp/otlpgrpc"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// fakeTransport hands each export to the test, which answers it.
type fakeTransport struct {
	calls  chan *fakeCall
	closed atomic.Int32
}

type fakeCall struct {
	ctx    context.Context
	signal pdata.Signal
	chunks [][]byte
	reply  chan exportdriver.Result
}

func (f *fakeTransport) Export(ctx context.Context, p *pdata.Payload) exportdriver.Result {
	chunks, err := p.Chunks()
	if err != nil {
		return exportdriver.EncodeFailure("OTLP", p.Signal(), err)
	}
	c := &fakeCall{ctx: ctx, signal: p.Signal(), chunks: chunks, reply: make(chan exportdriver.Result, 1)}
	f.calls <- c
	select {
	case r := <-c.reply:
		return r
	case <-ctx.Done():
		return exportdriver.Result{Status: "canceled", Err: context.Cause(ctx), Permanent: true}
	}
}

func (f *fakeTransport) Close() error { f.closed.Add(1); return nil }

type driverFixture struct {
	h       *nodetest.Harness
	tr      *fakeTransport
	metrics *exportdriver.Metrics
}

func newDriver(t *testing.T, maxInFlight int, timeout time.Duration) *driverFixture {
	t.Helper()
	f := &driverFixture{tr: &fakeTransport{calls: make(chan *fakeCall, 16)}}
	factory := engine.Factory{
		Type: "exporter:fake",
		NewProcessor: func(nc engine.NodeContext) (engine.Processor, error) {
			f.metrics = exportdriver.NewMetrics(nc.Metrics, "ackflow_exporter_fake", nc.Labels)
			return exportdriver.NewDriver(exportdriver.DriverConfig{
				Name: "fake", Timeout: timeout, MaxInFlight: maxInFlight, Metrics: f.metrics,
			}, f.tr), nil
		},
	}
	f.h = nodetest.New(t, factory, "")
	return f
}

func (f *driverFixture) call(t *testing.T) *fakeCall {
	t.Helper()
	return otlptest.Recv(t, f.tr.calls, "export call")
}

// settle delivers completions until nothing is in flight.
func (f *driverFixture) settle(t *testing.T) {
	t.Helper()
	for f.h.Pending() > 0 {
		if f.h.WaitAsync(otlptest.Wait) == 0 {
			t.Fatalf("exports still in flight after %s", otlptest.Wait)
		}
	}
}

func TestDriverOutcomes(t *testing.T) {
	tests := []struct {
		name          string
		res           exportdriver.Result
		wantAck       bool
		wantPermanent bool
		wantReason    string
	}{
		{"ok", exportdriver.Result{Status: "ok"}, true, false, ""},
		{"partial success acks", exportdriver.Result{Status: "ok", Partial: otlpgrpc.PartialSuccess{Rejected: 1}}, true, false, ""},
		{"transient", exportdriver.Result{Status: "unavailable", Err: errors.New("unavailable: down")}, false, false, "fake: unavailable: down"},
		{"permanent", exportdriver.Result{Status: "invalid_argument", Err: errors.New("invalid_argument: bad"), Permanent: true}, false, true, "fake: invalid_argument: bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDriver(t, 4, time.Minute)
			id := f.h.SendPData(pdatatest.Msg(pdatatest.Logs(3)))
			c := f.call(t)
			if c.signal != pdata.Logs {
				t.Fatalf("signal %s", c.signal)
			}
			c.reply <- tt.res
			f.settle(t)
			if tt.wantAck {
				f.h.RequireAcked(id)
			} else {
				n := f.h.RequireNacked(id)[0].Nack
				if n.Permanent != tt.wantPermanent || n.Reason != tt.wantReason {
					t.Fatalf("nack %v, want permanent=%t reason %q", n, tt.wantPermanent, tt.wantReason)
				}
			}
			if got := f.metrics.Requests(pdata.Logs, tt.res.Status); got != 1 {
				t.Fatalf("requests{status=%s} = %d, want 1", tt.res.Status, got)
			}
			if got, want := f.metrics.Rejected(pdata.Logs), uint64(tt.res.Partial.Rejected); got != want {
				t.Fatalf("rejected = %d, want %d", got, want)
			}
			f.h.Shutdown(f.h.Clock.Now().Add(time.Second))
			if f.tr.closed.Load() != 1 {
				t.Fatal("transport not closed at shutdown")
			}
		})
	}
}

func TestDriverGateHoldsPDataAtMaxInFlight(t *testing.T) {
	f := newDriver(t, 2, time.Minute)
	ids := []uint64{
		f.h.SendPData(pdatatest.Msg(pdatatest.Logs(1))),
		f.h.SendPData(pdatatest.Msg(pdatatest.Logs(2))),
		f.h.SendPData(pdatatest.Msg(pdatatest.Logs(3))),
	}
	first, second := f.call(t), f.call(t)
	if f.h.Pending() != 2 || f.h.Queued() != 1 || f.metrics.InFlight() != 2 {
		t.Fatalf("pending %d, queued %d, in flight %d; want 2, 1, 2", f.h.Pending(), f.h.Queued(), f.metrics.InFlight())
	}
	first.reply <- exportdriver.Result{Status: "ok"}
	for f.h.Queued() > 0 { // the completion frees a slot; the gate opens
		if f.h.WaitAsync(otlptest.Wait) == 0 {
			t.Fatal("no completion")
		}
	}
	third := f.call(t)
	second.reply <- exportdriver.Result{Status: "ok"}
	third.reply <- exportdriver.Result{Status: "ok"}
	f.settle(t)
	f.h.RequireAcked(ids...)
	f.h.Shutdown(f.h.Clock.Now())
}

func TestDriverTimeoutNacksTransient(t *testing.T) {
	f := newDriver(t, 1, time.Millisecond)
	id := f.h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	f.call(t) // never answered: the export's context ends
	f.settle(t)
	n := f.h.RequireNacked(id)[0].Nack
	if n.Permanent || n.Cause != pdata.CauseTimeout || !strings.Contains(n.Reason, "no answer within 1ms") {
		t.Fatalf("nack %v, want transient timeout", n)
	}
	f.h.Shutdown(f.h.Clock.Now())
}

func TestDriverForcedShutdownNacksWhatIsInFlight(t *testing.T) {
	f := newDriver(t, 4, time.Minute)
	a := f.h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	b := f.h.SendPData(pdatatest.Msg(pdatatest.Traces(2)))
	f.call(t)
	f.call(t)
	f.h.Shutdown(f.h.Clock.Now().Add(time.Second))
	if f.h.Pending() != 2 || f.tr.closed.Load() != 0 {
		t.Fatalf("after Shutdown: pending %d, closed %d; want 2 and open", f.h.Pending(), f.tr.closed.Load())
	}
	f.h.ForceShutdown()
	for _, o := range f.h.RequireNacked(a, b) {
		if o.Nack.Cause != pdata.CauseNodeShutdown || o.Nack.Permanent {
			t.Fatalf("nack %v, want transient node_shutdown", o.Nack)
		}
	}
	if f.h.Pending() != 0 || f.tr.closed.Load() != 1 || f.metrics.InFlight() != 0 {
		t.Fatalf("after forced shutdown: pending %d, closed %d, in flight %d", f.h.Pending(), f.tr.closed.Load(), f.metrics.InFlight())
	}
	f.h.DeliverAsync() // late completions are ignored
	if len(f.h.TakeUpstream()) != 0 {
		t.Fatal("an export was answered twice")
	}
}

func TestDriverGracefulShutdownWaitsForExports(t *testing.T) {
	f := newDriver(t, 4, time.Minute)
	id := f.h.SendPData(pdatatest.Msg(pdatatest.Metrics(4)))
	c := f.call(t)
	f.h.Shutdown(f.h.Clock.Now().Add(time.Minute))
	if f.h.Pending() != 1 || f.tr.closed.Load() != 0 {
		t.Fatal("shutdown did not wait for the export in flight")
	}
	c.reply <- exportdriver.Result{Status: "ok"}
	f.settle(t)
	f.h.RequireAcked(id)
	if f.tr.closed.Load() != 1 {
		t.Fatal("transport not closed after the last export")
	}
}

func TestDriverEncodesDecodedPayloads(t *testing.T) {
	f := newDriver(t, 1, time.Minute)
	id := f.h.SendPData(pdata.New(pdata.FromLogs(pdatatest.LogsData("d", 5, 0, 8))))
	c := f.call(t)
	var body []byte
	for _, ch := range c.chunks {
		body = append(body, ch...)
	}
	p, err := pdata.FromOTLP(pdata.Logs, body)
	if err != nil || p.Items() != 5 {
		t.Fatalf("exported body: %v", err)
	}
	c.reply <- exportdriver.Result{Status: "ok"}
	f.settle(t)
	f.h.RequireAcked(id)
	f.h.Shutdown(f.h.Clock.Now())
}
