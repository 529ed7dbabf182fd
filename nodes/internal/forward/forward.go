package forward

import (
	"errors"
	"fmt"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/pdata"
)

// Send sends m on the default output. If the engine refuses it, Send nacks
// m upstream with the cause NackCause gives and the reason
// `<kind> "<name>": forward: <error>`, kind being the node type's short
// name (filter) and name the node's. Either way, after Send returns the
// caller must not touch m.
func Send(fx engine.Effects, m *pdata.Message, kind, name string) {
	if err := fx.Send(m); err != nil {
		cause, permanent := NackCause(err)
		fx.NotifyNack(m, pdata.Nack{
			Reason:    fmt.Sprintf("%s %q: forward: %v", kind, name, err),
			Permanent: permanent,
			Cause:     cause,
		})
	}
}

// NackCause classifies a send error for the nack upstream: a full or
// closed output, or the shutdown deadline, are transient; a port that does
// not exist will not appear on a retry, so that failure is permanent.
func NackCause(err error) (cause pdata.Cause, permanent bool) {
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
