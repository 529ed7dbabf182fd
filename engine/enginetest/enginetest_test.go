package enginetest_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/enginetest"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
	"github.com/ackflow/ackflow/telemetry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// source sends n one-record log messages, then returns, or first waits
// for the drain when hold is set.
type source struct {
	n    int
	hold bool
	sent chan struct{} // closed once the n messages are admitted, if not nil
}

func (s source) Run(ctx context.Context, fx engine.ReceiverEffects) error {
	for range s.n {
		if err := fx.Send(ctx, pdatatest.Msg(pdatatest.Logs(1))); err != nil {
			return fmt.Errorf("source: %w", err)
		}
	}
	if s.sent != nil {
		close(s.sent)
	}
	if s.hold {
		<-ctx.Done()
	}
	return nil
}

func (source) OnOutcome(engine.Control) {}

// sink acks everything, or fails on the first message when fail is set.
type sink struct{ fail bool }

func (s sink) OnPData(m *pdata.Message, fx engine.Effects) error {
	if s.fail {
		return errors.New("sink: refused on purpose")
	}
	fx.NotifyAck(m)
	return nil
}

func (sink) OnControl(engine.Control, engine.Effects) error { return nil }

func factories(src source, out sink) []engine.Factory {
	return []engine.Factory{
		{Type: "receiver:src", NewReceiver: func(engine.NodeContext) (engine.Receiver, error) { return src, nil }},
		{Type: "exporter:out", NewProcessor: func(engine.NodeContext) (engine.Processor, error) { return out, nil }},
	}
}

const body = `
nodes:
  in: { type: receiver:src }
  out: { type: exporter:out }
connections:
  - { from: in, to: out }
`

var doc = enginetest.Pipeline(body)

// fatalTB records failures instead of failing the test; Fatal ends the
// calling goroutine, as testing.T's does.
type fatalTB struct {
	testing.TB
	mu   sync.Mutex
	msgs []string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msgs = append(f.msgs, fmt.Sprintf(format, args...))
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	runtime.Goexit()
}

func (f *fatalTB) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }

func (f *fatalTB) Failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.msgs) > 0
}

// failures runs fn with a fatalTB on its own goroutine and returns what it
// reported. Cleanups fn registers run when t ends.
func failures(t *testing.T, fn func(tb testing.TB)) string {
	tb := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(tb)
	}()
	<-done
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return strings.Join(tb.msgs, "; ")
}

func TestRunWaitsUntilThePipelineFinishes(t *testing.T) {
	eng := enginetest.Run(t, doc, engine.Options{}, factories(source{n: 5}, sink{})...)
	if got := enginetest.Value(t, eng.Metrics(), "ackflow_node_acked_items_total", "node", "out"); got != 5 {
		t.Errorf("acked %v items, want 5", got)
	}
	if got := enginetest.Sum(eng.Metrics(), "ackflow_pipeline_delivered_items_total"); got != 5 {
		t.Errorf("delivered %v items, want 5", got)
	}
}

func TestRunFailsWhenANodeFails(t *testing.T) {
	msg := failures(t, func(tb testing.TB) {
		enginetest.Run(tb, doc, engine.Options{}, factories(source{n: 1, hold: true}, sink{fail: true})...)
	})
	if !strings.Contains(msg, "engine failed") || !strings.Contains(msg, "refused on purpose") {
		t.Fatalf("reported %q, want the node's failure", msg)
	}
}

// A pipeline that never finishes fails Run at Timeout (fake time), and the
// cleanup stops the engine, so nothing outlives the test.
func TestRunFailsOnAHang(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		msg := failures(t, func(tb testing.TB) {
			enginetest.Run(tb, doc, engine.Options{}, factories(source{n: 1, hold: true}, sink{})...)
		})
		if !strings.Contains(msg, "did not finish by itself") {
			t.Fatalf("reported %q, want a hang", msg)
		}
	})
}

func TestStartThenShutdown(t *testing.T) {
	sent := make(chan struct{})
	eng := enginetest.Start(t, doc, engine.Options{}, factories(source{n: 3, hold: true, sent: sent}, sink{})...)
	// Shut down once the three are in: a drain that started earlier would
	// close the source's output under it.
	select {
	case <-sent:
	case <-time.After(enginetest.Timeout):
		t.Fatal("the source did not send its three messages")
	}
	enginetest.Shutdown(t, eng)
	if f := eng.Status()[0].Flow; f.Admitted != 3 || f.Delivered != 3 || f.InFlight() != 0 {
		t.Fatalf("flow %+v, want 3 admitted and delivered", f)
	}
}

// An engine left running is stopped by the cleanup, which fails the test
// that forgot it.
func TestStartFailsATestThatLeavesTheEngineRunning(t *testing.T) {
	var msg string
	t.Run("forgets", func(t *testing.T) {
		tb := &fatalTB{TB: t}
		t.Cleanup(func() { msg = strings.Join(tb.msgs, "; ") }) // cleanups run last first: after Start's
		enginetest.Start(tb, doc, engine.Options{}, factories(source{hold: true}, sink{})...)
	})
	if !strings.Contains(msg, "call Shutdown") {
		t.Fatalf("reported %q, want the forgotten engine", msg)
	}
}

func TestStartFailsOnAnInvalidDocument(t *testing.T) {
	for _, tc := range []struct {
		name, doc, want string
		fs              []engine.Factory
	}{
		{"unknown type", strings.Replace(doc, "exporter:out", "exporter:missing", 1), "config:", factories(source{}, sink{})},
		{"duplicate type", doc, "registry:", append(factories(source{}, sink{}), factories(source{}, sink{})[0])},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := failures(t, func(tb testing.TB) { enginetest.Start(tb, tc.doc, engine.Options{}, tc.fs...) })
			if !strings.Contains(msg, tc.want) {
				t.Fatalf("reported %q, want %q", msg, tc.want)
			}
		})
	}
}

func TestValueAndSum(t *testing.T) {
	reg := telemetry.NewRegistry()
	reg.Counter("x_total", "", telemetry.Labels("node", "a", "signal", "logs")...).Add(2)
	reg.Counter("x_total", "", telemetry.Labels("node", "b", "signal", "logs")...).Add(3)
	reg.Counter("x_total", "", telemetry.Labels("node", "b", "signal", "traces")...).Add(5)
	if got := enginetest.Value(t, reg, "x_total", "node", "b", "signal", "traces"); got != 5 {
		t.Errorf("Value = %v, want 5", got)
	}
	if got := enginetest.Sum(reg, "x_total", "node", "b"); got != 8 {
		t.Errorf("Sum{node=b} = %v, want 8", got)
	}
	if got := enginetest.Sum(reg, "x_total"); got != 10 {
		t.Errorf("Sum = %v, want 10", got)
	}
	if got := enginetest.Sum(reg, "absent_total"); got != 0 {
		t.Errorf("Sum of an absent family = %v, want 0", got)
	}
	if msg := failures(t, func(tb testing.TB) { enginetest.Value(tb, reg, "x_total", "node", "c") }); !strings.Contains(msg, "no series x_total") {
		t.Errorf("Value of an absent series reported %q", msg)
	}
}

// Pipeline indents the body under groups.g.pipelines.p and leaves blank
// lines alone.
func TestPipeline(t *testing.T) {
	got := enginetest.Pipeline("\nnodes:\n  in: { type: receiver:src }\n\nconnections: []\n")
	want := "version: otel_dataflow/v1\ngroups:\n  g:\n    pipelines:\n      p:\n" +
		"        nodes:\n          in: { type: receiver:src }\n\n        connections: []\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}
