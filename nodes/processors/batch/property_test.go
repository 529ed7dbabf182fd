package batch

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// randomConfig returns a valid config drawn from rng, with sizes small
// enough that inputs are merged, split between entries and split inside
// oversize entries.
func randomConfig(rng *rand.Rand) string {
	e := entryBytes()
	var b strings.Builder
	format := []Format{FormatOTLP, FormatOTAP, FormatPreserve}[rng.IntN(3)]
	fmt.Fprintf(&b, "format: %s\n", format)
	splitOnly := rng.IntN(4) == 0
	if splitOnly {
		b.WriteString("max_batch_duration: 0s\n")
	} else {
		fmt.Fprintf(&b, "max_batch_duration: %dms\n", 50+rng.IntN(500))
	}
	if rng.IntN(2) == 0 {
		fmt.Fprintf(&b, "inbound_request_limit: %d\n", 1+rng.IntN(6))
	}
	if rng.IntN(2) == 0 {
		fmt.Fprintf(&b, "outbound_request_limit: %d\n", 1+rng.IntN(4))
	}
	if rng.IntN(3) == 0 {
		b.WriteString("flush_when_idle: true\n")
	}
	block := func(name, sizer string, unit int) {
		minSize, maxSize := (1+rng.IntN(20))*unit, 0
		switch {
		case splitOnly:
			minSize, maxSize = 0, (1+rng.IntN(20))*unit
		case rng.IntN(3) == 0:
			maxSize = minSize + rng.IntN(10)*unit
		case rng.IntN(3) == 0:
			minSize, maxSize = 0, (1+rng.IntN(20))*unit
		}
		fmt.Fprintf(&b, "%s: {sizer: %s", name, sizer)
		if minSize > 0 {
			fmt.Fprintf(&b, ", min_size: %d", minSize)
		}
		if maxSize > 0 {
			fmt.Fprintf(&b, ", max_size: %d", maxSize)
		}
		if rng.IntN(4) == 0 {
			fmt.Fprintf(&b, ", max_split_fragments: %d", 1+rng.IntN(4))
		}
		b.WriteString("}\n")
	}
	block("otlp", "bytes", e/2+rng.IntN(e))
	block("otap", "items", 1)
	return b.String()
}

// randomLogs returns a logs input of random shape and form, tagged tag.
func randomLogs(rng *rand.Rand, tag string) *pdata.Message {
	n := rng.IntN(25)
	if rng.IntN(10) == 0 {
		n = 0
	}
	ld := pdatatest.LogsData(tag, n, rng.IntN(6), 8+rng.IntN(120))
	if rng.IntN(5) == 0 { // an empty scope and an empty resource, not lost either
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("empty", tag)
		if n > 0 {
			ld.ResourceLogs().At(0).ScopeLogs().AppendEmpty().Scope().SetName("empty-" + tag)
		}
	}
	if rng.IntN(2) == 0 {
		return pdata.New(pdata.FromLogs(ld))
	}
	b, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	if err != nil {
		panic(err)
	}
	p, err := pdata.FromOTLPBuffers(pdata.Logs, cutRandomly(rng, b))
	if err != nil {
		panic(err)
	}
	return pdata.New(p)
}

// cutRandomly cuts b into one to four buffers at random points, as a
// transport may receive it: the batcher must join them before it cuts
// between requests.
func cutRandomly(rng *rand.Rand, b []byte) [][]byte {
	bufs := [][]byte{}
	for n := rng.IntN(4); n > 0 && len(b) > 1; n-- {
		k := 1 + rng.IntN(len(b)-1)
		bufs, b = append(bufs, b[:k:k]), b[k:]
	}
	return append(bufs, b)
}

// logsContent lists what a logs payload holds, one string per record and
// per resource without scopes or scope without records, so that two payloads hold the same data
// exactly when their sorted contents are equal.
func logsContent(t *testing.T, p *pdata.Payload) []string {
	t.Helper()
	ld, err := p.Logs()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, rl := range ld.ResourceLogs().All() {
		if rl.ScopeLogs().Len() == 0 {
			v, _ := rl.Resource().Attributes().Get("empty")
			out = append(out, "empty-resource-"+v.AsString())
		}
		for _, sl := range rl.ScopeLogs().All() {
			if sl.LogRecords().Len() == 0 {
				out = append(out, "empty-scope-"+sl.Scope().Name())
			}
			for _, lr := range sl.LogRecords().All() {
				out = append(out, lr.Body().AsString())
			}
		}
	}
	return out
}

