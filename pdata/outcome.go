package pdata

import "fmt"

// Cause classifies why a message was nacked, so that nodes and clients can
// react without parsing reasons.
type Cause uint8

// Nack causes.
const (
	CauseUnspecified  Cause = iota
	CauseRouteFull          // an output had no room and the node would not wait
	CauseRouteClosed        // an output was closed (its consumer is gone)
	CauseNodeShutdown       // the node stopped before the message resolved
	CauseTimeout            // no outcome within the configured time
	CauseCapacity           // a node's tracked-message limit was reached
)

var causeNames = [...]string{"unspecified", "route_full", "route_closed", "node_shutdown", "timeout", "capacity"}

func (c Cause) String() string {
	if int(c) < len(causeNames) {
		return causeNames[c]
	}
	return fmt.Sprintf("cause(%d)", uint8(c))
}

// Causes lists every cause, for metrics that need the closed set.
func Causes() []Cause {
	return []Cause{CauseUnspecified, CauseRouteFull, CauseRouteClosed, CauseNodeShutdown, CauseTimeout, CauseCapacity}
}

// Nack describes a failed delivery.
type Nack struct {
	// Reason is for people: what failed and where, amended hop by hop.
	Reason string
	// Permanent means the data must not be retried (it will never succeed).
	Permanent bool
	// Cause is for programs.
	Cause Cause
}

func (n Nack) String() string {
	kind := "transient"
	if n.Permanent {
		kind = "permanent"
	}
	return fmt.Sprintf("%s nack (%s): %s", kind, n.Cause, n.Reason)
}

// Wrap returns n with its reason prefixed by prefix, keeping the permanent
// flag and cause.
func (n Nack) Wrap(prefix string) Nack {
	n.Reason = prefix + ": " + n.Reason
	return n
}
