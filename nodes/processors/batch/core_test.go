package batch

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/engine/wakeup"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

const port = "default"

// Slots of the buffers, as the node numbers them.
var (
	slotLogsOTLP    = wakeup.Slot(keyOf(pdata.FormOTLP, pdata.Logs))
	slotLogsDecoded = wakeup.Slot(keyOf(pdata.FormDecoded, pdata.Logs))
)

func TestBufKeysAndCallData(t *testing.T) {
	seen := map[bufKey]bool{}
	for _, f := range []pdata.Form{pdata.FormOTLP, pdata.FormDecoded} {
		for _, s := range pdata.Signals() {
			k := keyOf(f, s)
			if k >= numBuffers || seen[k] || k.form() != f || k.signal() != s {
				t.Fatalf("keyOf(%s, %s) = %d: not a unique round trip", f, s, k)
			}
			seen[k] = true
			gk, id, ok := parseCallData(callData(k, 42))
			if !ok || gk != k || id != 42 {
				t.Fatalf("call data of %s: got (%d, %d, %v)", k, gk, id, ok)
			}
		}
	}
	for _, cd := range []pdata.CallData{{}, {7, 1}, {callDataTag | numBuffers, 1}, {callDataTag | 0x100, 1}} {
		if _, _, ok := parseCallData(cd); ok {
			t.Errorf("parseCallData(%v) accepted a frame the node did not write", cd)
		}
	}
	if got := keyOf(pdata.FormDecoded, pdata.Traces).String(); got != "traces/decoded" {
		t.Errorf("String() = %q", got)
	}
	for _, s := range []fmt.Stringer{stateRunning, stateDraining, stateStopped, inputHeld, inputAcked, inputNacked, triggerLimit} {
		if strings.Contains(s.String(), "?") || strings.Contains(s.String(), "(") {
			t.Errorf("%#v has no name", s)
		}
	}
}

func TestSizeFlush(t *testing.T) {
	e := entryBytes()
	tests := []struct {
		name      string
		cfg       string
		in        func(tag string) *pdata.Message
		wantItems []int // after the second input
		wantTail  int   // items left pending, flushed by the timer
	}{
		{
			name:      "decoded items, tail retained",
			cfg:       "format: otap\notap: {min_size: 4, max_size: 5, sizer: items}",
			in:        func(tag string) *pdata.Message { return decodedLogs(tag, 3, 0) },
			wantItems: []int{5},
			wantTail:  1,
		},
		{
			name:      "OTLP bytes, no max",
			cfg:       fmt.Sprintf("otlp: {min_size: %d, sizer: bytes}", 5*e),
			in:        func(tag string) *pdata.Message { return otlpLogs(tag, 3, 1) },
			wantItems: []int{6},
		},
		{
			name:      "OTLP bytes split between entries, tail retained",
			cfg:       fmt.Sprintf("otlp: {min_size: %d, max_size: %d, sizer: bytes}", 4*e, 5*e),
			in:        func(tag string) *pdata.Message { return otlpLogs(tag, 3, 1) },
			wantItems: []int{5},
			wantTail:  1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, reg := newHarness(t, tt.cfg)
			a := h.SendPData(tt.in("a"))
			h.RequireSent(port, 0)
			b := h.SendPData(tt.in("b"))
			out := h.RequireSent(port, len(tt.wantItems))
			if got := items(out); !slices.Equal(got, tt.wantItems) {
				t.Fatalf("batch items = %v, want %v", got, tt.wantItems)
			}
			if got := metric(t, reg, "ackflow_processor_batch_flushes_total", "trigger", "size"); got != 1 {
				t.Fatalf("size flushes = %v, want 1", got)
			}
			h.Advance(DefaultMaxBatchDuration)
			tail := h.TakeSent(port)
			if tt.wantTail == 0 {
				if len(tail) != 0 {
					t.Fatalf("timer flushed %d batches, want none", len(tail))
				}
				h.Ack(out[0])
				h.RequireAcked(a, b)
				return
			}
			if len(tail) != 1 || tail[0].Items() != tt.wantTail {
				t.Fatalf("timer flush = %v items, want one batch of %d", items(tail), tt.wantTail)
			}
			h.Ack(out[0])
			h.RequireAcked(a) // b's last item is in the tail batch
			h.Ack(tail[0])
			h.RequireAcked(b)
			if h.Pending() != 0 || h.Wakeups() != 0 {
				t.Fatalf("after all acks: pending %d, wakeups %d", h.Pending(), h.Wakeups())
			}
		})
	}
}

func TestTimerFlush(t *testing.T) {
	h, reg := newHarness(t, "max_batch_duration: 1s")
	a := h.SendPData(otlpLogs("a", 3, 0))
	h.Advance(500 * time.Millisecond)
	b := h.SendPData(otlpLogs("b", 3, 0))
	h.Advance(499 * time.Millisecond)
	h.RequireSent(port, 0)
	h.Advance(time.Millisecond) // 1s after a arrived, not after b
	out := h.RequireSent(port, 1)
	if got := tagsOf(t, out[0]); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("batch holds %v, want [a b]", got)
	}
	if got := metric(t, reg, "ackflow_processor_batch_flushes_total", "trigger", "timer"); got != 1 {
		t.Fatalf("timer flushes = %v, want 1", got)
	}
	if got := metric(t, reg, "ackflow_processor_batch_flush_age_seconds", "signal", "logs", "form", "otlp"); got != 1 {
		t.Fatalf("flush age = %vs, want 1s", got)
	}
	if h.Wakeups() != 0 {
		t.Fatalf("%d wakeups live after the flush", h.Wakeups())
	}
	h.Ack(out[0])
	h.RequireAcked(a, b)
}