// TestPropertyBatchingKeepsEveryItem: for random configs and random
// inputs, acked by downstream in random order and at random times, every
// input is acked exactly once and the batches hold exactly the inputs' data
// (records, empty resources and scopes): nothing lost, nothing duplicated.
func TestPropertyBatchingKeepsEveryItem(t *testing.T) {
	for seed := range 300 {
		rng := rand.New(rand.NewPCG(uint64(seed), 4))
		cfg := randomConfig(rng)
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			h, _ := newHarness(t, cfg)
			var want, got []string
			var ids []uint64
			var inflight []*pdata.Message
			take := func() {
				for _, m := range h.TakeSent(port) {
					got = append(got, logsContent(t, m.Payload())...)
					inflight = append(inflight, m)
				}
			}
			ackSome := func(all bool) {
				rng.Shuffle(len(inflight), func(i, j int) { inflight[i], inflight[j] = inflight[j], inflight[i] })
				n := len(inflight)
				if !all {
					n = rng.IntN(n + 1)
				}
				acked := inflight[:n]
				inflight = slices.Clone(inflight[n:])
				for _, m := range acked {
					h.Ack(m)
					take()
				}
			}
			for i := range 1 + rng.IntN(30) {
				m := randomLogs(rng, fmt.Sprintf("i%d", i))
				if m.Items() > 0 { // an input without items is acked at once, not forwarded
					want = append(want, logsContent(t, m.Payload())...)
				}
				ids = append(ids, h.SendPData(m))
				take()
				if rng.IntN(3) == 0 {
					h.Advance(time.Duration(rng.IntN(400)) * time.Millisecond)
					take()
				}
				ackSome(false)
			}
			for h.Queued() > 0 { // the engine drains the input before Shutdown
				h.Advance(time.Second)
				take()
				ackSome(true)
			}
			h.Shutdown(h.Clock.Now().Add(time.Minute))
			take()
			ackSome(true)
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("config:\n%s\nbatched data differs from the inputs': %s", cfg, diff(got, want))
			}
			h.RequireAcked(ids...)
			if h.Pending() != 0 {
				t.Fatalf("config:\n%s\n%d inputs pending", cfg, h.Pending())
			}
		})
	}
}

