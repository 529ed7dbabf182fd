package retry_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/enginetest"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/nodes/processors/retry"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
	"github.com/ackflow/ackflow/telemetry"
)

// The node runs no goroutine of its own; the check guards the harness and
// any future change.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// cfgExact has no jitter, so that every wait is known: 1s, 2s, 4s, ... 30s.
const cfgExact = `
initial_interval: 1s
max_interval: 30s
multiplier: 2
randomization_factor: 0
max_elapsed_time: 0
`

const port = "default"

var transient = pdata.Nack{Reason: "503 unavailable", Cause: pdata.CauseUnspecified}

func logs() *pdata.Message { return pdatatest.Msg(pdatatest.Logs(2)) }

func newHarness(t *testing.T, cfg string, opts ...nodetest.Option) (*nodetest.Harness, *telemetry.Registry) {
	t.Helper()
	reg := telemetry.NewRegistry()
	return nodetest.New(t, retry.NewFactory(), cfg, append(opts, nodetest.WithRegistry(reg))...), reg
}

func requireMetrics(t *testing.T, reg *telemetry.Registry, want map[string]float64) {
	t.Helper()
	for key, v := range want {
		name, label, _ := strings.Cut(key, " ")
		var pairs []string
		if label != "" {
			k, val, _ := strings.Cut(label, "=")
			pairs = []string{k, val}
		}
		if got := enginetest.Value(t, reg, "ackflow_processor_retry_"+name, pairs...); got != v {
			t.Errorf("%s = %v, want %v", key, got, v)
		}
	}
}

func requireCallData(t *testing.T, m *pdata.Message, attempt uint64, first time.Time) {
	t.Helper()
	top, ok := m.Top()
	if !ok || top.Node != nodetest.NodeID {
		t.Fatalf("top frame %+v (ok %v) is not the node's", top, ok)
	}
	want := pdata.CallData{attempt, uint64(first.UnixNano()), 0}
	if top.CallData != want || top.Interests != pdata.Acks|pdata.Nacks|pdata.ReturnData {
		t.Fatalf("frame = %v %v, want %v acks|nacks|return_data", top.CallData, top.Interests, want)
	}
}

// advanceUntilSent steps the clock until the node sends something or
// answers upstream, and returns how long that took.
func advanceUntilSent(t *testing.T, h *nodetest.Harness, step time.Duration) time.Duration {
	t.Helper()
	start := h.Clock.Now()
	for range 100_000 {
		if len(h.Sent(port)) > 0 || len(h.Upstream()) > 0 {
			return h.Clock.Now().Sub(start)
		}
		h.Advance(step)
	}
	t.Fatalf("nothing sent after %s", h.Clock.Now().Sub(start))
	return 0
}

func TestRetryThenSuccess(t *testing.T) {
	h, reg := newHarness(t, cfgExact)
	id := h.SendPData(logs())
	m := h.RequireSent(port, 1)[0]
	requireCallData(t, m, 1, nodetest.Start)

	h.Nack(m, transient)
	if h.RequireSent(port, 0); h.Wakeups() != 1 || h.Pending() != 1 || h.Resumes() != 0 {
		t.Fatalf("after nack: wakeups %d, pending %d, resumes %d, want 1, 1 and 0 (parked in the node)", h.Wakeups(), h.Pending(), h.Resumes())
	}
	requireMetrics(t, reg, map[string]float64{"parked": 1, "in_flight": 0})
	h.RequireAcked() // nothing upstream yet
	h.Advance(999 * time.Millisecond)
	h.RequireSent(port, 0)
	h.Advance(time.Millisecond) // first retry at 1s
	if got := h.RequireSent(port, 1)[0]; got != m {
		t.Fatal("the retry is not the refused message")
	}
	requireCallData(t, m, 2, nodetest.Start)

	h.Nack(m, transient)
	h.Advance(1999 * time.Millisecond)
	h.RequireSent(port, 0)
	h.Advance(time.Millisecond) // second retry 2s later
	h.RequireSent(port, 1)
	requireCallData(t, m, 3, nodetest.Start)

	h.Ack(m)
	h.RequireAcked(id)
	if h.Pending() != 0 {
		t.Fatalf("pending = %d after the ack", h.Pending())
	}
	requireMetrics(t, reg, map[string]float64{
		"retries_total retry=1": 1, "retries_total retry=2": 1, "retries_total retry=3": 0,
		"resumed_total": 2, "recovered_total": 1, "in_flight": 0, "parked": 0,
		"gave_up_total reason=max_retries": 0, "max_parked": 1000, "throttled": 0,
	})
}

