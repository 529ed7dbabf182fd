package batch

import (
	"fmt"
	"slices"
	"testing"

	"github.com/ackflow/ackflow/pdata"
)

// With flush_when_idle, an input that arrives alone goes at once: nothing
// else was ready to join its batch, and no timer is left behind.
func TestFlushWhenIdleSendsALoneInputAtOnce(t *testing.T) {
	h, reg := newHarness(t, "flush_when_idle: true")
	a := h.SendPData(otlpLogs("a", 3, 0))
	out := h.RequireSent(port, 1)
	if got := tagsOf(t, out[0]); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("batch holds %v, want [a]", got)
	}
	if got := metric(t, reg, "ackflow_processor_batch_flushes_total", "trigger", "idle"); got != 1 {
		t.Fatalf("idle flushes = %v, want 1", got)
	}
	if h.Wakeups() != 0 {
		t.Fatalf("%d wakeups live after an idle flush", h.Wakeups())
	}
	h.Ack(out[0])
	h.RequireAcked(a)
}

// Inputs that arrive together (waiting in the node's input at once) share
// one batch, flushed when the burst ends.
func TestFlushWhenIdleBatchesABurst(t *testing.T) {
	h, reg := newHarness(t, "flush_when_idle: true")
	ids := h.SendBurst(otlpLogs("a", 2, 0), otlpLogs("b", 2, 0), otlpLogs("c", 2, 0))
	out := h.RequireSent(port, 1)
	if got := tagsOf(t, out[0]); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("batch holds %v, want [a b c]", got)
	}
	if got := metric(t, reg, "ackflow_processor_batch_flushes_total", "trigger", "idle"); got != 1 {
		t.Fatalf("idle flushes = %v, want 1", got)
	}
	h.Ack(out[0])
	h.RequireAcked(ids...)
}

// What arrives while a batch is out waits for that batch's outcome, and
// goes as soon as it comes back: batches grow with the load, and no input
// waits for the timer.
func TestFlushWhenIdleWaitsForTheBatchInFlight(t *testing.T) {
	for _, ack := range []bool{true, false} {
		t.Run(fmt.Sprintf("ack=%t", ack), func(t *testing.T) {
			h, reg := newHarness(t, "flush_when_idle: true")
			a := h.SendPData(otlpLogs("a", 1, 0))
			first := h.RequireSent(port, 1)
			b := h.SendPData(otlpLogs("b", 1, 0))
			c := h.SendPData(otlpLogs("c", 1, 0))
			h.RequireSent(port, 0)
			if ack {
				h.Ack(first[0])
				h.RequireAcked(a)
			} else {
				h.Nack(first[0], pdata.Nack{Reason: "refused"})
				h.RequireNacked(a)
			}
			second := h.RequireSent(port, 1)
			if got := tagsOf(t, second[0]); !slices.Equal(got, []string{"b", "c"}) {
				t.Fatalf("second batch holds %v, want [b c]", got)
			}
			if got := metric(t, reg, "ackflow_processor_batch_flushes_total", "trigger", "idle"); got != 2 {
				t.Fatalf("idle flushes = %v, want 2", got)
			}
			h.Ack(second[0])
			h.RequireAcked(b, c)
			if h.Wakeups() != 0 || h.Pending() != 0 {
				t.Fatalf("after the acks: %d wakeups, %d inputs held", h.Wakeups(), h.Pending())
			}
		})
	}
}

// A burst larger than min_size is flushed by size as it arrives; the
// rest, below min_size, waits for that batch's outcome instead of the
// timer.
func TestFlushWhenIdleAfterSizeFlushes(t *testing.T) {
	e := entryBytes()
	h, reg := newHarness(t, fmt.Sprintf("flush_when_idle: true\notlp: {min_size: %d, max_size: %d, sizer: bytes}", 4*e, 4*e))
	ids := h.SendBurst(otlpLogs("a", 3, 1), otlpLogs("b", 3, 1), otlpLogs("c", 1, 1))
	out := h.RequireSent(port, 1)
	if got := items(out); !slices.Equal(got, []int{4}) {
		t.Fatalf("batch items = %v, want [4]", got)
	}
	h.Ack(out[0])
	rest := h.RequireSent(port, 1)
	if got := items(rest); !slices.Equal(got, []int{3}) {
		t.Fatalf("second batch items = %v, want [3]", got)
	}
	for trigger, want := range map[string]float64{"size": 1, "idle": 1, "timer": 0} {
		if got := metric(t, reg, "ackflow_processor_batch_flushes_total", "trigger", trigger); got != want {
			t.Errorf("%s flushes = %v, want %v", trigger, got, want)
		}
	}
	if h.Wakeups() != 0 {
		t.Fatalf("%d wakeups live after the idle flush", h.Wakeups())
	}
	h.Ack(rest[0])
	h.RequireAcked(ids...)
}

// Without flush_when_idle (the default) a lone input waits for
// max_batch_duration, as in the reference engine.
func TestWithoutFlushWhenIdleALoneInputWaitsForTheTimer(t *testing.T) {
	h, reg := newHarness(t, "")
	h.SendPData(otlpLogs("a", 3, 0))
	h.RequireSent(port, 0)
	if got := metric(t, reg, "ackflow_processor_batch_flushes_total", "trigger", "idle"); got != 0 {
		t.Fatalf("idle flushes = %v, want 0", got)
	}
	h.Advance(DefaultMaxBatchDuration)
	h.RequireSent(port, 1)
}