// TestPropertyNacksReachExactlyTheCarriers: with random nacks, every input
// gets exactly one outcome; an acked input had all its data in acked
// batches; a nacked input had data in a nacked batch.
func TestPropertyNacksReachExactlyTheCarriers(t *testing.T) {
	for seed := range 200 {
		rng := rand.New(rand.NewPCG(uint64(seed), 5))
		cfg := randomConfig(rng)
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			h, _ := newHarness(t, cfg)
			tagOfID := map[uint64]string{}
			recordsOf := map[string]int{} // records per input tag
			ackedRecords := map[string]int{}
			nackedTags := map[string]bool{}
			var inflight []*pdata.Message
			outcomes := map[uint64]int{}
			take := func() {
				inflight = append(inflight, h.TakeSent(port)...)
				for _, o := range h.TakeUpstream() {
					outcomes[o.ID]++
					tag := tagOfID[o.ID]
					switch o.Kind {
					case engine.KindAck:
						if ackedRecords[tag] != recordsOf[tag] {
							t.Fatalf("config:\n%s\ninput %s acked with %d of its %d records acked downstream", cfg, tag, ackedRecords[tag], recordsOf[tag])
						}
					case engine.KindNack:
						if !nackedTags[tag] {
							t.Fatalf("config:\n%s\ninput %s nacked (%v) but no batch carrying it was nacked", cfg, tag, o.Nack)
						}
					}
				}
			}
			resolve := func(all bool) {
				n := len(inflight)
				if !all {
					n = rng.IntN(n + 1)
				}
				rng.Shuffle(len(inflight), func(i, j int) { inflight[i], inflight[j] = inflight[j], inflight[i] })
				batch := inflight[:n]
				inflight = slices.Clone(inflight[n:])
				for _, m := range batch {
					// The inputs whose data the batch carries: records, and
					// an input's empty resource or scope alone count too.
					var carriers, records []string
					for _, c := range logsContent(t, m.Payload()) {
						switch {
						case strings.HasPrefix(c, "empty-resource-"):
							carriers = append(carriers, strings.TrimPrefix(c, "empty-resource-"))
						case strings.HasPrefix(c, "empty-scope-empty-"):
							carriers = append(carriers, strings.TrimPrefix(c, "empty-scope-empty-"))
						default:
							carriers = append(carriers, tagOf(c))
							records = append(records, tagOf(c))
						}
					}
					if rng.IntN(4) == 0 {
						for _, tag := range carriers {
							nackedTags[tag] = true
						}
						h.Nack(m, pdata.Nack{Reason: "random"})
					} else {
						for _, tag := range records {
							ackedRecords[tag]++
						}
						h.Ack(m)
					}
					take()
				}
			}
			var ids []uint64
			for i := range 1 + rng.IntN(30) {
				tag := fmt.Sprintf("i%d", i)
				m := randomLogs(rng, tag)
				recordsOf[tag] = m.Items()
				id := h.SendPData(m)
				tagOfID[id] = tag
				ids = append(ids, id)
				take()
				if rng.IntN(3) == 0 {
					h.Advance(time.Duration(rng.IntN(400)) * time.Millisecond)
					take()
				}
				resolve(false)
			}
			for h.Queued() > 0 {
				h.Advance(time.Second)
				take()
				resolve(true)
			}
			h.Shutdown(h.Clock.Now().Add(time.Minute))
			take()
			resolve(true)
			for _, id := range ids {
				if outcomes[id] != 1 {
					t.Fatalf("config:\n%s\ninput %s got %d outcomes, want 1", cfg, tagOfID[id], outcomes[id])
				}
			}
			if h.Pending() != 0 {
				t.Fatalf("%d inputs pending", h.Pending())
			}
		})
	}
}

// TestPropertyMetricsAndTraces batches random metrics and traces (OTLP
// and decoded; one resource each, so OTLP splits go through the oversize
// entry path) and checks that the data points and spans come out intact.
func TestPropertyMetricsAndTraces(t *testing.T) {
	for seed := range 100 {
		rng := rand.New(rand.NewPCG(uint64(seed), 6))
		cfg := randomConfig(rng)
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			h, _ := newHarness(t, cfg)
			var want, got []string
			var ids []uint64
			for i := range 1 + rng.IntN(12) {
				tag := fmt.Sprintf("i%d", i)
				var p *pdata.Payload
				n := 1 + rng.IntN(30)
				if rng.IntN(2) == 0 {
					p = pdata.FromMetrics(mixedMetrics(tag, n))
				} else {
					p = pdata.FromTraces(pdatatest.TracesData(tag, n))
				}
				if rng.IntN(2) == 0 { // as OTLP bytes
					b, err := p.AppendOTLP(nil)
					if err != nil {
						t.Fatal(err)
					}
					if p, err = pdata.FromOTLP(p.Signal(), b); err != nil {
						t.Fatal(err)
					}
				}
				want = append(want, itemsContent(t, p)...)
				ids = append(ids, h.SendPData(pdata.New(p)))
				if rng.IntN(3) == 0 {
					h.Advance(time.Duration(rng.IntN(400)) * time.Millisecond)
				}
			}
			for {
				out := h.TakeSent(port)
				if len(out) == 0 && h.Queued() == 0 {
					break
				}
				for _, m := range out {
					got = append(got, itemsContent(t, m.Payload())...)
					h.Ack(m)
				}
				h.Advance(time.Second)
			}
			h.Shutdown(h.Clock.Now().Add(time.Minute))
			for _, m := range h.TakeSent(port) {
				got = append(got, itemsContent(t, m.Payload())...)
				h.Ack(m)
			}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("config:\n%s\nbatched items differ: %s", cfg, diff(got, want))
			}
			h.RequireAcked(ids...)
		})
	}
}

