package admin

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/ackflow/ackflow/engine"
)

// StatusDocument is the JSON document of GET /api/v1/status. Fields are
// only ever added to it; docs/OPERATIONS.md ("Status fields") describes
// each one. `ackflow top` decodes it.
type StatusDocument struct {
	Ready bool `json:"ready"`
	// Time is when the engine was read, for rates between two reads.
	Time      time.Time          `json:"time"`
	Pipelines []PipelineDocument `json:"pipelines"`
}

// FlowDocument is an item accounting: admitted = delivered + nacked +
// dropped + in flight.
type FlowDocument struct {
	Admitted  uint64 `json:"admitted_items"`
	Delivered uint64 `json:"delivered_items"`
	Nacked    uint64 `json:"nacked_items"`
	Dropped   uint64 `json:"dropped_items"`
	InFlight  uint64 `json:"in_flight_items"`
	// Persisted is the part of Delivered that a durable buffer acked once
	// stored and still holds.
	Persisted uint64 `json:"persisted_items"`
	// OldestInFlightSeconds is a lower bound of the age of the oldest item
	// in flight.
	OldestInFlightSeconds float64 `json:"oldest_in_flight_seconds"`
}

// PipelineDocument is one pipeline, all copies together.
type PipelineDocument struct {
	Name   string `json:"name"`
	Copies int    `json:"copies"`
	FlowDocument
	// AccountingMismatches counts the distinct failures of the
	// conservation check: 0 unless items were lost or answered twice.
	AccountingMismatches uint64           `json:"accounting_mismatches"`
	Signals              []SignalDocument `json:"signals"`
	Nodes                []NodeDocument   `json:"nodes"`
}

// SignalDocument is the accounting of one signal of a pipeline.
type SignalDocument struct {
	Signal string `json:"signal"`
	FlowDocument
}

// NodeDocument is one node in one copy. Its item counters are the node's
// totals over every copy.
type NodeDocument struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Kind  string `json:"kind"`
	Copy  int    `json:"copy"`
	State string `json:"state"`
	// Queued, QueueCapacity and QueueFill (0 to 1) are the node's input
	// channel.
	Queued        int     `json:"queued_messages"`
	QueueCapacity int     `json:"queue_capacity"`
	QueueFill     float64 `json:"queue_fill"`

	Received        uint64            `json:"received_items"`
	Sent            uint64            `json:"sent_items"`
	Acked           uint64            `json:"acked_items"`
	Nacked          uint64            `json:"nacked_items"`
	NackedByCause   map[string]uint64 `json:"nacked_items_by_cause,omitempty"`
	Dropped         uint64            `json:"dropped_items"`
	DroppedByReason map[string]uint64 `json:"dropped_items_by_reason,omitempty"`
	// InFlight is absent where the engine cannot know it (processors).
	InFlight              *int64  `json:"in_flight_items,omitempty"`
	OldestInFlightSeconds float64 `json:"oldest_in_flight_seconds,omitempty"`

	Outputs []PortDocument `json:"outputs,omitempty"`
	// Details is what the node type reports of itself (engine.StatusReporter).
	Details       map[string]any `json:"details,omitempty"`
	RetainedItems int64          `json:"retained_items,omitempty"`
	RetainedWhere string         `json:"retained_where,omitempty"`
}

// PortDocument is one connected output port of a node in one copy.
type PortDocument struct {
	Port string   `json:"port"`
	To   []string `json:"to"`
	// SentItems is counted per port only for nodes with several ports.
	SentItems     uint64  `json:"sent_items,omitempty"`
	Queued        int     `json:"queued_messages"`
	QueueCapacity int     `json:"queue_capacity"`
	QueueFill     float64 `json:"queue_fill"`
	Taps          int     `json:"taps,omitempty"`
}

// NewStatusDocument builds the status document from the engine's status
// read at now.
func NewStatusDocument(ready bool, now time.Time, status []engine.PipelineStatus) StatusDocument {
	doc := StatusDocument{Ready: ready, Time: now, Pipelines: []PipelineDocument{}}
	for _, p := range status {
		pd := PipelineDocument{Name: p.Name, Copies: p.Copies, FlowDocument: flowDocument(p.Flow), AccountingMismatches: p.Mismatches}
		for _, sf := range p.Signals {
			pd.Signals = append(pd.Signals, SignalDocument{Signal: sf.Signal.String(), FlowDocument: flowDocument(sf.Flow)})
		}
		for _, n := range p.Nodes {
			pd.Nodes = append(pd.Nodes, nodeDocument(n))
		}
		doc.Pipelines = append(doc.Pipelines, pd)
	}
	return doc
}

func flowDocument(f engine.Flow) FlowDocument {
	return FlowDocument{
		Admitted: f.Admitted, Delivered: f.Delivered, Nacked: f.Nacked, Dropped: f.Dropped, InFlight: f.InFlight(),
		Persisted: f.Persisted, OldestInFlightSeconds: f.OldestInFlight.Seconds(),
	}
}

func nodeDocument(n engine.NodeStatus) NodeDocument {
	nd := NodeDocument{
		Name: n.Name, Type: n.Type, Kind: n.Kind, Copy: n.Copy, State: n.State,
		Queued: n.Queued, QueueCapacity: n.QueueCapacity, QueueFill: fill(n.Queued, n.QueueCapacity),
		Received: n.Received, Sent: n.Sent, Acked: n.Acked,
		NackedByCause: n.Nacked, DroppedByReason: n.Dropped,
		OldestInFlightSeconds: n.OldestInFlight.Seconds(),
		Details:               n.Details, RetainedItems: n.Retained, RetainedWhere: n.RetainedWhere,
	}
	for _, v := range n.Nacked {
		nd.Nacked += v
	}
	for _, v := range n.Dropped {
		nd.Dropped += v
	}
	if n.InFlight >= 0 {
		v := n.InFlight
		nd.InFlight = &v
	}
	for _, o := range n.Outputs {
		nd.Outputs = append(nd.Outputs, PortDocument{
			Port: o.Port, To: o.To, SentItems: o.Sent, Queued: o.Queued, QueueCapacity: o.Capacity,
			QueueFill: fill(o.Queued, o.Capacity), Taps: o.Taps,
		})
	}
	return nd
}

func fill(n, capacity int) float64 {
	if capacity <= 0 {
		return 0
	}
	return float64(n) / float64(capacity)
}

func (s *Server) handleStatus(w http.ResponseWriter, _ *http.Request) {
	doc := NewStatusDocument(s.engine.Ready(), time.Now(), s.engine.Status())
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(doc)
}
