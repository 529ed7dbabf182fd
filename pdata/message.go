package pdata

import "fmt"

// NodeID identifies a node within one running pipeline copy. The engine
// assigns it; pdata only carries it.
type NodeID uint32

// Interests says which outcomes a frame wants to hear about.
type Interests uint8

// Interest flags.
const (
	// Acks asks for the ack of the message.
	Acks Interests = 1 << iota
	// Nacks asks for the nack of the message.
	Nacks
	// ReturnData asks that the payload travel back with the outcome. It is
	// inherited by every frame pushed later, so that nodes above do not drop
	// data a node below still needs.
	ReturnData
)

// Ingress marks the frame of the receiver that admitted a message into the
// pipeline. The engine pushes it itself: the message's final outcome returns
// to it, whoever else subscribed, so that every admitted item is accounted
// for as delivered, nacked or dropped. It is never delivered to a node for
// its own sake.
const Ingress Interests = 1 << 7

// AcksAndNacks is the usual subscription of a node that must answer its own
// sender whatever happens downstream.
const AcksAndNacks = Acks | Nacks

func (i Interests) String() string {
	s := ""
	for _, f := range []struct {
		bit  Interests
		name string
	}{{Acks, "acks"}, {Nacks, "nacks"}, {ReturnData, "return_data"}, {Ingress, "ingress"}} {
		if i&f.bit != 0 {
			if s != "" {
				s += "|"
			}
			s += f.name
		}
	}
	if s == "" {
		return "none"
	}
	return s
}

// CallData is what a subscribing node stores in its frame to recognise the
// outcome when it comes back: three opaque words, stored inline.
type CallData [3]uint64

// Frame is one subscription on a message's return route.
type Frame struct {
	Node      NodeID
	Interests Interests
	CallData  CallData
}

// inlineFrames is the number of frames a Message holds without a separate
// allocation; deeper stacks spill to the heap.
const inlineFrames = 4

// Message is one payload travelling through a pipeline with its return
// route. The zero value is not usable; use New.
type Message struct {
	payload *Payload
	items   int32 // kept when the payload is dropped on the way back
	dropped int32 // items a node removed from the payload on purpose (Shrink)
	depth   int
	inline  [inlineFrames]Frame
	spill   []Frame // frames beyond inlineFrames, bottom first
}

// New returns a message carrying p with an empty return route.
func New(p *Payload) *Message {
	return &Message{payload: p, items: int32(p.Items())}
}

// Payload returns the message's payload, or nil if it was dropped on the
// way back to a frame that did not ask for ReturnData.
func (m *Message) Payload() *Payload { return m.payload }

// Items is the number of items the message carried when it was built, still
// known after its payload was dropped.
func (m *Message) Items() int { return int(m.items) }

// SetPayload replaces the payload, for a node that transformed the data but
// keeps the same return route.
func (m *Message) SetPayload(p *Payload) {
	m.payload = p
	m.items = int32(p.Items())
}

// Shrink replaces the payload with p, which holds part of its items, for a
// node that removed the others on purpose (a filter, a sampler), and
// returns how many it removed. The message remembers them (Dropped), so
// that whoever accounts for its outcome counts them as dropped and not as
// delivered or failed.
func (m *Message) Shrink(p *Payload) (removed int) {
	removed = max(int(m.items)-p.Items(), 0)
	m.dropped += int32(removed)
	m.SetPayload(p)
	return removed
}

// Dropped is the number of items removed from the message by Shrink since
// it was built: they are not in Items.
func (m *Message) Dropped() int { return int(m.dropped) }

// DropPayload releases the payload, keeping the item count.
func (m *Message) DropPayload() { m.payload = nil }

// Clone returns a copy of the message with its own return route and the same
// (immutable, shared) payload.
func (m *Message) Clone() *Message {
	c := &Message{payload: m.payload, items: m.items, dropped: m.dropped, depth: m.depth, inline: m.inline}
	if len(m.spill) > 0 {
		c.spill = append([]Frame(nil), m.spill...)
	}
	return c
}

// CloneDetached returns a copy with the same payload and an empty route, for
// a node that starts a new, independent delivery of the same data.
func (m *Message) CloneDetached() *Message {
	return &Message{payload: m.payload, items: m.items}
}

// Depth is the number of frames on the return route.
func (m *Message) Depth() int { return m.depth }

func (m *Message) frame(i int) *Frame {
	if i < inlineFrames {
		return &m.inline[i]
	}
	return &m.spill[i-inlineFrames]
}

// Top returns the top frame of the route.
func (m *Message) Top() (Frame, bool) {
	if m.depth == 0 {
		return Frame{}, false
	}
	return *m.frame(m.depth - 1), true
}

// Subscribe pushes a frame for node, or merges into the top frame if it
// already belongs to node (interests are or-ed, call data replaced). A frame
// inherits ReturnData from the frame below it.
func (m *Message) Subscribe(node NodeID, in Interests, cd CallData) {
	if m.depth > 0 {
		top := m.frame(m.depth - 1)
		if top.Node == node {
			top.Interests |= in
			top.CallData = cd
			return
		}
		in |= top.Interests & ReturnData
	}
	f := Frame{Node: node, Interests: in, CallData: cd}
	if m.depth < inlineFrames {
		m.inline[m.depth] = f
	} else {
		m.spill = append(m.spill, f)
	}
	m.depth++
}

// MarkIngress makes sure the bottom frame of the route is node's and has
// the Ingress interest. The route must be empty or hold only node's frame.
func (m *Message) MarkIngress(node NodeID) {
	if m.depth > 0 && m.inline[0].Node == node {
		m.inline[0].Interests |= Ingress
		return
	}
	if m.depth == 0 {
		m.Subscribe(node, Ingress, CallData{})
	}
}

// Unwind pops frames until it finds the nearest one interested in want (Acks
// or Nacks) or marked Ingress, and returns it; that frame and those above it are gone from the
// route. The payload is dropped unless the frame asked for ReturnData. With
// no interested frame the route ends empty and ok is false.
func (m *Message) Unwind(want Interests) (f Frame, ok bool) {
	for m.depth > 0 {
		m.depth--
		f = *m.frame(m.depth)
		if m.depth >= inlineFrames {
			m.spill = m.spill[:m.depth-inlineFrames]
		}
		if f.Interests&(want|Ingress) != 0 {
			if f.Interests&ReturnData == 0 {
				m.payload = nil
			}
			return f, true
		}
	}
	m.payload = nil
	return Frame{}, false
}

func (m *Message) String() string {
	sig := "none"
	if m.payload != nil {
		sig = m.payload.Signal().String()
	}
	return fmt.Sprintf("message{%s, %d items, %d frames}", sig, m.items, m.depth)
}