func TestStaleWakeupIgnored(t *testing.T) {
	h, reg := newHarness(t, "")
	a := h.SendPData(otlpLogs("a", 1, 0)) // armed: revision 1, at +200ms
	h.Advance(200 * time.Millisecond)
	first := h.RequireSent(port, 1)
	h.Advance(100 * time.Millisecond)
	b := h.SendPData(otlpLogs("b", 1, 0)) // armed: revision 2, at +500ms

	// The first batch's wakeup, delivered again late: its batch is gone and
	// the current one is too young.
	h.FireWakeup(slotLogsOTLP, nodetest.Start.Add(200*time.Millisecond), 1)
	// The current revision, delivered early.
	h.FireWakeup(slotLogsOTLP, h.Clock.Now(), 2)
	h.RequireSent(port, 0)
	if got := metric(t, reg, "ackflow_processor_batch_stale_wakeups_total"); got != 2 {
		t.Fatalf("stale wakeups = %v, want 2", got)
	}
	if at, ok := h.NextWakeup(); !ok || !at.Equal(nodetest.Start.Add(500*time.Millisecond)) {
		t.Fatalf("next wakeup = %v, %v; want the batch's deadline +500ms", at, ok)
	}
	h.Advance(199 * time.Millisecond)
	h.RequireSent(port, 0)
	h.Advance(time.Millisecond)
	second := h.RequireSent(port, 1)
	h.Ack(first[0])
	h.Ack(second[0])
	h.RequireAcked(a, b)
}

func TestUnknownWakeupSlotIgnored(t *testing.T) {
	h, reg := newHarness(t, "format: otlp")
	a := h.SendPData(otlpLogs("a", 1, 0))
	h.FireWakeup(99, h.Clock.Now().Add(time.Hour), 1)
	h.FireWakeup(slotLogsDecoded, h.Clock.Now().Add(time.Hour), 1) // no decoded buffers with format otlp
	h.RequireSent(port, 0)
	if got := metric(t, reg, "ackflow_processor_batch_stale_wakeups_total"); got != 2 {
		t.Fatalf("stale wakeups = %v, want 2", got)
	}
	h.Advance(DefaultMaxBatchDuration)
	out := h.RequireSent(port, 1)
	h.Ack(out[0])
	h.RequireAcked(a)
}

func TestSplitOversizeInputs(t *testing.T) {
	e := entryBytes()
	tests := []struct {
		name      string
		cfg       string
		in        *pdata.Message
		wantItems []int
	}{
		{
			name:      "OTLP between resource entries",
			cfg:       fmt.Sprintf("format: otlp\nmax_batch_duration: 0s\notlp: {max_size: %d, sizer: bytes}", 3*e+e/2),
			in:        otlpLogs("a", 10, 1),
			wantItems: []int{3, 3, 3, 1},
		},
		{
			name:      "OTLP entries of several records",
			cfg:       fmt.Sprintf("format: otlp\nmax_batch_duration: 0s\notlp: {max_size: %d, sizer: bytes}", pdatatest.LogsPayload("a", 4, 2, 32).Bytes()),
			in:        otlpLogs("a", 10, 2),
			wantItems: []int{4, 4, 2},
		},
		{
			name:      "decoded by items",
			cfg:       "format: otap\nmax_batch_duration: 0s\notap: {max_size: 4, sizer: items}",
			in:        decodedLogs("a", 10, 3),
			wantItems: []int{4, 4, 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := newHarness(t, tt.cfg)
			want := bodies(t, tt.in)
			src := tt.in.Payload()
			id := h.SendPData(tt.in)
			out := h.RequireSent(port, len(tt.wantItems))
			if got := items(out); !slices.Equal(got, tt.wantItems) {
				t.Fatalf("batch items = %v, want %v", got, tt.wantItems)
			}
			if got := bodiesOfAll(t, out); !slices.Equal(got, want) {
				t.Fatalf("bodies = %v, want %v", got, want)
			}
			for _, m := range out {
				if m.Payload().Form() != src.Form() {
					t.Fatalf("batch form %s, want %s", m.Payload().Form(), src.Form())
				}
				if src.Form() == pdata.FormOTLP {
					requireAliases(t, m.Payload(), src)
				}
			}
			for i, m := range out {
				h.RequireAcked() // nothing before the last batch is acked
				h.Ack(m)
				if i == len(out)-1 {
					h.RequireAcked(id)
				}
			}
		})
	}
}

// requireAliases fails unless every chunk of p lies inside the bytes of src:
// splitting copied nothing.
func requireAliases(t *testing.T, p, src *pdata.Payload) {
	t.Helper()
	srcChunks, _ := src.Chunks()
	chunks, _ := p.Chunks()
	for _, c := range chunks {
		found := false
		for _, s := range srcChunks {
			if len(c) > 0 && len(s) > 0 && addr(&c[0]) >= addr(&s[0]) && addr(&c[len(c)-1]) <= addr(&s[len(s)-1]) {
				found = true
			}
		}
		if !found {
			t.Fatalf("a batch chunk of %d bytes is a copy, not a slice of the input", len(c))
		}
	}
}

func addr(b *byte) uintptr { return uintptr(unsafe.Pointer(b)) }

