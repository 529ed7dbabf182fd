package trafficgen_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ackflow/ackflow/clock"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/enginetest"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/nodes/receivers/trafficgen"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/telemetry"
)

// genID is the node id of the generator on the routes the fake builds.
const genID pdata.NodeID = 1

// fakeFx is the engine as a receiver sees it: it records what is sent and
// can hold sends (backpressure), fail them, or abort.
type fakeFx struct {
	clk     *clock.Fake
	aborted chan struct{}
	hold    chan struct{} // non-nil: each Send waits for a token (or ctx, or abort)
	sendErr error

	abortOnce sync.Once

	mu   sync.Mutex
	sent []*pdata.Message
}

// abort closes Aborted, once: the shutdown deadline. Tests defer it so that
// a failed test does not leave Run blocked in the bubble.
func (f *fakeFx) abort() { f.abortOnce.Do(func() { close(f.aborted) }) }

var _ engine.ReceiverEffects = (*fakeFx)(nil)

func newFakeFx(clk *clock.Fake) *fakeFx { return &fakeFx{clk: clk, aborted: make(chan struct{})} }

func (f *fakeFx) Now() time.Time { return f.clk.Now() }

func (f *fakeFx) Send(ctx context.Context, m *pdata.Message) error {
	if f.hold != nil {
		select {
		case <-f.hold:
		case <-ctx.Done():
			return ctx.Err()
		case <-f.aborted:
			return engine.ErrAborted
		}
	}
	if f.sendErr != nil {
		return f.sendErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, m)
	return nil
}

func (f *fakeFx) SendTo(ctx context.Context, _ string, m *pdata.Message) error { return f.Send(ctx, m) }

func (f *fakeFx) TrySend(m *pdata.Message) error { return f.Send(context.Background(), m) }

func (f *fakeFx) Subscribe(m *pdata.Message, in pdata.Interests, cd pdata.CallData) {
	m.Subscribe(genID, in, cd)
}

func (f *fakeFx) Listen(context.Context, string, string) (net.Listener, error) {
	return nil, errors.New("fakeFx: no sockets")
}

func (f *fakeFx) Aborted() <-chan struct{} { return f.aborted }

func (f *fakeFx) Drop(*pdata.Message, string) {}

func (f *fakeFx) Ports() []string { return []string{"default"} }

// take returns and forgets the messages sent so far.
func (f *fakeFx) take() []*pdata.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.sent
	f.sent = nil
	return s
}

// items sums the items of ms by signal.
func items(ms []*pdata.Message) (bySignal [3]int, total int) {
	for _, m := range ms {
		bySignal[m.Payload().Signal()] += m.Items()
		total += m.Items()
	}
	return bySignal, total
}

// answer plays downstream: it acks (or nacks with n) m back to the
// generator, as the engine's routing would.
func answer(t *testing.T, r engine.Receiver, m *pdata.Message, ack bool, n pdata.Nack) {
	t.Helper()
	want, kind := pdata.Nacks, engine.KindNack
	if ack {
		want, kind = pdata.Acks, engine.KindAck
	}
	f, ok := m.Unwind(want)
	if !ok || f.Node != genID {
		t.Fatalf("%v: no frame of the generator interested in %v", m, want)
	}
	r.OnOutcome(engine.Control{Kind: kind, Msg: m, CallData: f.CallData, Nack: n})
}

