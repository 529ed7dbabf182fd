package engine_test

import (
	"testing"
	"testing/synctest"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/pdata"
)

func TestUnconnectedDefaultOutputNeverFallsBackToAnotherPort(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pb := newSink()
		var sendErr error
		probe := &recorder{onData: func(m *pdata.Message, fx engine.Effects) {
			sendErr = fx.Send(m) // default_output is "a", which is not connected
			if sendErr != nil {
				fx.NotifyAck(m)
			}
		}}
		tb := newTestbed(t, `
version: otel_dataflow/v1
groups:
  g:
    pipelines:
      p:
        nodes:
          src: { type: receiver:test_source }
          probe: { type: processor:test, outputs: [a, b], default_output: a }
          pb: { type: exporter:test }
        connections:
          - { from: src, to: probe }
          - { from: 'probe["b"]', to: pb }
`, map[string]engine.Processor{"probe": probe, "pb": pb}, engine.Options{})
		tb.eng.Start()
		feed(t, tb.source("src"), 1, 1)
		synctest.Wait()
		t.Logf("sendErr=%v, pb received %d", sendErr, pb.received())
		if pb.received() != 0 {
			t.Fatalf("Send() with default_output: a went to port b")
		}
		tb.shutdown()
	})
}