func TestSplitOversizeEntry(t *testing.T) {
	in := otlpLogs("a", 40, 0) // one resource entry of 40 records
	size := in.Payload().Bytes()
	maxSize := size / 4
	tests := []struct {
		name          string
		extra         string
		wantOutputs   func(n int) bool
		wantSplits    float64
		wantFallbacks float64
		wantOversize  float64
	}{
		{name: "decoded and split by records", wantOutputs: func(n int) bool { return n >= 4 }, wantSplits: 1},
		{name: "fragment budget exceeded: sent whole", extra: ", max_split_fragments: 2",
			wantOutputs: func(n int) bool { return n == 1 }, wantFallbacks: 1, wantOversize: 1},
		{name: "overhead budget exceeded: sent whole", extra: ", max_split_overhead_bytes: 1",
			wantOutputs: func(n int) bool { return n == 1 }, wantFallbacks: 1, wantOversize: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, reg := newHarness(t, fmt.Sprintf("format: otlp\nmax_batch_duration: 0s\notlp: {max_size: %d, sizer: bytes%s}", maxSize, tt.extra))
			want := bodies(t, in)
			id := h.SendPData(in.Clone())
			out := h.TakeSent(port)
			if !tt.wantOutputs(len(out)) {
				t.Fatalf("%d batches", len(out))
			}
			if got := bodiesOfAll(t, out); !slices.Equal(got, want) {
				t.Fatalf("bodies differ from the input's:\n got %v\nwant %v", got, want)
			}
			for _, m := range out {
				if len(out) > 1 && m.Payload().Bytes() > maxSize {
					t.Fatalf("fragment of %d bytes over max_size %d", m.Payload().Bytes(), maxSize)
				}
			}
			for name, want := range map[string]float64{
				"ackflow_processor_batch_entry_splits_total":           tt.wantSplits,
				"ackflow_processor_batch_split_budget_fallbacks_total": tt.wantFallbacks,
				"ackflow_processor_batch_oversize_batches_total":       tt.wantOversize,
			} {
				if got := metric(t, reg, name); got != want {
					t.Errorf("%s = %v, want %v", name, got, want)
				}
			}
			for _, m := range out {
				h.Ack(m)
			}
			h.RequireAcked(id)
		})
	}
}

func TestSingleRecordOverMaxSizeSentAlone(t *testing.T) {
	big := pdatatest.LogsPayload("a", 1, 0, 4096)
	h, reg := newHarness(t, "format: otlp\nmax_batch_duration: 0s\notlp: {max_size: 1KiB, sizer: bytes}")
	id := h.SendPData(pdata.New(big))
	out := h.RequireSent(port, 1)
	if out[0].Payload().Bytes() != big.Bytes() {
		t.Fatalf("batch of %d bytes, want the input's %d", out[0].Payload().Bytes(), big.Bytes())
	}
	if got := metric(t, reg, "ackflow_processor_batch_oversize_batches_total"); got != 1 {
		t.Fatalf("oversize batches = %v, want 1", got)
	}
	h.Ack(out[0])
	h.RequireAcked(id)
}

func TestConcatenation(t *testing.T) {
	t.Run("OTLP chunks, zero copy", func(t *testing.T) {
		ins := []*pdata.Message{otlpLogs("a", 3, 0), otlpLogs("b", 3, 0), otlpLogs("c", 3, 0)}
		total := 0
		for _, m := range ins {
			total += m.Payload().Bytes()
		}
		h, _ := newHarness(t, fmt.Sprintf("otlp: {min_size: %d, sizer: bytes}", total))
		var ids []uint64
		var srcs [][]byte
		for _, m := range ins {
			c, _ := m.Payload().Chunks()
			srcs = append(srcs, c...)
			ids = append(ids, h.SendPData(m))
		}
		out := h.RequireSent(port, 1)
		chunks, _ := out[0].Payload().Chunks()
		if len(chunks) != len(srcs) {
			t.Fatalf("batch has %d chunks, want %d", len(chunks), len(srcs))
		}
		for i := range chunks {
			if &chunks[i][0] != &srcs[i][0] || len(chunks[i]) != len(srcs[i]) {
				t.Fatalf("chunk %d is not input %d's bytes", i, i)
			}
		}
		if out[0].Items() != 9 || out[0].Payload().Bytes() != total {
			t.Fatalf("batch: %d items, %d bytes", out[0].Items(), out[0].Payload().Bytes())
		}
		h.Ack(out[0])
		h.RequireAcked(ids...)
	})
	t.Run("decoded", func(t *testing.T) {
		h, _ := newHarness(t, "format: otap\notap: {min_size: 5, max_size: 10, sizer: items}")
		var ids []uint64
		for _, tag := range []string{"a", "b", "c", "d"} {
			ids = append(ids, h.SendPData(decodedLogs(tag, 3, 0)))
		}
		out := h.RequireSent(port, 2)
		if got := items(out); !slices.Equal(got, []int{6, 6}) {
			t.Fatalf("batch items = %v, want [6 6]", got)
		}
		if got := tagsOf(t, out[1]); !slices.Equal(got, []string{"c", "d"}) {
			t.Fatalf("second batch holds %v", got)
		}
		h.Ack(out[0])
		h.RequireAcked(ids[:2]...)
		h.Ack(out[1])
		h.RequireAcked(ids[2:]...)
	})
}