func TestAckWithoutRetryIsNotRecovered(t *testing.T) {
	h, reg := newHarness(t, "")
	id := h.SendPData(logs())
	if h.Pending() != 1 {
		t.Fatalf("pending = %d, want 1", h.Pending())
	}
	h.Ack(h.RequireSent(port, 1)[0])
	h.RequireAcked(id)
	requireMetrics(t, reg, map[string]float64{"recovered_total": 0, "in_flight": 0})
}

func TestPermanentNackPassesThrough(t *testing.T) {
	tests := []struct {
		name       string
		transients int // transient nacks before the permanent one
		wantReason string
	}{
		{"first attempt", 0, "retry: permanent failure, not retried after 1 attempt over 0s: schema rejected"},
		{"after retries", 2, "retry: permanent failure, not retried after 3 attempts over 3s: schema rejected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, reg := newHarness(t, cfgExact)
			id := h.SendPData(logs())
			for range tt.transients {
				h.Nack(h.RequireSent(port, 1)[0], transient)
				advanceUntilSent(t, h, 100*time.Millisecond)
			}
			h.Nack(h.RequireSent(port, 1)[0], pdata.Nack{Reason: "schema rejected", Permanent: true, Cause: pdata.CauseCapacity})
			got := h.RequireNacked(id)[0].Nack
			want := pdata.Nack{Reason: tt.wantReason, Permanent: true, Cause: pdata.CauseCapacity}
			if got != want {
				t.Fatalf("upstream nack = %v, want %v", got, want)
			}
			if h.Wakeups() != 0 || h.Pending() != 0 {
				t.Fatalf("wakeups %d, pending %d after a permanent nack", h.Wakeups(), h.Pending())
			}
			requireMetrics(t, reg, map[string]float64{"gave_up_total reason=permanent": 1})
		})
	}
}

