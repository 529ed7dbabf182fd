package debug

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/nodes/internal/forward"
	"github.com/ackflow/ackflow/pdata"
)

// processor logs and forwards. It never subscribes to outcomes, so acks
// and nacks from downstream pass straight through it to whoever asked.
//
// It is not safe for concurrent use; the node goroutine owns it.
type processor struct {
	name   string
	s      settings
	log    *slog.Logger
	totals [3]struct{ messages, items uint64 } // by pdata.Signal, for the summary at Shutdown
	done   bool                                // Shutdown handled: the summary is logged once

	// The output file (output: PATH), opened at the first line; out
	// writes to it, or is log when there is none or it cannot be opened.
	out  *slog.Logger
	file *os.File
}

var _ engine.Processor = (*processor)(nil)

// OnPData logs m at the configured verbosity and forwards it unchanged. A
// message that cannot be forwarded is nacked upstream with the cause of the
// failure, so its sender is never left waiting.
func (p *processor) OnPData(m *pdata.Message, fx engine.Effects) error {
	if pl := m.Payload(); pl != nil {
		sig := pl.Signal()
		p.totals[sig].messages++
		p.totals[sig].items += uint64(m.Items())
		if p.s.signals[sig] {
			p.describe(fx.Now(), pl)
		}
	}
	forward.Send(fx, m, "debug", p.name)
	return nil
}

// OnControl logs the summary at Shutdown and closes the output file;
// nothing else concerns the node.
func (p *processor) OnControl(c engine.Control, _ engine.Effects) error {
	if c.Kind == engine.KindShutdown && !p.done {
		p.done = true
		p.summary()
		p.closeOutput()
	}
	return nil
}

// summary logs what passed through, per signal seen.
func (p *processor) summary() {
	attrs := make([]slog.Attr, 0, 3)
	for _, sig := range pdata.Signals() {
		if t := p.totals[sig]; t.messages > 0 {
			attrs = append(attrs, slog.Group(sig.String(), "messages", t.messages, "items", t.items))
		}
	}
	p.emit("debug summary", attrs...)
}

// emit writes one line to the output.
func (p *processor) emit(msg string, attrs ...slog.Attr) {
	p.output().LogAttrs(context.Background(), slog.LevelInfo, msg, attrs...)
}

// output returns where lines go, opening the output file the first time.
// A file that cannot be opened is reported once on the node's logger, and
// the lines go there instead: debugging output is never worth failing the
// pipeline.
func (p *processor) output() *slog.Logger {
	if p.out != nil {
		return p.out
	}
	p.out = p.log
	if p.s.file == "" {
		return p.out
	}
	f, err := os.OpenFile(p.s.file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		p.log.Warn("debug: cannot open the output file; logging here instead", "output", p.s.file, "err", err)
		return p.out
	}
	p.file = f
	p.out = slog.New(slog.NewTextHandler(f, nil)).With("node", p.name)
	return p.out
}

// closeOutput closes the output file, if one was opened.
func (p *processor) closeOutput() {
	if p.file == nil {
		return
	}
	if err := p.file.Close(); err != nil {
		p.log.Warn("debug: closing the output file", "output", p.s.file, "err", err)
	}
	p.file, p.out = nil, p.log
}

// sampler is the reference engine's zap sampling: in each interval the
// first `initial` reports are shown, then one in `thereafter`. Its zero
// value (interval 0) shows every report.
type sampler struct {
	initial, thereafter uint64
	interval            time.Duration
	seen                uint64    // reports in the current interval
	end                 time.Time // when the current interval ends
}

// allow reports whether the report at now is shown, and counts it.
func (s *sampler) allow(now time.Time) bool {
	if s.interval <= 0 {
		return true
	}
	if !now.Before(s.end) {
		s.end, s.seen = now.Add(s.interval), 0
	}
	s.seen++
	// The first report of an interval always shows, as in the reference.
	return s.seen == 1 || s.seen <= s.initial || (s.seen-s.initial)%s.thereafter == 0
}
