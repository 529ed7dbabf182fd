package forward_test

import (
	"errors"
	"fmt"
	"testing"

	"go.uber.org/goleak"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/nodes/internal/forward"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// passer forwards every message with forward.Send, as node "n1".
type passer struct{}

func (passer) OnPData(m *pdata.Message, fx engine.Effects) error {
	forward.Send(fx, m, "passer", "n1")
	return nil
}

func (passer) OnControl(engine.Control, engine.Effects) error { return nil }

var factory = engine.Factory{
	Type:         "processor:passer",
	NewProcessor: func(engine.NodeContext) (engine.Processor, error) { return passer{}, nil },
}

func msg() *pdata.Message { return pdatatest.Msg(pdatatest.Logs(1)) }

// A message the output takes goes on with its return route: its ack
// reaches the sender.
func TestSendForwards(t *testing.T) {
	h := nodetest.New(t, factory, "")
	id := h.SendPData(msg())
	h.Ack(h.RequireSent("default", 1)[0])
	h.RequireAcked(id)
}

// A message the output refuses is nacked upstream at once, with the cause
// of the refusal and the node's name.
func TestSendNacksWhatTheOutputRefuses(t *testing.T) {
	for _, tc := range []struct {
		name      string
		opts      []nodetest.Option
		fill      int // messages sent first, which the output takes
		cause     pdata.Cause
		permanent bool
		reason    string
	}{
		{"full", []nodetest.Option{nodetest.WithPortCapacity(1)}, 1, pdata.CauseRouteFull, false,
			`passer "n1": forward: ` + engine.ErrFull.Error()},
		{"no default output", []nodetest.Option{nodetest.WithOutputs("a", "b")}, 0, pdata.CauseRouteClosed, true,
			`passer "n1": forward: ` + engine.ErrNoDefaultPort.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := nodetest.New(t, factory, "", tc.opts...)
			for range tc.fill {
				h.SendPData(msg())
			}
			n := h.RequireNacked(h.SendPData(msg()))[0].Nack
			if n.Cause != tc.cause || n.Permanent != tc.permanent || n.Reason != tc.reason {
				t.Fatalf("nack %+v, want cause %v, permanent %v, reason %q", n, tc.cause, tc.permanent, tc.reason)
			}
		})
	}
}

func TestNackCause(t *testing.T) {
	for _, tt := range []struct {
		err       error
		cause     pdata.Cause
		permanent bool
	}{
		{engine.ErrFull, pdata.CauseRouteFull, false},
		{fmt.Errorf("port x: %w", engine.ErrClosed), pdata.CauseRouteClosed, false},
		{engine.ErrAborted, pdata.CauseNodeShutdown, false},
		{engine.ErrNoDefaultPort, pdata.CauseRouteClosed, true},
		{fmt.Errorf("%w %q", engine.ErrUnknownPort, "x"), pdata.CauseRouteClosed, true},
		{errors.New("other"), pdata.CauseUnspecified, false},
	} {
		if c, p := forward.NackCause(tt.err); c != tt.cause || p != tt.permanent {
			t.Errorf("NackCause(%v) = %v, %v; want %v, %v", tt.err, c, p, tt.cause, tt.permanent)
		}
	}
}