// mixedMetrics returns n data points spread over one metric of each type,
// each point identified by its timestamp and its metric's name.
func mixedMetrics(tag string, n int) pmetric.Metrics {
	md := pmetric.NewMetrics()
	sm := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
	g := sm.Metrics().AppendEmpty()
	g.SetName(tag + ".gauge")
	gauge := g.SetEmptyGauge()
	s := sm.Metrics().AppendEmpty()
	s.SetName(tag + ".sum")
	sum := s.SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	hm := sm.Metrics().AppendEmpty()
	hm.SetName(tag + ".histogram")
	hist := hm.SetEmptyHistogram()
	em := sm.Metrics().AppendEmpty()
	em.SetName(tag + ".exponential")
	exp := em.SetEmptyExponentialHistogram()
	qm := sm.Metrics().AppendEmpty()
	qm.SetName(tag + ".summary")
	summ := qm.SetEmptySummary()
	sm.Metrics().AppendEmpty().SetName(tag + ".nodata") // no type, no points
	for i := range n {
		ts := pcommon.Timestamp(i + 1)
		switch i % 5 {
		case 0:
			gauge.DataPoints().AppendEmpty().SetTimestamp(ts)
		case 1:
			sum.DataPoints().AppendEmpty().SetTimestamp(ts)
		case 2:
			hist.DataPoints().AppendEmpty().SetTimestamp(ts)
		case 3:
			exp.DataPoints().AppendEmpty().SetTimestamp(ts)
		case 4:
			summ.DataPoints().AppendEmpty().SetTimestamp(ts)
		}
	}
	return md
}

// itemsContent lists the data points (metric name, type and timestamp) or
// spans (name) of a metrics or traces payload, and metrics without points.
func itemsContent(t *testing.T, p *pdata.Payload) []string {
	t.Helper()
	var out []string
	switch p.Signal() {
	case pdata.Metrics:
		md, err := p.Metrics()
		if err != nil {
			t.Fatal(err)
		}
		for _, rm := range md.ResourceMetrics().All() {
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					if metricPoints(m) == 0 {
						out = append(out, m.Name()+"/empty")
					}
					add := func(ts pcommon.Timestamp) {
						out = append(out, fmt.Sprintf("%s/%s/%d", m.Name(), m.Type(), ts))
					}
					switch m.Type() {
					case pmetric.MetricTypeGauge:
						for _, dp := range m.Gauge().DataPoints().All() {
							add(dp.Timestamp())
						}
					case pmetric.MetricTypeSum:
						if !m.Sum().IsMonotonic() || m.Sum().AggregationTemporality() != pmetric.AggregationTemporalityCumulative {
							t.Fatalf("sum %s lost its header", m.Name())
						}
						for _, dp := range m.Sum().DataPoints().All() {
							add(dp.Timestamp())
						}
					case pmetric.MetricTypeHistogram:
						for _, dp := range m.Histogram().DataPoints().All() {
							add(dp.Timestamp())
						}
					case pmetric.MetricTypeExponentialHistogram:
						for _, dp := range m.ExponentialHistogram().DataPoints().All() {
							add(dp.Timestamp())
						}
					case pmetric.MetricTypeSummary:
						for _, dp := range m.Summary().DataPoints().All() {
							add(dp.Timestamp())
						}
					}
				}
			}
		}
	case pdata.Traces:
		td, err := p.Traces()
		if err != nil {
			t.Fatal(err)
		}
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					out = append(out, sp.Name())
				}
			}
		}
	}
	return out
}