func TestSplitOnly(t *testing.T) {
	h, reg := newHarness(t, "max_batch_duration: 0s\nformat: otap\notap: {max_size: 2, sizer: items}")
	a := h.SendPData(decodedLogs("a", 3, 0))
	b := h.SendPData(decodedLogs("b", 3, 0))
	out := h.RequireSent(port, 4)
	if got := items(out); !slices.Equal(got, []int{2, 1, 2, 1}) {
		t.Fatalf("batch items = %v, want [2 1 2 1]", got)
	}
	if h.Wakeups() != 0 {
		t.Fatalf("split-only armed %d wakeups", h.Wakeups())
	}
	if got := metric(t, reg, "ackflow_processor_batch_flushes_total", "trigger", "size"); got != 2 {
		t.Fatalf("size flushes = %v, want 2", got)
	}
	for _, m := range out {
		h.Ack(m)
	}
	h.RequireAcked(a, b)
}

// spanningScenario sends four 3-item inputs (tags a..d) with min = max = 5
// items, so that batches hold parts of several inputs and inputs span
// batches: [a:3 b:2] [b:1 c:3 d:1] [d:2 (timer)].
func spanningScenario(t *testing.T, form pdata.Form) (*nodetest.Harness, map[string]uint64, []*pdata.Message) {
	t.Helper()
	cfg := "format: otap\notap: {min_size: 5, max_size: 5, sizer: items}"
	mk := func(tag string) *pdata.Message { return decodedLogs(tag, 3, 0) }
	if form == pdata.FormOTLP {
		e := entryBytes()
		cfg = fmt.Sprintf("format: otlp\notlp: {min_size: %d, max_size: %d, sizer: bytes}", 5*e, 5*e)
		mk = func(tag string) *pdata.Message { return otlpLogs(tag, 3, 1) }
	}
	h, _ := newHarness(t, cfg)
	ids := map[string]uint64{}
	for _, tag := range []string{"a", "b", "c", "d"} {
		ids[tag] = h.SendPData(mk(tag))
	}
	h.Advance(DefaultMaxBatchDuration)
	out := h.RequireSent(port, 3)
	wantTags := [][]string{{"a", "b"}, {"b", "c", "d"}, {"d"}}
	for i, m := range out {
		if got := tagsOf(t, m); !slices.Equal(got, wantTags[i]) {
			t.Fatalf("batch %d holds %v, want %v", i, got, wantTags[i])
		}
	}
	return h, ids, out
}

func idsOf(ids map[string]uint64, tags []string) []uint64 {
	var out []uint64
	for _, tag := range tags {
		out = append(out, ids[tag])
	}
	return out
}

func TestNackOfOutputKPropagatesToExactlyItsInputs(t *testing.T) {
	for _, form := range []pdata.Form{pdata.FormDecoded, pdata.FormOTLP} {
		for k := range 3 {
			for _, nackFirst := range []bool{true, false} {
				t.Run(fmt.Sprintf("%s/batch %d/nack first %v", formName(form), k, nackFirst), func(t *testing.T) {
					h, ids, out := spanningScenario(t, form)
					carried := tagsOf(t, out[k])
					var others []string
					for tag := range ids {
						if !slices.Contains(carried, tag) {
							others = append(others, tag)
						}
					}
					nack := func() {
						h.Nack(out[k], pdata.Nack{Reason: "downstream refused"})
						got := h.RequireNacked(idsOf(ids, carried)...)
						for _, o := range got {
							if o.Nack.Reason != "batch: downstream refused" {
								t.Fatalf("reason %q", o.Nack.Reason)
							}
						}
					}
					if nackFirst {
						nack()
					}
					for i, m := range out {
						if i != k {
							h.Ack(m)
						}
					}
					h.RequireAcked(idsOf(ids, others)...)
					if !nackFirst {
						nack()
					}
					if h.Pending() != 0 {
						t.Fatalf("%d inputs still pending", h.Pending())
					}
				})
			}
		}
	}
}

func TestInputSpanningOutputsAckedAfterAll(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  string
		in   *pdata.Message
	}{
		{"decoded", "format: otap\nmax_batch_duration: 0s\notap: {max_size: 2, sizer: items}", decodedLogs("a", 5, 0)},
		{"OTLP", fmt.Sprintf("format: otlp\nmax_batch_duration: 0s\notlp: {max_size: %d, sizer: bytes}", 2*entryBytes()), otlpLogs("a", 5, 1)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := newHarness(t, tt.cfg)
			id := h.SendPData(tt.in)
			out := h.RequireSent(port, 3)
			// Acks out of order: only the last one releases the input.
			h.Ack(out[2])
			h.Ack(out[0])
			h.RequireAcked()
			if h.Pending() != 1 {
				t.Fatalf("pending = %d, want 1", h.Pending())
			}
			h.Ack(out[1])
			h.RequireAcked(id)
		})
	}
}