// build returns a generator for the config block cfg on the fake clock.
func build(t *testing.T, clk *clock.Fake, reg *telemetry.Registry, cfg string) engine.Receiver {
	t.Helper()
	n, err := nodetest.NodeConfig(trafficgen.Type, cfg, []string{"default"})
	if err != nil {
		t.Fatal(err)
	}
	f := trafficgen.NewFactory()
	if err := f.Validate(n); err != nil {
		t.Fatalf("config rejected: %v", err)
	}
	r, err := f.NewReceiver(engine.NodeContext{
		Node: n, Pipeline: "test/main", Clock: clk, Metrics: reg,
		Labels: telemetry.Labels("pipeline", "test/main", "node", "gen"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// run starts r.Run on its own goroutine; the channel yields its result.
func run(ctx context.Context, r engine.Receiver, fx engine.ReceiverEffects) <-chan error {
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, fx) }()
	return done
}

// returned reports whether Run has returned, after every goroutine of the
// bubble has settled.
func returned(done <-chan error) (error, bool) {
	synctest.Wait()
	select {
	case err := <-done:
		return err, true
	default:
		return nil, false
	}
}

func TestStopsAtMaxSignalCount(t *testing.T) {
	tests := []struct {
		name     string
		cfg      string
		want     [3]int // items by signal: logs, metrics, traces
		messages int
	}{
		{
			name: "logs only by default, short last message",
			cfg:  "traffic_config: { max_signal_count: 250 }",
			want: [3]int{250, 0, 0}, messages: 3,
		},
		{
			name: "weights 60/30/10",
			cfg:  "traffic_config: { max_signal_count: 10000, log_weight: 60, metric_weight: 30, trace_weight: 10 }",
			want: [3]int{6000, 3000, 1000}, messages: 100,
		},
		{
			name: "equal weights, ties to logs then metrics",
			cfg:  "traffic_config: { max_signal_count: 1000, log_weight: 1, metric_weight: 1, trace_weight: 1 }",
			want: [3]int{400, 300, 300}, messages: 10,
		},
		{
			name: "one signal named, the others are 0",
			cfg:  "traffic_config: { max_signal_count: 120, max_batch_size: 50, metric_weight: 5 }",
			want: [3]int{0, 120, 0}, messages: 3,
		},
		{
			name: "limit below a batch",
			cfg:  "traffic_config: { max_signal_count: 7, trace_weight: 2, log_weight: 1 }",
			want: [3]int{0, 0, 7}, messages: 1, // ties go to the heavier signal
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				clk := clock.NewFake(nodetest.Start)
				fx := newFakeFx(clk)
				defer fx.abort()
				defer fx.abort()
				done := run(context.Background(), build(t, clk, nil, tt.cfg), fx)
				err, ok := returned(done)
				if !ok {
					t.Fatal("Run did not return by itself after max_signal_count")
				}
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				sent := fx.take()
				got, _ := items(sent)
				if got != tt.want || len(sent) != tt.messages {
					t.Fatalf("sent %v items by signal in %d messages, want %v in %d", got, len(sent), tt.want, tt.messages)
				}
			})
		})
	}
}

// The payloads are real OTLP: they decode to the counted items, and log
// bodies have the configured size.
func TestPayloadsDecode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clock.NewFake(nodetest.Start)
		fx := newFakeFx(clk)
		defer fx.abort()
		cfg := "traffic_config: { max_signal_count: 300, max_batch_size: 37, log_weight: 1, metric_weight: 1, trace_weight: 1, log_body_size_bytes: 64 }"
		if _, ok := returned(run(context.Background(), build(t, clk, nil, cfg), fx)); !ok {
			t.Fatal("Run did not return")
		}
		for _, m := range fx.take() {
			p := m.Payload()
			var n int
			switch p.Signal() {
			case pdata.Logs:
				ld, err := p.Logs()
				if err != nil {
					t.Fatal(err)
				}
				n = ld.LogRecordCount()
				lr := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
				if got := len(lr.Body().Str()); got != 64 {
					t.Fatalf("log body is %d bytes, want 64", got)
				}
			case pdata.Metrics:
				md, err := p.Metrics()
				if err != nil {
					t.Fatal(err)
				}
				n = md.DataPointCount()
			case pdata.Traces:
				td, err := p.Traces()
				if err != nil {
					t.Fatal(err)
				}
				n = td.SpanCount()
			}
			if n != m.Items() {
				t.Fatalf("%v decodes to %d items", m, n)
			}
		}
	})
}

func TestRateLimitWithFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clock.NewFake(nodetest.Start)
		fx := newFakeFx(clk)
		defer fx.abort()
		ctx, cancel := context.WithCancel(context.Background())
		done := run(ctx, build(t, clk, nil, "traffic_config: { signals_per_second: 1000 }"), fx)

		steps := []struct {
			advance time.Duration
			want    int // items sent in total
		}{
			{0, 100},                       // the first message goes at once
			{50 * time.Millisecond, 100},   // the next is due at 100ms
			{50 * time.Millisecond, 200},   // 100ms
			{900 * time.Millisecond, 1100}, // 1s: late batches go at once, up to the schedule
			{5 * time.Second, 1200},        // 6s: more than a second behind: no catch-up burst
			{100 * time.Millisecond, 1300}, // the schedule restarted from 6s
		}
		total := 0
		for i, s := range steps {
			clk.Advance(s.advance)
			synctest.Wait()
			_, n := items(fx.take())
			total += n
			if total != s.want {
				t.Fatalf("step %d (+%v, at %v): %d items sent, want %d", i, s.advance, clk.Now().Sub(nodetest.Start), total, s.want)
			}
		}
		cancel()
		if err, ok := returned(done); !ok || err != nil {
			t.Fatalf("Run after cancel: returned %v, err %v", ok, err)
		}
		if clk.Timers() != 0 {
			t.Fatalf("%d timers left armed", clk.Timers())
		}
	})
}