// TestAppendRangePartitions splits payloads with empty containers at every
// position into ranges of every width and checks that the ranges together
// hold everything exactly once, in order.
func TestAppendRangePartitions(t *testing.T) {
	ld := plog.NewLogs()
	addResource := func(name string, scopes ...int) {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("empty", name) // read by logsContent only when it has no scopes
		for si, n := range scopes {
			sl := rl.ScopeLogs().AppendEmpty()
			if n == 0 {
				sl.Scope().SetName(fmt.Sprintf("empty-%s%d", name, si))
			}
			for range n {
				setBody(sl.LogRecords().AppendEmpty(), name, sl.LogRecords().Len())
			}
		}
	}
	addResource("r0")
	addResource("r1", 0, 2, 0)
	addResource("r2", 3)
	addResource("r3")
	addResource("r4", 1, 0)
	addResource("r5", 0)
	ld.MarkReadOnly()
	total := ld.LogRecordCount()
	want := logsContent(t, pdata.FromLogs(ld))
	for width := 1; width <= total; width++ {
		var got []string
		for off := 0; off < total; off += width {
			dst := plog.NewLogs()
			appendRange(dst, ld, span{off: off, end: min(off+width, total), total: total})
			got = append(got, logsContent(t, pdata.FromLogs(dst))...)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("width %d:\n got %v\nwant %v", width, got, want)
		}
	}

	td := ptrace.NewTraces()
	td.ResourceSpans().AppendEmpty()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans()
	ss.AppendEmpty()
	for i := range 4 {
		ss.AppendEmpty().Spans().AppendEmpty().SetName(fmt.Sprint("s", i))
	}
	td.MarkReadOnly()
	for width := 1; width <= 4; width++ {
		resources, scopes, spans := 0, 0, 0
		for off := 0; off < 4; off += width {
			dst := ptrace.NewTraces()
			appendRange(dst, td, span{off: off, end: min(off+width, 4), total: 4})
			for _, rs := range dst.ResourceSpans().All() {
				if rs.ScopeSpans().Len() == 0 {
					resources++
				}
				for _, s := range rs.ScopeSpans().All() {
					if s.Spans().Len() == 0 {
						scopes++
					}
					spans += s.Spans().Len()
				}
			}
		}
		if resources != 1 || scopes != 1 || spans != 4 {
			t.Fatalf("width %d: %d empty resources, %d empty scopes, %d spans; want 1, 1, 4", width, resources, scopes, spans)
		}
	}
}

// TestSplitEntryFragments checks the record split of oversize entries:
// each fragment fits, the items are intact and in order.
func TestSplitEntryFragments(t *testing.T) {
	for _, tt := range []struct {
		name     string
		signal   pdata.Signal
		p        *pdata.Payload
		maxBytes int
	}{
		{"logs", pdata.Logs, pdatatest.LogsPayload("a", 100, 0, 64), 1000},
		{"metrics", pdata.Metrics, mustOTLP(t, pdata.FromMetrics(mixedMetrics("m", 50))), 300},
		{"traces", pdata.Traces, pdatatest.Traces(60), 500},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := tt.p.AppendOTLP(nil)
			frags, ok, err := splitEntry(tt.signal, b, tt.p.Items(), tt.maxBytes, 1000)
			if err != nil || !ok {
				t.Fatalf("splitEntry: ok %v, err %v", ok, err)
			}
			var got []string
			n := 0
			for _, f := range frags {
				if len(f.b) > tt.maxBytes {
					t.Fatalf("fragment of %d bytes over %d", len(f.b), tt.maxBytes)
				}
				p, err := pdata.FromOTLP(tt.signal, f.b)
				if err != nil {
					t.Fatal(err)
				}
				if p.Items() != f.items {
					t.Fatalf("fragment counts %d items, holds %d", f.items, p.Items())
				}
				n += f.items
				got = append(got, itemsOrBodies(t, p)...)
			}
			if want := itemsOrBodies(t, tt.p); !slices.Equal(got, want) || n != tt.p.Items() {
				t.Fatalf("fragments hold %v, want %v", got, want)
			}
			if _, ok, _ := splitEntry(tt.signal, b, tt.p.Items(), tt.maxBytes, 2); ok {
				t.Fatalf("a budget of 2 fragments was not enforced")
			}
		})
	}
}

func itemsOrBodies(t *testing.T, p *pdata.Payload) []string {
	if p.Signal() == pdata.Logs {
		return pdatatest.LogBodies(t, p)
	}
	return itemsContent(t, p)
}

func mustOTLP(t *testing.T, p *pdata.Payload) *pdata.Payload {
	t.Helper()
	b, err := p.AppendOTLP(nil)
	if err != nil {
		t.Fatal(err)
	}
	q, err := pdata.FromOTLP(p.Signal(), b)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// diff describes how the multisets got and want differ.
func diff(got, want []string) string {
	count := map[string]int{}
	for _, s := range got {
		count[s]++
	}
	for _, s := range want {
		count[s]--
	}
	var extra, missing []string
	for s, n := range count {
		for ; n > 0; n-- {
			extra = append(extra, s)
		}
		for ; n < 0; n++ {
			missing = append(missing, s)
		}
	}
	slices.Sort(extra)
	slices.Sort(missing)
	return fmt.Sprintf("%d items out, %d in; extra %q; missing %q", len(got), len(want), extra, missing)
}