func TestNackKeepsPermanentAndCause(t *testing.T) {
	for _, n := range []pdata.Nack{
		{Reason: "bad data", Permanent: true, Cause: pdata.CauseUnspecified},
		{Reason: "slow", Cause: pdata.CauseTimeout},
		{Reason: "full", Cause: pdata.CauseRouteFull},
		{Reason: "gone", Permanent: true, Cause: pdata.CauseRouteClosed},
	} {
		t.Run(n.String(), func(t *testing.T) {
			h, reg := newHarness(t, "format: otap\nmax_batch_duration: 0s\notap: {max_size: 2, sizer: items}")
			id := h.SendPData(decodedLogs("a", 4, 0))
			out := h.RequireSent(port, 2)
			h.Nack(out[1], n)
			got := h.RequireNacked(id)[0].Nack
			if got.Permanent != n.Permanent || got.Cause != n.Cause || got.Reason != "batch: "+n.Reason {
				t.Fatalf("upstream nack = %v, want %v with reason prefixed", got, n)
			}
			if v := metric(t, reg, "ackflow_processor_batch_inputs_nacked_total", "cause", n.Cause.String()); v != 1 {
				t.Fatalf("inputs nacked (%s) = %v, want 1", n.Cause, v)
			}
		})
	}
}

func TestOutcomesAfterFirstNackIgnored(t *testing.T) {
	for _, second := range []string{"ack", "nack"} {
		t.Run(second, func(t *testing.T) {
			h, _ := newHarness(t, "format: otap\nmax_batch_duration: 0s\notap: {max_size: 2, sizer: items}")
			id := h.SendPData(decodedLogs("a", 4, 0))
			out := h.RequireSent(port, 2)
			h.Nack(out[0], pdata.Nack{Reason: "first"})
			h.RequireNacked(id)
			if second == "ack" {
				h.Ack(out[1])
			} else {
				h.Nack(out[1], pdata.Nack{Reason: "second"})
			}
			if got := h.TakeUpstream(); len(got) != 0 {
				t.Fatalf("a second outcome reached upstream: %v", got)
			}
		})
	}
}

func TestNackDropsPendingPartOfInput(t *testing.T) {
	// b's last item is retained pending; the nack of the first batch nacks
	// b, so its pending item must not be sent later (b will be retried).
	h, _ := newHarness(t, "format: otap\notap: {min_size: 4, max_size: 5, sizer: items}")
	a := h.SendPData(decodedLogs("a", 3, 0))
	b := h.SendPData(decodedLogs("b", 3, 0))
	out := h.RequireSent(port, 1)
	h.Nack(out[0], pdata.Nack{Reason: "no"})
	h.RequireNacked(a, b)
	if h.Wakeups() != 0 {
		t.Fatalf("the emptied buffer kept its wakeup")
	}
	h.Advance(time.Second)
	h.RequireSent(port, 0)
}

func TestZeroItemInputAckedAtOnce(t *testing.T) {
	empty, err := pdata.FromOTLP(pdata.Logs, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := (&plog.ProtoMarshaler{}).MarshalLogs(logsWithEmptyResource())
	if err != nil {
		t.Fatal(err)
	}
	noRecords, err := pdata.FromOTLP(pdata.Logs, b)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		p    *pdata.Payload
	}{
		{"zero bytes", empty},
		{"OTLP resource without records", noRecords},
		{"decoded, empty", pdata.FromLogs(plog.NewLogs())},
		{"decoded resource without records", pdata.FromLogs(logsWithEmptyResource())},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, reg := newHarness(t, "")
			id := h.SendPData(pdata.New(tt.p))
			h.RequireAcked(id)
			h.RequireSent(port, 0)
			if h.Pending() != 0 || h.Wakeups() != 0 {
				t.Fatalf("pending %d, wakeups %d", h.Pending(), h.Wakeups())
			}
			if got := metric(t, reg, "ackflow_processor_batch_inputs_empty_total"); got != 1 {
				t.Fatalf("empty inputs = %v", got)
			}
		})
	}
}

func TestInboundLimit(t *testing.T) {
	t.Run("all pending: flush at the limit", func(t *testing.T) {
		h, reg := newHarness(t, "inbound_request_limit: 2")
		a := h.SendPData(otlpLogs("a", 1, 0))
		b := h.SendPData(otlpLogs("b", 1, 0))
		out := h.RequireSent(port, 1) // far below min_size, but nothing else could join
		if got := metric(t, reg, "ackflow_processor_batch_flushes_total", "trigger", "limit"); got != 1 {
			t.Fatalf("limit flushes = %v, want 1", got)
		}
		c := h.SendPData(otlpLogs("c", 1, 0))
		if h.Queued() != 1 {
			t.Fatalf("queued = %d, want c waiting at the gate", h.Queued())
		}
		if got := metric(t, reg, "ackflow_processor_batch_throttled"); got != 1 {
			t.Fatalf("throttled = %v, want 1", got)
		}
		h.RequireAcked() // refused, never nacked
		h.Ack(out[0])
		h.RequireAcked(a, b)
		if h.Queued() != 0 || h.Pending() != 1 {
			t.Fatalf("after the ack: queued %d, pending %d; want c admitted", h.Queued(), h.Pending())
		}
		if got := metric(t, reg, "ackflow_processor_batch_throttled"); got != 0 {
			t.Fatalf("throttled = %v, want 0", got)
		}
		h.Advance(DefaultMaxBatchDuration)
		h.Ack(h.RequireSent(port, 1)[0])
		h.RequireAcked(c)
	})
	t.Run("in flight: wait for acks", func(t *testing.T) {
		h, _ := newHarness(t, "format: otlp\ninbound_request_limit: 2\nmax_batch_duration: 0s\notlp: {max_size: 1MiB, sizer: bytes}")
		a := h.SendPData(otlpLogs("a", 1, 0))
		b := h.SendPData(otlpLogs("b", 1, 0))
		c := h.SendPData(otlpLogs("c", 1, 0))
		out := h.RequireSent(port, 2)
		if h.Queued() != 1 {
			t.Fatalf("queued = %d, want 1", h.Queued())
		}
		h.Ack(out[1])
		h.RequireAcked(b)
		out = append(out, h.RequireSent(port, 1)...) // c admitted and sent
		h.Ack(out[0])
		h.Ack(out[2])
		h.RequireAcked(a, c)
	})
}

