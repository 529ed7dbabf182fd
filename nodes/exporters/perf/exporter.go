package perf

import (
	"context"
	"log/slog"
	"math"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/pdata"
)

// counts is what arrived of one signal.
type counts struct{ messages, items, bytes uint64 }

func (c *counts) add(o counts) {
	c.messages += o.messages
	c.items += o.items
	c.bytes += o.bytes
}

// exporter acks every message at once, counts it, and logs a report every
// frequency and a summary at Shutdown.
//
// It is not safe for concurrent use; the node goroutine owns it.
type exporter struct {
	cfg Config
	log *slog.Logger
	met *metrics
	src *source

	start    time.Time // Start: the origin of the summary's averages
	last     time.Time // the previous report
	prev     sample    // the usage at the previous report
	seen     [3]bool   // by pdata.Signal
	cur      [3]counts // since the previous report
	total    [3]counts // up to the previous report
	smoothed [3]float64
	reports  int
	failed   map[string]bool // usage sections whose reading failed, logged once
	done     bool            // the summary is logged
}

var (
	_ engine.Processor = (*exporter)(nil)
	_ engine.Starter   = (*exporter)(nil)
)

// Start logs the settings, takes the first usage sample and starts the
// report timer.
func (e *exporter) Start(fx engine.Effects) error {
	now := fx.Now()
	e.start, e.last = now, now
	e.prev = e.src.read(e.cfg)
	e.log.Info("perf exporter started", "frequency", time.Duration(e.cfg.Frequency),
		"self_usage", e.cfg.SelfUsage, "cpu_usage", e.cfg.CPUUsage, "mem_usage", e.cfg.MemUsage,
		"disk_usage", e.cfg.DiskUsage, "io_usage", e.cfg.IOUsage)
	fx.StartTimer(time.Duration(e.cfg.Frequency))
	return nil
}

// OnPData counts m and acks it.
func (e *exporter) OnPData(m *pdata.Message, fx engine.Effects) error {
	c := counts{messages: 1, items: uint64(m.Items())}
	sig := pdata.Logs
	if pl := m.Payload(); pl != nil {
		sig = pl.Signal()
		c.bytes = payloadBytes(pl)
	}
	e.seen[sig] = true
	e.cur[sig].add(c)
	e.met.add(sig, c)
	fx.NotifyAck(m)
	return nil
}

// payloadBytes is the size of the OTLP encoding of p (for a decoded
// payload Bytes encodes it once), or the in-memory size of an OTAP payload,
// which is not converted: that would cost more than the whole pipeline.
func payloadBytes(p *pdata.Payload) uint64 {
	if c, ok := p.Columnar(); ok {
		return uint64(max(c.Size(), 0))
	}
	return uint64(max(p.Bytes(), 0))
}

// OnControl reports on timer ticks and summarises at Shutdown.
func (e *exporter) OnControl(c engine.Control, fx engine.Effects) error {
	switch c.Kind {
	case engine.KindTimerTick:
		e.report(fx.Now())
	case engine.KindShutdown:
		if !e.done {
			e.done = true
			e.summary(fx.Now())
		}
	}
	return nil
}

// report logs the interval since the previous report and starts a new one.
func (e *exporter) report(now time.Time) {
	elapsed := now.Sub(e.last)
	attrs := []slog.Attr{slog.Duration("interval", elapsed)}
	for _, sig := range pdata.Signals() {
		if !e.seen[sig] {
			continue
		}
		c := e.cur[sig]
		itemsRate := rate(c.items, elapsed)
		if e.reports == 0 {
			e.smoothed[sig] = itemsRate
		} else {
			a := e.cfg.SmoothingFactor
			e.smoothed[sig] = a*itemsRate + (1-a)*e.smoothed[sig]
		}
		e.total[sig].add(c)
		t := e.total[sig]
		attrs = append(attrs, slog.Group(sig.String(),
			"items_per_second", round(itemsRate),
			"items_per_second_smoothed", round(e.smoothed[sig]),
			"bytes_per_second", round(rate(c.bytes, elapsed)),
			"messages_per_second", round(rate(c.messages, elapsed)),
			"items", c.items, "bytes", c.bytes, "messages", c.messages,
			"total_items", t.items, "total_bytes", t.bytes, "total_messages", t.messages))
	}
	if len(attrs) == 1 {
		attrs = append(attrs, slog.String("data", "none received yet"))
	}
	cur := e.src.read(e.cfg)
	attrs = append(attrs, e.usage(cur, elapsed)...)
	e.log.LogAttrs(context.Background(), slog.LevelInfo, "perf report", attrs...)
	e.cur = [3]counts{}
	e.prev, e.last = cur, now
	e.reports++
}