func TestRetriesExhausted(t *testing.T) {
	tests := []struct {
		name      string
		cfg       string
		latency   time.Duration // downstream's time to answer each attempt
		wantSends int
		wantNack  string
		label     string
	}{
		{
			name:      "by count",
			cfg:       cfgExact + "max_retries: 3\n",
			wantSends: 4, // first attempt + 3 retries, at 0s, 1s, 3s, 7s
			wantNack:  "retry: gave up after 4 attempts over 7s (max_retries 3): 503 unavailable",
			label:     "max_retries",
		},
		{
			name:      "by time: the next retry would pass the limit",
			cfg:       strings.Replace(cfgExact, "max_elapsed_time: 0", "max_elapsed_time: 10s", 1),
			wantSends: 4, // at 7s the next wait is 8s: 15s > 10s
			wantNack:  "retry: gave up after 4 attempts over 7s (the next retry, in 8s, would pass max_elapsed_time 10s): 503 unavailable",
			label:     "max_elapsed_time",
		},
		{
			name:      "by time, downstream answers slowly",
			cfg:       strings.Replace(cfgExact, "max_elapsed_time: 0", "max_elapsed_time: 10s", 1),
			latency:   2 * time.Second, // nacks at 2s, 5s, 9s; the wait of 4s would end at 13s
			wantSends: 3,
			wantNack:  "retry: gave up after 3 attempts over 9s (the next retry, in 4s, would pass max_elapsed_time 10s): 503 unavailable",
			label:     "max_elapsed_time",
		},
		{
			name:      "max_retries 1 means one retry",
			cfg:       cfgExact + "max_retries: 1\n",
			wantSends: 2,
			wantNack:  "retry: gave up after 2 attempts over 1s (max_retries 1): 503 unavailable",
			label:     "max_retries",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, reg := newHarness(t, tt.cfg)
			id := h.SendPData(logs())
			down := pdata.Nack{Reason: "503 unavailable", Cause: pdata.CauseTimeout}
			sends := 0
			for len(h.Upstream()) == 0 {
				m := h.RequireSent(port, 1)[0]
				sends++
				h.Advance(tt.latency)
				h.Nack(m, down)
				if len(h.Upstream()) == 0 {
					advanceUntilSent(t, h, 100*time.Millisecond)
				}
			}
			got := h.RequireNacked(id)[0].Nack
			if want := (pdata.Nack{Reason: tt.wantNack, Cause: pdata.CauseTimeout}); got != want {
				t.Fatalf("upstream nack = %#v\nwant %#v", got, want)
			}
			if sends != tt.wantSends {
				t.Fatalf("sends = %d, want %d", sends, tt.wantSends)
			}
			if h.Pending() != 0 || h.Wakeups() != 0 {
				t.Fatalf("pending %d, wakeups %d after giving up", h.Pending(), h.Wakeups())
			}
			requireMetrics(t, reg, map[string]float64{
				"gave_up_total reason=" + tt.label: 1,
				"resumed_total":                    float64(tt.wantSends - 1),
			})
		})
	}
}

// retryDelays nacks n fresh messages at once and returns, for each, how
// long after the nack its retry was sent, stepping the clock by 1ms.
func retryDelays(t *testing.T, h *nodetest.Harness, n int) []time.Duration {
	t.Helper()
	for range n {
		h.SendPData(logs())
	}
	for _, m := range h.RequireSent(port, n) {
		h.Nack(m, transient)
	}
	start := h.Clock.Now()
	var delays []time.Duration
	for range 10_000 {
		for range h.TakeSent(port) {
			delays = append(delays, h.Clock.Now().Sub(start))
		}
		if len(delays) == n {
			return delays
		}
		h.Advance(time.Millisecond)
	}
	t.Fatalf("%d of %d retries sent", len(delays), n)
	return nil
}

func TestJitterSpreadsRetries(t *testing.T) {
	const n = 200
	const cfg = "initial_interval: 1s\nrandomization_factor: 0.5\n"
	h, _ := newHarness(t, cfg)
	delays := retryDelays(t, h, n)
	lo, hi := slices.Min(delays), slices.Max(delays)
	if lo < 500*time.Millisecond || hi > 1500*time.Millisecond {
		t.Fatalf("delays span [%s, %s], want within [500ms, 1.5s]", lo, hi)
	}
	// Uniform over 1s: 200 draws leave no 300ms gap at either end.
	if lo > 800*time.Millisecond || hi < 1200*time.Millisecond {
		t.Fatalf("delays span only [%s, %s]: not spread over [500ms, 1.5s]", lo, hi)
	}
	if distinct := len(slices.Compact(slices.Sorted(slices.Values(delays)))); distinct < n/2 {
		t.Fatalf("%d distinct delays among %d: retries bunch together", distinct, n)
	}

	// The jitter source is seeded from the node and the (fake) clock, so a
	// run is reproducible.
	h2, _ := newHarness(t, cfg)
	if again := retryDelays(t, h2, n); !slices.Equal(again, delays) {
		t.Fatal("the same node on the same clock drew different delays")
	}
}