// A rate below max_batch_size makes messages of a second's worth.
func TestLowRateSmallMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clock.NewFake(nodetest.Start)
		fx := newFakeFx(clk)
		defer fx.abort()
		ctx, cancel := context.WithCancel(context.Background())
		done := run(ctx, build(t, clk, nil, "traffic_config: { signals_per_second: 30, max_signal_count: 100 }"), fx)
		var sizes []int
		for range 4 {
			synctest.Wait()
			for _, m := range fx.take() {
				sizes = append(sizes, m.Items())
			}
			clk.Advance(time.Second)
		}
		if err, ok := returned(done); !ok || err != nil {
			t.Fatalf("Run: returned %v, err %v", ok, err)
		}
		if want := []int{30, 30, 30, 10}; !slices.Equal(sizes, want) {
			t.Fatalf("message sizes %v, want %v", sizes, want)
		}
		cancel()
	})
}

func TestAckNackCountedAndInflightBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clock.NewFake(nodetest.Start)
		reg := telemetry.NewRegistry()
		fx := newFakeFx(clk)
		defer fx.abort()
		cfg := `
traffic_config: { max_signal_count: 1000, log_weight: 1, metric_weight: 1 }
enable_ack_nack: true
max_inflight: 4`
		g := build(t, clk, reg, cfg)
		done := run(context.Background(), g, fx)

		if _, ok := returned(done); ok {
			t.Fatal("Run returned with outcomes outstanding")
		}
		first := fx.take()
		if len(first) != 4 {
			t.Fatalf("%d messages in flight, want max_inflight 4", len(first))
		}
		if got := enginetest.Value(t, reg, "ackflow_receiver_traffic_generator_in_flight"); got != 4 {
			t.Fatalf("in_flight = %v, want 4", got)
		}
		// logs, metrics, logs, metrics: ack three, nack the second metrics.
		answer(t, g, first[0], true, pdata.Nack{})
		answer(t, g, first[1], true, pdata.Nack{})
		answer(t, g, first[2], true, pdata.Nack{})
		answer(t, g, first[3], false, pdata.Nack{Reason: "backend down", Cause: pdata.CauseTimeout})
		if _, ok := returned(done); ok {
			t.Fatal("Run returned early")
		}
		if next := fx.take(); len(next) != 4 {
			t.Fatalf("after 4 outcomes %d more messages were sent, want 4", len(next))
		} else {
			for _, m := range next {
				answer(t, g, m, true, pdata.Nack{})
			}
		}
		// The last two messages; answering them lets Run return.
		synctest.Wait()
		last := fx.take()
		if len(last) != 2 {
			t.Fatalf("last round: %d messages, want 2", len(last))
		}
		answer(t, g, last[0], true, pdata.Nack{})
		if _, ok := returned(done); ok {
			t.Fatal("Run returned before its last outcome")
		}
		answer(t, g, last[1], false, pdata.Nack{Reason: "no", Cause: pdata.CauseRouteClosed, Permanent: true})
		if err, ok := returned(done); !ok || err != nil {
			t.Fatalf("Run: returned %v, err %v", ok, err)
		}
		for _, c := range []struct {
			name   string
			labels []string
			want   float64
		}{
			{"ackflow_receiver_traffic_generator_sent_items_total", []string{"signal", "logs"}, 500},
			{"ackflow_receiver_traffic_generator_sent_items_total", []string{"signal", "metrics"}, 500},
			{"ackflow_receiver_traffic_generator_sent_messages_total", []string{"signal", "logs"}, 5},
			{"ackflow_receiver_traffic_generator_acked_items_total", []string{"signal", "logs"}, 500},
			{"ackflow_receiver_traffic_generator_acked_items_total", []string{"signal", "metrics"}, 300},
			{"ackflow_receiver_traffic_generator_nacked_items_total", []string{"signal", "metrics", "cause", "timeout"}, 100},
			{"ackflow_receiver_traffic_generator_nacked_items_total", []string{"signal", "metrics", "cause", "route_closed"}, 100},
			{"ackflow_receiver_traffic_generator_nacked_items_total", []string{"signal", "logs", "cause", "timeout"}, 0},
			{"ackflow_receiver_traffic_generator_in_flight", nil, 0},
		} {
			if got := enginetest.Value(t, reg, c.name, c.labels...); got != c.want {
				t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
			}
		}
	})
}

