package debug

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/ackflow/ackflow/engine"
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
			p.describe(pl)
		}
	}
	if err := fx.Send(m); err != nil {
		cause, permanent := nackCause(err)
		fx.NotifyNack(m, pdata.Nack{
			Reason:    fmt.Sprintf("debug %q: forward: %v", p.name, err),
			Permanent: permanent,
			Cause:     cause,
		})
	}
	return nil
}

// nackCause classifies a send error for the nack upstream. A port that
// does not exist will not appear on a retry: that failure is permanent.
func nackCause(err error) (pdata.Cause, bool) {
	switch {
	case errors.Is(err, engine.ErrFull):
		return pdata.CauseRouteFull, false
	case errors.Is(err, engine.ErrClosed):
		return pdata.CauseRouteClosed, false
	case errors.Is(err, engine.ErrAborted):
		return pdata.CauseNodeShutdown, false
	case errors.Is(err, engine.ErrNoDefaultPort), errors.Is(err, engine.ErrUnknownPort):
		return pdata.CauseRouteClosed, true
	}
	return pdata.CauseUnspecified, false
}

// OnControl logs the summary at Shutdown; nothing else concerns the node.
func (p *processor) OnControl(c engine.Control, _ engine.Effects) error {
	if c.Kind == engine.KindShutdown && !p.done {
		p.done = true
		p.summary()
	}
	return nil
}

// summary logs what passed through, per signal seen.
func (p *processor) summary() {
	attrs := make([]any, 0, 6)
	for _, sig := range pdata.Signals() {
		if t := p.totals[sig]; t.messages > 0 {
			attrs = append(attrs, slog.Group(sig.String(), "messages", t.messages, "items", t.items))
		}
	}
	p.log.Info("debug summary", attrs...)
}