func TestForcedShutdownStillRoutesLateOutcomes(t *testing.T) {
	h, _ := newHarness(t, cfgExact)
	a, b := h.SendPData(logs()), h.SendPData(logs())
	sent := h.RequireSent(port, 2)
	h.Shutdown(h.Clock.Now().Add(time.Second))
	h.ForceShutdown()
	if h.Pending() != 2 {
		t.Fatalf("pending = %d, want 2", h.Pending())
	}
	h.Ack(sent[0])
	h.RequireAcked(a)
	h.Nack(sent[1], pdata.Nack{Reason: "node stopped", Cause: pdata.CauseNodeShutdown})
	if o := h.RequireNacked(b)[0]; o.Nack.Cause != pdata.CauseNodeShutdown {
		t.Fatalf("nack %v, want cause node_shutdown", o.Nack)
	}
}

func TestSendFailureNacksUpstream(t *testing.T) {
	t.Run("output full", func(t *testing.T) {
		// The harness's Send fails instead of blocking when the port is at
		// capacity; the engine's blocks, but TrySend-like errors must still
		// be answered.
		h, reg := newHarness(t, cfgExact, nodetest.WithPortCapacity(1))
		first := h.SendPData(logs())
		second := h.SendPData(logs())
		got := h.RequireNacked(second)[0].Nack
		if want := (pdata.Nack{Reason: "retry: not sent: engine: output full", Cause: pdata.CauseRouteFull}); got != want {
			t.Fatalf("nack = %#v, want %#v", got, want)
		}
		h.Ack(h.RequireSent(port, 1)[0])
		h.RequireAcked(first)
		requireMetrics(t, reg, map[string]float64{"gave_up_total reason=send_failed": 1, "in_flight": 0})
	})
	t.Run("parked at the deadline", func(t *testing.T) {
		// The forced Shutdown answers what is parked (node_shutdown)
		// instead of sending it after the deadline.
		h, _ := newHarness(t, cfgExact)
		id := h.SendPData(logs())
		h.Nack(h.RequireSent(port, 1)[0], transient)
		h.ForceShutdown()
		for _, m := range h.TakeSent(port) {
			h.Nack(m, pdata.Nack{Reason: "deadline", Cause: pdata.CauseNodeShutdown})
		}
		if got := h.RequireNacked(id)[0].Nack; got.Cause != pdata.CauseNodeShutdown {
			t.Fatalf("nack = %#v, want cause node_shutdown", got)
		}
		if h.Pending() != 0 {
			t.Fatalf("pending = %d", h.Pending())
		}
	})
}

func TestNackWithoutPayloadIsNotRetried(t *testing.T) {
	h, reg := newHarness(t, cfgExact)
	id := h.SendPData(logs())
	m := h.RequireSent(port, 1)[0]
	m.DropPayload() // as a frame below that did not keep ReturnData would
	h.Nack(m, transient)
	got := h.RequireNacked(id)[0].Nack
	if want := "retry: data not returned with the nack, cannot retry after 1 attempt over 0s: 503 unavailable"; got.Reason != want {
		t.Fatalf("reason = %q, want %q", got.Reason, want)
	}
	if h.Wakeups() != 0 || h.Pending() != 0 {
		t.Fatal("data without payload was parked")
	}
	requireMetrics(t, reg, map[string]float64{"gave_up_total reason=no_payload": 1})
}

// flakySink plays a destination that refuses each message's first n sends
// and accepts the next.
type flakySink struct {
	failures int
	seen     map[*pdata.Message]int
	sends    int
}

func (s *flakySink) answer(h *nodetest.Harness, m *pdata.Message) {
	s.sends++
	s.seen[m]++
	if s.seen[m] <= s.failures {
		h.Nack(m, pdata.Nack{Reason: fmt.Sprintf("refused %d", s.seen[m]), Cause: pdata.CauseUnspecified})
		return
	}
	h.Ack(m)
}