func TestDrainWaitsForOutcomes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clock.NewFake(nodetest.Start)
		fx := newFakeFx(clk)
		defer fx.abort()
		g := build(t, clk, nil, "enable_ack_nack: true\nmax_inflight: 3")
		ctx, cancel := context.WithCancel(context.Background())
		done := run(ctx, g, fx)
		synctest.Wait()
		sent := fx.take()
		if len(sent) != 3 {
			t.Fatalf("%d messages sent, want 3", len(sent))
		}
		cancel() // the drain: stop admitting, wait for the outcomes
		for i, m := range sent {
			if _, ok := returned(done); ok {
				t.Fatalf("Run returned with %d outcomes outstanding", len(sent)-i)
			}
			answer(t, g, m, i != 1, pdata.Nack{Cause: pdata.CauseNodeShutdown})
		}
		if err, ok := returned(done); !ok || err != nil {
			t.Fatalf("Run after the last outcome: returned %v, err %v", ok, err)
		}
		if n := len(fx.take()); n != 0 {
			t.Fatalf("%d messages sent after the drain started", n)
		}
	})
}

func TestAbortReturnsAtOnce(t *testing.T) {
	tests := []struct {
		name  string
		cfg   string
		hold  bool // sends block (backpressure)
		drain bool // the drain starts before the deadline
	}{
		{name: "draining, waiting for outcomes", cfg: "enable_ack_nack: true\nmax_inflight: 2", drain: true},
		{name: "waiting for a slot", cfg: "enable_ack_nack: true\nmax_inflight: 2"},
		{name: "blocked in send", cfg: "enable_ack_nack: true", hold: true},
		{name: "blocked in send, fire and forget", hold: true},
		{name: "waiting for the rate", cfg: "traffic_config: { signals_per_second: 1 }"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				clk := clock.NewFake(nodetest.Start)
				fx := newFakeFx(clk)
				defer fx.abort()
				defer fx.abort()
				if tt.hold {
					fx.hold = make(chan struct{})
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				done := run(ctx, build(t, clk, nil, tt.cfg), fx)
				if tt.drain {
					synctest.Wait() // max_inflight messages sent
					cancel()
				}
				if _, ok := returned(done); ok {
					t.Fatal("Run returned before the abort")
				}
				fx.abort() // the engine closes it after cancelling ctx; either alone must do
				if err, ok := returned(done); !ok || err != nil {
					t.Fatalf("Run after abort: returned %v, err %v", ok, err)
				}
			})
		})
	}
}

// Cancelling while a send is held by backpressure stops Run at once when
// it does not wait for outcomes.
func TestDrainWhileBlockedInSend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clock.NewFake(nodetest.Start)
		fx := newFakeFx(clk)
		defer fx.abort()
		fx.hold = make(chan struct{})
		ctx, cancel := context.WithCancel(context.Background())
		done := run(ctx, build(t, clk, nil, ""), fx)
		fx.hold <- struct{}{}
		fx.hold <- struct{}{}
		synctest.Wait()
		cancel()
		if err, ok := returned(done); !ok || err != nil {
			t.Fatalf("Run after cancel: returned %v, err %v", ok, err)
		}
		if _, n := items(fx.take()); n != 200 {
			t.Fatalf("%d items sent, want 200", n)
		}
	})
}

func TestSendFailureIsReturned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clock.NewFake(nodetest.Start)
		fx := newFakeFx(clk)
		defer fx.abort()
		fx.sendErr = engine.ErrClosed
		err, ok := returned(run(context.Background(), build(t, clk, nil, "enable_ack_nack: true"), fx))
		if !ok {
			t.Fatal("Run did not return after a failed send")
		}
		if !errors.Is(err, engine.ErrClosed) {
			t.Fatalf("Run = %v, want it to wrap %v", err, engine.ErrClosed)
		}
	})
}
