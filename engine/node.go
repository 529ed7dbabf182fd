package engine

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/ackflow/ackflow/clock"
	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine/wakeup"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/telemetry"
)

// Errors returned by effects. Sends always leave the message with the caller
// when they fail, so nothing is lost by an error.
var (
	// ErrFull is returned by TrySend when the output channel has no room.
	ErrFull = errors.New("engine: output full")
	// ErrClosed is returned when the output is closed (its consumers are
	// gone) or the node has already handled Shutdown.
	ErrClosed = errors.New("engine: output closed")
	// ErrAborted is returned by a blocking send interrupted by the shutdown
	// deadline.
	ErrAborted = errors.New("engine: shutdown deadline reached")
	// ErrNoDefaultPort is returned by Send when the node has several
	// connected ports and no default_output.
	ErrNoDefaultPort = errors.New("engine: no default output port")
	// ErrUnknownPort is returned by SendTo for a port that is not connected.
	ErrUnknownPort = errors.New("engine: unknown output port")
)

// ControlKind says what a Control message carries.
type ControlKind uint8

// Control kinds.
const (
	// KindAck: Msg was delivered; CallData is the subscriber's.
	KindAck ControlKind = iota + 1
	// KindNack: Msg failed; Nack says why; CallData is the subscriber's.
	KindNack
	// KindWakeup: Wakeup is due.
	KindWakeup
	// KindResume: Msg comes back from RequeueLater.
	KindResume
	// KindTimerTick: the node's periodic timer fired.
	KindTimerTick
	// KindPosted: Value was posted by the node itself with Effects.Post.
	KindPosted
	// KindShutdown: the node's input is closed and drained (or the deadline
	// was reached, Forced). The node answers or flushes what it holds; after
	// the call returns its outputs are closed.
	KindShutdown
)

var kindNames = [...]string{"", "ack", "nack", "wakeup", "resume", "timer_tick", "posted", "shutdown"}

func (k ControlKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "control(?)"
}

// Control is every message to a node that is not pdata.
type Control struct {
	Kind     ControlKind
	Msg      *pdata.Message // Ack, Nack: the message with the remaining (lower) frames; Resume: the data
	CallData pdata.CallData // Ack, Nack: what the subscriber stored in its frame
	Nack     pdata.Nack     // Nack
	Wakeup   wakeup.Due     // Wakeup
	Deadline time.Time      // Shutdown: the drain deadline
	Forced   bool           // Shutdown: the deadline was reached; answer everything held now
	Value    any            // Posted
}

// Effects is what a processor or exporter may ask of the engine. The engine
// passes it to every call; it is owned by the node goroutine and must not be
// used from other goroutines except where a method says so.
type Effects interface {
	// Now returns the engine clock's time.
	Now() time.Time
	// Send blocks until the default output port accepts m. On error the
	// caller keeps m.
	Send(m *pdata.Message) error
	// SendTo is Send on a named port.
	SendTo(port string, m *pdata.Message) error
	// TrySend sends on the default port without waiting; ErrFull if it has
	// no room. On error the caller keeps m.
	TrySend(m *pdata.Message) error
	// TrySendTo is TrySend on a named port.
	TrySendTo(port string, m *pdata.Message) error
	// Subscribe pushes (or merges) this node's frame on m's return route.
	Subscribe(m *pdata.Message, in pdata.Interests, cd pdata.CallData)
	// NotifyAck reports m delivered to the nearest interested frame. Safe
	// from any goroutine. The engine owns m afterwards.
	NotifyAck(m *pdata.Message)
	// NotifyNack reports m failed. Safe from any goroutine.
	NotifyNack(m *pdata.Message, n pdata.Nack)
	// SetWakeup arms slot at when (see package wakeup).
	SetWakeup(slot wakeup.Slot, when time.Time) (rev wakeup.Revision, replaced bool, err error)
	// CancelWakeup disarms slot and reports whether it was live.
	CancelWakeup(slot wakeup.Slot) bool
	// RequeueLater hands m back to this node as a KindResume control at
	// when. On error (capacity, shutting down) the caller keeps m.
	RequeueLater(when time.Time, m *pdata.Message) error
	// StartTimer delivers KindTimerTick every period (0 stops it).
	StartTimer(period time.Duration)
	// Post delivers a KindPosted control carrying v to this node. Safe from
	// any goroutine; used by nodes whose I/O completes elsewhere.
	Post(v any)
	// Drop counts m's items as dropped for reason and acks m upstream: the
	// data was discarded on purpose and its sender is done. The pipeline
	// accounts it as dropped only if no node between here and the receiver
	// re-notifies the outcome itself (then it counts as delivered).
	Drop(m *pdata.Message, reason string)
	// DropPart replaces m's payload with kept, which holds part of its
	// items, and counts the others as dropped for reason: the node keeps
	// m and sends it on. When m's outcome reaches its receiver the
	// pipeline accounts the removed items as dropped and the kept ones by
	// the outcome (see Drop for when a node in between answers instead).
	// Call it before sending m: once sent, m may be answered at any time.
	DropPart(m *pdata.Message, kept *pdata.Payload, reason string)
	// Ports lists the connected output ports.
	Ports() []string
}

// Processor is a processor or exporter: a synchronous core driven by the
// engine, one call at a time, from the node's goroutine.
//
// Optional interfaces: Gate (refuse pdata without nacking), Drainer (keep
// receiving outcomes after Shutdown), WakeupUser (declare wakeup slots),
// Starter (act before the first message), Idler (act when nothing more is
// ready).
type Processor interface {
	// OnPData handles one message. The node owns m until it sends, acks,
	// nacks or drops it. An error is a failure of the node itself: the
	// engine nacks m (so return an error only before handing m on), fails
	// the engine (exit code 1) and nacks every later message.
	OnPData(m *pdata.Message, fx Effects) error
	// OnControl handles one control message.
	OnControl(c Control, fx Effects) error
}