func TestOutboundLimit(t *testing.T) {
	h, reg := newHarness(t, "format: otap\noutbound_request_limit: 1\nmax_batch_duration: 0s\notap: {max_size: 2, sizer: items}")
	id := h.SendPData(decodedLogs("a", 6, 0))
	var got []string
	for i := range 3 {
		out := h.RequireSent(port, 1)
		if held := metric(t, reg, "ackflow_processor_batch_batches_held"); held != float64(2-i) {
			t.Fatalf("held batches = %v, want %d", held, 2-i)
		}
		got = append(got, bodies(t, out[0])...)
		h.RequireAcked()
		h.Ack(out[0])
	}
	h.RequireAcked(id)
	if want := pdatatest.LogBodies(t, pdata.FromLogs(pdatatest.LogsData("a", 6, 0, 32))); !slices.Equal(got, want) {
		t.Fatalf("bodies out of order: %v", got)
	}
}

func TestSendFailureNacksInputs(t *testing.T) {
	// The harness's port holds one message: the second batch gets ErrFull.
	h, reg := newHarness(t, "format: otap\nmax_batch_duration: 0s\notap: {max_size: 2, sizer: items}", nodetest.WithPortCapacity(1))
	id := h.SendPData(decodedLogs("a", 4, 0))
	out := h.RequireSent(port, 1)
	got := h.RequireNacked(id)[0].Nack
	if got.Cause != pdata.CauseRouteFull || !strings.HasPrefix(got.Reason, "batch: send: ") {
		t.Fatalf("nack = %v, want route_full from the send", got)
	}
	h.Ack(out[0])
	h.RequireAcked()
	if v := metric(t, reg, "ackflow_processor_batch_inputs_nacked_total", "cause", "route_full"); v != 1 {
		t.Fatalf("nacked route_full = %v", v)
	}
}

func TestSendClosedNacksRouteClosed(t *testing.T) {
	p := newTestCore(t, "format: otap\nmax_batch_duration: 0s\notap: {max_size: 2, sizer: items}")
	fx := &fakeEffects{sendErr: engine.ErrClosed}
	m := decodedLogs("a", 4, 0)
	if err := p.OnPData(m, fx); err != nil {
		t.Fatal(err)
	}
	if len(fx.nacked) != 1 || fx.nacked[0].Cause != pdata.CauseRouteClosed || fx.acked != 0 {
		t.Fatalf("nacks %v, acks %d; want one route_closed nack", fx.nacked, fx.acked)
	}
	if p.Pending() != 0 {
		t.Fatalf("pending = %d", p.Pending())
	}
}

func TestShutdown(t *testing.T) {
	t.Run("flush, late acks routed", func(t *testing.T) {
		h, reg := newHarness(t, "")
		a := h.SendPData(otlpLogs("a", 1, 0))
		b := h.SendPData(decodedLogs("b", 1, 0))
		h.Shutdown(h.Clock.Now().Add(time.Second))
		out := h.RequireSent(port, 2) // one per form
		if got := metric(t, reg, "ackflow_processor_batch_flushes_total", "trigger", "shutdown"); got != 2 {
			t.Fatalf("shutdown flushes = %v, want 2", got)
		}
		if h.Pending() != 2 {
			t.Fatalf("pending = %d, want 2", h.Pending())
		}
		h.Advance(500 * time.Millisecond)
		h.Ack(out[0])
		h.Ack(out[1])
		h.RequireAcked(a, b)
		if h.Pending() != 0 {
			t.Fatalf("pending = %d after the acks", h.Pending())
		}
		h.ForceShutdown()
		h.RequireAcked()
	})
	t.Run("deadline nacks the unresolved", func(t *testing.T) {
		h, reg := newHarness(t, "format: otap\nmax_batch_duration: 0s\notap: {max_size: 2, sizer: items}")
		a := h.SendPData(decodedLogs("a", 4, 0))
		b := h.SendPData(decodedLogs("b", 1, 0))
		out := h.RequireSent(port, 3)
		h.Shutdown(h.Clock.Now().Add(time.Second))
		h.Ack(out[0])
		h.Ack(out[2])
		h.RequireAcked(b)
		h.ForceShutdown()
		got := h.RequireNacked(a)[0].Nack
		if got.Cause != pdata.CauseNodeShutdown {
			t.Fatalf("nack cause = %s, want node_shutdown", got.Cause)
		}
		h.Ack(out[1]) // too late: ignored
		h.RequireAcked()
		if v := metric(t, reg, "ackflow_processor_batch_late_outcomes_total"); v != 1 {
			t.Fatalf("late outcomes = %v, want 1", v)
		}
	})
	t.Run("held batches sent despite the outbound limit", func(t *testing.T) {
		h, _ := newHarness(t, "format: otap\noutbound_request_limit: 1\nmax_batch_duration: 0s\notap: {max_size: 2, sizer: items}")
		id := h.SendPData(decodedLogs("a", 6, 0))
		out := h.RequireSent(port, 1)
		h.Shutdown(h.Clock.Now().Add(time.Second))
		out = append(out, h.RequireSent(port, 2)...)
		for _, m := range out {
			h.Ack(m)
		}
		h.RequireAcked(id)
	})
	t.Run("forced without a drain nacks everything", func(t *testing.T) {
		h, _ := newHarness(t, "outbound_request_limit: 1\notap: {min_size: 100, max_size: 100, sizer: items}")
		a := h.SendPData(decodedLogs("a", 150, 0)) // one batch in flight, 50 items pending
		out := h.RequireSent(port, 1)
		b := h.SendPData(otlpLogs("b", 1, 0))
		h.ForceShutdown()
		h.RequireSent(port, 0)
		h.RequireNacked(a, b)
		h.Ack(out[0])
		h.RequireAcked()
	})
	t.Run("data queued at the gate is admitted and flushed", func(t *testing.T) {
		h, _ := newHarness(t, "format: otlp\ninbound_request_limit: 1\nmax_batch_duration: 0s\notlp: {max_size: 1MiB, sizer: bytes}")
		a := h.SendPData(otlpLogs("a", 1, 0))
		b := h.SendPData(otlpLogs("b", 1, 0))
		out := h.RequireSent(port, 1)
		h.Ack(out[0]) // opens the gate: b is admitted and sent
		h.RequireAcked(a)
		out = h.RequireSent(port, 1)
		h.Shutdown(h.Clock.Now().Add(time.Second))
		h.Ack(out[0])
		h.RequireAcked(b)
	})
}