// summary logs the totals since Start, with their average rates.
func (e *exporter) summary(now time.Time) {
	elapsed := now.Sub(e.start)
	attrs := []slog.Attr{slog.Duration("elapsed", elapsed)}
	for _, sig := range pdata.Signals() {
		if !e.seen[sig] {
			continue
		}
		t := e.total[sig]
		t.add(e.cur[sig])
		attrs = append(attrs, slog.Group(sig.String(),
			"items", t.items, "bytes", t.bytes, "messages", t.messages,
			"items_per_second", round(rate(t.items, elapsed)),
			"bytes_per_second", round(rate(t.bytes, elapsed))))
	}
	if len(attrs) == 1 {
		attrs = append(attrs, slog.String("data", "none received"))
	}
	e.log.LogAttrs(context.Background(), slog.LevelInfo, "perf summary", attrs...)
}

// usage returns the report's usage sections: levels as read in cur, and
// rates of the counters since e.prev. A section whose reading failed is
// left out, its error logged once.
func (e *exporter) usage(cur sample, elapsed time.Duration) []slog.Attr {
	var out []slog.Attr
	ok := func(section string, err error) bool {
		if err == nil {
			return true
		}
		if !e.failed[section] {
			e.failed[section] = true
			e.log.Warn("perf: a usage section is unavailable and is left out of the reports", "section", section, "err", err)
		}
		return false
	}
	p := e.prev
	if e.cfg.CPUUsage {
		var attrs []any
		if ok("cpu_usage.process", errorsOf(cur.procCPUErr, p.procCPUErr)) && elapsed > 0 {
			attrs = append(attrs, "process_percent", round(100*float64(cur.procCPU-p.procCPU)/float64(elapsed)))
		}
		if ok("cpu_usage.host", errorsOf(cur.hostErr, p.hostErr)) && cur.hostTotal > p.hostTotal {
			attrs = append(attrs, "host_percent", round(100*float64(cur.hostBusy-p.hostBusy)/float64(cur.hostTotal-p.hostTotal)))
		}
		if len(attrs) > 0 {
			out = append(out, slog.Group("cpu", attrs...))
		}
	}
	if e.cfg.MemUsage && ok("mem_usage", cur.memErr) {
		out = append(out, slog.Group("memory", "rss_bytes", cur.rss, "virtual_bytes", cur.virtual))
	}
	if e.cfg.DiskUsage && ok("disk_usage", errorsOf(cur.diskErr, p.diskErr)) {
		out = append(out, slog.Group("disk",
			"read_bytes_per_second", round(rate(cur.readBytes-min(p.readBytes, cur.readBytes), elapsed)),
			"write_bytes_per_second", round(rate(cur.writeBytes-min(p.writeBytes, cur.writeBytes), elapsed)),
			"total_read_bytes", cur.readBytes, "total_write_bytes", cur.writeBytes))
	}
	if e.cfg.IOUsage && ok("io_usage", errorsOf(cur.netErr, p.netErr)) {
		var ifaces []any
		for _, n := range cur.nets {
			var before netCounters
			for _, b := range p.nets {
				if b.name == n.name {
					before = b
				}
			}
			delta := func(now, then uint64) float64 { return round(rate(now-min(then, now), elapsed)) }
			ifaces = append(ifaces, slog.Group(n.name,
				"rx_bytes_per_second", delta(n.rxBytes, before.rxBytes),
				"tx_bytes_per_second", delta(n.txBytes, before.txBytes),
				"rx_packets_per_second", delta(n.rxPackets, before.rxPackets),
				"tx_packets_per_second", delta(n.txPackets, before.txPackets),
				"total_rx_bytes", n.rxBytes, "total_tx_bytes", n.txBytes,
				"total_rx_errors", n.rxErrs, "total_tx_errors", n.txErrs))
		}
		out = append(out, slog.Group("network", ifaces...))
	}
	if e.cfg.SelfUsage {
		out = append(out, slog.Group("go", "goroutines", cur.goroutines, "heap_bytes", cur.heapBytes, "gc_cycles", cur.gcCycles))
	}
	return out
}

// errorsOf returns the first non-nil error: a rate needs both readings.
func errorsOf(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// rate is n per second over d; 0 for an empty interval.
func rate(n uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// round keeps two decimals, enough for a report.
func round(x float64) float64 { return math.Round(x*100) / 100 }
