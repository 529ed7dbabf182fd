package engine_test

import (
	"testing"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/enginetest"
)

// A receiver may give its buffers back for reuse only when every node it
// feeds, directly or not, declares that it releases payloads: one that
// does not, anywhere below, keeps them with the garbage collector.
func TestReceiversReuseBuffersOnlyWhenEveryNodeBelowReleasesPayloads(t *testing.T) {
	reuse := map[string]bool{}
	eng := enginetest.Start(t, reuseYAML, engine.Options{},
		engine.Factory{Type: "receiver:probe", NewReceiver: func(nc engine.NodeContext) (engine.Receiver, error) {
			reuse[nc.Node.Name] = nc.ReuseBuffers
			return newSource(), nil
		}},
		engine.Factory{Type: "processor:releases", ReleasesPayloads: true, NewProcessor: newRelayNode},
		engine.Factory{Type: "processor:keeps", NewProcessor: newRelayNode},
		engine.Factory{Type: "exporter:releases", ReleasesPayloads: true, NewProcessor: newSinkNode},
	)
	enginetest.Shutdown(t, eng)
	for name, want := range map[string]bool{"all_release": true, "keeps_below": false, "keeps_deep": false} {
		if got, ok := reuse[name]; !ok || got != want {
			t.Errorf("receiver %s: ReuseBuffers %t (built: %t), want %t", name, got, ok, want)
		}
	}
}

// reuseYAML wires three receivers: one above nodes that all release
// payloads, one right above one that does not, one with such a node
// further below.
const reuseYAML = `
version: otel_dataflow/v1
groups:
  g:
    pipelines:
      p:
        nodes:
          all_release: { type: receiver:probe }
          keeps_below: { type: receiver:probe }
          keeps_deep: { type: receiver:probe }
          r1: { type: processor:releases }
          r2: { type: processor:releases }
          r3: { type: processor:releases }
          k1: { type: processor:keeps }
          k2: { type: processor:keeps }
          out1: { type: exporter:releases }
          out2: { type: exporter:releases }
          out3: { type: exporter:releases }
        connections:
          - { from: all_release, to: r1 }
          - { from: r1, to: out1 }
          - { from: keeps_below, to: k1 }
          - { from: k1, to: out2 }
          - { from: keeps_deep, to: r2 }
          - { from: r2, to: r3 }
          - { from: r3, to: k2 }
          - { from: k2, to: out3 }
`

func newRelayNode(engine.NodeContext) (engine.Processor, error) { return &relay{}, nil }

func newSinkNode(engine.NodeContext) (engine.Processor, error) { return newSink(), nil }