func TestSinkFailsNTimesThenSucceeds(t *testing.T) {
	tests := []struct {
		failures   int
		maxRetries int
		wantAcked  bool
		wantEnd    time.Duration // when the last outcome reaches upstream: the sum of the waits
	}{
		{failures: 0, wantAcked: true, wantEnd: 0},
		{failures: 1, wantAcked: true, wantEnd: time.Second},
		{failures: 3, wantAcked: true, wantEnd: 7 * time.Second},
		{failures: 7, wantAcked: true, wantEnd: (1 + 2 + 4 + 8 + 16 + 30 + 30) * time.Second}, // capped at 30s
		{failures: 3, maxRetries: 3, wantAcked: true, wantEnd: 7 * time.Second},
		{failures: 4, maxRetries: 3, wantAcked: false, wantEnd: 7 * time.Second},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("fails=%d/max_retries=%d", tt.failures, tt.maxRetries), func(t *testing.T) {
			h, reg := newHarness(t, cfgExact+fmt.Sprintf("max_retries: %d\n", tt.maxRetries))
			sink := &flakySink{failures: tt.failures, seen: map[*pdata.Message]int{}}
			const inputs = 5
			var ids []uint64
			for range inputs {
				ids = append(ids, h.SendPData(logs()))
			}
			for len(h.Upstream()) < inputs {
				for _, m := range h.TakeSent(port) {
					sink.answer(h, m)
				}
				if len(h.Upstream()) < inputs {
					advanceUntilSent(t, h, 100*time.Millisecond)
				}
			}
			if end := h.Clock.Now().Sub(nodetest.Start); end != tt.wantEnd {
				t.Fatalf("last outcome at %s, want %s", end, tt.wantEnd)
			}
			retries := min(tt.failures, tt.maxRetries)
			if tt.maxRetries == 0 {
				retries = tt.failures
			}
			if want := inputs * (retries + 1); sink.sends != want {
				t.Fatalf("sink saw %d sends, want %d", sink.sends, want)
			}
			if tt.wantAcked {
				h.RequireAcked(ids...)
			} else {
				for _, o := range h.RequireNacked(ids...) {
					if !strings.HasPrefix(o.Nack.Reason, "retry: gave up after 4 attempts over 7s (max_retries 3): refused 4") {
						t.Fatalf("reason = %q", o.Nack.Reason)
					}
				}
			}
			if h.Pending() != 0 {
				t.Fatalf("pending = %d", h.Pending())
			}
			var total float64
			for _, s := range reg.Snapshot() {
				if s.Name == "ackflow_processor_retry_retries_total" {
					total += s.Value
				}
			}
			if total != float64(inputs*retries) {
				t.Fatalf("retries_total = %v, want %d", total, inputs*retries)
			}
		})
	}
}

func TestRetriesPastTheTenthShareALabel(t *testing.T) {
	const cfg = "initial_interval: 1s\nmax_interval: 1s\nmultiplier: 1\nrandomization_factor: 0\nmax_elapsed_time: 0\n"
	h, reg := newHarness(t, cfg) // a constant 1s wait
	h.SendPData(logs())
	for range 12 {
		h.Nack(h.RequireSent(port, 1)[0], transient)
		advanceUntilSent(t, h, time.Second)
	}
	want := map[string]float64{"retries_total retry=10+": 3}
	for i := 1; i <= 9; i++ {
		want[fmt.Sprintf("retries_total retry=%d", i)] = 1
	}
	requireMetrics(t, reg, want)
}

func TestUnexpectedControlIsIgnored(t *testing.T) {
	h, _ := newHarness(t, "")
	h.FireWakeup(1, h.Clock.Now(), 1)
	h.Control(engine.Control{Kind: engine.KindTimerTick})
	h.Control(engine.Control{Kind: engine.KindPosted, Value: "x"})
	if len(h.Upstream()) != 0 || len(h.Sent(port)) != 0 {
		t.Fatal("an unexpected control had effects")
	}
}