// Gate is implemented by processors that sometimes refuse pdata. While
// AcceptPData is false the inbox delivers only control messages; pdata waits
// in the channel and backpressure builds upstream. Nothing is nacked or lost.
type Gate interface {
	AcceptPData() bool
}

// Drainer is implemented by nodes whose work completes outside the node
// goroutine (an exporter's requests in flight). After Shutdown the engine
// keeps delivering control messages while Pending reports more than zero,
// until the shutdown deadline, when it delivers a forced Shutdown. (Every
// node also stays until the nodes it feeds have stopped, so outcomes coming
// back from downstream always reach it.)
type Drainer interface {
	Pending() int
}

// Starter is implemented by processors that act before their first
// message: Start is called once, from the node's goroutine, before
// anything is delivered (a durable buffer starts delivering what a
// previous run left on disk). An error fails the node like one from
// OnControl.
type Starter interface {
	Start(fx Effects) error
}

// Idler is implemented by processors that gather what arrives together:
// an exporter that sends the messages of a burst in one request instead
// of one request each. OnIdle is called from the node's goroutine after
// the node has handled one or more pdata messages and nothing more is
// ready for it: no pdata through its gate, no control, nothing due. The
// node must not wait for more: acting here costs no latency, since
// nothing else was ready. An error fails the node like one from
// OnControl.
type Idler interface {
	OnIdle(fx Effects) error
}

// StatusReporter is implemented by nodes that have more to say in
// /api/v1/status and the exit summary than the engine knows (a durable
// buffer's backlog on disk). Status is called from other goroutines: it
// must be safe for concurrent use and must not block.
type StatusReporter interface {
	Status() map[string]any
}

// Persister is implemented by nodes that ack upstream once data is stored
// and deliver it downstream later (a durable buffer). PersistedItems is
// the items of signal s it holds that way: delivered, as far as the
// pipeline's accounting and the client are concerned, and reported beside
// the delivered items in the status. It is called from other goroutines:
// it must be safe for concurrent use and must not block.
type Persister interface {
	PersistedItems(s pdata.Signal) int64
}

// Retainer is implemented by nodes that keep data past the end of a run
// on purpose (a durable buffer's backlog, delivered after restart). The
// exit summary reports it; Retained is called after the node stopped.
type Retainer interface {
	Retained() (items int64, where string)
}

// WakeupUser is implemented by processors that use wakeups; WakeupSlots is
// the most live slots they ever need. Others get wakeup.ErrUnsupported.
type WakeupUser interface {
	WakeupSlots() int
}

// Receiver admits data from outside into the pipeline. Unlike processors it
// runs its own goroutines (one per client connection is usual).
type Receiver interface {
	// Run admits data until ctx is cancelled (the drain started), then
	// waits for the outcomes of what it admitted and returns. From the
	// drain on, sends fail (ErrClosed, or the cancellation of a ctx derived
	// from Run's): the engine closes the receiver's outputs so the shutdown
	// wave can start downstream. When fx.Aborted()
	// is closed (the deadline) Run answers what is left and returns at
	// once. OnOutcome may still be called after Run returned.
	Run(ctx context.Context, fx ReceiverEffects) error
	// OnOutcome receives acks and nacks for messages the receiver
	// subscribed to. It is called from any goroutine and must not block.
	OnOutcome(c Control)
}

// ReceiverEffects is what a receiver may ask of the engine. All methods are
// safe for concurrent use.
type ReceiverEffects interface {
	// Now returns the engine clock's time.
	Now() time.Time
	// Send blocks until the default port accepts m, ctx ends or the deadline
	// aborts. On error the caller keeps m.
	Send(ctx context.Context, m *pdata.Message) error
	// SendTo is Send on a named port.
	SendTo(ctx context.Context, port string, m *pdata.Message) error
	// TrySend sends on the default port without waiting.
	TrySend(m *pdata.Message) error
	// Subscribe pushes this receiver's frame on m's route. A receiver
	// has the first two words of cd: the third is the engine's (it stamps
	// the admission there) and reads as zero in OnOutcome.
	Subscribe(m *pdata.Message, in pdata.Interests, cd pdata.CallData)
	// Listen opens a listener with SO_REUSEPORT, so that the copies of a
	// pipeline share the address and the kernel spreads connections.
	Listen(ctx context.Context, network, addr string) (net.Listener, error)
	// Aborted is closed when the shutdown deadline is reached.
	Aborted() <-chan struct{}
	// Drop counts items as dropped for reason (data refused before it
	// became a message, e.g. malformed input is not counted here).
	Drop(m *pdata.Message, reason string)
	// Ports lists the connected output ports.
	Ports() []string
}

// NodeContext is what a factory gets to build a node.
type NodeContext struct {
	Node     *config.Node
	Pipeline string // "group/pipeline"
	Copy     int    // index of the pipeline copy, from 0
	Copies   int    // number of copies of the pipeline (at least 1)
	Clock    clock.Clock
	Logger   *slog.Logger
	// Metrics registers the node's own metrics; Labels identify the node
	// (pipeline, node) and should prefix every series it registers.
	Metrics *telemetry.Registry
	Labels  []telemetry.Label
	// ReuseBuffers tells a receiver that every node it feeds, directly or
	// not, releases payloads (Factory.ReleasesPayloads): the receiver may
	// release a request's pdata.Lease once the message's outcome arrived,
	// unless the pipeline was aborted.
	ReuseBuffers bool
}
