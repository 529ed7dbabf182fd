package console

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/pdata"
)

// counts is what arrived of one signal.
type counts struct{ items, messages uint64 }

// exporter acks and counts; it prints a line per signal seen at every timer
// tick and a final one at Shutdown.
//
// It is not safe for concurrent use; the node goroutine owns it.
type exporter struct {
	name     string
	w        io.Writer
	log      *slog.Logger
	interval time.Duration
	detailed bool

	started  bool      // the timer runs; set by the first message
	first    time.Time // the first message
	last     time.Time // the start of the current interval
	seen     [3]bool   // by pdata.Signal
	cur      [3]counts // this interval, by signal
	total    [3]counts // up to the last tick, by signal
	done     bool      // the final summary is printed
	writeErr bool      // a write failed; logged once
}

var _ engine.Processor = (*exporter)(nil)

// OnPData counts m, prints it in detailed mode, and acks it.
//
// The timer starts with the first message: the engine gives a node its
// effects only when it calls it, and before any data there is nothing to
// summarise anyway.
func (e *exporter) OnPData(m *pdata.Message, fx engine.Effects) error {
	now := fx.Now()
	if !e.started {
		e.started, e.first, e.last = true, now, now
		fx.StartTimer(e.interval)
	}
	sig := pdata.Logs
	if pl := m.Payload(); pl != nil {
		sig = pl.Signal()
	}
	e.seen[sig] = true
	e.cur[sig].items += uint64(m.Items())
	e.cur[sig].messages++
	if e.detailed {
		e.message(now, sig, m)
	}
	fx.NotifyAck(m)
	return nil
}

// OnControl prints the periodic summary on timer ticks and the final one
// at Shutdown.
func (e *exporter) OnControl(c engine.Control, fx engine.Effects) error {
	switch c.Kind {
	case engine.KindTimerTick:
		e.tick(fx.Now())
	case engine.KindShutdown:
		if !e.done {
			e.done = true
			e.final(fx.Now())
		}
	}
	return nil
}

// tick prints one line per signal seen so far and starts a new interval.
func (e *exporter) tick(now time.Time) {
	elapsed := now.Sub(e.last)
	for _, sig := range pdata.Signals() {
		if !e.seen[sig] {
			continue
		}
		c := e.cur[sig]
		e.total[sig].items += c.items
		e.total[sig].messages += c.messages
		t := e.total[sig]
		e.printf("%s %s %s: %s items/s, %s msgs/s | total %d items, %d msgs\n",
			clockTime(now), e.name, sig, rate(c.items, elapsed), rate(c.messages, elapsed), t.items, t.messages)
	}
	e.cur = [3]counts{}
	e.last = now
}

// final prints the totals since the first message.
func (e *exporter) final(now time.Time) {
	if !e.started {
		e.printf("%s %s: final: no data received\n", clockTime(now), e.name)
		return
	}
	elapsed := now.Sub(e.first)
	for _, sig := range pdata.Signals() {
		if !e.seen[sig] {
			continue
		}
		t := e.total[sig]
		t.items += e.cur[sig].items
		t.messages += e.cur[sig].messages
		e.printf("%s %s %s: final: %d items, %d msgs in %s (%s items/s)\n",
			clockTime(now), e.name, sig, t.items, t.messages, elapsed.Round(time.Millisecond), rate(t.items, elapsed))
	}
}

// message prints one message in detailed mode.
func (e *exporter) message(now time.Time, sig pdata.Signal, m *pdata.Message) {
	size := ""
	if pl := m.Payload(); pl != nil && pl.Form() == pdata.FormOTLP {
		size = ", " + strconv.Itoa(pl.Bytes()) + " bytes"
	}
	e.printf("%s %s %s message: %d items%s\n", clockTime(now), e.name, sig, m.Items(), size)
}

// printf writes a line. A failed write (stdout closed) is logged once; the
// data is acked all the same, since printing is this exporter's only
// destination and it is best effort.
func (e *exporter) printf(format string, args ...any) {
	if _, err := fmt.Fprintf(e.w, format, args...); err != nil && !e.writeErr {
		e.writeErr = true
		e.log.Warn("console exporter: cannot write the summary; later failures are not logged", "err", err)
	}
}

// rate renders n per second over d: one decimal below 100, none above.
func rate(n uint64, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	r := float64(n) / d.Seconds()
	if r >= 100 {
		return strconv.FormatFloat(r, 'f', 0, 64)
	}
	return strconv.FormatFloat(r, 'f', 1, 64)
}

// clockTime is the local time of day of a line: for a person watching.
func clockTime(t time.Time) string { return t.Local().Format("15:04:05") }