func TestOutputOrderPreserved(t *testing.T) {
	e := entryBytes()
	h, _ := newHarness(t, fmt.Sprintf("outbound_request_limit: 2\nformat: otlp\notlp: {min_size: %d, max_size: %d, sizer: bytes}", 4*e, 7*e))
	var want []string
	var ids []uint64
	var got []string
	for i := range 20 {
		var m *pdata.Message
		if i%3 == 0 {
			m = decodedLogs(fmt.Sprintf("i%d", i), 1+i%5, 1) // converted to OTLP
		} else {
			m = otlpLogs(fmt.Sprintf("i%d", i), 1+i%5, 1)
		}
		want = append(want, bodies(t, m)...)
		ids = append(ids, h.SendPData(m))
		// Ack the newest batch in flight first: outcomes out of order.
		out := h.TakeSent(port)
		got = append(got, bodiesOfAll(t, out)...) // before the acks drop the payloads
		for j := len(out) - 1; j >= 0; j-- {
			h.Ack(out[j])
		}
	}
	h.Advance(time.Second)
	for {
		out := h.TakeSent(port)
		if len(out) == 0 {
			break
		}
		got = append(got, bodiesOfAll(t, out)...)
		for _, m := range out {
			h.Ack(m)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("bodies out of order:\n got %v\nwant %v", got, want)
	}
	h.RequireAcked(ids...)
}

func TestFormats(t *testing.T) {
	tests := []struct {
		name      string
		format    Format
		in        []*pdata.Message
		wantForms []pdata.Form
		converted map[string]float64
	}{
		{"otlp encodes decoded inputs", FormatOTLP,
			[]*pdata.Message{decodedLogs("a", 2, 0), otlpLogs("b", 2, 0)},
			[]pdata.Form{pdata.FormOTLP}, map[string]float64{"otlp": 1}},
		{"otap decodes OTLP inputs", FormatOTAP,
			[]*pdata.Message{decodedLogs("a", 2, 0), otlpLogs("b", 2, 0)},
			[]pdata.Form{pdata.FormDecoded}, map[string]float64{"decoded": 1}},
		{"preserve keeps forms apart", FormatPreserve,
			[]*pdata.Message{decodedLogs("a", 2, 0), otlpLogs("b", 2, 0)},
			[]pdata.Form{pdata.FormOTLP, pdata.FormDecoded}, map[string]float64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, reg := newHarness(t, "format: "+string(tt.format))
			var ids []uint64
			var want []string
			for _, m := range tt.in {
				want = append(want, bodies(t, m)...)
				ids = append(ids, h.SendPData(m))
			}
			h.Shutdown(h.Clock.Now().Add(time.Second)) // flushes OTLP buffers before decoded ones
			out := h.RequireSent(port, len(tt.wantForms))
			for i, m := range out {
				if m.Payload().Form() != tt.wantForms[i] {
					t.Fatalf("batch %d form %s, want %s", i, m.Payload().Form(), tt.wantForms[i])
				}
			}
			got := bodiesOfAll(t, out)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("bodies %v, want %v", got, want)
			}
			for _, to := range []string{"otlp", "decoded"} {
				if v := metric(t, reg, "ackflow_processor_batch_inputs_converted_total", "to", to); v != tt.converted[to] {
					t.Errorf("converted to %s = %v, want %v", to, v, tt.converted[to])
				}
			}
			for _, m := range out {
				h.Ack(m)
			}
			h.RequireAcked(ids...)
		})
	}
}

func TestMetricsAndTracesBatched(t *testing.T) {
	h, _ := newHarness(t, "max_batch_duration: 0s\notlp: {max_size: 1MiB, sizer: bytes}\notap: {max_size: 3, sizer: items}")
	m := h.SendPData(pdata.New(pdata.FromMetrics(pdatatest.MetricsData("m", 7))))
	tr := h.SendPData(pdata.New(pdatatest.Traces(4)))
	out := h.TakeSent(port)
	if got := items(out); !slices.Equal(got, []int{3, 3, 1, 4}) {
		t.Fatalf("batch items = %v, want [3 3 1 4]", got)
	}
	for _, o := range out {
		h.Ack(o)
	}
	h.RequireAcked(m, tr)
}

func TestMessageWithoutPayloadNacked(t *testing.T) {
	h, _ := newHarness(t, "")
	m := otlpLogs("a", 1, 0)
	m.DropPayload()
	id := h.SendPData(m)
	if got := h.RequireNacked(id)[0].Nack; !got.Permanent {
		t.Fatalf("nack %v, want permanent", got)
	}
}

func TestStaleOutcomeIgnored(t *testing.T) {
	h, reg := newHarness(t, "")
	m := otlpLogs("a", 1, 0)
	m.Subscribe(nodetest.NodeID, pdata.AcksAndNacks, pdata.CallData{7, 7, 7}) // not a frame the node wrote
	h.Control(engine.Control{Kind: engine.KindAck, Msg: m, CallData: pdata.CallData{7, 7, 7}})
	h.Control(engine.Control{Kind: engine.KindNack, Msg: m, CallData: callData(keyOf(pdata.FormOTLP, pdata.Logs), 99)})
	if v := metric(t, reg, "ackflow_processor_batch_late_outcomes_total"); v != 2 {
		t.Fatalf("late outcomes = %v, want 2", v)
	}
	h.RequireAcked()
}

func TestMalformedInputNackedAtCut(t *testing.T) {
	// An input whose bytes were never scanned (FromOTLPChunks trusts its
	// caller) and turn out malformed where it must be cut: it is nacked
	// permanently and none of its data is sent, not even the part cut
	// before the bad bytes; the good input batched with it goes out.
	e := entryBytes()
	h, reg := newHarness(t, fmt.Sprintf("format: otlp\notlp: {min_size: %d, max_size: %d, sizer: bytes}", 2*e, 3*e))
	a := h.SendPData(otlpLogs("a", 1, 1))
	good, _ := pdatatest.LogsPayload("bad", 5, 1, 32).Chunks()
	garbage := make([]byte, 4*e)
	copy(garbage, []byte{0x0a, 0xff, 0xff, 0xff, 0x0f}) // field 1, length far past the end
	bad := h.SendPData(pdata.New(pdata.FromOTLPChunks(pdata.Logs, [][]byte{good[0], garbage}, 9)))
	got := h.RequireNacked(bad)[0].Nack
	if !got.Permanent || !strings.Contains(got.Reason, "malformed") {
		t.Fatalf("nack = %v, want a permanent nack naming the malformed bytes", got)
	}
	out := h.RequireSent(port, 1)
	if tags := tagsOf(t, out[0]); !slices.Equal(tags, []string{"a"}) {
		t.Fatalf("batch holds %v, want only a", tags)
	}
	h.Ack(out[0])
	h.RequireAcked(a)
	if v := metric(t, reg, "ackflow_processor_batch_inputs_nacked_total", "cause", "unspecified"); v != 1 {
		t.Fatalf("nacked = %v", v)
	}
}

func TestNackOfFragmentKNacksItsInputOnce(t *testing.T) {
	in := otlpLogs("a", 40, 0) // one resource entry, split by records
	cfg := fmt.Sprintf("format: otlp\nmax_batch_duration: 0s\notlp: {max_size: %d, sizer: bytes}", in.Payload().Bytes()/4)
	h, _ := newHarness(t, cfg)
	id := h.SendPData(in.Clone())
	n := len(h.TakeSent(port))
	if n < 4 {
		t.Fatalf("%d fragments, want at least 4", n)
	}
	for k := range n {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			h, _ := newHarness(t, cfg)
			id = h.SendPData(in.Clone())
			out := h.RequireSent(port, n)
			for i, m := range out {
				if i == k {
					h.Nack(m, pdata.Nack{Reason: "no", Cause: pdata.CauseTimeout})
					h.RequireNacked(id)
				} else {
					h.Ack(m)
				}
			}
			if got := h.TakeUpstream(); len(got) != 0 {
				t.Fatalf("more outcomes after the nack: %v", got)
			}
		})
	}
}

func TestSharesRecordItemsPerInput(t *testing.T) {
	for _, form := range []pdata.Form{pdata.FormDecoded, pdata.FormOTLP} {
		t.Run(formName(form), func(t *testing.T) {
			h, ids, out := spanningScenario(t, form)
			b := h.Node.(*processor).bufs[keyOf(form, pdata.Logs)]
			want := [][]share{{{items: 3}, {items: 2}}, {{items: 1}, {items: 3}, {items: 1}}, {{items: 2}}}
			wantIDs := [][]uint64{{ids["a"], ids["b"]}, {ids["b"], ids["c"], ids["d"]}, {ids["d"]}}
			for i, m := range out {
				f, _ := m.Top()
				_, id, _ := parseCallData(f.CallData)
				bt := b.inflight[id]
				if bt == nil || len(bt.shares) != len(want[i]) {
					t.Fatalf("batch %d: shares %v, want %d", i, bt, len(want[i]))
				}
				for j, s := range bt.shares {
					if s.items != want[i][j].items || h.Node.(*processor).inputID(s.in) != wantIDs[i][j] {
						t.Fatalf("batch %d share %d: %d items of input %d, want %d of %d",
							i, j, s.items, h.Node.(*processor).inputID(s.in), want[i][j].items, wantIDs[i][j])
					}
				}
			}
		})
	}
}
